r"""The schedule of step t: rho_t, r_t, the decision, bias corrections, coefficients, Adam form.

Algorithm 2 of Liu et al. (2019), every scalar of step t that all parameters share.

**Rectification.** The simple moving average that matches Adam's EMA of squared gradients has
length

    rho_inf = 2 / (1 - beta2) - 1,        rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t),

and the variance of the adaptive learning rate is rectified by

    r_t = sqrt( (rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t) ),

applied only on steps where rho_t exceeds a threshold (4 in the paper, 5 in most code).

**The coefficients.** With ``bc1 = 1 - beta1^t``, ``bc2 = 1 - beta2^t``, ``rectified`` 1 or 0,
and ``updating`` 1 unless the step is skipped below the threshold:

    adaptive_step       = lr * r_t * rectified * sqrt(bc2) / bc1      (eps on raw sqrt(v_t))
                        = lr * r_t * rectified / bc1                  (eps on sqrt(v_t / bc2))
    momentum_step       = lr * (1 - rectified) / bc1                  ("sgd" below threshold)
                        = 0                                           ("skip")
    second_moment_scale = 1 (raw) or 1 / bc2 (corrected)
    nesterov_momentum   = beta1 * bc1 / (1 - beta1^(t+1))
    decay               = 1 - lr * wd * updating (decoupled weight decay), else 1

**The Adam form.** A rectified step is also one Adam step (torch's convention, which fused
kernels implement: ``theta -= (lr_A / bc1) m_t / (sqrt(v_t) / sqrt(bc2) + eps_A)``, then
``theta *= 1 - lr_A wd_A`` for AdamW), with the same moments and

    lr_A  = lr r_t
    eps_A = eps / sqrt(bc2)   (eps on the raw sqrt(v_t))     eps_A = eps   (corrected)
    wd_A  = wd                (L2: g += wd theta)            wd_A  = wd / r_t   (decoupled)

Steps below the threshold, Nesterov momentum and eps_root have no Adam form.

**One path for every count.** The count becomes a real 0-d array once: float64 on the host for
a Python int, else the widest float of its namespace and device (traced counts included: no
value is ever read). Every formula then runs on 0-d arrays, and a host count's results become
Python floats at the end. Array hyperparameters (0-d, traced or not) join the count's
namespace and precision; where beta2 or the threshold is an array, its cases (beta2 = 0,
rho_inf <= 4) are ``where`` cases computed on harmless stand-in values.

**Numerics.** rho_t is a small difference of two numbers near rho_inf (rho_5 = 4.996 for
beta2 = 0.999, from 1999 - 1994.004), so the textbook form loses about three digits in
float64 and all of them in float32. With c = -ln(beta2) and x = t c the same quantity is

    rho_t = K + t q(x),   K = rho_inf - 2 / c,   q(x) = (2 / x) (1 - x / (e^x - 1)),

where K is a constant (a Gregory series where 1 - beta2 < 0.01) and q has no cancellation (a
Bernoulli series below x = 1/2), so rho_t keeps the working precision. r_t clamps rho_t to at
least 4 before the square root, so the branch not taken never makes NaN, inf or a warning.
Bias corrections are ``1 - beta^t = -expm1(t ln beta)``.
"""

from __future__ import annotations

import functools
import math
import operator
from fractions import Fraction
from typing import Any, NamedTuple

import array_api_compat
import numpy as np

from radam_core.hyperparameters import Hyperparameters
from radam_core.namespace import Array, Namespace, is_host_count, widest_float
from radam_core.update import StepCoefficients, device_of

HOST_NAMESPACE: Namespace = array_api_compat.array_namespace(np.empty(0))

# Even Bernoulli numbers B_2, B_4, ..., B_16.
_BERNOULLI_EVEN = (
    Fraction(1, 6),
    Fraction(-1, 30),
    Fraction(1, 42),
    Fraction(-1, 30),
    Fraction(5, 66),
    Fraction(-691, 2730),
    Fraction(7, 6),
    Fraction(-3617, 510),
)
# q(x) = 1 + sum_k a_k x^(2k-1), a_k = -2 B_2k / (2k)!  (error < 1e-16 for x <= 1/2).
_Q_SERIES = tuple(
    float(-2 * b / math.factorial(2 * k)) for k, b in enumerate(_BERNOULLI_EVEN, start=1)
)
_Q_SERIES_LIMIT = 0.5
# Above this x, x e^-x / (1 - e^-x) < 1e-33 is 0 to every float's precision; exp(-x) would
# underflow (a FloatingPointError under np.errstate(all="raise")).
_Q_EXP_LIMIT = 80.0
# Gregory coefficients G_2..G_6 of 1/ln(1+x) = 1/x + 1/2 + sum_n G_n x^(n-1); with them
# K = rho_inf - 2/c = 2 sum_n G_n (-delta)^(n-1), delta = 1 - beta2 (error < 1e-14 below 0.01).
_GREGORY = (
    Fraction(-1, 12),
    Fraction(1, 24),
    Fraction(-19, 720),
    Fraction(3, 160),
    Fraction(-863, 60480),
)
_K_SERIES_LIMIT = 0.01
_GREGORY_FLOATS = tuple(float(g) for g in _GREGORY)


