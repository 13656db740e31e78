"""Complex parameters: optax's convention, v from |g|^2 (real, non-negative).

The core is checked against the float64/complex128 oracle of ``tests/oracle.py`` (its
``|g|^2 = re(g)^2 + im(g)^2``, written from the formula), radam_numpy and
``update_leaf_in_place`` against the core bit for bit, and radam_optax against
``optax.radam`` itself on complex64.
"""

from __future__ import annotations

from typing import Any

import array_api_compat.numpy as xp
import numpy as np
import pytest

import radam_core as rc
from tests.oracle import oracle_trajectory

STEPS = 12  # crosses every preset's threshold (t = 5 or 6 for beta2 = 0.999)

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "torch": ("torch", {}),
    "optax": ("optax", {}),
    "authors": ("authors", {"weight_decay": 0.1}),
    "tfa": ("tfa", {"weight_decay": 0.05}),
    "paper-l2-maximize": ("paper", {"weight_decay": 0.1, "maximize": True}),
    "amsgrad-nesterov": ("optax", {"amsgrad": True, "nesterov": True, "eps_root": 1e-6}),
    "raw-amsgrad": ("torch", {"amsgrad": True, "betas": (0.5, 0.9)}),
}


def problem(dtype: Any) -> list[np.ndarray]:
    rng = np.random.default_rng(14)
    shapes = [(3, 4), (5,), ()]
    return [
        (rng.normal(size=s) + 1j * rng.normal(size=s)).astype(dtype)
        if s
        else np.asarray(0.5 - 2j, dtype)
        for s in shapes
    ]


def grad_fn(params: list[np.ndarray], t: int) -> list[np.ndarray]:
    """The gradient of sum |p - c|^2 (Wirtinger: 2 (p - c)) plus a step-dependent kick;
    one element's gradient is purely imaginary (g = 2j), the issue's example."""
    grads = []
    for p in params:
        g = 2.0 * (p - (0.3 - 0.7j)) + (1j if t % 3 == 0 else -0.5) * np.cos(
            t + np.arange(p.size)
        ).reshape(p.shape)
        grads.append(np.asarray(g, p.dtype))
    grads[1][0] = 2j
    return grads


def core_trajectory(
    dtype: Any, preset: str, hp: dict[str, Any]
) -> tuple[list[list[np.ndarray]], rc.RAdamState]:
    params = problem(dtype)
    state = rc.init_state(params, amsgrad=hp.get("amsgrad", False))
    trajectory = []
    for t in range(1, STEPS + 1):
        grads = grad_fn([p.copy() for p in params], t)
        new, state = rc.step(params, grads, state, preset=preset, lr=0.05, **hp)
        params = list(new)
        trajectory.append(params)
    return trajectory, state


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(("dtype", "rtol"), [(np.complex128, 1e-12), (np.complex64, 2e-5)])
def test_core_equals_oracle(case: str, dtype: Any, rtol: float) -> None:
    """complex128 to rounding; complex64 within float32's accumulated rounding (12 steps)."""
    preset, hp = CASES[case]
    got, state = core_trajectory(dtype, preset, hp)
    want = oracle_trajectory(
        problem(dtype), grad_fn, STEPS, preset=preset, storage_dtype=dtype, lr=0.05, **hp
    )
    for t, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        for a, b in zip(g, w, strict=True):
            assert a.dtype == dtype
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"step {t}")
    for v in (*state.exp_avg_sq, *state.max_exp_avg_sq):
        assert v.dtype == dtype
        assert np.all(v.imag == 0)
        assert np.all(v.real >= 0)


