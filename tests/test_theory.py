"""radam_core.theory: Theorem 1's closed form against quadrature and Monte Carlo."""

import itertools
import math

import numpy as np
import pytest

from radam_core import rho, theory


def _variance_by_quadrature(rho_value: float, sigma: float = 1.0) -> float:
    """Var[psi], psi = sqrt(rho / (sigma^2 Y)), Y ~ chi^2_rho, by integrating Y's density.

    Independent of the closed form: E[psi] and E[psi^2] as integrals over y of the
    chi-square density, on a fine logarithmic grid (trapezoid rule).
    """
    log_y = np.linspace(math.log(1e-40), math.log(rho_value * 50 + 200), 400_001)
    y = np.exp(log_y)
    log_density = (
        (rho_value / 2 - 1) * log_y
        - y / 2
        - rho_value / 2 * math.log(2)
        - math.lgamma(rho_value / 2)
    )
    weight = np.exp(log_density) * y  # dy = y d(log y)
    mean_psi = np.trapezoid(np.sqrt(rho_value / y) * weight, log_y) / sigma
    mean_psi2 = np.trapezoid(rho_value / y * weight, log_y) / sigma**2
    return float(mean_psi2 - mean_psi**2)


@pytest.mark.parametrize("rho_value", [3.5, 5.0, 7.25, 20.0, 150.0])
def test_closed_form_equals_quadrature(rho_value):
    assert theory.exact_variance(rho_value) == pytest.approx(
        _variance_by_quadrature(rho_value), rel=1e-6
    )


@pytest.mark.parametrize("rho_value", [10, 20, 50])
def test_closed_form_within_sampling_error_of_monte_carlo(rho_value):
    estimate = theory.sma_variance_monte_carlo(rho_value, sigma=0.5, samples=40_000, seed=7)
    assert estimate.samples == 40_000
    exact = theory.exact_variance(rho_value, sigma=0.5)
    assert abs(estimate.variance - exact) < 4 * estimate.standard_error
    assert estimate.standard_error < 0.05 * exact  # the check has teeth


def test_variance_scales_as_one_over_sigma_squared():
    assert theory.exact_variance(9.0, sigma=3.0) == pytest.approx(theory.exact_variance(9.0) / 9)
    assert theory.approximate_variance(9.0, sigma=3.0) == pytest.approx(
        theory.approximate_variance(9.0) / 9
    )


def test_variance_diverges_at_small_rho_and_decreases_monotonically():
    grid = np.concatenate([2 + np.logspace(-6, 0, 30), np.linspace(3.1, 1000, 500)])
    values = [theory.exact_variance(float(r)) for r in grid]
    assert values[0] > 1e5
    assert all(a > b for a, b in itertools.pairwise(values))
    approx = [theory.approximate_variance(float(r)) for r in grid if r > 4]
    assert all(a > b for a, b in itertools.pairwise(approx))


def test_approximation_is_first_order():
    """Both tend to 1 / (2 rho sigma^2); the relative gap shrinks like 1/rho."""
    gaps = []
    for r in (100.0, 1_000.0, 10_000.0):
        exact, approx = theory.exact_variance(r), theory.approximate_variance(r)
        assert exact == pytest.approx(1 / (2 * r), rel=10 / r)
        gaps.append(abs(approx / exact - 1))
    assert gaps[0] > 5 * gaps[1] > 25 * gaps[2]


def test_ema_monte_carlo_follows_adams_psi():
    """With beta2 = 0 the EMA is the last gradient: psi_t = 1 / |g| for every t."""
    estimate = theory.ema_variance_monte_carlo(5, beta2=1e-300, samples=2_000, seed=1)
    rng = np.random.default_rng(1)
    for _ in range(5):
        g = rng.normal(0.0, 1.0, 2_000)
    assert estimate.variance == pytest.approx(np.var(1 / np.abs(g), ddof=1), rel=1e-9)


def test_effective_rho_is_the_cores_rho():
    assert theory.effective_rho(7, 0.99) == pytest.approx(rho(7, 0.99), rel=1e-15)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: theory.exact_variance(2.0), ValueError, "rho must be > 2 here, got 2.0"),
        (lambda: theory.approximate_variance(4.0), ValueError, "rho must be > 4 here, got 4.0"),
        (lambda: theory.exact_variance(5.0, sigma=0.0), ValueError, "sigma must be finite"),
        (lambda: theory.sma_variance_monte_carlo(5.5), TypeError, "rho_value must be an int"),
        (lambda: theory.sma_variance_monte_carlo(5, samples=1), ValueError, "samples must be"),
        (lambda: theory.ema_variance_monte_carlo(0, 0.9), ValueError, "t must be an int >= 1"),
        (lambda: theory.ema_variance_monte_carlo(3, 1.0), ValueError, "beta2 must be in"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
