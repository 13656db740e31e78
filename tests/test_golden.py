"""Golden trajectories: radam_core.step against the independent oracle, on every namespace.

The gradient is a deterministic function of the parameters (a quadratic plus a cosine,
evaluated in float64 on the host), so each step feeds back into the next and a wrong step
anywhere in the 25 shows up in every later one. 25 steps cross the threshold: with
beta2 = 0.999 the first rectified step is 5 for "paper" (rho_t > 4) and 6 for the others.

Tolerances, as ``|core - oracle| <= rtol |oracle| + atol`` with ``atol = rtol * max|oracle|``
(a scale for elements that pass near 0), over the whole trajectory:

* float64: 1e-12. The core and the oracle differ by ~3e-15 of the largest magnitude
  (measured); the oracle's naive ``1 - beta**t`` and ``rho_t`` lose a few digits, still
  far inside 1e-12, and swapping any single convention moves the trajectory by more
  than 1e-9 (``test_cases_are_distinguishable``).
* float32 (core in float32, oracle in float64): 1e-5. Measured 2e-7, i.e. a couple of
  float32 ulps accumulated over 25 fed-back steps; 1e-5 leaves a 50x margin while a
  wrong r_t, threshold or bias correction moves the trajectory by 1e-3 or more, and the
  eps placement (seen through the leaf with ~1e-6 gradients) by ~1e-2 of that leaf.
* float16 (core with float16 params and state, oracle with float16 storage and float32
  arithmetic, as the core promises): 4e-3, four float16 ulps (2^-10 = 9.8e-4). Measured:
  bit-identical on NumPy, torch and JAX; the margin allows a stored value to round the
  other way where float32 arithmetic is ordered differently (such flips feed back).
"""

from __future__ import annotations

import copy
from typing import Any

import array_api_compat
import numpy as np
import pytest

import radam_core
from tests.conftest import (
    asarray,
    assert_close,
    assert_like,
    count_array,
    dtype_name,
    is_jax,
    is_strict,
    load_namespace,
    numpy_dtype,
    scaled_atol,
    to_numpy,
)
from tests.oracle import is_rectified, oracle_trajectory, resolve

STEPS = 25
LR = 0.05
TOLERANCE = {"float64": 1e-12, "float32": 1e-5, "float16": 4e-3}

_rng = np.random.default_rng(20190803)
# Leaves: a vector, a matrix, a 0-d scalar, and (not in float16) a leaf whose gradient
# is ~1e-6, so sqrt(v) is comparable to eps and where eps goes matters.
_P0 = [
    _rng.uniform(-2.0, 2.0, size=5),
    _rng.uniform(-2.0, 2.0, size=(2, 3)),
    np.asarray(1.25),
    _rng.uniform(-1.0, 1.0, size=4),
]
_CURVATURE = [np.linspace(0.5, 2.0, 5), np.linspace(0.3, 3.0, 6).reshape(2, 3), 0.8, 1.5]
_GRAD_SCALE = [1.0, 1.0, 1.0, 1e-6]


def params0(dtype_str: str) -> list[np.ndarray]:
    leaves = _P0 if dtype_str != "float16" else _P0[:3]
    return [np.array(p, dtype=np.float64) for p in leaves]


def grad_fn(params: list[np.ndarray], t: int) -> list[np.ndarray]:
    """Gradient of sum(a (p - 0.3)^2 / 2 + sin(3 p) / 3), scaled per leaf; float64."""
    del t
    return [
        scale * (a * (np.asarray(p, np.float64) - 0.3) + np.cos(3.0 * np.asarray(p, np.float64)))
        for p, a, scale in zip(params, _CURVATURE, _GRAD_SCALE, strict=False)
    ]


WD = 0.1
CASES: dict[str, tuple[str, dict[str, Any]]] = {}
for _preset in ("torch", "paper", "authors", "optax", "tfa"):
    CASES[_preset] = (_preset, {})
    CASES[f"{_preset}-l2"] = (_preset, {"weight_decay": WD, "decoupled_weight_decay": False})
    CASES[f"{_preset}-decoupled"] = (_preset, {"weight_decay": WD, "decoupled_weight_decay": True})
