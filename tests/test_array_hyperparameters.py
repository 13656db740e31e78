"""0-d array hyperparameters: betas, eps, eps_root, threshold and weight_decay as arrays.

``optax.inject_hyperparams`` (and any jitted caller) passes hyperparameters as 0-d arrays,
traced under ``jax.jit``. The core takes them without reading their values: rho_t goes
through the same cancellation-free ``K + t q(t c)`` (with ``where`` choosing K's series or
closed form), the bias corrections through ``-expm1(t ln beta)``, and beta2 = 0 and
rho_inf <= 4 are ``where`` cases. These tests compare that path with the host-float path
(unchanged, bit for bit, by the rest of the suite), with the 50-digit decimal oracle of
``test_rectification`` and with the float64 step oracle of ``tests/oracle.py``.

Tolerances:

* float64 arrays against the exact rho_t/r_t: 1e-13 relative, the host path's bound.
  Against the host path: 1e-14 (``xp.log`` and ``math.log`` may differ by an ulp).
* Trajectories (``test_golden``'s problem, 25 fed-back steps): float64 arrays against the
  host floats 1e-13 and against the oracle 1e-12 (``test_golden``'s bound); float32
  params with float32 array hyperparameters against the oracle run with those float32
  values: 1e-5 (``test_golden``'s float32 bound).
* JAX without x64 computes in float32, with a float32 beta2 (not 0.999 but the float32
  nearest it): against the exact rho_t of that float32 value, 2e-5 relative. The closed
  form of K (for 1 - beta2 >= 0.01) subtracts two numbers near rho_inf (e.g. 199 - 199.17
  for beta2 = 0.99), which loses about 2.5 of float32's 7 digits; the host path computes
  K on the host in float64 and stays within 1e-6.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from typing import Any

import array_api_compat
import numpy as np
import pytest

import radam_core
from radam_core.for_adapters import bias_correction
from tests.conftest import (
    count_array,
    dtype_name,
    is_jax,
    load_namespace,
    to_numpy,
    x64_if,
)
from tests.oracle import resolve
from tests.test_golden import (
    CASES,
    LR,
    assert_trajectories_close,
    core_trajectory,
    expected_trajectory,
    grad_fn,
    params0,
)
from tests.test_rectification import (
    BETA2S,
    FP_RAISE,
    HOST_RTOL,
    LOW_BETA2S,
    STEPS,
    rel_err,
    rho_exact,
)

ARRAY_FIELDS = ("eps", "weight_decay", "eps_root", "threshold")
ALL_BETA2S = [*LOW_BETA2S, *BETA2S]


def widest(xp: Any) -> Any:
    """float64, or float32 for JAX without x64."""
    if is_jax(xp):
        import jax

        return xp.float64 if jax.config.jax_enable_x64 else xp.float32
    return xp.float64


def scalar(xp: Any, value: float, dtype: Any = None) -> Any:
    """``value`` as a 0-d array of ``xp`` (float64 where it has it, unless told)."""
    return xp.asarray(value, dtype=widest(xp) if dtype is None else dtype)


def as_arrays(xp: Any, preset: str, hp: dict[str, Any], dtype: Any = None) -> dict[str, Any]:
    """``hp`` with every numeric hyperparameter of the resolved preset as a 0-d array."""
    full = resolve(preset, **hp)
    arrays = {name: scalar(xp, full[name], dtype) for name in ARRAY_FIELDS}
    arrays["betas"] = tuple(scalar(xp, b, dtype) for b in full["betas"])
    return {**hp, **arrays}


# Validation ---------------------------------------------------------------------------------


def test_arrays_are_accepted_and_kept(xp: Any) -> None:
    beta1, beta2 = scalar(xp, 0.9), scalar(xp, 0.999, xp.float32)
    fields = {name: scalar(xp, 0.5 if name != "threshold" else 5.0) for name in ARRAY_FIELDS}
    hp = radam_core.hyperparameters_for(betas=(beta1, beta2), **fields)
    assert hp.betas[0] is beta1
    assert hp.betas[1] is beta2
    for name, value in fields.items():
        assert getattr(hp, name) is value
    # Host numbers are stored as before: betas as floats, others as given.
    host = radam_core.hyperparameters_for(betas=[0, 0.5], eps=0)
    assert host.betas == (0.0, 0.5)
    assert all(type(b) is float for b in host.betas)
    assert host.eps == 0
    mixed = radam_core.hyperparameters_for(betas=(0.9, beta2))
    assert type(mixed.betas[0]) is float
    assert mixed.betas[1] is beta2


@pytest.mark.parametrize("name", ["betas[0]", "betas[1]", *ARRAY_FIELDS])
def test_arrays_of_wrong_shape_or_dtype(xp: Any, name: str) -> None:
    for bad, text in [
        (xp.asarray([0.5], dtype=widest(xp)), r"shape \(1,\)"),
        (count_array(xp, 1), "dtype"),
        (xp.asarray(True), "dtype"),
    ]:
        if name.startswith("betas"):
            betas: list[Any] = [0.9, 0.999]
            betas[int(name[6])] = bad
            kwargs: dict[str, Any] = {"betas": tuple(betas)}
        else:
            kwargs = {name: bad}
        pattern = rf"{re.escape(name)} must be a real number or a 0-d real floating-point array"
        with pytest.raises(TypeError, match=pattern + rf".*{text}"):
            radam_core.hyperparameters_for(**kwargs)


def test_host_values_beside_arrays_are_still_checked() -> None:
    xp = load_namespace("numpy")
    with pytest.raises(ValueError, match=r"betas\[1\] must be in \[0, 1\), got 1.0"):
        radam_core.hyperparameters_for(betas=(scalar(xp, 0.9), 1.0))
    with pytest.raises(ValueError, match=r"threshold must be finite and >= 4.0"):
        radam_core.hyperparameters_for(betas=(scalar(xp, 0.9), scalar(xp, 0.99)), threshold=3.0)
    with pytest.raises(ValueError, match=r"eps must be finite and >= 0, got -1.0"):
        radam_core.hyperparameters_for(eps_root=scalar(xp, 0.0), eps=-1.0)


def test_numpy_scalars_stay_host_numbers() -> None:
    """NumPy scalars of every float width are host numbers, stored as Python floats."""
    for scalar in (np.float64, np.float32, np.float16):
        hp = radam_core.hyperparameters_for(betas=(scalar(0.5), 0.999))
        assert type(hp.betas[0]) is float
        assert hp.betas[0] == 0.5


# rho_t, r_t and the decision ----------------------------------------------------------------

ARRAY_XPS = ["numpy", "array_api_strict", "torch"]


@pytest.mark.parametrize("xp_name", ARRAY_XPS)
@pytest.mark.parametrize("beta2", ALL_BETA2S)
def test_array_beta2_float64(xp_name: str, beta2: float) -> None:
    """A float64 0-d beta2 (with an int or an array count) matches the exact rho_t and r_t
    and the host path, and decides as the host path does."""
    xp = load_namespace(xp_name)
    for t in STEPS:
        host = radam_core.rectify(t, beta2, 5.0, True)
        for count in (t, count_array(xp, t)):
            with np.errstate(**FP_RAISE):
                rect = radam_core.rectify(count, scalar(xp, beta2), scalar(xp, 5.0), True)
                rho_t = radam_core.rho(count, scalar(xp, beta2))
            assert array_api_compat.array_namespace(rect.rho_t) is xp
            assert rect.rho_t.dtype == xp.float64
            got_rho, got_r = float(to_numpy(rect.rho_t)), float(to_numpy(rect.r_t))
            assert float(to_numpy(rho_t)) == got_rho
            exact = rho_exact(t, beta2)
            if beta2 == 0.0:
                assert got_rho == 1.0
            else:
                assert rel_err(got_rho, exact) < HOST_RTOL, (t, got_rho, exact)
            assert math.isclose(got_rho, host.rho_t, rel_tol=1e-14, abs_tol=0.0)
            assert math.isclose(got_r, host.r_t, rel_tol=1e-14, abs_tol=0.0)
            assert bool(to_numpy(rect.rectified, dtype=None)) is host.rectified


@pytest.mark.parametrize("xp_name", ARRAY_XPS)
def test_array_threshold(xp_name: str) -> None:
    """An array threshold decides as the host one, at rho_t itself included (>= vs >)."""
    xp = load_namespace(xp_name)
    for t in range(1, 12):
        rho_t = radam_core.rho(t, 0.999)
        for threshold in (4.0, 5.0, rho_t):
            for inclusive in (False, True):
                host = radam_core.rectify(t, 0.999, threshold, inclusive)
                arr = radam_core.rectify(t, 0.999, scalar(xp, threshold), inclusive)
                assert bool(to_numpy(arr.rectified, dtype=None)) is host.rectified
                assert float(to_numpy(arr.rho_t)) == host.rho_t


@pytest.mark.backend("torch")
def test_host_count_joins_the_arrays_namespace() -> None:
    """An int count with array hyperparameters gives arrays of their namespace; with host
    numbers only, Python floats as before."""
    torch = pytest.importorskip("torch")
    hp = radam_core.hyperparameters_for(betas=(0.9, torch.tensor(0.999, dtype=torch.float64)))
    coefficients = radam_core.for_adapters.step_coefficients(6, hp)
    assert all(isinstance(c, torch.Tensor) and c.dtype == torch.float64 for c in coefficients)
    host = radam_core.for_adapters.step_coefficients(6, radam_core.hyperparameters_for())
    assert all(type(c) is float for c in host)
    for got, want in zip(coefficients, host, strict=True):
        assert math.isclose(float(got), want, rel_tol=1e-14)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.999, 1.0 - 2.0**-40])
def test_bias_correction_of_array_beta(xp: Any, beta: float) -> None:
    with x64_if(xp, "float64"):
        for t in [1, 2, 10, 1000, 10**6]:
            t_real = xp.asarray(float(t), dtype=xp.float64)
            with np.errstate(**FP_RAISE):
                got = float(to_numpy(bias_correction(scalar(xp, beta), t_real, xp)))
            want = float(to_numpy(bias_correction(beta, t_real, xp)))
            assert math.isclose(got, want, rel_tol=1e-15), (t, got, want)


@pytest.mark.backend("jax")
@pytest.mark.parametrize("x64", [False, True])
def test_jax_traced_beta2_under_jit(x64: bool) -> None:
    """Traced beta2 and threshold: one compilation for every value; float64 with x64,
    float32 (with a float32 beta2) without."""
    jax = pytest.importorskip("jax")
    jnp = load_namespace("jax.numpy")
    traces: list[None] = []

    @jax.jit
    def rect(t: Any, beta2: Any, threshold: Any) -> Any:
        traces.append(None)
        return radam_core.rectify(t, beta2, threshold, True)

    with jax.enable_x64(x64):
        dtype = jnp.float64 if x64 else jnp.float32
        int_dtype = jnp.int64 if x64 else jnp.int32
        for beta2 in ALL_BETA2S:
            value = float(np.asarray(beta2, dtype=np.dtype(dtype_name(dtype))))
            if value == 1.0:  # 1 - 2^-40 is 1 in float32: not a valid beta2
                continue
            for t in [s for s in STEPS if s < 2**31]:
                out = rect(
                    jnp.asarray(t, int_dtype), jnp.asarray(beta2, dtype), jnp.asarray(5.0, dtype)
                )
                assert out.rho_t.dtype == dtype
                exact = rho_exact(t, value) if value != 0.0 else 1
                got = float(out.rho_t)
                assert rel_err(got, exact) < (HOST_RTOL if x64 else 2e-5), (beta2, t, got)
                assert math.isfinite(float(out.r_t))
                host = radam_core.rectify(t, value, 5.0, True)
                if x64 or abs(host.rho_t - 5.0) > 1e-4:
                    assert bool(out.rectified) is host.rectified, (beta2, t)
    assert len(traces) == 1


# The branches not taken ------------------------------------------------------------------


@pytest.mark.parametrize("xp_name", ["numpy", "array_api_strict", "torch", "jax.numpy"])
def test_low_array_beta2_is_clean(xp_name: str) -> None:
    """beta2 <= 0.6 as an array (rho_inf <= 4): never rectified, r_t = 0, and no NaN, inf
    or floating-point exception anywhere (NumPy under errstate(all="raise"), JAX under
    debug_nans/debug_infs), for int and array counts. (float64 arrays: the float32 nearest
    0.6 is above it, and its rho_inf = 4.0000003 is above 4.)"""
    xp = load_namespace(xp_name)
    guards: list[Any] = []
    if is_jax(xp):
        import jax

        guards = [jax.enable_x64(True), jax.debug_nans(True), jax.debug_infs(True)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for beta2 in LOW_BETA2S:
            for t in [1, 2, 3, 10, 2**20]:
                with np.errstate(**FP_RAISE):
                    for guard in guards:
                        guard.__enter__()
                    try:
                        for threshold, inclusive in [(4.0, True), (4.0, False), (5.0, True)]:
                            for count in (t, count_array(xp, t)):
                                rect = radam_core.rectify(
                                    count, scalar(xp, beta2, xp.float64), threshold, inclusive
                                )
                                assert float(to_numpy(rect.r_t)) == 0.0
                                assert not bool(to_numpy(rect.rectified, dtype=None))
                                assert math.isfinite(float(to_numpy(rect.rho_t)))
                            hp = radam_core.hyperparameters_for(
                                betas=(scalar(xp, 0.0, xp.float64), scalar(xp, beta2, xp.float64))
                            )
                            for c in radam_core.for_adapters.step_coefficients(
                                count_array(xp, t), hp
                            ):
                                assert math.isfinite(float(to_numpy(c)))
                    finally:
                        for guard in reversed(guards):
                            guard.__exit__(None, None, None)


@pytest.mark.backend("jax")
def test_gradients_with_respect_to_array_betas_are_finite() -> None:
    """Differentiating the step's scalars by beta1, beta2 (meta-learning) gives finite
    values on both sides of the threshold: the untaken branches are computed on
    stand-in values, so no 0 * inf reaches the gradient."""
    jax = pytest.importorskip("jax")
    jnp = load_namespace("jax.numpy")
    with jax.enable_x64(True):
        for preset in ["optax", "torch", "authors"]:
            for beta2 in [0.0, 0.3, 0.6, 0.9, 0.999]:
                for t in range(1, 12):

                    def total(betas: Any, t: int = t, preset: str = preset) -> Any:
                        hp = radam_core.hyperparameters_for(preset, betas=(betas[0], betas[1]))
                        return sum(radam_core.for_adapters.step_coefficients(jnp.asarray(t), hp))

                    grad = jax.grad(total)(jnp.asarray([0.9, beta2]))
                    assert np.all(np.isfinite(np.asarray(grad))), (preset, beta2, t, grad)


# Whole steps --------------------------------------------------------------------------------

STEP_CASES = [
    "torch",
    "paper",
    "authors-decoupled",
    "optax",
    "optax-l2",
    "tfa",
    "optax-nesterov",
    "optax-eps-root",
    "torch-amsgrad",
    "torch-skip-decoupled",
    "paper-everything",
]


@pytest.mark.parametrize("case", STEP_CASES)
@pytest.mark.parametrize("array_count", [False, True], ids=["int-count", "array-count"])
def test_float64_trajectory_with_array_hyperparameters(
    xp: Any, case: str, array_count: bool
) -> None:
    """Every numeric hyperparameter a float64 0-d array: the host-float trajectory (to
    1e-13) and the oracle's (to 1e-12)."""
    preset, hp = CASES[case]
    with x64_if(xp, "float64"):
        arrays = as_arrays(xp, preset, hp)
        host, _ = core_trajectory(xp, xp.float64, preset, hp, array_count=array_count)
        got, states = core_trajectory(xp, xp.float64, preset, arrays, array_count=array_count)
    expected = expected_trajectory("float64", preset, hp)
    assert_trajectories_close(got, [[to_numpy(p) for p in step] for step in host], 1e-13)
    assert_trajectories_close(got, expected, 1e-12)
    for p in got[-1]:
        assert p.dtype == xp.float64
    final = states[-1].count
    assert (final if type(final) is int else int(to_numpy(final, dtype=None))) == len(got)


