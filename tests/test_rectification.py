"""rho_t, r_t and the threshold decision against a 50-digit ``decimal`` oracle.

The oracle evaluates the paper's formulas literally,

    rho_inf = 2 / (1 - beta2) - 1,   rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t),
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)),

with beta2 taken as the exact binary value of the float. At 50 digits the cancellation in
rho_t (up to ~13 digits for beta2 = 1 - 2^-40) leaves more than 35 correct digits, so the
oracle is exact for a float64 comparison.

Tolerances: 1e-13 relative on the host (float64) path and on array counts of namespaces
with float64 (float64 has 1.1e-16: this allows ~1000 ulps, while the textbook float64
formula is off by up to 1e-3 relative for beta2 = 1 - 2^-40 and ~1e-12 for beta2 = 0.999);
1e-6 for JAX's float32 (without x64), about 8 float32 ulps, where the textbook float32
formula is off by 2e-3 near the threshold.
"""

from __future__ import annotations

import decimal
import math
import warnings
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

import radam_core
from tests.conftest import count_array, is_jax, load_namespace, to_numpy

CTX = decimal.Context(prec=50, Emin=decimal.MIN_EMIN, Emax=decimal.MAX_EMAX)

BETA2S = [0.5, 0.6, 0.9, 0.99, 0.999, 0.9999, 1.0 - 2.0**-40]
STEPS = [*range(1, 11), 100, 1000, 10**6, 2**31, 2**40]
HOST_RTOL = 1e-13
FLOAT32_RTOL = 1e-6

# Every floating-point exception raises, underflow included.
FP_RAISE = {"all": "raise"}


def rho_inf_exact(beta2: float) -> Decimal:
    one = Decimal(1)
    return CTX.subtract(CTX.divide(Decimal(2), CTX.subtract(one, Decimal(beta2))), one)


def rho_exact(t: int, beta2: float) -> Decimal:
    b = Decimal(beta2)
    bt = CTX.power(b, t)
    term = CTX.divide(CTX.multiply(Decimal(2 * t), bt), CTX.subtract(Decimal(1), bt))
    return CTX.subtract(rho_inf_exact(beta2), term)


def r_exact(t: int, beta2: float) -> Decimal:
    """r_t, defined as 0 where rho_t <= 4 (it is not real below 4)."""
    rho_t, ri = rho_exact(t, beta2), rho_inf_exact(beta2)
    four, two = Decimal(4), Decimal(2)
    if rho_t <= four:
        return Decimal(0)
    num = CTX.multiply(CTX.multiply(rho_t - four, rho_t - two), ri)
    den = CTX.multiply(CTX.multiply(ri - four, ri - two), rho_t)
    return CTX.sqrt(CTX.divide(num, den))


def rel_err(actual: float, exact: Decimal) -> float:
    if exact == 0:
        return abs(actual)
    return float(abs((Decimal(actual) - exact) / exact))


CASES = [(b2, t) for b2 in BETA2S for t in STEPS]


def _id(case: tuple[float, int]) -> str:
    return f"b2={case[0]!r}-t={case[1]}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_host_rho_and_r(case: tuple[float, int]) -> None:
    beta2, t = case
    with np.errstate(**FP_RAISE):
        rho_t = radam_core.rho(t, beta2)
        rect = radam_core.rectify(t, beta2)
    assert isinstance(rho_t, float)
    assert isinstance(rect.rho_t, float)
    assert isinstance(rect.r_t, float)
    assert isinstance(rect.rectified, bool)
    exact_rho, exact_r = rho_exact(t, beta2), r_exact(t, beta2)
    assert rel_err(rho_t, exact_rho) < HOST_RTOL, (rho_t, exact_rho)
    assert rel_err(rect.rho_t, exact_rho) < HOST_RTOL
    if exact_rho <= 4:
        assert rect.r_t == 0.0
    else:
        assert rel_err(rect.r_t, exact_r) < HOST_RTOL, (rect.r_t, exact_r)
    assert rect.rectified == (exact_rho > 5)
    assert radam_core.rectify(t, beta2, 5.0, inclusive=True).rectified == (exact_rho >= 5)
    assert radam_core.rectify(t, beta2, 4.0).rectified == (exact_rho > 4)