class Rectification(NamedTuple):
    """rho_t, r_t and the threshold decision for one step.

    Attributes:
        rho_t: Length of the approximated simple moving average at step t.
        r_t: The rectification term; 0 where rho_t <= 4, where it is not real.
        rectified: Whether step t takes the rectified adaptive update.
    """

    rho_t: Any
    r_t: Any
    rectified: Any


class AdamForm(NamedTuple):
    """Adam hyperparameters under which an Adam step is RAdam's rectified step t.

    Attributes:
        lr: ``lr * r_t``: a float, or a 0-d array for an array ``lr``.
        eps: ``eps / sqrt(1 - beta2^t)`` (raw placement) or ``eps`` (corrected).
        weight_decay: ``wd`` (L2) or ``wd / r_t`` (decoupled, AdamW style).
    """

    lr: Any
    eps: float
    weight_decay: float


class StepScalars(NamedTuple):
    """Everything every parameter's update at step t shares, from one computation of r_t.

    Attributes:
        coefficients: The [`StepCoefficients`][radam_core.update.StepCoefficients] (the update's
            arithmetic is in [`radam_core.update`][radam_core.update]).
        adam_form: The [`AdamForm`][radam_core.rectification.AdamForm] of a rectified step,
            for a host count with host-number betas and threshold; None where the step has
            none (below the threshold, Nesterov momentum, eps_root) or its existence is not
            known on the host (an array count or hyperparameter).
    """

    coefficients: StepCoefficients
    adam_form: AdamForm | None


def rho_inf(beta2: Any) -> Any:
    """Maximum length of the approximated SMA, ``rho_inf = 2 / (1 - beta2) - 1``.

    A float for a float ``beta2``, a 0-d array for a 0-d array.
    """
    return 2.0 / (1.0 - beta2) - 1.0


def rho(t: Any, beta2: Any, xp: Namespace | None = None) -> Any:
    """Length of the approximated SMA, ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``.

    Args:
        t: Step number, ``t >= 1``: a Python int, or a 0-d integer array (traced or not).
        beta2: Decay rate of the second moment, in ``[0, 1)``: a float, or a 0-d real
            array (traced or not; its value is never read in Python).
        xp: Namespace of an array ``t``; inferred when omitted.

    Returns:
        A Python float for an int ``t`` and a float ``beta2``; else a 0-d float array of
        the namespace of ``t`` (or, for an int ``t``, of ``beta2``).
    """
    t_real, xp, on_host, (beta2,) = _real_count(t, xp, (_host_number(beta2),))
    rho_t = _rho(t_real, beta2, rho_inf(beta2), xp)
    return float(rho_t) if on_host else rho_t


def rectify(
    t: Any,
    beta2: Any,
    threshold: Any = 5.0,
    inclusive: bool = False,
    xp: Namespace | None = None,
) -> Rectification:
    """rho_t, r_t and whether step ``t`` is rectified, without running an update.

    ``rectified`` is ``rho_t > threshold`` (``rho_t >= threshold`` when ``inclusive``), and
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.

    Args:
        t: Step number, ``t >= 1``: a Python int, or a 0-d integer array (traced or not).
        beta2: Decay rate of the second moment, in ``[0, 1)``: a float or a 0-d real array.
        threshold: The rho_t above which steps are rectified (4 in the paper, 5 in torch):
            a float or a 0-d real array.
        inclusive: Compare with ``>=`` instead of ``>``.
        xp: Namespace of an array ``t``; inferred when omitted.

    Returns:
        A [`Rectification`][radam_core.Rectification] of Python scalars for an int ``t`` with float
        ``beta2`` and ``threshold``, else of 0-d arrays (of ``t``'s namespace, or for an int ``t``
        of the array hyperparameter's).
    """
    hyperparameters = (_host_number(beta2), _host_number(threshold))
    t_real, xp, on_host, (beta2, threshold) = _real_count(t, xp, hyperparameters)
    rho_t, r_t, rectified = _rectification(t_real, beta2, threshold, inclusive, xp)
    if on_host:
        return Rectification(float(rho_t), float(r_t), bool(rectified))
    return Rectification(rho_t, r_t, rectified)


