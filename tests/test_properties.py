"""Property tests: random shapes, dtypes, hyperparameters and gradients vs the oracle.

Each example draws a few leaves (0-d and empty shapes included), a dtype, a preset with
random overrides of every hyperparameter within its valid range, and 1-8 steps of random
gradients (with exact zeros), runs ``radam_core.step`` on NumPy, and checks that the
result is finite, keeps its dtype and shape, and matches the float64 oracle
(``tests/oracle.py``); float16 matches the oracle with float16 storage and float32 math.

Tolerance: ``|core - oracle| <= tol * (|oracle| + S)`` with S the leaf's scale, the
largest of |theta| over the run and of ``steps * max |theta_t - theta_{t-1}|``. An error
in a step is a relative error of that step's update, so it is measured against the size
of the updates as well as of the parameters. tol is 1e-11 for float64 (a few hundred
ulps: m_t cancels when the gradient changes sign, and the ratio m_hat / sqrt(v_hat) then
carries the cancellation), 5e-5 for float32 (the same few hundred ulps of float32), and
2e-2 for float16 (float16 storage rounds params and moments to 2^-11 relative, and
subnormal second moments to 6e-8 absolute: a rounding that goes the other way moves
an update by a few float16 ulps).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

import radam_core
from tests.conftest import asarray, assert_like, load_namespace, to_numpy, x64_if
from tests.oracle import oracle_trajectory

TOL = {"float16": 4e-3, "float32": 5e-6, "float64": 1e-12}
PRESETS = ["torch", "paper", "authors", "optax", "tfa"]


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def configurations(
    draw: st.DrawFn, dtypes: tuple[str, ...] = ("float16", "float32", "float64")
) -> dict[str, Any]:
    dtype = draw(st.sampled_from(dtypes))
    shapes = draw(
        st.lists(
            array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), min_size=1, max_size=3
        )
    )
    preset = draw(st.sampled_from(PRESETS))
    overrides = {
        "lr": draw(maybe(st.floats(0.0, 0.1))),
        "betas": draw(maybe(st.tuples(st.floats(0.0, 0.999), st.floats(0.0, 0.999)))),
        "eps": draw(maybe(st.sampled_from([1e-10, 1e-8, 1e-7, 1e-6, 1e-3]))),
        "weight_decay": draw(maybe(st.floats(0.0, 0.1))),
        "decoupled_weight_decay": draw(maybe(st.booleans())),
        "maximize": draw(maybe(st.booleans())),
        "threshold": draw(maybe(st.sampled_from([4.0, 5.0, 6.0]))),
        "threshold_inclusive": draw(maybe(st.booleans())),
        "below_threshold": draw(maybe(st.sampled_from(["sgd", "skip"]))),
        "eps_placement": draw(maybe(st.sampled_from(["raw", "corrected"]))),
        "eps_root": draw(maybe(st.sampled_from([0.0, 1e-12, 1e-8]))),
        "amsgrad": draw(maybe(st.booleans())),
        "nesterov": draw(maybe(st.booleans())),
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if dtype == "float16":
        # L2 decay adds wd * theta to the gradient: tiny gradients give a second moment that
        # underflows float16 storage and then an update of m_hat / eps that overflows it.
        overrides["decoupled_weight_decay"] = True
    return {
        "dtype": dtype,
        "shapes": shapes,
        "preset": preset,
        "overrides": overrides,
        "steps": draw(st.integers(1, 8)),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "grad_scale": draw(st.sampled_from([1e-3, 1.0, 30.0])) if dtype != "float16" else 1.0,
    }


def make_problem(config: dict[str, Any]) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial params and per-step gradients (float64, exactly representable in dtype)."""
    rng = np.random.default_rng(config["seed"])
    dtype = np.dtype(config["dtype"])
    params0 = [
        rng.uniform(-4.0, 4.0, size=shape).astype(dtype).astype(np.float64)
        for shape in config["shapes"]
    ]
    grads = []
    for _ in range(config["steps"]):
        step_grads = []
        for shape in config["shapes"]:
            if dtype == np.float16:
                g = rng.uniform(0.25, 4.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
            else:
                g = rng.standard_normal(size=shape) * config["grad_scale"]
            g = np.where(rng.uniform(size=shape) < 0.2, 0.0, g)
            step_grads.append(np.asarray(g).astype(dtype).astype(np.float64))
        grads.append(step_grads)
    return params0, grads


def check_against_oracle(config: dict[str, Any], xp: Any = None) -> None:
    """Run the core (on ``xp``, NumPy when None) and the oracle; compare every step."""
    dtype = np.dtype(config["dtype"])
    params0, grads = make_problem(config)
    preset, overrides = config["preset"], config["overrides"]
    if dtype == np.float16:
        expected = oracle_trajectory(
            params0,
            lambda p, t: grads[t - 1],
            config["steps"],
            preset=preset,
            storage_dtype=np.float16,
            compute_dtype=np.float32,
            **overrides,
        )
    else:
        expected = oracle_trajectory(
            params0, lambda p, t: grads[t - 1], config["steps"], preset=preset, **overrides
        )

    if xp is None:

        def convert(a: np.ndarray) -> Any:
            return a.astype(dtype)
    else:

        def convert(a: np.ndarray) -> Any:
            return asarray(xp, a, getattr(xp, config["dtype"]))

    params = tuple(convert(p) for p in params0)
    state = radam_core.init_state(params, amsgrad=overrides.get("amsgrad", False))
    actual = []
    for t in range(1, config["steps"] + 1):
        step_grads = tuple(convert(g) for g in grads[t - 1])
        new_params, state = radam_core.step(params, step_grads, state, preset=preset, **overrides)
        for new, old in zip(new_params, params, strict=True):
            if xp is None:
                assert type(new) is np.ndarray
                assert new.dtype == dtype
                assert new.shape == old.shape
            else:
                assert_like(new, old)
        params = new_params
        actual.append(params)
    assert state.count == config["steps"]

    tol = TOL[config["dtype"]]
    for leaf, p0 in enumerate(params0):
        history = [p0] + [step[leaf] for step in expected]
        largest = max(float(np.max(np.abs(h), initial=0.0)) for h in history)
        moves = max(
            float(np.max(np.abs(b - a), initial=0.0)) for a, b in itertools.pairwise(history)
        )
        scale = max(largest, config["steps"] * moves)
        for t, step in enumerate(actual, start=1):
            got = to_numpy(step[leaf])
            assert np.all(np.isfinite(got))
            want = expected[t - 1][leaf]
            err = np.abs(got - want)
            bound = tol * (np.abs(want) + scale)
            assert np.all(err <= bound), (
                f"leaf {leaf} step {t}: max excess {np.max(err - bound, initial=0)}, "
                f"err {np.max(err, initial=0)}, scale {scale}"
            )


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configurations())
def test_step_matches_oracle(config: dict[str, Any]) -> None:
    check_against_oracle(config)


@pytest.mark.parametrize("xp_name", ["array_api_strict", "torch", "jax.numpy"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configurations(dtypes=("float32", "float64")))
def test_step_matches_oracle_other_namespaces(xp_name: str, config: dict[str, Any]) -> None:
    xp = load_namespace(xp_name)
    with x64_if(xp, config["dtype"]):
        check_against_oracle(config, xp)