@pytest.mark.parametrize("beta2", BETA2S)
def test_rho_inf(beta2: float) -> None:
    assert rel_err(radam_core.rho_inf(beta2), rho_inf_exact(beta2)) < 1e-15


def test_textbook_float64_is_not_good_enough() -> None:
    """The host bound is meaningful: the literal formula in float64 misses it."""
    beta2, t = 1.0 - 2.0**-40, 7
    b2t = beta2**t
    naive = (2.0 / (1.0 - beta2) - 1.0) - 2.0 * t * b2t / (1.0 - b2t)
    assert rel_err(naive, rho_exact(t, beta2)) > HOST_RTOL


def first_rectified(threshold: float, inclusive: bool, beta2: float = 0.999) -> int:
    for t in range(1, 100):
        if radam_core.rectify(t, beta2, threshold, inclusive).rectified:
            return t
    raise AssertionError("never rectified")


@pytest.mark.parametrize("inclusive", [False, True], ids=[">", ">="])
def test_first_rectified_step(inclusive: bool) -> None:
    # rho_4 = 3.998, rho_5 = 4.996, rho_6 = 5.994 for beta2 = 0.999.
    assert float(rho_exact(4, 0.999)) < 4 < float(rho_exact(5, 0.999)) < 5
    assert float(rho_exact(6, 0.999)) > 5
    assert first_rectified(4.0, inclusive) == 5
    assert first_rectified(5.0, inclusive) == 6


@pytest.mark.parametrize(
    ("preset", "expected"),
    [("paper", 5), ("torch", 6), ("authors", 6), ("optax", 6), ("tfa", 6)],
)
def test_first_rectified_step_of_presets(preset: str, expected: int) -> None:
    assert radam_core.first_rectified_step(preset) == expected


def test_rectified_exactly_at_the_threshold() -> None:
    """A threshold equal to rho_t: rectified with >= only (the comparison's semantics)."""
    beta2 = 0.999
    for t in range(5, 12):
        rho_t = radam_core.rho(t, beta2)
        assert radam_core.rectify(t, beta2, rho_t, inclusive=True).rectified is True
        assert radam_core.rectify(t, beta2, rho_t, inclusive=False).rectified is False


# Array counts -------------------------------------------------------------------------------

ARRAY_XPS = ["numpy", "array_api_strict", "torch"]


def _array_results(xp: Any, t: int, beta2: float, threshold: float, inclusive: bool) -> Any:
    count = count_array(xp, t)
    return radam_core.rectify(count, beta2, threshold, inclusive)


@pytest.mark.parametrize("xp_name", ARRAY_XPS)
@pytest.mark.parametrize("beta2", BETA2S)
def test_array_count_float64(xp_name: str, beta2: float) -> None:
    """0-d int64 counts (NumPy, array_api_strict, torch) match the host path and the oracle."""
    xp = load_namespace(xp_name)
    for t in STEPS:
        with np.errstate(**FP_RAISE):
            rect = _array_results(xp, t, beta2, 5.0, False)
            rho_arr = radam_core.rho(count_array(xp, t), beta2)
        host = radam_core.rectify(t, beta2)
        assert tuple(rect.rho_t.shape) == ()
        assert rect.rho_t.dtype == xp.float64
        rho_t, r_t = float(to_numpy(rect.rho_t)), float(to_numpy(rect.r_t))
        assert rel_err(rho_t, rho_exact(t, beta2)) < HOST_RTOL
        assert math.isclose(rho_t, host.rho_t, rel_tol=1e-15, abs_tol=0.0)
        assert float(to_numpy(rho_arr)) == rho_t
        assert math.isclose(r_t, host.r_t, rel_tol=1e-14, abs_tol=0.0)
        assert bool(to_numpy(rect.rectified, dtype=None)) is host.rectified