CASES.update(
    {
        "torch-maximize": ("torch", {"maximize": True}),
        "torch-maximize-l2": ("torch", {"maximize": True, "weight_decay": WD}),
        "optax-maximize-decoupled": (
            "optax",
            {"maximize": True, "weight_decay": WD, "decoupled_weight_decay": True},
        ),
        "torch-amsgrad": ("torch", {"amsgrad": True, "betas": (0.9, 0.99)}),
        "optax-amsgrad": ("optax", {"amsgrad": True, "betas": (0.9, 0.99)}),
        "optax-nesterov": ("optax", {"nesterov": True}),
        "torch-nesterov": ("torch", {"nesterov": True}),
        "paper-nesterov-l2": ("paper", {"nesterov": True, "weight_decay": WD}),
        "optax-eps-root": ("optax", {"eps_root": 1e-12}),
        "torch-eps-root": ("torch", {"eps_root": 1e-12}),
        "torch-skip": ("torch", {"below_threshold": "skip"}),
        "torch-skip-decoupled": (
            "torch",
            {"below_threshold": "skip", "weight_decay": WD, "decoupled_weight_decay": True},
        ),
        "tfa-skip-l2": (
            "tfa",
            {"below_threshold": "skip", "weight_decay": WD, "decoupled_weight_decay": False},
        ),
        "paper-everything": (
            "paper",
            {
                "betas": (0.8, 0.99),
                "amsgrad": True,
                "nesterov": True,
                "maximize": True,
                "eps_root": 1e-12,
                "weight_decay": WD,
                "decoupled_weight_decay": True,
            },
        ),
    }
)


def expected_trajectory(dtype_str: str, preset: str, hp: dict[str, Any]) -> list[list[np.ndarray]]:
    if dtype_str == "float16":
        return oracle_trajectory(
            params0(dtype_str),
            grad_fn,
            STEPS,
            preset=preset,
            lr=LR,
            storage_dtype=np.float16,
            compute_dtype=np.float32,
            **hp,
        )
    return oracle_trajectory(params0(dtype_str), grad_fn, STEPS, preset=preset, lr=LR, **hp)


def core_trajectory(
    xp: Any,
    dtype: Any,
    preset: str,
    hp: dict[str, Any],
    *,
    array_count: bool = False,
    device: Any = None,
    steps: int = STEPS,
    step_fn: Any = None,
) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """Parameters after each step, and the states, run through radam_core.step."""
    np_dtype = numpy_dtype(dtype)
    params = tuple(asarray(xp, p, dtype, device) for p in params0(dtype_name(dtype)))
    state = radam_core.init_state(params, amsgrad=hp.get("amsgrad", False))
    if array_count:
        state = state._replace(count=count_array(xp, 0, device))
    if step_fn is None:

        def step_fn(p: Any, g: Any, s: Any) -> Any:
            return radam_core.step(p, g, s, preset=preset, lr=LR, **hp)

    trajectory, states = [], []
    for t in range(1, steps + 1):
        host = [to_numpy(p) for p in params]
        grads = tuple(asarray(xp, g.astype(np_dtype), dtype, device) for g in grad_fn(host, t))
        params, state = step_fn(params, grads, state)
        trajectory.append(params)
        states.append(state)
    return trajectory, states


def assert_trajectories_close(
    actual: list[tuple[Any, ...]], expected: list[list[np.ndarray]], tol: float
) -> None:
    atol = scaled_atol([p for step in expected for p in step], tol)
    assert len(actual) == len(expected)
    for t, (got, want) in enumerate(zip(actual, expected, strict=True), start=1):
        assert len(got) == len(want)
        for i, (a, e) in enumerate(zip(got, want, strict=True)):
            assert_close(a, e, rtol=tol, atol=atol, err_msg=f"step {t}, leaf {i}")


