"""radam_keras's state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot], and back.

Each variable is named by its Keras path (``variable.path``, such as
``"sequential/dense/kernel"``). Keras keeps one count, ``iterations``: every parameter of a
snapshot it resumes from must have taken as many steps. A bfloat16 state is written as float32
(exactly) and read back as bfloat16. A complex variable's state is in optax's convention (v of
``|g|^2``; see [`radam_core.snapshot`][radam_core.snapshot]): it moves to radam_optax and
radam_numpy, not to torch, whose convention differs. Around
[`Lookahead`][radam_keras.Lookahead] (Ranger), each variable's slow weights and Lookahead's
k, alpha and count move too.
"""

from __future__ import annotations

import dataclasses
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
    """
    slots = _slots(optimizer, variables)
    count = _count(optimizer.iterations)
    parameters = {}
    for variable, (m, v, top) in zip(variables, slots, strict=True):
        arrays = (count, _host(m), _host(v), None if top is None else _host(top))
        parameters[variable.path] = (
            ParameterState.of_complex(*arrays) if _is_complex(variable) else ParameterState(*arrays)
        )
    # The learning rate as it stands: a schedule's value at this step, or one set since.
    lr = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    snapshot = Snapshot(dataclasses.replace(optimizer._hyperparameters, lr=lr), parameters)
    if lookahead is None:
        return snapshot
    position = LookaheadPosition(lookahead.k, lookahead.alpha, _count(lookahead.lookahead_count))
    slow = _slow_weights(lookahead, variables)
    return snapshot.with_lookahead(
        position, {v.path: _host(phi) for v, phi in zip(variables, slow, strict=True)}
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
        complex_names=[v.path for v in variables if _is_complex(v)],
    )
    counts = {snapshot.parameters[v.path].count for v in variables}
    if len(counts) > 1:
        raise ValueError(
            f"Keras keeps one step count, but the snapshot's parameters have {sorted(counts)}"
        )
    arrays = [_native_slots(snapshot.parameters[v.path]) for v in variables]
    for variable, (m, v, top), saved in zip(variables, slots, arrays, strict=True):
        for slot, name in ((m, "exp_avg"), (v, "exp_avg_sq"), (top, "max_exp_avg_sq")):
            if slot is not None:
                slot.assign(keras.ops.cast(saved[name], variable.dtype))
    optimizer.iterations.assign(counts.pop() if counts else 0)
    if slow is not None and snapshot.lookahead is not None:
        for variable, phi, saved in zip(variables, slow, arrays, strict=True):
            phi.assign(keras.ops.cast(saved["slow"], variable.dtype))
        lookahead.lookahead_count.assign(snapshot.lookahead.count)


def _native_slots(state: ParameterState) -> dict[str, np.ndarray]:
    """A parameter's arrays as Keras keeps them (complex ones complex)."""
    return state.complex_slots() if state.is_complex else state.slots()


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


def _is_complex(variable: Any) -> bool:
    return keras.backend.standardize_dtype(variable.dtype).startswith("complex")


def _host(variable: Any) -> np.ndarray:
    """A host copy of an optimizer variable: bfloat16 as float32 (exactly), others as they are."""
    array = np.array(keras.ops.convert_to_numpy(variable.value))
    bfloat16 = keras.backend.standardize_dtype(variable.dtype) == "bfloat16"
    return array.astype(np.float32) if bfloat16 else array


def _neutral_dtype(dtype: Any) -> np.dtype[Any]:
    """The dtype of a state of ``dtype`` in a snapshot: float32 for bfloat16, else real."""
    name = keras.backend.standardize_dtype(dtype)
    return np.dtype("float32") if name == "bfloat16" else np.finfo(np.dtype(name)).dtype