@pytest.mark.backend("jax")
@pytest.mark.parametrize("beta2", BETA2S)
def test_jax_int32_count_under_jit(beta2: float) -> None:
    """JAX without x64: an int32 count traced under jit computes in float32, accurately."""
    jax = pytest.importorskip("jax")
    jnp = load_namespace("jax.numpy")

    @jax.jit
    def rect(t: Any) -> Any:
        return radam_core.rectify(t, beta2, 5.0, True)

    for t in [s for s in STEPS if s < 2**31]:
        with jax.enable_x64(False):
            out = rect(jnp.asarray(t, dtype=jnp.int32))
        assert out.rho_t.dtype == jnp.float32
        rho_t, r_t = float(out.rho_t), float(out.r_t)
        exact_rho, exact_r = rho_exact(t, beta2), r_exact(t, beta2)
        host = radam_core.rectify(t, beta2, 5.0, True)
        assert rel_err(rho_t, exact_rho) < FLOAT32_RTOL, (t, rho_t, exact_rho)
        assert math.isclose(rho_t, host.rho_t, rel_tol=FLOAT32_RTOL)
        if exact_rho <= 4:
            assert r_t == 0.0
        else:
            # r_t ~ sqrt(rho_t - 4): compare r_t^2, which is linear in rho_t.
            tol = FLOAT32_RTOL * float(rho_exact(t, beta2)) * 3
            assert abs(r_t**2 - float(exact_r) ** 2) <= tol * max(float(exact_r) ** 2, 1.0)
        if abs(exact_rho - 5) > FLOAT32_RTOL * 5:
            # Closer to the threshold than float32 resolves (rho_5 = 5 - 4e-12 for
            # beta2 = 1 - 2^-40), either decision is a correct rounding.
            assert bool(out.rectified) is host.rectified


@pytest.mark.backend("jax")
def test_jax_float32_near_threshold() -> None:
    """rho_5 for beta2 = 0.999 in float32: within 1e-6, where the textbook float32 formula
    is off by ~2e-3 (rho_5 = 4.98645 vs 4.995998)."""
    jax = pytest.importorskip("jax")
    jnp = load_namespace("jax.numpy")
    exact = rho_exact(5, 0.999)
    with jax.enable_x64(False):
        out = jax.jit(lambda t: radam_core.rho(t, 0.999))(jnp.asarray(5, dtype=jnp.int32))
    assert out.dtype == jnp.float32
    assert rel_err(float(out), exact) < FLOAT32_RTOL
    b = np.float32(0.999)
    b5 = b ** np.float32(5)
    naive = (np.float32(2) / (np.float32(1) - b) - np.float32(1)) - np.float32(10) * b5 / (
        np.float32(1) - b5
    )
    assert rel_err(float(naive), exact) > 1e-3


FLOAT32_COEFFICIENT_RTOL = 4.5e-7  # measured: 4.0e-7 (docs/tutorials/keras.md, Under the hood)
COEFFICIENT_STEPS = sorted(
    {*range(1, 200), *np.unique(np.geomspace(1, 2**31 - 1, 400).astype(np.int64)).tolist()}
)