@pytest.mark.parametrize("case", list(CASES))
def test_golden_trajectory(xp: Any, float_dtype: Any, case: str) -> None:
    preset, hp = CASES[case]
    name = dtype_name(float_dtype)
    actual, states = core_trajectory(xp, float_dtype, preset, hp)
    expected = expected_trajectory(name, preset, hp)
    assert_trajectories_close(actual, expected, TOLERANCE[name])

    full = resolve(preset, lr=LR, **hp)
    if full["below_threshold"] == "skip":
        # Below the threshold nothing moves, decoupled weight decay included: bit for bit.
        skipped = [t for t in range(1, STEPS + 1) if not is_rectified(t, full)]
        assert skipped == list(range(1, 5 if full["threshold"] == 4.0 else 6))
        start = [p.astype(numpy_dtype(float_dtype)) for p in params0(name)]
        for t in skipped:
            for got, p0 in zip(actual[t - 1], start, strict=True):
                np.testing.assert_array_equal(to_numpy(got, dtype=None), p0)

    reference = asarray(xp, 0.0, float_dtype)
    for params, state in zip(actual, states, strict=True):
        for array in (*params, *state.exp_avg, *state.exp_avg_sq, *state.max_exp_avg_sq):
            assert_like(array, asarray(xp, np.zeros(array.shape), float_dtype))
            assert array.dtype == reference.dtype
    assert type(states[-1].count) is int
    assert states[-1].count == STEPS


@pytest.mark.parametrize("case", list(CASES))
def test_cases_are_distinguishable(case: str) -> None:
    """Each case's trajectory moves by far more than the float64 tolerance when one
    convention is swapped, so the golden comparison can fail for each of them."""
    preset, hp = CASES[case]
    full = resolve(preset, **hp)
    base = np.concatenate(
        [p.ravel() for step in expected_trajectory("float64", preset, hp) for p in step]
    )
    mutations: list[dict[str, Any]] = [
        {"eps_placement": "corrected" if full["eps_placement"] == "raw" else "raw"},
        {"below_threshold": "skip" if full["below_threshold"] == "sgd" else "sgd"},
        {"threshold": 4.0 if full["threshold"] == 5.0 else 5.0},
        {"maximize": not full["maximize"]},
        {"nesterov": not full["nesterov"]},
        {"betas": (full["betas"][0], 0.99 if full["betas"][1] != 0.99 else 0.999)},
    ]
    if full["weight_decay"]:
        mutations.append({"decoupled_weight_decay": not full["decoupled_weight_decay"]})
        mutations.append({"weight_decay": 0.0})
    if full["amsgrad"]:
        mutations.append({"amsgrad": False})
    if full["eps_root"]:
        mutations.append({"eps_root": 0.0})
    scale = np.max(np.abs(base))
    for mutation in mutations:
        other = np.concatenate(
            [
                p.ravel()
                for step in expected_trajectory("float64", preset, {**hp, **mutation})
                for p in step
            ]
        )
        assert np.max(np.abs(other - base)) > 1e-9 * scale, mutation


@pytest.mark.parametrize("case", ["torch", "paper-everything", "authors-decoupled", "tfa"])
def test_array_count_equals_int_count(xp: Any, float_dtype: Any, case: str) -> None:
    """A 0-d integer array count gives the same trajectory as a Python int count.

    Bit-identical where the namespace computes the step's scalars in float64 with the same
    libm as NumPy; otherwise within a few ulps of the parameter dtype (JAX without x64
    computes them in float32, torch uses its own exp/log).
    """
    preset, hp = CASES[case]
    host, host_states = core_trajectory(xp, float_dtype, preset, hp)
    arr, arr_states = core_trajectory(xp, float_dtype, preset, hp, array_count=True)
    name = dtype_name(float_dtype)
    ulp = float(np.finfo(np.dtype(name)).eps)
    if array_api_compat.is_numpy_namespace(xp) or is_strict(xp):
        tol = 0.0
    elif name == "float64":
        tol = 64 * ulp
    else:
        tol = 256 * ulp
    for t, (a_params, h_params) in enumerate(zip(arr, host, strict=True), start=1):
        for a, h in zip(a_params, h_params, strict=True):
            assert_like(a, h)
            a64, h64 = to_numpy(a), to_numpy(h)
            atol = tol * max(1.0, float(np.max(np.abs(h64), initial=0.0)))
            np.testing.assert_allclose(a64, h64, rtol=tol, atol=atol, err_msg=f"step {t}")
    final = arr_states[-1].count
    assert array_api_compat.array_namespace(final) is xp or is_jax(xp)
    assert tuple(final.shape) == ()
    assert xp.isdtype(final.dtype, "integral")
    assert final.dtype == count_array(xp, 0).dtype
    assert int(to_numpy(final, dtype=None)) == STEPS
    assert type(host_states[-1].count) is int
    assert host_states[-1].count == STEPS


