r"""The variance analysis behind the rectification (Liu et al. 2019, Section 3 and Theorem 1).

Adam's adaptive learning rate is psi = sqrt((1 - beta2^t) / ((1 - beta2) sum_i beta2^(t-i) g_i^2)).
The paper approximates the exponential moving average by a simple moving average of
length rho, so that with gradients g_i ~ N(0, sigma^2)

    psi^2 = rho / sum_{i=1..rho} g_i^2  ~  Scale-inv-chi^2(rho, 1 / sigma^2).

With Y ~ chi^2_rho, psi = sqrt(rho / (sigma^2 Y)), E[psi^2] = rho / ((rho - 2) sigma^2) and
E[Y^(-1/2)] = Gamma((rho - 1)/2) / (sqrt(2) Gamma(rho/2)), hence the exact variance

    Var[psi] = (1 / sigma^2) (rho / (rho - 2) - (rho / 2) (Gamma((rho-1)/2) / Gamma(rho/2))^2),

finite for rho > 2, diverging as rho -> 2 and decreasing monotonically in rho (Theorem 1).
Its first-order approximation, the one that gives r_t, is

    Var[psi] ~ rho / (2 (rho - 2)(rho - 4) sigma^2),

and both tend to 1 / (2 rho sigma^2). The Monte Carlo estimates draw Gaussian gradients
and compute psi as defined: from a simple moving average of length rho, or from Adam's
exponential moving average after t steps (whose effective length is rho_t).

Everything here is host-side NumPy analysis in float64, for plots and teaching; the
update itself never uses it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from radam_core.rectification import rho


class VarianceEstimate(NamedTuple):
    """A Monte Carlo estimate of Var[psi].

    Attributes:
        variance: The sample variance of psi.
        standard_error: Its standard error, ``sqrt((m4 - s^4) / n)`` with ``m4`` the
            sample fourth central moment (reliable where E[psi^8] is finite: rho > 8).
        samples: The number of psi drawn.
    """

    variance: float
    standard_error: float
    samples: int


def exact_variance(rho_value: float, sigma: float = 1.0) -> float:
    """Var[psi] for psi^2 ~ Scale-inv-chi^2(rho, 1/sigma^2), by log-gamma.

    Args:
        rho_value: Degrees of freedom, ``> 2``.
        sigma: Standard deviation of the gradients, ``> 0``.

    Returns:
        ``(rho / (rho - 2) - (rho / 2) exp(2 (lgamma((rho - 1)/2) - lgamma(rho/2)))) / sigma^2``.

    Raises:
        ValueError: ``rho_value <= 2`` (the variance is infinite) or ``sigma <= 0``.
    """
    _check(rho_value, 2.0, sigma)
    ratio = math.exp(2.0 * (math.lgamma((rho_value - 1.0) / 2.0) - math.lgamma(rho_value / 2.0)))
    return (rho_value / (rho_value - 2.0) - rho_value / 2.0 * ratio) / sigma**2


def approximate_variance(rho_value: float, sigma: float = 1.0) -> float:
    """The paper's first-order approximation ``rho / (2 (rho - 2)(rho - 4) sigma^2)``.

    Args:
        rho_value: Degrees of freedom, ``> 4`` (the approximation diverges at 4).
        sigma: Standard deviation of the gradients, ``> 0``.

    Returns:
        The approximate Var[psi].

    Raises:
        ValueError: ``rho_value <= 4`` or ``sigma <= 0``.
    """
    _check(rho_value, 4.0, sigma)
    return rho_value / (2.0 * (rho_value - 2.0) * (rho_value - 4.0) * sigma**2)


def sma_variance_monte_carlo(
    rho_value: int, sigma: float = 1.0, samples: int = 20_000, seed: int = 0
) -> VarianceEstimate:
    """Var[psi] of ``psi = sqrt(rho / sum_{i=1..rho} g_i^2)`` with ``g_i ~ N(0, sigma^2)``.

    Args:
        rho_value: The moving average's length, an int ``> 2``.
        sigma: Standard deviation of the gradients, ``> 0``.
        samples: Draws of psi, ``>= 2``.
        seed: Seed of the generator.

    Returns:
        The [`VarianceEstimate`][radam_core.theory.VarianceEstimate].

    Raises:
        TypeError: ``rho_value`` is not an int.
        ValueError: ``rho_value <= 2``, ``sigma <= 0`` or ``samples < 2``.
    """
    if not isinstance(rho_value, int) or isinstance(rho_value, bool):
        raise TypeError(f"rho_value must be an int (a window length), got {rho_value!r}")
    _check(rho_value, 2.0, sigma)
    _check_samples(samples)
    rng = np.random.default_rng(seed)
    sum_of_squares = np.zeros(samples)
    for _ in range(rho_value):  # one gradient per window slot: memory stays O(samples)
        sum_of_squares += rng.normal(0.0, sigma, samples) ** 2
    return _estimate(np.sqrt(rho_value / sum_of_squares))


def ema_variance_monte_carlo(
    t: int, beta2: float, sigma: float = 1.0, samples: int = 20_000, seed: int = 0
) -> VarianceEstimate:
    """Var[psi_t] of Adam's adaptive learning rate after ``t`` steps of Gaussian gradients.

    ``psi_t = sqrt((1 - beta2^t) / ((1 - beta2) sum_{i=1..t} beta2^(t-i) g_i^2))``; the
    paper approximates it by the simple-moving-average form with ``rho = rho_t``.

    Args:
        t: Steps, an int ``>= 1``.
        beta2: Second-moment decay in ``(0, 1)``.
        sigma: Standard deviation of the gradients, ``> 0``.
        samples: Draws of psi_t, ``>= 2``.
        seed: Seed of the generator.

    Returns:
        The [`VarianceEstimate`][radam_core.theory.VarianceEstimate].

    Raises:
        ValueError: ``t < 1``, ``beta2`` outside ``(0, 1)``, ``sigma <= 0`` or
            ``samples < 2``.
    """
    if not isinstance(t, int) or isinstance(t, bool) or t < 1:
        raise ValueError(f"t must be an int >= 1, got {t!r}")
    if not 0.0 < beta2 < 1.0:
        raise ValueError(f"beta2 must be in (0, 1), got {beta2!r}")
    _check(3.0, 2.0, sigma)
    _check_samples(samples)
    rng = np.random.default_rng(seed)
    v = np.zeros(samples)
    for _ in range(t):
        v = beta2 * v + (1.0 - beta2) * rng.normal(0.0, sigma, samples) ** 2
    return _estimate(np.sqrt(-math.expm1(t * math.log(beta2)) / v))


def effective_rho(t: int, beta2: float) -> float:
    """rho_t, the length of the simple moving average that Adam's EMA approximates at step t.

    Args:
        t: Step, an int ``>= 1``.
        beta2: Second-moment decay in ``[0, 1)``.

    Returns:
        ``rho_inf - 2 t beta2^t / (1 - beta2^t)`` (from
        [`radam_core.rectification`][radam_core.rectification]).
    """
    return float(rho(t, beta2))


def _estimate(psi: np.ndarray) -> VarianceEstimate:
    centered = psi - psi.mean()
    variance = float(np.mean(centered**2))
    fourth = float(np.mean(centered**4))
    n = psi.size
    variance *= n / (n - 1)
    return VarianceEstimate(variance, math.sqrt(max(fourth - variance**2, 0.0) / n), n)


def _check(rho_value: float, minimum: float, sigma: float) -> None:
    if not (isinstance(rho_value, (int, float)) and rho_value > minimum):
        raise ValueError(f"rho must be > {minimum:g} here, got {rho_value!r}")
    if not (isinstance(sigma, (int, float)) and 0.0 < sigma < math.inf):
        raise ValueError(f"sigma must be finite and > 0, got {sigma!r}")


def _check_samples(samples: int) -> None:
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 2:
        raise ValueError(f"samples must be an int >= 2, got {samples!r}")
