"""``step``: one pure RAdam step over a list of parameters, in any Array API namespace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import array_api_compat

from radam_core.coefficients import StepCoefficients, step_coefficients
from radam_core.count import increment
from radam_core.namespace import Array, Namespace, compute_dtype, namespace_of
from radam_core.presets import hyperparameters_for
from radam_core.state import RAdamState
from radam_core.update import update_leaf
from radam_core.validation import check_step_inputs


def step(
    params: Sequence[Array],
    grads: Sequence[Array],
    state: RAdamState,
    xp: Namespace | None = None,
    **hyperparameters: Any,
) -> tuple[tuple[Array, ...], RAdamState]:
    """One RAdam step, ``t = state.count + 1``; pure: inputs are never written.

    An integer-typed count saturates at its dtype's maximum (``radam_core.count.increment``).

    For each parameter (see [`radam_core.update.update_leaf`][radam_core.update_leaf] for the
    equations):

        m_t = beta1 m + (1 - beta1) g;   v_t = beta2 v + (1 - beta2) |g|^2
        rho_t > threshold:  theta -= lr r_t m_hat sqrt(bc2) / (sqrt(v_t) + eps)
        otherwise:          theta -= lr m_hat    (or no update, below_threshold="skip")

    Args:
        params: theta_{t-1}, real or complex floating-point arrays of one namespace
            (complex ones in optax's convention: see
            [`radam_core.update_leaf`][radam_core.update_leaf]).
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
    xp = namespace_of(*params, xp=xp) if params else xp
    check_step_inputs(params, grads, state, hp, xp)

    t = increment(state.count)
    coefficients = step_coefficients(t, hp)
    cast: dict[tuple[Any, Any], StepCoefficients] = {}
    results = []
    for index, param in enumerate(params):
        key = (compute_dtype(param.dtype, xp), array_api_compat.device(param))
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
    new_state = RAdamState(
        count=t,
        exp_avg=tuple(r.exp_avg for r in results),
        exp_avg_sq=tuple(r.exp_avg_sq for r in results),
        max_exp_avg_sq=tuple(r.max_exp_avg_sq for r in results) if hp.amsgrad else (),
    )
    return tuple(r.param for r in results), new_state