def test_count_is_an_integer(xp: Any) -> None:
    dtype = xp.float32
    params = (asarray(xp, [1.0, 2.0], dtype),)
    grads = (asarray(xp, [0.5, -0.5], dtype),)
    state = radam_core.init_state(params)
    assert state.count == 0
    assert type(state.count) is int
    for expected in range(1, 4):
        params, state = radam_core.step(params, grads, state)
        assert type(state.count) is int
        assert state.count == expected
    state = state._replace(count=count_array(xp, 3))
    _, state = radam_core.step(params, grads, state)
    assert xp.isdtype(state.count.dtype, "integral")
    assert int(to_numpy(state.count, dtype=None)) == 4


@pytest.mark.parametrize("device_name", ["device1", "no_float64"])
@pytest.mark.parametrize("array_count", [False, True], ids=["int-count", "array-count"])
def test_strict_device_is_kept(device_name: str, array_count: bool) -> None:
    """array_api_strict's extra devices: outputs stay there and still match the oracle.

    "no_float64" has no float64, so an array count computes the step's scalars in float32.
    """
    xp = load_namespace("array_api_strict")
    device = xp.Device(device_name)
    for dtype in (xp.float32, xp.float64):
        if device_name == "no_float64" and dtype == xp.float64:
            continue
        preset, hp = CASES["paper-everything"]
        actual, states = core_trajectory(
            xp, dtype, preset, hp, array_count=array_count, device=device
        )
        name = dtype_name(dtype)
        assert_trajectories_close(actual, expected_trajectory(name, preset, hp), TOLERANCE[name])
        for array in (*actual[-1], *states[-1].exp_avg, *states[-1].max_exp_avg_sq):
            assert array.device == device
            assert array.dtype == dtype
        if array_count:
            assert states[-1].count.device == device


HALF_XPS = ["numpy", "torch", "jax.numpy"]