@pytest.mark.backend("jax")
@pytest.mark.parametrize("preset", ["torch", "authors", "tfa"])
def test_jax_float32_step_coefficients_within_bound(preset: str) -> None:
    """Every step scalar of a traced int32 count in float32 (JAX without x64: radam_optax,
    radam_keras) is within the bound the Keras tutorial quotes of the float64 host value,
    and the threshold decision (which scalars are exactly 0) is the host's."""
    jax = pytest.importorskip("jax")
    jnp = load_namespace("jax.numpy")
    worst = 0.0
    for beta1 in [0.0, 0.5, 0.9, 0.99]:
        for beta2 in [0.9, 0.95, 0.99, 0.999, 0.9999, 1 - 2**-20]:
            hp = radam_core.hyperparameters_for(preset, lr=1.0, betas=(beta1, beta2))
            with jax.enable_x64(False):
                steps = jnp.asarray(COEFFICIENT_STEPS, dtype=jnp.int32)
                traced = jax.vmap(
                    lambda t, hp=hp: radam_core.for_adapters.step_coefficients(t, hp, jnp)
                )
                device = np.stack([np.asarray(c) for c in traced(steps)], axis=1)
            assert device.dtype == np.float32
            for t, values in zip(COEFFICIENT_STEPS, device.astype(np.float64), strict=True):
                host = np.asarray(radam_core.for_adapters.step_coefficients(t, hp))
                assert np.array_equal(values == 0.0, host == 0.0), (beta1, beta2, t)
                nonzero = host != 0.0
                error = np.abs(values[nonzero] - host[nonzero]) / np.abs(host[nonzero])
                worst = max(worst, float(error.max()))
    assert worst < FLOAT32_COEFFICIENT_RTOL


def test_strict_no_float64_device() -> None:
    """array_api_strict's 'no_float64' device: the count is computed in float32, accurately."""
    xp = load_namespace("array_api_strict")
    device = xp.Device("no_float64")
    for beta2 in BETA2S:
        for t in STEPS[:12]:
            with np.errstate(**FP_RAISE):
                out = radam_core.rectify(xp.asarray(t, dtype=xp.int64, device=device), beta2)
            assert out.rho_t.dtype == xp.float32
            assert out.rho_t.device == device
            assert rel_err(float(to_numpy(out.rho_t)), rho_exact(t, beta2)) < FLOAT32_RTOL


@pytest.mark.backend("jax")
@pytest.mark.parametrize("x64", [False, True])
def test_jax_eager_count(x64: bool) -> None:
    jax = pytest.importorskip("jax")
    jnp = load_namespace("jax.numpy")
    with jax.enable_x64(x64):
        for beta2 in BETA2S:
            for t in [s for s in STEPS if s < 2**31]:
                out = radam_core.rectify(count_array(jnp, t), beta2)
                rtol = HOST_RTOL if x64 else FLOAT32_RTOL
                assert out.rho_t.dtype == (jnp.float64 if x64 else jnp.float32)
                assert rel_err(float(out.rho_t), rho_exact(t, beta2)) < rtol


def test_large_t_does_not_signal_underflow() -> None:
    with np.errstate(all="raise"):
        radam_core.rho(10**6, 0.999)


# The branch not taken ---------------------------------------------------------------------

LOW_BETA2S = [0.0, 0.3, 0.6]  # rho_inf = 1, 1.857..., 4: never rectified, r_t never real
LOW_CASES = [(b2, t) for b2 in LOW_BETA2S for t in [1, 2, 3, 10, 2**31, 2**40]] + [
    (b2, t) for b2 in (0.9, 0.999, 1.0 - 2.0**-40) for t in (1, 2, 3, 4)
]


THRESHOLDS = [(4.0, False), (4.0, True), (5.0, False), (5.0, True)]


def _assert_clean(
    rect: Any, beta2: float, t: int, threshold: float, resolution: float = 0.0
) -> None:
    """rho_t finite, r_t exactly 0, and not rectified (unless rho_t is within the working
    precision's ``resolution`` of the threshold, where either rounding is right)."""
    rho_t, r_t = float(to_numpy(rect.rho_t)), float(to_numpy(rect.r_t))
    rectified = bool(to_numpy(rect.rectified, dtype=None))
    assert math.isfinite(rho_t)
    assert math.isfinite(r_t)
    exact = rho_exact(t, beta2)
    assert exact < 4
    assert r_t == 0.0
    if abs(float(exact) - threshold) > resolution * threshold:
        assert rectified is False