def step_scalars(
    t: Any, hyperparameters: Hyperparameters, xp: Namespace | None = None
) -> StepScalars:
    """The coefficients of step ``t`` and, where it has one, its Adam form (the module's formulas).

    Args:
        t: Step number ``t >= 1`` (the count after the increment): a Python int, or a
            0-d integer array of any namespace, traced or not.
        hyperparameters: The step's validated hyperparameters. ``lr`` may be a 0-d array
            with a host count too (never read: the results that hold it are arrays of its
            namespace, dtype and device).
        xp: Namespace of an array ``t``; inferred when omitted.

    Returns:
        The [`StepScalars`][radam_core.rectification.StepScalars]: Python floats for an int
        ``t`` with a float lr and host-number betas, threshold and weight decay; 0-d arrays
        otherwise.

    Raises:
        TypeError: ``t`` is a bool, a float, or an array that is not 0-d integer.
        ValueError: A host ``t`` below 1.
    """
    hp = hyperparameters
    decay_rate = hp.weight_decay if hp.decoupled_weight_decay else 0.0
    t_real, xp, on_host, (beta1, beta2, threshold, decay_rate) = _real_count(
        t, xp, (*hp.betas, hp.threshold, decay_rate)
    )
    _, r_t, rectified = _rectification(t_real, beta2, threshold, hp.threshold_inclusive, xp)
    rectified = xp.astype(rectified, t_real.dtype)
    bc1 = bias_correction(beta1, t_real, xp)
    bc2 = bias_correction(beta2, t_real, xp)

    adaptive_step = r_t * rectified / bc1
    if hp.eps_placement == "raw":
        adaptive_step = adaptive_step * xp.sqrt(bc2)
        second_moment_scale = xp.ones_like(t_real)
    else:
        second_moment_scale = 1.0 / bc2
    if hp.below_threshold == "sgd":
        momentum_step = (1.0 - rectified) / bc1
        updating = xp.ones_like(t_real)
    else:
        momentum_step = xp.zeros_like(t_real)
        updating = rectified
    nesterov_momentum = beta1 * bc1 / bias_correction(beta1, t_real + 1.0, xp)

    scalars = (adaptive_step, momentum_step, second_moment_scale, nesterov_momentum, updating)
    lr = hp.lr
    if on_host:
        adaptive_step, momentum_step, second_moment_scale, nesterov_momentum, updating = map(
            float, scalars
        )
    elif isinstance(lr, (int, float)):
        pass
    else:
        lr = xp.astype(lr, t_real.dtype)  # an array lr (a schedule's) joins the count's math
    coefficients = StepCoefficients(
        adaptive_step=lr * adaptive_step,
        momentum_step=lr * momentum_step,
        second_moment_scale=second_moment_scale,
        nesterov_momentum=nesterov_momentum,
        decay=1.0 - lr * decay_rate * updating,
    )
    form = None
    if on_host and not hp.nesterov and hp.eps_root == 0 and rectified and r_t != 0.0:
        r_t = float(r_t)
        eps = hp.eps / math.sqrt(float(bc2)) if hp.eps_placement == "raw" else hp.eps
        wd = hp.weight_decay / r_t if hp.decoupled_weight_decay else hp.weight_decay
        lr_a = hp.lr * r_t if hasattr(hp.lr, "shape") else float(hp.lr) * r_t
        form = AdamForm(lr=lr_a, eps=eps, weight_decay=wd)
    return StepScalars(coefficients, form)


def step_coefficients(
    t: Any, hyperparameters: Hyperparameters, xp: Namespace | None = None
) -> StepCoefficients:
    """The [`StepCoefficients`][radam_core.update.StepCoefficients] of step ``t``.

    ``step_scalars(t, hyperparameters, xp).coefficients``.

    Args:
        t: Step number ``t >= 1``: a Python int, or a 0-d integer array, traced or not.
        hyperparameters: The step's validated hyperparameters.
        xp: Namespace of an array ``t``; inferred when omitted.

    Returns:
        Python floats for an int ``t`` with a float lr and host-number betas, threshold
        and weight decay; 0-d arrays otherwise.
    """
    return step_scalars(t, hyperparameters, xp).coefficients


