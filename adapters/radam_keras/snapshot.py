"""radam_keras's state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot], and back.

Each variable is named by its Keras path (``variable.path``, such as
``"sequential/dense/kernel"``). Keras keeps one count, ``iterations``: every parameter of a
snapshot it resumes from must have taken as many steps. A bfloat16 state is written as float32
(exactly) and read back as bfloat16. Complex states are refused: radam_keras keeps optax's
convention for them (v from ``|g|^2``), which torch does not. Around
[`Lookahead`][radam_keras.Lookahead] (Ranger), each variable's slow weights and Lookahead's
k, alpha and count move too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from radam_core import LookaheadPosition, ParameterState, Snapshot


def export_state(optimizer: Any, variables: Sequence[Any], lookahead: Any = None) -> Snapshot:
    """The optimizer's state as a snapshot keyed by the variables' paths (host copies).

    Args:
        optimizer: A built [`radam_keras.RAdam`][radam_keras.RAdam].
        variables: The variables to export, e.g. ``model.trainable_variables``.
        lookahead: The built [`Lookahead`][radam_keras.Lookahead] around ``optimizer``,
            whose slow weights and position the snapshot then holds too.

    Returns:
        The [`Snapshot`][radam_core.snapshot.Snapshot], in the order of ``variables``.

    Raises:
        ValueError: The optimizer is not built, or a variable is not among its variables.
        TypeError: A complex variable.
    """
    slots = _slots(optimizer, variables)
    count = _count(optimizer.iterations)
    snapshot = Snapshot(
        optimizer._hyperparameters,
        {
            variable.path: ParameterState(
                count, _neutral(m), _neutral(v), None if top is None else _neutral(top)
            )
            for variable, (m, v, top) in zip(variables, slots, strict=True)
        },
    )
    if lookahead is None:
        return snapshot
    position = LookaheadPosition(lookahead.k, lookahead.alpha, _count(lookahead.lookahead_count))
    slow = _slow_weights(lookahead, variables)
    return snapshot.with_lookahead(
        position, {v.path: _neutral(phi) for v, phi in zip(variables, slow, strict=True)}
    )


def import_state(
    optimizer: Any, snapshot: Snapshot, variables: Sequence[Any], lookahead: Any = None
) -> None:
    """Replace the optimizer's count and moments with the snapshot's; all or nothing.

    Builds the optimizer (or ``lookahead``) for ``variables`` first if it is not built.

    Args:
        optimizer: A [`radam_keras.RAdam`][radam_keras.RAdam].
        snapshot: The snapshot.
        variables: The model's variables, e.g. ``model.trainable_variables``.
        lookahead: The [`Lookahead`][radam_keras.Lookahead] around ``optimizer``: its slow
            weights and count are replaced too (its k must be the snapshot's; alpha stays
            its own).

    Raises:
        ValueError: A snapshot that does not fit (names, shapes, dtypes, conventions,
            parameters with different counts, Lookahead's state); nothing changed.
    """
    builder = optimizer if lookahead is None else lookahead
    if not builder.built:
        builder.build(list(variables))
    slots = _slots(optimizer, variables)
    slow = None if lookahead is None else _slow_weights(lookahead, variables)
    snapshot.check(
        {v.path: (tuple(v.shape), _neutral_dtype(v.dtype)) for v in variables},
        optimizer._hyperparameters,
        k=None if lookahead is None else lookahead.k,
    )
    counts = {snapshot.parameters[v.path].count for v in variables}
    if len(counts) > 1:
        raise ValueError(
            f"Keras keeps one step count, but the snapshot's parameters have {sorted(counts)}"
        )
    for variable, (m, v, top) in zip(variables, slots, strict=True):
        saved = snapshot.parameters[variable.path]
        for slot, array in ((m, saved.exp_avg), (v, saved.exp_avg_sq), (top, saved.max_exp_avg_sq)):
            if slot is not None:
                slot.assign(keras.ops.cast(array, variable.dtype))
    optimizer.iterations.assign(counts.pop() if counts else 0)
    if slow is not None and snapshot.lookahead is not None:
        for variable, phi in zip(variables, slow, strict=True):
            phi.assign(keras.ops.cast(snapshot.parameters[variable.path].slow, variable.dtype))
        lookahead.lookahead_count.assign(snapshot.lookahead.count)


def _count(variable: Any) -> int:
    return int(keras.ops.convert_to_numpy(variable.value))


def _slow_weights(lookahead: Any, variables: Sequence[Any]) -> list[Any]:
    """Each variable's phi, an optimizer variable of the built ``lookahead``."""
    if not lookahead.built:
        raise ValueError("the Lookahead is not built yet: build it or take a step first")
    return [lookahead._slow_weights[lookahead._get_variable_index(v)] for v in variables]


def _slots(optimizer: Any, variables: Sequence[Any]) -> list[tuple[Any, Any, Any]]:
    """Each variable's (m, v, max v or None) optimizer variables."""
    if not optimizer.built:
        raise ValueError("the optimizer is not built yet: build it or take a step first")
    hats = optimizer._velocity_hats if optimizer._hyperparameters.amsgrad else None
    rows = []
    for variable in variables:
        if keras.backend.standardize_dtype(variable.dtype).startswith("complex"):
            raise TypeError(
                f"{variable.path} is complex: a snapshot does not hold radam_keras's complex "
                "states (v from |g|^2, optax's convention)"
            )
        try:
            index = optimizer._get_variable_index(variable)
        except KeyError:
            raise ValueError(f"{variable.path} is not among the optimizer's variables") from None
        rows.append(
            (
                optimizer._momentums[index],
                optimizer._velocities[index],
                None if hats is None else hats[index],
            )
        )
    return rows


def _neutral(variable: Any) -> np.ndarray:
    array = keras.ops.convert_to_numpy(variable.value)
    return np.array(array, dtype=_neutral_dtype(variable.dtype))


def _neutral_dtype(dtype: Any) -> np.dtype[Any]:
    name = keras.backend.standardize_dtype(dtype)
    return np.dtype("float32" if name == "bfloat16" else name)