@pytest.mark.parametrize("case", ["torch", "optax-nesterov", "paper-everything", "tfa"])
def test_float32_trajectory_with_float32_array_hyperparameters(xp: Any, case: str) -> None:
    """float32 params and float32 array hyperparameters (what inject_hyperparams makes for
    float32 params): the oracle run with the same float32 values, to float32 tolerance."""
    preset, hp = CASES[case]
    full = resolve(preset, **hp)
    rounded = {name: float(np.float32(full[name])) for name in ARRAY_FIELDS}
    rounded["betas"] = tuple(float(np.float32(b)) for b in full["betas"])
    arrays = as_arrays(xp, preset, hp, xp.float32)
    got, _ = core_trajectory(xp, xp.float32, preset, arrays, array_count=True)
    for p in got[-1]:
        assert p.dtype == xp.float32
    assert_trajectories_close(got, expected_trajectory("float32", preset, {**hp, **rounded}), 1e-5)


@pytest.mark.backend("jax")
def test_jit_with_traced_hyperparameters_compiles_once() -> None:
    """A jitted step taking every hyperparameter as an argument traces once, and gives the
    host-float result for each set of values."""
    jax = pytest.importorskip("jax")
    jnp = load_namespace("jax.numpy")
    traces: list[None] = []

    @jax.jit
    def step(params: Any, grads: Any, state: Any, hp: dict[str, Any]) -> Any:
        traces.append(None)
        return radam_core.step(params, grads, state, preset="optax", **hp)

    with jax.enable_x64(True):
        for beta2, threshold, eps_root, wd in [
            (0.999, 5.0, 0.0, 0.0),
            (0.99, 4.0, 1e-6, 0.1),
            (0.5, 5.0, 0.0, 0.1),
            (0.0, 4.5, 1e-3, 0.0),
        ]:
            values = {
                "lr": LR,
                "betas": (0.9, beta2),
                "threshold": threshold,
                "eps_root": eps_root,
                "weight_decay": wd,
                "eps": 1e-8,
            }
            traced = jax.tree.map(lambda v: jnp.asarray(v, jnp.float64), values)
            params = tuple(jnp.asarray(p) for p in params0("float64"))
            state = radam_core.init_state(params)._replace(count=jnp.asarray(0, jnp.int32))
            host_params, host_state = params, radam_core.init_state(params)
            for t in range(1, 13):
                grads = tuple(jnp.asarray(g) for g in grad_fn([np.asarray(p) for p in params], t))
                params, state = step(params, grads, state, traced)
                host_params, host_state = radam_core.step(
                    host_params, grads, host_state, preset="optax", **values
                )
                for a, h in zip(params, host_params, strict=True):
                    np.testing.assert_allclose(np.asarray(a), np.asarray(h), rtol=1e-13, atol=1e-15)
    assert len(traces) == 1


def test_replace_keeps_array_hyperparameters() -> None:
    """``dataclasses.replace`` (how adapters set a step's lr) revalidates, arrays kept."""
    xp = load_namespace("numpy")
    hp = radam_core.hyperparameters_for(betas=(scalar(xp, 0.9), scalar(xp, 0.999)))
    again = dataclasses.replace(hp, lr=scalar(xp, 0.1))
    assert again.betas[0] is hp.betas[0]
