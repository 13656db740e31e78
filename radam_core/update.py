"""One parameter's RAdam update: the paper's equations, elementwise, in any namespace."""

from __future__ import annotations

from typing import NamedTuple

import array_api_compat

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

    With ``c`` the [`StepCoefficients`][radam_core.StepCoefficients] of step t (which hold r_t, the
    bias corrections and the threshold decision):

        g_t     = -grad if maximize else grad;   g_t += wd * theta   (L2 weight decay)
        m_t     = beta1 m_{t-1} + (1 - beta1) g_t
        v_t     = beta2 v_{t-1} + (1 - beta2) |g_t|^2;   v_t <- max(v_max, v_t) with amsgrad
        n_t     = m_t, or c.nesterov_momentum m_t + (1 - beta1) g_t with Nesterov (= bc1 m_hat)
        theta_t = c.decay theta - c.adaptive_step n_t / (sqrt(c.second_moment_scale v_t
                  + eps_root) + eps) - c.momentum_step n_t

    Arithmetic runs in at least float32; every result keeps its input's dtype. Terms whose
    host coefficient is exactly 0 or 1 are skipped, which changes no result.

    Complex parameters follow optax's convention: ``|g_t|^2 = real(conj(g_t) g_t)`` (optax's
    ``abs_sq``), so v_t is real and non-negative; it is stored in the parameter's complex
    dtype with a zero imaginary part (as optax's ``nu``), amsgrad's maximum compares real
    parts, and the denominator is real. For a real dtype ``|g_t|^2`` is ``g_t * g_t``: the
    choice is made on the dtype, never per element, so real results are unchanged. (torch
    instead treats a complex tensor as its real view, each real and imaginary part a
    coordinate with its own v; radam_torch does that before calling the core.)

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
        The [`LeafUpdate`][radam_core.LeafUpdate].
    """
    dtype = compute_dtype(param.dtype, xp)
    inputs = LeafUpdate(param, exp_avg, exp_avg_sq, max_exp_avg_sq)
    # Copies of what the equations overwrite; max(v) is replaced, never written: no copy.
    own = LeafUpdate(
        xp.astype(param, dtype, copy=True),
        xp.astype(exp_avg, dtype, copy=True),
        xp.astype(exp_avg_sq, dtype, copy=True),
        None if max_exp_avg_sq is None else xp.astype(max_exp_avg_sq, dtype, copy=False),
    )
    new = _advance(own, xp.astype(grad, dtype, copy=False), coefficients, hyperparameters, xp)
    results = zip(new, inputs, strict=True)
    return LeafUpdate(*(None if a is None else _array_like(value, a, xp) for value, a in results))


def update_leaf_in_place(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    max_exp_avg_sq: Array | None,
    coefficients: StepCoefficients,
    hyperparameters: Hyperparameters,
    xp: Namespace,
) -> None:
    """Apply step t to one parameter in its own memory.

    The equations of [`update_leaf`][radam_core.update_leaf], run as in-place operations on
    ``param``, ``exp_avg`` and ``exp_avg_sq`` themselves (and ``max_exp_avg_sq`` with amsgrad), so
    that an adapter that updates in place neither copies its arrays nor copies results
    back. The results are [`update_leaf`][radam_core.update_leaf]'s bit for bit. float16 and
    bfloat16 arrays are computed on float32 copies and then written back.

    Args:
        param: theta_{t-1}, overwritten with theta_t.
        grad: The gradient at theta_{t-1}, same shape and dtype; never written.
        exp_avg: m_{t-1}, overwritten with m_t.
        exp_avg_sq: v_{t-1}, overwritten with v_t.
        max_exp_avg_sq: max(v_1, ..., v_{t-1}) with amsgrad (overwritten), else None.
        coefficients: The step's scalars, already cast to the compute dtype and device.
        hyperparameters: The step's hyperparameters.
        xp: The arrays' namespace: one whose arrays are mutable (not JAX or TensorFlow).
            The arrays must share no memory with each other or with ``grad``.

    Raises:
        ValueError: An array to be written is read-only (a JAX array, say); nothing has
            been written then.
    """
    targets = LeafUpdate(param, exp_avg, exp_avg_sq, max_exp_avg_sq)
    for name, target in zip(LeafUpdate._fields, targets, strict=True):
        if target is not None and not array_api_compat.is_writeable_array(target):
            raise ValueError(
                f"update_leaf_in_place writes into {name}, but it is a read-only "
                f"{type(target).__module__}.{type(target).__name__}; use update_leaf"
            )
    dtype = compute_dtype(param.dtype, xp)
    own = (
        targets
        if param.dtype == dtype
        else LeafUpdate(*(None if a is None else xp.astype(a, dtype) for a in targets))
    )
    new = _advance(own, xp.astype(grad, dtype, copy=False), coefficients, hyperparameters, xp)
    for value, target in zip(new, targets, strict=True):
        if value is not target and target is not None:
            target[...] = xp.astype(xp.asarray(value), target.dtype, copy=False)


def _advance(
    leaf: LeafUpdate, g: Array, c: StepCoefficients, hp: Hyperparameters, xp: Namespace
) -> LeafUpdate:
    """The equations of [`update_leaf`][radam_core.update_leaf] on compute-dtype arrays.

    Those arrays may be overwritten.

    theta, m and v are updated with the in-place operators, which write into ``leaf``'s
    arrays where the namespace has them and make new arrays where it has none (JAX,
    TensorFlow); max(v) is a new array (``xp.maximum``). Either way the returned arrays
    hold the results. The operations and
    their order are the formulas', so the bits are the same either way.
    """
    theta, m, v, v_max = leaf
    beta1, beta2 = hp.betas
    if hp.maximize:
        g = -g
    if not _host_zero(hp.weight_decay) and not hp.decoupled_weight_decay:
        g = g + hp.weight_decay * theta
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * _abs_sq(g, xp)
    v_denominator = v
    if v_max is not None:
        v_max = v_denominator = _maximum(v_max, v, xp)
    n = c.nesterov_momentum * m + (1.0 - beta1) * g if hp.nesterov else m

    if not _is(c.decay, 1.0):
        theta *= c.decay
    if not _is(c.adaptive_step, 0.0):
        v_denominator = _real(v_denominator, xp)
        scaled_v = (
            v_denominator
            if _is(c.second_moment_scale, 1.0)
            else (c.second_moment_scale * v_denominator)
        )
        if not _host_zero(hp.eps_root):
            scaled_v = scaled_v + hp.eps_root
        theta -= c.adaptive_step * n / (xp.sqrt(scaled_v) + hp.eps)
    if not _is(c.momentum_step, 0.0):
        theta -= c.momentum_step * n
    return LeafUpdate(theta, m, v, v_max)


def _is_complex(x: Array, xp: Namespace) -> bool:
    return bool(xp.isdtype(x.dtype, "complex floating"))


def _abs_sq(g: Array, xp: Namespace) -> Array:
    """``|g|^2``: ``g * g`` for a real g, ``real(conj(g) g)`` (optax's abs_sq) for a complex one."""
    return xp.real(xp.conj(g) * g) if _is_complex(g, xp) else g * g


def _maximum(v_max: Array, v: Array, xp: Namespace) -> Array:
    """``max(v_max, v)``; for a complex dtype, of the real parts (the imaginary parts are 0)."""
    if _is_complex(v, xp):
        return xp.astype(xp.maximum(xp.real(v_max), xp.real(v)), v.dtype)
    return xp.maximum(v_max, v)


def _real(v: Array, xp: Namespace) -> Array:
    """A complex-typed v's real part (its imaginary part is 0); a real v itself."""
    return xp.real(v) if _is_complex(v, xp) else v


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
