"""Checks of a step's arrays; each failure names the argument and its value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import array_api_compat

from radam_core.count import is_host_count
from radam_core.hyperparameters import Hyperparameters
from radam_core.namespace import Array, Namespace
from radam_core.state import RAdamState


def check_params(params: Sequence[Array], xp: Namespace) -> None:
    """Raise ``TypeError`` unless every parameter is a floating-point array.

    Real and complex floating point are accepted; complex parameters take optax's
    convention, ``v`` from ``|g|^2`` (see [`radam_core.update_leaf`][radam_core.update_leaf]).
    """
    for index, param in enumerate(params):
        if not _has_shape_and_dtype(param):
            raise TypeError(f"params[{index}] must be an array, got {type(param).__name__}")
        if not (
            xp.isdtype(param.dtype, "real floating") or xp.isdtype(param.dtype, "complex floating")
        ):
            raise TypeError(
                f"params[{index}] must have a real floating-point dtype (or a complex "
                f"floating-point one), got {param.dtype}"
            )


def check_step_inputs(
    params: Sequence[Array],
    grads: Sequence[Array],
    state: RAdamState,
    hyperparameters: Hyperparameters,
    xp: Namespace,
) -> None:
    """Raise unless params, grads and state fit together for one step.

    Raises:
        TypeError: A parameter that is not a floating-point array, a gradient or state
            entry that is not an array (None, a list), a state that is not a
            ``RAdamState``, or a count that is neither an int nor a 0-d integer array.
        ValueError: Different lengths, an array whose shape, dtype or device differs
            from its parameter's, or ``max_exp_avg_sq`` without amsgrad.
    """
    if not isinstance(state, RAdamState):
        raise TypeError(f"state must be a RAdamState (from init_state), got {type(state).__name__}")
    check_params(params, xp)
    _check_count(state.count)
    slots = {"grads": grads, "state.exp_avg": state.exp_avg, "state.exp_avg_sq": state.exp_avg_sq}
    if hyperparameters.amsgrad:
        slots["state.max_exp_avg_sq"] = state.max_exp_avg_sq
    elif state.max_exp_avg_sq:
        raise ValueError(
            "amsgrad=False but the state has max_exp_avg_sq; build it with "
            "init_state(params, amsgrad=False)"
        )
    for name, arrays in slots.items():
        if len(arrays) != len(params):
            raise ValueError(f"{name} has {len(arrays)} arrays, but params has {len(params)}")
        for index, (param, array) in enumerate(zip(params, arrays, strict=True)):
            _check_like(f"{name}[{index}]", array, param)


def _check_count(count: Any) -> None:
    if is_host_count(count):
        if count < 0:
            raise ValueError(f"state.count must be >= 0, got {count!r}")
        return
    if (
        not array_api_compat.is_array_api_obj(count)
        or tuple(count.shape) != ()
        or not array_api_compat.array_namespace(count).isdtype(count.dtype, "integral")
    ):
        raise TypeError(f"state.count must be an int or a 0-d integer array, got {count!r}")


def _check_like(name: str, array: Array, param: Array) -> None:
    if not _has_shape_and_dtype(array):
        raise TypeError(
            f"{name} must be an array like its parameter, got {type(array).__name__} {array!r}"
        )
    if tuple(array.shape) != tuple(param.shape):
        raise ValueError(f"{name} has shape {tuple(array.shape)}, expected {tuple(param.shape)}")
    if array.dtype != param.dtype:
        raise ValueError(f"{name} has dtype {array.dtype}, expected {param.dtype}")
    device, expected = array_api_compat.device(array), array_api_compat.device(param)
    if device != expected:
        raise ValueError(f"{name} is on device {device}, expected {expected}")


def _has_shape_and_dtype(value: Any) -> bool:
    """An array of any namespace, or a NumPy scalar (what NumPy's 0-d arithmetic gives)."""
    return hasattr(value, "shape") and hasattr(value, "dtype")
