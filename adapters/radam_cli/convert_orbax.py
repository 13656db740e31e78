"""``radam convert``'s orbax checkpoints: a folder ``StandardCheckpointer`` saved.

The folder holds ``{"params": ..., "opt_state": ...}`` as
[`convert_optax`][radam_cli.convert_optax] describes, saved with
``orbax.checkpoint.StandardCheckpointer().save(folder, checkpoint)``. It is restored without
a target, as orbax's nested dicts and lists (a ``NamedTuple`` as a dict of its fields), and
the dict of a [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState]'s fields is made one
again; a checkpoint written here is restored as usual, with the abstract state as target
(``checkpointer.restore(folder, target)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from radam_cli.convert_files import first_line, replacing
from radam_optax import ScaleByRAdamState


def load(path: Path) -> Any:
    """The checkpoint in the folder ``path``, its RAdam state a ``ScaleByRAdamState``.

    Raises:
        ValueError: ``path`` is not a checkpoint orbax restores.
    """
    try:
        restored = ocp.StandardCheckpointer().restore(path.resolve())
    except Exception as error:  # orbax raises many kinds for a folder it cannot read
        raise ValueError(
            f"{path} is not a checkpoint orbax.checkpoint restores: {first_line(error)}"
        ) from None
    return jax.tree.map(
        lambda node: ScaleByRAdamState(**node) if _is_radam_fields(node) else node,
        restored,
        is_leaf=_is_radam_fields,
    )


def save(checkpoint: Any, path: Path) -> None:
    """Save ``checkpoint`` to the folder ``path`` (replacing it whole, or not at all)."""
    with replacing(path, folder=True) as temporary:
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(temporary.resolve(), checkpoint)
        checkpointer.wait_until_finished()


def _is_radam_fields(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == set(ScaleByRAdamState._fields)
