"""``step``: one pure RAdam step over a list of parameters, in any Array API namespace.

Also the step's checks of its arrays (each failure names the argument and its value) and the
count's increment, which the in-place adapters share.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import array_api_compat
import numpy as np

from radam_core.hyperparameters import Hyperparameters
from radam_core.namespace import Array, Namespace, is_host_count
from radam_core.presets import hyperparameters_for
from radam_core.rectification import step_scalars
from radam_core.state import RAdamState
from radam_core.update import (
    StepCoefficients,
    compute_dtype,
    device_of,
    traced_types,
    update_leaf,
)


def step(
    params: Sequence[Array],
    grads: Sequence[Array],
    state: RAdamState,
    xp: Namespace | None = None,
    **hyperparameters: Any,
) -> tuple[tuple[Array, ...], RAdamState]:
    """One RAdam step, ``t = state.count + 1``; pure: inputs are never written.

    An integer-typed count saturates at its dtype's maximum
    ([`increment`][radam_core.step.increment]).

    For each parameter (see [`update_leaf`][radam_core.update.update_leaf] for the
    equations):

        m_t = beta1 m + (1 - beta1) g;   v_t = beta2 v + (1 - beta2) |g|^2
        rho_t > threshold:  theta -= lr r_t m_hat sqrt(bc2) / (sqrt(v_t) + eps)
        otherwise:          theta -= lr m_hat    (or no update, below_threshold="skip")

    Args:
        params: theta_{t-1}, real or complex floating-point arrays of one namespace
            (complex ones in optax's convention: see
            [`update_leaf`][radam_core.update.update_leaf]).
        grads: Their gradients, same shapes and dtypes.
        state: From [`radam_core.init_state`][radam_core.init_state] or the previous step.
        xp: The arrays' namespace; inferred when omitted.
        **hyperparameters: ``preset`` (default ``"torch"``) and any field of
            [`radam_core.Hyperparameters`][radam_core.Hyperparameters], e.g.
            ``lr=3e-4, weight_decay=0.01``.

    Returns:
        ``(new_params, new_state)``, each array with its input's dtype and device.

    Raises:
        TypeError, ValueError: Invalid hyperparameters or mismatched arrays, raised
            before anything is computed.
    """
    hp = hyperparameters_for(**hyperparameters)
    params, grads = tuple(params), tuple(grads)
    if xp is None and params:
        xp = array_api_compat.array_namespace(*params)
    check_step_inputs(params, grads, state, hp, xp)

    t = increment(state.count)
    coefficients = step_scalars(t, hp).coefficients
    cast: dict[tuple[Any, Any], StepCoefficients] = {}
    results = []
    for index, param in enumerate(params):
        key = (compute_dtype(param.dtype, xp), device_of(param))
        if key not in cast:
            cast[key] = coefficients.cast(*key, xp)
        max_sq = state.max_exp_avg_sq[index] if hp.amsgrad else None
        results.append(
            update_leaf(
                param,
                grads[index],
                state.exp_avg[index],
                state.exp_avg_sq[index],
                max_sq,
                cast[key],
                hp,
                xp,
            )
        )
    new_params, exp_avg, exp_avg_sq, max_exp_avg_sq = tuple(zip(*results, strict=True)) or ((),) * 4
    new_state = RAdamState(t, exp_avg, exp_avg_sq, max_exp_avg_sq if hp.amsgrad else ())
    return new_params, new_state


def increment(count: Any) -> Any:
    """The count after one more step, ``count + 1``, never wrapping around.

    A Python int has no maximum. An integer-typed count (a 0-d array, or a NumPy scalar)
    saturates at its dtype's maximum, as ``optax.safe_increment`` does (where every bias
    correction and rho_t have long reached their limits), without computing ``count + 1``
    there: ``count + (count < max)``, with no branch on its value (traced counts included).

    Args:
        count: ``state.count``: a Python int, a NumPy integer, or a 0-d integer array.

    Returns:
        A Python int, or an integer of ``count``'s namespace and dtype: a 0-d array, or
        for NumPy a scalar (NumPy's arithmetic on 0-d arrays gives scalars), which later
        steps take as a host count.
    """
    if type(count) is int:
        return count + 1
    if isinstance(count, np.integer):
        return count + count.dtype.type(count < np.iinfo(count.dtype).max)
    if is_host_count(count):
        return operator.index(count) + 1
    xp = array_api_compat.array_namespace(count)
    below_max = count < xp.iinfo(count.dtype).max
    return count + xp.astype(below_max, count.dtype)


def check_params(params: Sequence[Array], xp: Namespace) -> None:
    """Raise ``TypeError`` unless every parameter is a floating-point array.

    Real and complex floating point are accepted; complex parameters take optax's
    convention, ``v`` from ``|g|^2`` (see [`update_leaf`][radam_core.update.update_leaf]).
    """
    for index, param in enumerate(params):
        if not (hasattr(param, "shape") and hasattr(param, "dtype")):
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
    if type(state.count) is not int or state.count < 0:
        check_count(state.count)
    slots = {"grads": grads, "state.exp_avg": state.exp_avg, "state.exp_avg_sq": state.exp_avg_sq}
    if hyperparameters.amsgrad:
        slots["state.max_exp_avg_sq"] = state.max_exp_avg_sq
    elif state.max_exp_avg_sq:
        raise ValueError(
            "amsgrad=False but the state has max_exp_avg_sq; build it with "
            "init_state(params, amsgrad=False)"
        )
    traced = traced_types()  # no device to compare
    for name, arrays in slots.items():
        if len(arrays) != len(params):
            raise ValueError(f"{name} has {len(arrays)} arrays, but params has {len(params)}")
        for index, (param, array) in enumerate(zip(params, arrays, strict=True)):
            if not (
                hasattr(array, "dtype")
                and array.dtype == param.dtype
                and tuple(array.shape) == tuple(param.shape)
                and (
                    (isinstance(array, traced) and isinstance(param, traced))
                    or array_api_compat.device(array) == array_api_compat.device(param)
                )
            ):
                _check_like(f"{name}[{index}]", array, param)


def check_count(count: Any) -> None:
    """Raise unless ``state.count`` is an int ``>= 0`` or a 0-d integer array (never read).

    Raises:
        ValueError: A negative int.
        TypeError: Anything else that is not a 0-d integer array.
    """
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
    if not (hasattr(array, "shape") and hasattr(array, "dtype")):
        raise TypeError(
            f"{name} must be an array like its parameter, got {type(array).__name__} {array!r}"
        )
    if tuple(array.shape) != tuple(param.shape):
        raise ValueError(f"{name} has shape {tuple(array.shape)}, expected {tuple(param.shape)}")
    if array.dtype != param.dtype:
        raise ValueError(f"{name} has dtype {array.dtype}, expected {param.dtype}")
    device, expected = device_of(array), device_of(param)
    if device != expected:
        raise ValueError(f"{name} is on device {device}, expected {expected}")