@pytest.mark.parametrize("xp_name", HALF_XPS)
@pytest.mark.parametrize("preset", ["torch", "paper", "authors", "optax", "tfa"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_float16_zero_gradients_never_nan(xp_name: str, preset: str, weight_decay: float) -> None:
    """eps = 1e-8 is 0 in float16; zero gradients must still give finite parameters.

    Zero gradients, with mixed zero and nonzero leaves and elements, over steps on both
    sides of the threshold; the result must equal the float16-storage oracle.
    """
    xp = load_namespace(xp_name)
    p0 = [np.array([0.5, -1.0, 0.0, 2.0]), np.array([[0.25, -0.75], [1.5, -2.0]])]
    zero_mask = [np.array([1.0, 0.0, 1.0, 0.0]), np.zeros((2, 2))]

    def grads_at(params: list[np.ndarray], t: int) -> list[np.ndarray]:
        del t
        return [np.asarray(p, np.float64) * mask for p, mask in zip(params, zero_mask, strict=True)]

    hp = {"lr": 0.01, "weight_decay": weight_decay, "decoupled_weight_decay": True}
    params = tuple(asarray(xp, p, xp.float16) for p in p0)
    state = radam_core.init_state(params)
    expected = oracle_trajectory(
        p0,
        grads_at,
        10,
        preset=preset,
        storage_dtype=np.float16,
        compute_dtype=np.float32,
        **hp,
    )
    for t in range(1, 11):
        host = [to_numpy(p) for p in params]
        grads = tuple(asarray(xp, g, xp.float16) for g in grads_at(host, t))
        params, state = radam_core.step(params, grads, state, preset=preset, **hp)
        for p, e in zip(params, expected[t - 1], strict=True):
            assert p.dtype == xp.float16
            got = to_numpy(p)
            assert np.all(np.isfinite(got)), (t, got)
            np.testing.assert_allclose(got, e.astype(np.float64), rtol=2e-3, atol=1e-3)
        for m in (*state.exp_avg, *state.exp_avg_sq):
            assert m.dtype == xp.float16
            assert np.all(np.isfinite(to_numpy(m)))
    if weight_decay == 0.0:
        # The all-zero leaf never moves.
        np.testing.assert_array_equal(to_numpy(params[1]), p0[1])


def _snapshot(tree: Any) -> Any:
    return [to_numpy(a, dtype=None) for a in tree]


@pytest.mark.parametrize("case", ["torch-l2", "paper-everything", "authors-decoupled", "tfa"])
def test_inputs_are_not_modified(xp: Any, case: str) -> None:
    preset, hp = CASES[case]
    dtype = xp.float32
    params = tuple(asarray(xp, p, dtype) for p in params0("float32"))
    state = radam_core.init_state(params, amsgrad=hp.get("amsgrad", False))
    for t in range(1, 8):  # cross the threshold: steps 1..7
        grads = tuple(asarray(xp, g, dtype) for g in grad_fn([to_numpy(p) for p in params], t))
        before = (
            _snapshot(params),
            _snapshot(grads),
            _snapshot(state.exp_avg),
            _snapshot(state.exp_avg_sq),
            _snapshot(state.max_exp_avg_sq),
            copy.copy(state.count),
        )
        new_params, new_state = radam_core.step(params, grads, state, preset=preset, lr=LR, **hp)
        after = (
            _snapshot(params),
            _snapshot(grads),
            _snapshot(state.exp_avg),
            _snapshot(state.exp_avg_sq),
            _snapshot(state.max_exp_avg_sq),
            state.count,
        )
        for old, new in zip(before[:5], after[:5], strict=True):
            for o, n in zip(old, new, strict=True):
                np.testing.assert_array_equal(o, n)
        assert before[5] == after[5]
        params, state = new_params, new_state


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "x64-float64"])
@pytest.mark.parametrize(
    "case", ["torch", "paper-everything", "authors-decoupled", "optax-amsgrad"]
)
@pytest.mark.backend("jax")
def test_jit_traced_count_equals_eager(x64: bool, case: str) -> None:
    """jax.jit of a step with a traced count equals the eager step, and the oracle.

    Eager vs jit with the same array count: within a few ulps (XLA may fuse and reorder).
    Against the eager int-count run the array count computes rho_t in the widest float
    JAX has (float32 without x64), so those agree to the parameter dtype's tolerance.
    """
    jax = pytest.importorskip("jax")
    xp = load_namespace("jax.numpy")
    preset, hp = CASES[case]
    with jax.enable_x64(x64):
        dtype = xp.float64 if x64 else xp.float32
        name = dtype_name(dtype)

        @jax.jit
        def jitted(p: Any, g: Any, s: Any) -> Any:
            return radam_core.step(p, g, s, preset=preset, lr=LR, **hp)

        traced, states = core_trajectory(xp, dtype, preset, hp, array_count=True, step_fn=jitted)
        eager, _ = core_trajectory(xp, dtype, preset, hp, array_count=True)
        host, _ = core_trajectory(xp, dtype, preset, hp)
        assert states[-1].count.dtype == (xp.int64 if x64 else xp.int32)
        assert int(states[-1].count) == STEPS
        ulp = float(np.finfo(np.dtype(name)).eps)
        for t, (a_params, e_params) in enumerate(zip(traced, eager, strict=True), start=1):
            for a, e in zip(a_params, e_params, strict=True):
                assert_like(a, e)
                scale = max(1.0, float(np.max(np.abs(to_numpy(e)), initial=0.0)))
                np.testing.assert_allclose(
                    to_numpy(a),
                    to_numpy(e),
                    rtol=64 * ulp,
                    atol=64 * ulp * scale,
                    err_msg=f"step {t}",
                )
        expected = expected_trajectory(name, preset, hp)
        assert_trajectories_close(traced, expected, TOLERANCE[name])
        assert_trajectories_close(host, expected, TOLERANCE[name])


def test_numpy_zero_d_params_stay_arrays() -> None:
    params = (np.asarray(1.5), np.asarray([1.0, 2.0]))
    grads = (np.asarray(0.5), np.asarray([0.5, -0.5]))
    new_params, state = radam_core.step(params, grads, radam_core.init_state(params))
    for array in (*new_params, *state.exp_avg, *state.exp_avg_sq):
        assert type(array) is np.ndarray
