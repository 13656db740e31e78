"""One parameter's RAdam update: the paper's equations, elementwise, in any namespace."""

from __future__ import annotations

import sys
from typing import Any, NamedTuple

import array_api_compat

from radam_core.hyperparameters import Hyperparameters
from radam_core.namespace import Array, Namespace

# A term is skipped where its coefficient or hyperparameter is such a number, exactly 0 or 1.
_HOST_NUMBER = (int, float)


class StepCoefficients(NamedTuple):
    """The per-step scalars of the update, shared by every parameter.

    [`step_scalars`][radam_core.rectification.step_scalars] computes them (formulas in
    [`radam_core.rectification`][radam_core.rectification]). One parameter's update, with
    ``n_t = m_t`` (or ``nesterov_momentum * m_t + (1 - beta1) g_t`` with Nesterov momentum,
    which is ``bc1 * m_hat``), is:

        theta_t = decay * theta_{t-1}
                  - adaptive_step * n_t / (sqrt(second_moment_scale * v_t + eps_root) + eps)
                  - momentum_step * n_t

    Attributes:
        adaptive_step: Step size of the rectified adaptive update; 0 when not rectified.
        momentum_step: Step size of the SGD-with-momentum update below the threshold.
        second_moment_scale: Multiplies v_t inside the square root.
        nesterov_momentum: Weight of m_t in n_t with Nesterov momentum.
        decay: Multiplies theta_{t-1}: decoupled weight decay on updating steps.
    """

    adaptive_step: Any
    momentum_step: Any
    second_moment_scale: Any
    nesterov_momentum: Any
    decay: Any

    def cast(self, dtype: Any, device: Any, xp: Namespace) -> StepCoefficients:
        """Array coefficients converted to ``dtype`` on ``device``; floats unchanged.

        A complex ``dtype`` (a complex parameter's) gives its real dtype: the coefficients
        are real, and so is the denominator they meet
        ([`update_leaf`][radam_core.update.update_leaf]).
        """
        values = list(self)
        for index, value in enumerate(values):
            if not isinstance(value, float):
                values[index] = xp.asarray(value, dtype=real_dtype(dtype, xp), device=device)
        return StepCoefficients(*values)


def compute_dtype(dtype: Any, xp: Namespace) -> Any:
    """The dtype arithmetic on ``dtype`` arrays runs in: at least float32.

    float16 and bfloat16 compute in float32; float32 and float64 (and complex dtypes) in
    themselves.
    """
    if xp.finfo(dtype).bits < 32:
        return xp.float32
    return dtype


def real_dtype(dtype: Any, xp: Namespace) -> Any:
    """The real dtype of a complex one (complex64: float32, complex128: float64), else ``dtype``.

    ``xp.isdtype`` is the only call for a real ``dtype``, so namespaces without complex
    dtypes (the Keras view) work unchanged.
    """
    if not xp.isdtype(dtype, "complex floating"):
        return dtype
    return xp.float32 if dtype == xp.complex64 else xp.float64


def traced_types() -> tuple[type, ...]:
    """The array types that have no device: JAX's tracers once JAX is imported, else none.

    ``isinstance(x, traced_types())`` tells a traced array without asking it for its device.
    """
    jax = sys.modules.get("jax")
    return () if jax is None else (jax.core.Tracer,)


