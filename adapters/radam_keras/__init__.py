"""radam_keras: ``RAdam``, a Keras 3 optimizer whose math is radam_core."""

from radam_keras.lookahead import Lookahead, Ranger
from radam_keras.optimizer import RAdam

__all__ = ["Lookahead", "RAdam", "Ranger"]
