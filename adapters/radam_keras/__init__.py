"""radam_keras: ``RAdam``, a Keras 3 optimizer whose math is radam_core.

Importing it registers the short names ``"radam"`` and ``"ranger"`` with Keras
([`radam_keras.names`][radam_keras.names]), so ``model.compile(optimizer="radam")`` works.
"""

from radam_keras.lookahead import Lookahead, Ranger
from radam_keras.names import register_short_names
from radam_keras.optimizer import RAdam

register_short_names()

__all__ = ["Lookahead", "RAdam", "Ranger", "register_short_names"]
