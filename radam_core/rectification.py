r"""The rectification of Adam's adaptive learning rate (Liu et al. 2019, Section 4).

The simple moving average that matches Adam's EMA of squared gradients has length

    rho_inf = 2 / (1 - beta2) - 1,        rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t),

and the variance of the adaptive learning rate is rectified by

    r_t = sqrt( (rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t) ),

applied only on steps where rho_t exceeds a threshold (4 in the paper, 5 in most code).

Numerics. rho_t is a small difference of two numbers near rho_inf (rho_5 = 4.996 for
beta2 = 0.999, from 1999 - 1994.004), so the textbook form loses about three digits in
float64 and all of them in float32. With c = -ln(beta2) and x = t c the same quantity is

    rho_t = K + t q(x),   K = rho_inf - 2 / c,   q(x) = (2 / x) (1 - x / (e^x - 1)),

where K is a host constant and q has no cancellation (a Bernoulli series below x = 1/2),
so rho_t keeps the working precision: float64 on the host and for counts of namespaces
that have it, float32 otherwise (JAX without x64). r_t clamps rho_t to at least 4 before
the square root, so the branch that is not taken never makes NaN, inf or a warning.

beta2 (and the threshold) may also be 0-d arrays, traced ones included: the same K (its
series or closed form) and q are then chosen elementwise with ``where``, in the count's
precision, and beta2 = 0 (rho_t = rho_inf = 1) and rho_inf <= 4 (beta2 <= 0.6: never
rectified, r_t = 0) are ``where`` cases too, whose untaken branches are computed on a
harmless stand-in value, so that no Python branch reads an array value.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Any, NamedTuple

from radam_core.count import real_count
from radam_core.namespace import Array, Namespace, is_array

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
    count = real_count(t, xp, meets=(beta2,))
    return count.result(_rho(count.t, count.real(beta2), count.xp))


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
    count = real_count(t, xp, meets=(beta2, threshold))
    rho_t, r_t, rectified = rectification(
        count.t, count.real(beta2), count.real(threshold), inclusive, count.xp
    )
    return Rectification(count.result(rho_t), count.result(r_t), count.result(rectified))


def rectification(
    t: Array, beta2: Any, threshold: Any, inclusive: bool, xp: Namespace
) -> Rectification:
    """[`rectify`][radam_core.rectify] on a real 0-d count ``t`` (``radam_core.count``), as arrays.

    ``beta2`` and ``threshold`` are floats or 0-d arrays of ``t``'s namespace and dtype
    (``radam_core.count.RealCount.real``).
    """
    rho_t = _rho(t, beta2, xp)
    if is_array(beta2):  # rho_inf <= 4 (beta2 <= 0.6): never rectified, by where
        exceeds = rho_t >= threshold if inclusive else rho_t > threshold
        rectified = xp.logical_and(exceeds, rho_inf(beta2) > 4.0)
    elif rho_inf(beta2) <= 4.0:  # rho_t < rho_inf <= 4: never rectified, even where it rounds to 4
        rectified = xp.zeros_like(rho_t) != 0.0
    else:
        rectified = rho_t >= threshold if inclusive else rho_t > threshold
    return Rectification(rho_t, _r(rho_t, beta2, xp), rectified)


def _rho(t: Array, beta2: Any, xp: Namespace) -> Array:
    if is_array(beta2):
        return _rho_array(t, beta2, xp)
    if beta2 == 0.0:  # beta2^t = 0 for every t >= 1
        return xp.zeros_like(t) + rho_inf(beta2)
    c = -math.log(beta2)
    return _k(beta2, c) + t * _q(t * c, xp)


def _rho_array(t: Array, beta2: Array, xp: Namespace) -> Array:
    """``_rho`` for a 0-d array beta2 (of ``t``'s dtype): the same K + t q(t c)."""
    positive = beta2 > 0.0
    stand_in = xp.where(positive, beta2, 0.5)  # ln 0 = -inf is never computed
    c = -xp.log(stand_in)
    delta = 1.0 - stand_in
    series = _GREGORY_FLOATS[-1]
    for coefficient in reversed(_GREGORY_FLOATS[:-1]):
        series = series * -delta + coefficient
    k = xp.where(delta >= _K_SERIES_LIMIT, rho_inf(stand_in) - 2.0 / c, 2.0 * -delta * series)
    return xp.where(positive, k + t * _q(t * c, xp), rho_inf(beta2))


@functools.cache
def _k(beta2: float, c: float) -> float:
    """K = rho_inf - 2 / c, by its series where the difference would cancel."""
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


def _r(rho_t: Array, beta2: Any, xp: Namespace) -> Array:
    rho_infinity = rho_inf(beta2)
    if is_array(beta2):  # r_t = 0 where rho_inf <= 4 or rho_t <= 4, by where, computed on
        # the stand-in rho_t = rho_inf = 5: no NaN or inf there, in values or in gradients
        real = xp.logical_and(rho_infinity > 4.0, rho_t > 4.0)
        stand_in = _r_real(xp.where(real, rho_t, 5.0), xp.where(real, rho_infinity, 5.0), xp)
        return xp.where(real, stand_in, 0.0)
    if rho_infinity <= 4.0:  # rho_t < rho_inf <= 4: never real, never rectified
        return xp.zeros_like(rho_t)
    return _r_real(rho_t, rho_infinity, xp)


def _r_real(rho_t: Array, rho_infinity: Any, xp: Namespace) -> Array:
    """r_t for rho_inf > 4, with rho_t clamped to at least 4 (r_t = 0 there)."""
    rho_t = xp.clip(rho_t, min=4.0)
    return xp.sqrt(
        (rho_t - 4.0)
        * (rho_t - 2.0)
        * rho_infinity
        / ((rho_infinity - 4.0) * (rho_infinity - 2.0) * rho_t)
    )
