"""One parameter's RAdam update: the paper's equations, elementwise, in any namespace."""

from __future__ import annotations

from typing import NamedTuple

from radam_core.coefficients import StepCoefficients
from radam_core.hyperparameters import Hyperparameters
from radam_core.namespace import Array, Namespace, compute_dtype


class LeafUpdate(NamedTuple):
    """The new values of one parameter and its state after a step.

    Attributes:
        param: theta_t.
        exp_avg: m_t.
        exp_avg_sq: v_t.
        max_exp_avg_sq: max(v_1, ..., v_t) with amsgrad, else None.
    """

    param: Array
    exp_avg: Array
    exp_avg_sq: Array
    max_exp_avg_sq: Array | None


def update_leaf(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    max_exp_avg_sq: Array | None,
    coefficients: StepCoefficients,
    hyperparameters: Hyperparameters,
    xp: Namespace,
) -> LeafUpdate:
    """Apply step t to one parameter; pure, inputs are never written.

    With ``c`` the :class:`StepCoefficients` of step t (which hold r_t, the bias
    corrections and the threshold decision)::

        g_t     = -grad if maximize else grad;   g_t += wd * theta   (L2 weight decay)
        m_t     = beta1 m_{t-1} + (1 - beta1) g_t
        v_t     = beta2 v_{t-1} + (1 - beta2) g_t^2;   v_t <- max(v_max, v_t) with amsgrad
        n_t     = m_t, or c.nesterov_momentum m_t + (1 - beta1) g_t with Nesterov (= bc1 m_hat)
        theta_t = c.decay theta - c.adaptive_step n_t / (sqrt(c.second_moment_scale v_t
                  + eps_root) + eps) - c.momentum_step n_t

    Arithmetic runs in at least float32; every result keeps its input's dtype. Terms whose
    host coefficient is exactly 0 or 1 are skipped, which changes no result.

    Args:
        param: theta_{t-1}.
        grad: The gradient at theta_{t-1}, same shape and dtype.
        exp_avg: m_{t-1}.
        exp_avg_sq: v_{t-1}.
        max_exp_avg_sq: max(v_1, ..., v_{t-1}) with amsgrad, else None.
        coefficients: The step's scalars, already cast to the compute dtype and device.
        hyperparameters: The step's hyperparameters.
        xp: The arrays' namespace.

    Returns:
        The :class:`LeafUpdate`.
    """
    hp, c = hyperparameters, coefficients
    beta1, beta2 = hp.betas
    dtype = compute_dtype(param.dtype, xp)
    theta = xp.astype(param, dtype, copy=False)
    g = xp.astype(grad, dtype, copy=False)

    if hp.maximize:
        g = -g
    if not _host_zero(hp.weight_decay) and not hp.decoupled_weight_decay:
        g = g + hp.weight_decay * theta
    m = beta1 * xp.astype(exp_avg, dtype, copy=False) + (1.0 - beta1) * g
    v = beta2 * xp.astype(exp_avg_sq, dtype, copy=False) + (1.0 - beta2) * (g * g)
    v_max = None
    v_denominator = v
    if max_exp_avg_sq is not None:
        v_max = v_denominator = xp.maximum(xp.astype(max_exp_avg_sq, dtype, copy=False), v)
    n = c.nesterov_momentum * m + (1.0 - beta1) * g if hp.nesterov else m

    new_theta = theta if _is(c.decay, 1.0) else c.decay * theta
    if not _is(c.adaptive_step, 0.0):
        scaled_v = (
            v_denominator
            if _is(c.second_moment_scale, 1.0)
            else (c.second_moment_scale * v_denominator)
        )
        if not _host_zero(hp.eps_root):
            scaled_v = scaled_v + hp.eps_root
        new_theta = new_theta - c.adaptive_step * n / (xp.sqrt(scaled_v) + hp.eps)
    if not _is(c.momentum_step, 0.0):
        new_theta = new_theta - c.momentum_step * n

    return LeafUpdate(
        param=_array_like(new_theta, param, xp),
        exp_avg=_array_like(m, exp_avg, xp),
        exp_avg_sq=_array_like(v, exp_avg_sq, xp),
        max_exp_avg_sq=None if max_exp_avg_sq is None else _array_like(v_max, max_exp_avg_sq, xp),
    )


def _array_like(value: Array, like: Array, xp: Namespace) -> Array:
    """``value`` as an array of ``like``'s dtype: ``like`` itself where nothing changed it.

    asarray, not astype: NumPy arithmetic on 0-d arrays gives scalars; this gives arrays.
    """
    return like if value is like else xp.asarray(value, dtype=like.dtype)


def _is(coefficient: object, value: float) -> bool:
    """True only for a host float equal to ``value``; an array coefficient is never skipped."""
    return isinstance(coefficient, float) and coefficient == value


def _host_zero(hyperparameter: object) -> bool:
    """True for a host number equal to 0; an array hyperparameter (perhaps traced) is never."""
    return isinstance(hyperparameter, (int, float)) and hyperparameter == 0
