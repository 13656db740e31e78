"""radam_keras's state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot], and back.

Each variable is named by its Keras path (``variable.path``, such as
``"sequential/dense/kernel"``). Keras keeps one count, ``iterations``: every parameter of a
snapshot it resumes from must have taken as many steps. A bfloat16 state is written as float32
(exactly) and read back as bfloat16. Complex states are refused: radam_keras keeps optax's
convention for them (v from ``|g|^2``), which torch does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from radam_core import ParameterState, Snapshot


def export_state(optimizer: Any, variables: Sequence[Any]) -> Snapshot:
    """The optimizer's state as a snapshot keyed by the variables' paths (host copies).

    Args:
        optimizer: A built [`radam_keras.RAdam`][radam_keras.RAdam].
        variables: The variables to export, e.g. ``model.trainable_variables``.

    Returns:
        The [`Snapshot`][radam_core.snapshot.Snapshot], in the order of ``variables``.

    Raises:
        ValueError: The optimizer is not built, or a variable is not among its variables.
        TypeError: A complex variable.
    """
    slots = _slots(optimizer, variables)
    count = int(keras.ops.convert_to_numpy(optimizer.iterations.value))
    return Snapshot(
        optimizer._hyperparameters,
        {
            variable.path: ParameterState(
                count, _neutral(m), _neutral(v), None if top is None else _neutral(top)
            )
            for variable, (m, v, top) in zip(variables, slots, strict=True)
        },
    )


def import_state(optimizer: Any, snapshot: Snapshot, variables: Sequence[Any]) -> None:
    """Replace the optimizer's count and moments with the snapshot's; all or nothing.

    Builds the optimizer for ``variables`` first if it is not built.

    Args:
        optimizer: A [`radam_keras.RAdam`][radam_keras.RAdam].
        snapshot: The snapshot.
        variables: The model's variables, e.g. ``model.trainable_variables``.

    Raises:
        ValueError: A snapshot that does not fit (names, shapes, dtypes, conventions, or
            parameters with different counts); nothing changed.
    """
    if not optimizer.built:
        optimizer.build(list(variables))
    slots = _slots(optimizer, variables)
    snapshot.check(
        {v.path: (tuple(v.shape), _neutral_dtype(v.dtype)) for v in variables},
        optimizer._hyperparameters,
    )
    counts = {snapshot.parameters[v.path].count for v in variables}
    if len(counts) > 1:
        raise ValueError(
            f"Keras keeps one step count, but the snapshot's parameters have {sorted(counts)}"
        )
    for variable, row in zip(variables, slots, strict=True):
        saved = snapshot.parameters[variable.path]
        for slot, array in zip(row, saved.slots().values(), strict=False):
            if slot is not None:
                slot.assign(keras.ops.cast(array, variable.dtype))
    optimizer.iterations.assign(counts.pop() if counts else 0)


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