def adam_form(t: int, hyperparameters: Hyperparameters) -> AdamForm | None:
    """The [`AdamForm`][radam_core.rectification.AdamForm] of step ``t``, or None if none exists.

    Args:
        t: Step number ``t >= 1``, a Python int (host float64 arithmetic).
        hyperparameters: The step's hyperparameters; ``lr`` is a number, or a 0-d array
            (never read: ``lr_A`` is then the array ``lr * r_t``, in its dtype and on its
            device).

    Returns:
        None when step ``t`` is not rectified (or r_t = 0), or uses Nesterov momentum or
        ``eps_root``, or has array betas or threshold; else the
        [`AdamForm`][radam_core.rectification.AdamForm].
    """
    return step_scalars(t, hyperparameters).adam_form


def bias_correction(beta: Any, t: Array, xp: Namespace) -> Array:
    """``1 - beta^t`` as ``-expm1(t ln beta)``, exact to rounding for beta near 1.

    ``beta`` is a float or a 0-d array of ``t``'s dtype; ``beta = 0`` gives 1 (``t >= 1``),
    for an array by ``where``, with ln 0 never computed.
    """
    if not isinstance(beta, (int, float)):
        positive = beta > 0.0
        return xp.where(positive, -xp.expm1(t * xp.log(xp.where(positive, beta, 0.5))), 1.0)
    if beta == 0.0:
        return xp.ones_like(t)
    return -xp.expm1(t * math.log(beta))


def _real_count(
    t: Any, xp: Namespace | None, hyperparameters: tuple[Any, ...]
) -> tuple[Array, Namespace, bool, tuple[Any, ...]]:
    """Validate a step count ``t >= 1``; it and ``hyperparameters`` ready for the formulas.

    Args:
        t: A Python int, or a 0-d integer array of any namespace (never read).
        xp: The namespace of an array ``t``; inferred when omitted.
        hyperparameters: Host numbers or 0-d real arrays that the count's math meets.

    Returns:
        ``(t_real, xp, on_host, hyperparameters)``: the count as a 0-d float array (float64
        on the host; else the widest float of its namespace and device, or for a host count
        that meets an array hyperparameter, of that array's), its namespace, whether every
        result is a host number, and the hyperparameters with each array as a 0-d array of
        ``t_real``'s namespace, dtype and device (host numbers unchanged).

    Raises:
        TypeError: ``t`` is a bool, a float, or an array that is not 0-d integer.
        ValueError: A host ``t`` below 1.
    """
    like = None
    for value in hyperparameters:
        if not isinstance(value, (int, float)):
            like = value
            break
    if (isinstance(t, (int, np.integer)) and not isinstance(t, (bool, np.bool_))) or (
        is_host_count(t)
    ):
        count = operator.index(t)
        if count < 1:
            raise ValueError(f"step count t must be >= 1, got {t!r}")
        if like is None:
            return np.asarray(float(count)), HOST_NAMESPACE, True, hyperparameters
        xp = array_api_compat.array_namespace(like)
        device = device_of(like)
        t_real = xp.asarray(float(count), dtype=widest_float(xp, device), device=device)
    else:
        if isinstance(t, (bool, np.bool_)) or not hasattr(t, "shape"):
            raise TypeError(f"step count t must be an int or a 0-d integer array, got {t!r}")
        xp = xp if xp is not None else array_api_compat.array_namespace(t)
        if tuple(t.shape) != () or not xp.isdtype(t.dtype, "integral"):
            raise TypeError(
                f"step count t must be a 0-d integer array, got shape {tuple(t.shape)} "
                f"and dtype {t.dtype}"
            )
        device = device_of(t)
        t_real = xp.astype(t, widest_float(xp, device))
        if like is None:
            return t_real, xp, False, hyperparameters
    joined = tuple(
        value if isinstance(value, (int, float)) else _join(value, t_real, xp)
        for value in hyperparameters
    )
    return t_real, xp, False, joined


def _join(value: Array, t_real: Array, xp: Namespace) -> Array:
    """An array hyperparameter as a 0-d array of ``t_real``'s namespace, dtype and device.

    A float32 beta thus computes in float64 where the count does, exactly as it is.
    """
    if array_api_compat.array_namespace(value) is xp:
        return xp.astype(value, t_real.dtype)
    return xp.asarray(value, dtype=t_real.dtype, device=device_of(t_real))


