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

Lookahead's state ([`LookaheadTransformState`][radam_optax.LookaheadTransformState], of
[`radam_optax.ranger`][radam_optax.ranger] or [`lookahead`][radam_optax.lookahead.lookahead]
around radam) moves too: its count and slow weights. It does not hold k and alpha either:
reading such a state needs them (``sync_period`` and ``slow_step_size``, the command's
``--sync-period`` and ``--slow-step-size``), and is refused without them. Writing takes k
from the snapshot: a snapshot with Lookahead's state goes only into an ``opt_state`` that
holds one (resumed with that k), a snapshot without into one that holds none.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax

import radam_optax
from radam_cli.convert_files import (
    LOOKAHEAD_OPTIONS,
    convention_of,
    first_line,
    imported,
    replacing,
)
from radam_core import Snapshot
from radam_optax import LookaheadTransformState

KEYS = ("params", "opt_state")
"""The checkpoint's keys that conversion reads (and, for ``opt_state``, writes)."""
ORBAX_MISSING = (
    "radam convert needs orbax-checkpoint for an orbax checkpoint folder: "
    "python -m pip install orbax-checkpoint (or use a pickle file, .pkl)"
)


def read(
    path: Path,
    preset: str,
    hyperparameters: Mapping[str, Any],
    sync_period: int | None = None,
    slow_step_size: float | None = None,
) -> Snapshot:
    """The RAdam (and Lookahead) state of the optax checkpoint ``path`` (pickle or orbax).

    Args:
        path: The checkpoint.
        preset: The convention the state was made under (a name in ``PRESETS``).
        hyperparameters: ``lr``, ``betas``, ... to record in the snapshot.
        sync_period: Lookahead's k, for an ``opt_state`` holding Lookahead's state.
        slow_step_size: Lookahead's alpha, likewise.

    Raises:
        ValueError: Not a checkpoint of this layout, no single RAdam state in it, or
            Lookahead's state without ``sync_period`` and ``slow_step_size`` (or those
            without it), named by the command's options.
    """
    checkpoint = _load(path)
    lookahead = {"sync_period": sync_period, "slow_step_size": slow_step_size}
    if _holds_lookahead(checkpoint["opt_state"]):
        missing = [LOOKAHEAD_OPTIONS[key] for key, value in lookahead.items() if value is None]
        if missing:
            raise ValueError(
                f"{path}'s opt_state holds Lookahead's state (radam_optax.ranger's or "
                "lookahead's), whose k and alpha it does not record: give "
                f"{' and '.join(missing)}"
            )
    else:
        given = [LOOKAHEAD_OPTIONS[key] for key, value in lookahead.items() if value is not None]
        if given:
            raise ValueError(
                f"argument {given[0]}: {path}'s opt_state holds no Lookahead state "
                "(radam_optax.ranger's or lookahead's)"
            )
    snapshot = radam_optax.export_state(
        checkpoint["opt_state"],
        checkpoint["params"],
        preset=preset,
        sync_period=sync_period,
        slow_step_size=slow_step_size,
        **hyperparameters,
    )
    amsgrad = any(s.max_exp_avg_sq is not None for s in snapshot.parameters.values())
    return dataclasses.replace(
        snapshot,
        hyperparameters=dataclasses.replace(snapshot.hyperparameters, amsgrad=amsgrad),
    )


def write(snapshot: Snapshot, path: Path, into: Path) -> None:
    """Write a copy of the checkpoint ``into`` to ``path``, its RAdam state the snapshot's.

    ``path`` is an orbax folder when ``into`` is one, else a pickle file. An ``opt_state``
    holding Lookahead's state takes the snapshot's (count and slow weights), of the same k.

    Raises:
        ValueError: ``into`` is not a checkpoint of this layout, or the snapshot does not fit
            its parameters (names, shapes, dtypes, counts) or its state (Lookahead's state
            where it holds none, none where it holds one, another k).
    """
    checkpoint = _load(into)
    sync_period = None
    if _holds_lookahead(checkpoint["opt_state"]):
        if snapshot.lookahead is None:
            raise ValueError(
                f"{into}'s opt_state holds Lookahead's state (radam_optax.ranger's or "
                "lookahead's), but the snapshot holds none (slow weights, position in the "
                "k-cycle)"
            )
        sync_period = snapshot.lookahead.k
    opt_state = radam_optax.import_state(
        checkpoint["opt_state"],
        snapshot,
        checkpoint["params"],
        preset=convention_of(snapshot.hyperparameters),
        sync_period=sync_period,
    )
    checkpoint = {**checkpoint, "opt_state": opt_state}
    if into.is_dir():
        _orbax().save(checkpoint, path)
        return
    with replacing(path) as temporary, temporary.open("wb") as file:
        pickle.dump(checkpoint, file)


def _holds_lookahead(opt_state: Any) -> bool:
    """Whether ``opt_state`` holds a ``LookaheadTransformState``."""
    nodes = jax.tree.leaves(opt_state, is_leaf=_is_lookahead)
    return any(_is_lookahead(node) for node in nodes)


def _is_lookahead(node: Any) -> bool:
    return isinstance(node, LookaheadTransformState)


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