@pytest.mark.parametrize("case", LOW_CASES, ids=[_id(c) for c in LOW_CASES])
def test_below_four_host_is_clean(case: tuple[float, int]) -> None:
    beta2, t = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(**FP_RAISE):
            for threshold, inclusive in THRESHOLDS:
                rect = radam_core.rectify(t, beta2, threshold, inclusive)
                assert isinstance(rect.rectified, bool)
                _assert_clean(rect, beta2, t, threshold)
            rho_t = radam_core.rho(t, beta2)
    if beta2 != 0.0:
        assert rel_err(rho_t, rho_exact(t, beta2)) < HOST_RTOL
    else:
        assert rho_t == 1.0


@pytest.mark.parametrize("xp_name", ["numpy", "array_api_strict", "torch", "jax.numpy"])
def test_below_four_array_is_clean(xp_name: str) -> None:
    """Array counts evaluate both branches: the one not taken must not make NaN or inf.

    NumPy and array_api_strict run under ``np.errstate(**FP_RAISE)``; JAX eagerly under
    ``jax.debug_nans``/``jax.debug_infs``, which check every primitive's output.
    """
    xp = load_namespace(xp_name)
    guards: list[Any] = []
    if is_jax(xp):
        import jax

        guards = [jax.debug_nans(True), jax.debug_infs(True)]
    for beta2, t in LOW_CASES:
        if is_jax(xp) and t >= 2**31:
            continue
        with np.errstate(**FP_RAISE):
            for guard in guards:
                guard.__enter__()
            try:
                for threshold, inclusive in THRESHOLDS:
                    rect = radam_core.rectify(count_array(xp, t), beta2, threshold, inclusive)
                    resolution = float(np.finfo(to_numpy(rect.rho_t, dtype=None).dtype).eps)
                    _assert_clean(rect, beta2, t, threshold, resolution)
            finally:
                for guard in reversed(guards):
                    guard.__exit__(None, None, None)


def test_rho_inf_at_most_four_is_never_rectified() -> None:
    assert rho_exact(100, 0.6) < 4
    assert rho_inf_exact(0.6) < 4
    assert radam_core.rectify(100, 0.6, 4.0, inclusive=True).rectified is False


@pytest.mark.parametrize("xp_name", ["numpy", "array_api_strict", "torch", "jax.numpy"])
@pytest.mark.parametrize("beta2", LOW_BETA2S)
@pytest.mark.parametrize("preset", ["paper", "torch", "authors", "optax"])
def test_steps_never_rectified_are_clean(xp_name: str, beta2: float, preset: str) -> None:
    """Full steps with rho_inf <= 4 and an array count: finite, no floating-point error,
    and equal to the oracle (SGD-momentum or skip on every step)."""
    from tests.conftest import asarray
    from tests.oracle import oracle_trajectory

    xp = load_namespace(xp_name)
    p0 = [np.array([0.5, -1.5, 0.0]), np.array(2.0)]

    def grads(params: list[np.ndarray], t: int) -> list[np.ndarray]:
        return [np.sin(np.asarray(p, np.float64) + t) for p in params]

    hp = {"betas": (0.9, beta2), "lr": 0.1, "weight_decay": 0.01}
    expected = oracle_trajectory(p0, grads, 8, preset=preset, **hp)
    dtype = xp.float32
    params = tuple(asarray(xp, p, dtype) for p in p0)
    state = radam_core.init_state(params)._replace(count=count_array(xp, 0))
    with np.errstate(**FP_RAISE):
        for t in range(1, 9):
            g = tuple(asarray(xp, x, dtype) for x in grads([to_numpy(p) for p in params], t))
            params, state = radam_core.step(params, g, state, preset=preset, **hp)
            for p, e in zip(params, expected[t - 1], strict=True):
                got = to_numpy(p)
                assert np.all(np.isfinite(got))
                np.testing.assert_allclose(got, e, rtol=1e-5, atol=1e-5)