def _rectification(
    t: Array, beta2: Any, threshold: Any, inclusive: bool, xp: Namespace
) -> Rectification:
    """rho_t, r_t and the decision as 0-d arrays, for a real count and joined hyperparameters."""
    rho_infinity = rho_inf(beta2)
    rho_t = _rho(t, beta2, rho_infinity, xp)
    exceeds = rho_t >= threshold if inclusive else rho_t > threshold
    if isinstance(beta2, (int, float)):
        if rho_infinity <= 4.0:  # rho_t < rho_inf <= 4: never rectified, even where it rounds to 4
            zero = xp.zeros_like(rho_t)
            return Rectification(rho_t, zero, zero != 0.0)
        return Rectification(rho_t, _r(rho_t, rho_infinity, xp), exceeds)
    # An array beta2: r_t = 0 and no rectification where rho_inf <= 4 or rho_t <= 4, by where,
    # r_t computed on the stand-in rho_t = rho_inf = 5 there (no NaN or inf, nor in gradients).
    real = xp.logical_and(rho_infinity > 4.0, rho_t > 4.0)
    stand_in = _r(xp.where(real, rho_t, 5.0), xp.where(real, rho_infinity, 5.0), xp)
    rectified = xp.logical_and(exceeds, rho_infinity > 4.0)
    return Rectification(rho_t, xp.where(real, stand_in, 0.0), rectified)


def _rho(t: Array, beta2: Any, rho_infinity: Any, xp: Namespace) -> Array:
    """rho_t = K + t q(t c), c = -ln(beta2); rho_inf (= 1) for beta2 = 0, where beta2^t = 0."""
    if isinstance(beta2, (int, float)):
        if beta2 == 0.0:
            return xp.zeros_like(t) + rho_infinity
        c = -math.log(beta2)
        return _host_k(beta2, c) + t * _q(t * c, xp)
    positive = beta2 > 0.0
    stand_in = xp.where(positive, beta2, 0.5)  # ln 0 = -inf is never computed
    c = -xp.log(stand_in)
    delta = 1.0 - stand_in
    series = _GREGORY_FLOATS[-1]  # K's Gregory series by Horner, where delta < 0.01
    for coefficient in reversed(_GREGORY_FLOATS[:-1]):
        series = series * -delta + coefficient
    k = xp.where(delta >= _K_SERIES_LIMIT, rho_inf(stand_in) - 2.0 / c, 2.0 * -delta * series)
    return xp.where(positive, k + t * _q(t * c, xp), rho_infinity)


@functools.cache
def _host_k(beta2: float, c: float) -> float:
    """K = rho_inf - 2 / c for a host beta2, its series summed exactly where it would cancel."""
    delta = 1.0 - beta2
    if delta >= _K_SERIES_LIMIT:
        return rho_inf(beta2) - 2.0 / c
    return float(2 * sum(g * Fraction(-delta) ** n for n, g in enumerate(_GREGORY, start=1)))


def _q(x: Array, xp: Namespace) -> Array:
    """q(x) = (2 / x) (1 - x / (e^x - 1)); the series and the closed form, each clamped."""
    small = xp.clip(x, max=_Q_SERIES_LIMIT)
    small2 = small * small
    series = _Q_SERIES[-1]
    for coefficient in reversed(_Q_SERIES[:-1]):
        series = series * small2 + coefficient
    large = xp.clip(x, min=_Q_SERIES_LIMIT)
    moderate = xp.clip(large, max=_Q_EXP_LIMIT)
    ratio = xp.where(large < _Q_EXP_LIMIT, moderate * xp.exp(-moderate) / -xp.expm1(-moderate), 0.0)
    closed = 2.0 * (1.0 - ratio) / large
    return xp.where(x < _Q_SERIES_LIMIT, 1.0 + small * series, closed)


def _r(rho_t: Array, rho_infinity: Any, xp: Namespace) -> Array:
    """r_t for rho_inf > 4, with rho_t clamped to at least 4 (r_t = 0 there)."""
    rho_t = xp.clip(rho_t, min=4.0)
    return xp.sqrt(
        (rho_t - 4.0)
        * (rho_t - 2.0)
        * rho_infinity
        / ((rho_infinity - 4.0) * (rho_infinity - 2.0) * rho_t)
    )


def _host_number(value: Any) -> Any:
    """A NumPy scalar as the Python number it holds (a host number); else ``value``."""
    return value.item() if isinstance(value, np.generic) else value
