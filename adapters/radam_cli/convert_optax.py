"""``radam convert``'s optax checkpoints: ``{"params": ..., "opt_state": ...}``, pickled or orbax.

The checkpoint is a dict whose ``"params"`` is the parameters' pytree and whose
``"opt_state"`` is the optimizer's state: any optax state holding one
[`ScaleByRAdamState`][radam_optax.ScaleByRAdamState] (``radam_optax.radam``, alone or in
``optax.chain`` and the like); other keys are kept. It is either a file that ``pickle.dump``
wrote (unpickling runs code from the file: convert only files you trust) or, where
``orbax-checkpoint`` is installed, a folder that ``orbax.checkpoint.StandardCheckpointer``
saved ([`convert_orbax`][radam_cli.convert_orbax]).

Parameters are named by their paths in ``params``, keys joined with ``/``
(``{"dense": {"kernel": w}}`` gives ``"dense/kernel"``): see
[`radam_optax.snapshot`][radam_optax.snapshot], which does the conversion. optax's state holds
no hyperparameters: reading takes them as options (the convention, ``preset``, and ``lr`` and
the like, which the snapshot records); ``amsgrad`` is read from the state. Writing imports
into the ``opt_state`` of an existing checkpoint, under the snapshot's own convention: resume
with a transformation of that convention.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import radam_optax
from radam_cli.convert_files import convention_of, first_line, imported, replacing
from radam_core import Snapshot

KEYS = ("params", "opt_state")
"""The checkpoint's keys that conversion reads (and, for ``opt_state``, writes)."""
ORBAX_MISSING = (
    "radam convert needs orbax-checkpoint for an orbax checkpoint folder: "
    "python -m pip install orbax-checkpoint (or use a pickle file, .pkl)"
)


def read(path: Path, preset: str, hyperparameters: Mapping[str, Any]) -> Snapshot:
    """The RAdam state of the optax checkpoint ``path`` (a pickle file or an orbax folder).

    Args:
        path: The checkpoint.
        preset: The convention the state was made under (a name in ``PRESETS``).
        hyperparameters: ``lr``, ``betas``, ... to record in the snapshot.

    Raises:
        ValueError: Not a checkpoint of this layout, or no single RAdam state in it.
    """
    checkpoint = _load(path)
    snapshot = radam_optax.export_state(
        checkpoint["opt_state"], checkpoint["params"], preset=preset, **hyperparameters
    )
    amsgrad = any(s.max_exp_avg_sq is not None for s in snapshot.parameters.values())
    return Snapshot(
        dataclasses.replace(snapshot.hyperparameters, amsgrad=amsgrad), snapshot.parameters
    )


def write(snapshot: Snapshot, path: Path, into: Path) -> None:
    """Write a copy of the checkpoint ``into`` to ``path``, its RAdam state the snapshot's.

    ``path`` is an orbax folder when ``into`` is one, else a pickle file.

    Raises:
        ValueError: ``into`` is not a checkpoint of this layout, or the snapshot does not fit
            its parameters (names, shapes, dtypes, counts).
    """
    checkpoint = _load(into)
    opt_state = radam_optax.import_state(
        checkpoint["opt_state"],
        snapshot,
        checkpoint["params"],
        preset=convention_of(snapshot.hyperparameters),
    )
    checkpoint = {**checkpoint, "opt_state": opt_state}
    if into.is_dir():
        _orbax().save(checkpoint, path)
        return
    with replacing(path) as temporary, temporary.open("wb") as file:
        pickle.dump(checkpoint, file)


def _load(path: Path) -> dict[str, Any]:
    if path.is_dir():
        checkpoint = _orbax().load(path)
    else:
        with path.open("rb") as file:
            try:
                checkpoint = pickle.load(file)  # the module says: files you trust
            except Exception as error:  # unpickling raises whatever the file's bytes lead to
                raise ValueError(f"{path} is not a pickle file: {first_line(error)}") from None
    if not isinstance(checkpoint, Mapping) or any(key not in checkpoint for key in KEYS):
        held = (
            f"its keys are {sorted(map(str, checkpoint))}"
            if isinstance(checkpoint, Mapping)
            else f"it holds a {type(checkpoint).__name__}"
        )
        raise ValueError(f"{path} is not an optax checkpoint {{'params', 'opt_state'}}: {held}")
    return dict(checkpoint)


def _orbax() -> Any:
    """[`convert_orbax`][radam_cli.convert_orbax], or MissingPackage without orbax."""
    return imported("convert_orbax", ORBAX_MISSING)
