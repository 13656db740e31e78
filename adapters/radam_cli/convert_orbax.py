"""``radam convert``'s orbax checkpoints: a folder ``StandardCheckpointer`` saved.

The folder holds ``{"params": ..., "opt_state": ...}`` as
[`convert_optax`][radam_cli.convert_optax] describes, saved with
``orbax.checkpoint.StandardCheckpointer().save(folder, checkpoint)``. It is restored without
a target, as orbax's nested dicts and lists (a ``NamedTuple`` as a dict of its fields), and
the dict of a [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState]'s fields (or a
[`LookaheadTransformState`][radam_optax.LookaheadTransformState]'s) is made one again; a
checkpoint written here is restored as usual, with the abstract state as target
(``checkpointer.restore(folder, target)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from radam_cli.convert_files import first_line, replacing
from radam_optax import LookaheadTransformState, ScaleByRAdamState

STATES = (ScaleByRAdamState, LookaheadTransformState)
"""The states that conversion reads, rebuilt from the dicts of their fields."""


def load(path: Path) -> Any:
    """The checkpoint in the folder ``path``, its states those of ``STATES`` again.

    Raises:
        ValueError: ``path`` is not a checkpoint orbax restores.
    """
    try:
        restored = ocp.StandardCheckpointer().restore(path.resolve())
    except Exception as error:  # orbax raises many kinds for a folder it cannot read
        raise ValueError(
            f"{path} is not a checkpoint orbax.checkpoint restores: {first_line(error)}"
        ) from None
    return _rebuilt(restored)


def save(checkpoint: Any, path: Path) -> None:
    """Save ``checkpoint`` to the folder ``path`` (replacing it whole, or not at all)."""
    with replacing(path, folder=True) as temporary:
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(temporary.resolve(), checkpoint)
        checkpointer.wait_until_finished()


def _rebuilt(tree: Any) -> Any:
    """``tree`` with each dict of a state's fields made that state, inner ones first."""

    def rebuilt(node: Any) -> Any:
        kind = _state_of_fields(node)
        if kind is None:
            return node
        return kind(**{field: _rebuilt(value) for field, value in node.items()})

    return jax.tree.map(rebuilt, tree, is_leaf=lambda node: _state_of_fields(node) is not None)


def _state_of_fields(node: Any) -> type | None:
    """The state in ``STATES`` whose fields are the keys of the dict ``node``, if any."""
    if isinstance(node, dict):
        for kind in STATES:
            if set(node) == set(kind._fields):
                return kind
    return None