def test_purely_imaginary_gradient_gives_positive_v() -> None:
    """The issue's symptom: g = 2j made v = (1 - b2) (2j)^2 = -0.004."""
    params = [np.zeros(1, np.complex64)]
    _, state = rc.step(params, [np.full(1, 2j, np.complex64)], rc.init_state(params))
    v = state.exp_avg_sq[0]
    assert v.dtype == np.complex64
    np.testing.assert_allclose(v, [0.004 + 0j], rtol=1e-6)
    assert v.imag[0] == 0


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_update_leaf_in_place_equals_update_leaf(case: str, dtype: Any) -> None:
    preset, hp = CASES[case]
    hyperparameters = rc.hyperparameters_for(preset, lr=0.05, **hp)
    params = problem(dtype)
    in_place = [p.copy() for p in params]
    state = rc.init_state(params, amsgrad=hyperparameters.amsgrad)
    own = rc.init_state(params, amsgrad=hyperparameters.amsgrad)
    for t in range(1, STEPS + 1):
        grads = grad_fn([p.copy() for p in params], t)
        c = rc.for_adapters.step_coefficients(t, hyperparameters)
        for i, p in enumerate(params):
            max_sq = state.max_exp_avg_sq[i] if hyperparameters.amsgrad else None
            new = rc.for_adapters.update_leaf(
                p, grads[i], state.exp_avg[i], state.exp_avg_sq[i], max_sq, c, hyperparameters, xp
            )
            own_max = own.max_exp_avg_sq[i] if hyperparameters.amsgrad else None
            rc.for_adapters.update_leaf_in_place(
                in_place[i],
                grads[i],
                own.exp_avg[i],
                own.exp_avg_sq[i],
                own_max,
                c,
                hyperparameters,
                xp,
            )
            params[i] = new.param
            state = state._replace(
                exp_avg=_put(state.exp_avg, i, new.exp_avg),
                exp_avg_sq=_put(state.exp_avg_sq, i, new.exp_avg_sq),
                max_exp_avg_sq=(
                    _put(state.max_exp_avg_sq, i, new.max_exp_avg_sq)
                    if hyperparameters.amsgrad
                    else ()
                ),
            )
            np.testing.assert_array_equal(in_place[i], params[i])
            np.testing.assert_array_equal(own.exp_avg_sq[i], state.exp_avg_sq[i])
            if hyperparameters.amsgrad:
                np.testing.assert_array_equal(own.max_exp_avg_sq[i], state.max_exp_avg_sq[i])


def _put(arrays: tuple[Any, ...], index: int, value: Any) -> tuple[Any, ...]:
    return (*arrays[:index], value, *arrays[index + 1 :])


@pytest.mark.parametrize("case", ["torch", "authors", "amsgrad-nesterov"])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_radam_numpy_equals_core(case: str, dtype: Any) -> None:
    from radam_numpy import RAdam

    preset, hp = CASES[case]
    want, state = core_trajectory(dtype, preset, hp)
    params = problem(dtype)
    opt = RAdam(params, preset, lr=0.05, block_size=4, **hp)
    for t in range(1, STEPS + 1):
        opt.step(grad_fn([p.copy() for p in params], t))
        for a, b in zip(params, want[t - 1], strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(opt.state.exp_avg_sq, state.exp_avg_sq, strict=True):
        np.testing.assert_array_equal(a, b)


def test_real_results_unchanged_by_complex_support() -> None:
    """A complex parameter with zero imaginary parts steps as its real part does."""
    real = [p.real.copy() for p in problem(np.complex128)]
    cplx = [p.real.astype(np.complex128) for p in problem(np.complex128)]
    for preset, hp in CASES.values():
        r_params, c_params = list(real), list(cplx)
        r_state = rc.init_state(r_params, amsgrad=hp.get("amsgrad", False))
        c_state = rc.init_state(c_params, amsgrad=hp.get("amsgrad", False))
        for t in range(1, STEPS + 1):
            grads = [g.real.copy() for g in grad_fn([p + 0j for p in r_params], t)]
            r_params, r_state = rc.step(r_params, grads, r_state, preset=preset, **hp)
            c_params, c_state = rc.step(
                c_params, [g.astype(np.complex128) for g in grads], c_state, preset=preset, **hp
            )
            for a, b in zip(r_params, c_params, strict=True):
                np.testing.assert_array_equal(a, b.real)
                assert np.all(b.imag == 0)
