"""The short names ``"radam"`` and ``"ranger"``: ``model.compile(optimizer="radam")``.

Keras resolves a string optimizer among its own optimizers, then among the custom objects
registered with it. Importing radam_keras adds these two names to Keras's global custom objects
(``keras.saving.get_custom_objects()``, its public registry), unless a user has registered
either name already: a name a user chose is never replaced. A model compiled with a short name
saves as any other radam_keras optimizer (``"radam>RAdam"``, ``"radam>Ranger"``).
"""

from __future__ import annotations

import keras

from radam_keras.lookahead import Ranger
from radam_keras.optimizer import RAdam

SHORT_NAMES: dict[str, type[keras.optimizers.Optimizer]] = {"radam": RAdam, "ranger": Ranger}
"""The names ``keras.optimizers.get`` (and so ``compile``) takes, and their classes."""


def register_short_names() -> dict[str, type[keras.optimizers.Optimizer]]:
    """Register each of `SHORT_NAMES` that no one has registered yet.

    Returns:
        The names registered by this call, with their classes (a name already taken, by a
        user or by an earlier call, is left as it is).
    """
    registry = keras.saving.get_custom_objects()
    added = {name: cls for name, cls in SHORT_NAMES.items() if name not in registry}
    registry.update(added)
    return added