def device_of(array: Array) -> Any:
    """``array_api_compat.device(array)``: the array's device, None for a traced JAX array.

    A JAX tracer is not asked: its ``device`` attribute raises an error whose message JAX
    builds by walking the whole trace so far, so asking once per leaf would make tracing a
    step over n leaves take time quadratic in n.
    """
    if isinstance(array, traced_types()):
        return None
    return array_api_compat.device(array)


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

    With ``c`` the [`StepCoefficients`][radam_core.update.StepCoefficients] of step t (which
    hold r_t, the bias corrections and the threshold decision):

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
        The [`LeafUpdate`][radam_core.update.LeafUpdate].
    """
    dtype = compute_dtype(param.dtype, xp)
    # Copies of what the equations overwrite; max(v) is replaced, never written: no copy.
    own = LeafUpdate(
        xp.astype(param, dtype, copy=True),
        xp.astype(exp_avg, dtype, copy=True),
        xp.astype(exp_avg_sq, dtype, copy=True),
        None if max_exp_avg_sq is None else xp.astype(max_exp_avg_sq, dtype, copy=False),
    )
    new = _advance(own, xp.astype(grad, dtype, copy=False), coefficients, hyperparameters, xp)
    # Each result as an array of its input's dtype (asarray: NumPy's arithmetic on 0-d
    # arrays gives scalars), the input itself where nothing changed it.
    results = list(new)
    for index, (value, a) in enumerate(
        zip(new, (param, exp_avg, exp_avg_sq, max_exp_avg_sq), strict=True)
    ):
        if value is not a and a is not None:
            results[index] = xp.asarray(value, dtype=a.dtype)
    return LeafUpdate(*results)


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

    The equations of [`update_leaf`][radam_core.update.update_leaf], run as in-place operations
    on ``param``, ``exp_avg`` and ``exp_avg_sq`` themselves (and ``max_exp_avg_sq`` with
    amsgrad), so that an adapter that updates in place neither copies its arrays nor copies
    results back. The results are [`update_leaf`][radam_core.update.update_leaf]'s bit for bit.
    float16 and bfloat16 arrays are computed on float32 copies and then written back.

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
    """The equations of [`update_leaf`][radam_core.update.update_leaf] on compute-dtype arrays.

    Those arrays may be overwritten.

    theta, m and v are updated with the in-place operators, which write into ``leaf``'s
    arrays where the namespace has them and make new arrays where it has none (JAX,
    TensorFlow); max(v) is a new array (``xp.maximum``). Either way the returned arrays
    hold the results. The operations and their order are the formulas', so the bits are the
    same either way. A term is skipped only where its host coefficient (a Python float) is
    exactly 0 or 1, or its host hyperparameter exactly 0; an array one (perhaps traced) is
    never read.
    """
    theta, m, v, v_max = leaf
    beta1, beta2 = hp.betas
    is_complex = xp.isdtype(g.dtype, "complex floating")
    if hp.maximize:
        g = -g
    no_l2 = isinstance(hp.weight_decay, _HOST_NUMBER) and hp.weight_decay == 0
    if not (hp.decoupled_weight_decay or no_l2):
        g = g + hp.weight_decay * theta
    m *= beta1
    m += (1.0 - beta1) * g
    v *= beta2
    v += (1.0 - beta2) * (xp.real(xp.conj(g) * g) if is_complex else g * g)  # |g|^2
    v_denominator = v
    if v_max is not None:  # for a complex dtype, of the real parts (the imaginary ones are 0)
        if is_complex:
            v_max = xp.astype(xp.maximum(xp.real(v_max), xp.real(v)), v.dtype)
        else:
            v_max = xp.maximum(v_max, v)
        v_denominator = v_max
    n = c.nesterov_momentum * m + (1.0 - beta1) * g if hp.nesterov else m

    if not (isinstance(c.decay, _HOST_NUMBER) and c.decay == 1.0):
        theta *= c.decay
    if not (isinstance(c.adaptive_step, _HOST_NUMBER) and c.adaptive_step == 0.0):
        if is_complex:  # a complex-typed v's imaginary part is 0
            v_denominator = xp.real(v_denominator)
        if not (isinstance(c.second_moment_scale, _HOST_NUMBER) and c.second_moment_scale == 1.0):
            v_denominator = c.second_moment_scale * v_denominator
        if not (isinstance(hp.eps_root, _HOST_NUMBER) and hp.eps_root == 0):
            v_denominator = v_denominator + hp.eps_root
        theta -= c.adaptive_step * n / (xp.sqrt(v_denominator) + hp.eps)
    if not (isinstance(c.momentum_step, _HOST_NUMBER) and c.momentum_step == 0.0):
        theta -= c.momentum_step * n
    return LeafUpdate(theta, m, v, v_max)
