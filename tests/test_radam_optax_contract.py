"""radam_optax as a drop-in for optax.radam: annotation, dtypes, complex parameters, None
gradients, and a bad-input matrix (errors named, raised before any work, state untouched).
"""

from __future__ import annotations

import typing
from typing import Any

import numpy as np
import pytest

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import radam_core  # noqa: E402
import radam_optax.transform  # noqa: E402
from radam_optax import radam, scale_by_radam  # noqa: E402
from tests.oracle import r_naive, rho_naive  # noqa: E402

LR = 1e-2


def test_learning_rate_annotation_is_optax_s() -> None:
    ours = typing.get_type_hints(radam)["learning_rate"]
    assert ours == typing.get_type_hints(optax.radam)["learning_rate"]
    assert ours == optax.ScalarOrSchedule


DTYPES = [jnp.bfloat16, jnp.float16, jnp.float32]


@pytest.mark.parametrize("param_dtype", DTYPES)
@pytest.mark.parametrize("grad_dtype", DTYPES)
@pytest.mark.parametrize("jit", [False, True])
def test_update_dtype_follows_optax(param_dtype: Any, grad_dtype: Any, jit: bool) -> None:
    """The updates' dtype is optax.radam's (bfloat16 gradients of float32 parameters give
    float32 updates), and the moments keep the parameters' dtype."""
    params = {"w": jnp.linspace(-1.0, 1.0, 6, dtype=param_dtype)}
    grads = {"w": jnp.linspace(0.5, -0.5, 6, dtype=grad_dtype)}
    dtypes = []
    for opt in (radam(LR), optax.radam(LR)):
        update = jax.jit(opt.update) if jit else opt.update
        updates, _ = update(grads, opt.init(params), params)
        dtypes.append(updates["w"].dtype)
    assert dtypes[0] == dtypes[1] == jnp.result_type(param_dtype, grad_dtype)
    _, state = radam(LR).update(grads, radam(LR).init(params), params)
    assert state.mu["w"].dtype == state.nu["w"].dtype == param_dtype


def _complex_problem() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(8)

    def c64(shape: tuple[int, ...], scale: float = 1.0) -> Any:
        return jnp.asarray(scale * (rng.normal(size=shape) + 1j * rng.normal(size=shape)))

    params = {"w": c64((4, 5)).astype(jnp.complex64), "b": c64((3,)).astype(jnp.complex64)}
    grads = []
    for t in range(1, 16):
        g = {"w": c64((4, 5), 0.5 + 0.1 * t), "b": c64((3,))}
        g["b"] = g["b"].at[0].set(2j)  # the example: (2j)^2 = -4 made v negative
        grads.append(jax.tree.map(lambda x: x.astype(jnp.complex64), g))
    return params, grads


def _optax_r_t(t: int, b2: float = 0.999) -> float:
    """optax's r_t, evaluated as optax.scale_by_radam does: in float32, textbook rho_t."""
    count = jnp.asarray(t, jnp.int32)
    ro_inf = 2.0 / (1.0 - b2) - 1.0
    b2t = b2**count
    ro = ro_inf - 2 * count * b2t / (1 - b2t)
    return float(
        jnp.sqrt((ro - 4.0) * (ro - 2.0) * ro_inf / ((ro_inf - 4.0) * (ro_inf - 2.0) * ro))
    )


def test_complex64_agrees_with_optax_radam() -> None:
    """15 steps on complex64, crossing the threshold (t = 6 for rho_t >= 5).

    Moments do not depend on rho_t: they agree to float32 rounding (rtol 1e-6). Updates
    below the threshold are -lr m_hat in both: rtol 1e-6. Rectified updates differ by the
    ratio of r_t's, ours exact (the float64 oracle's) against optax's float32 rho_t (1.15%
    at t = 6); divided by that ratio they agree to 3e-5: optax's float32 1 - b2^t in v_hat
    loses ~5e-6 relative at t = 6 (0.006 from 1 - 0.994 at ulp 6e-8), plus a few roundings.
    """
    params, grads = _complex_problem()
    ours, theirs = radam(LR), optax.radam(LR)
    state, their_state = ours.init(params), theirs.init(params)
    rectified_seen = 0
    for t, g in enumerate(grads, start=1):
        updates, state = ours.update(g, state, params)
        their_updates, their_state = theirs.update(g, their_state, params)
        inner = their_state[0]
        for name in params:
            np.testing.assert_allclose(state.mu[name], inner.mu[name], rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(state.nu[name], inner.nu[name], rtol=1e-6, atol=1e-9)
            nu = np.asarray(state.nu[name])
            assert nu.dtype == np.complex64
            np.testing.assert_array_equal(nu.imag, 0.0)
            assert np.all(nu.real > 0.0)
            rho_t = rho_naive(t, 0.999)
            if rho_t >= 5.0:
                ratio = r_naive(rho_t, 0.999) / _optax_r_t(t)
                rtol = 3e-5
            else:
                ratio, rtol = 1.0, 1e-6
            ours_u, their_u = np.asarray(updates[name]), np.asarray(their_updates[name])
            assert ours_u.dtype == their_u.dtype == np.complex64
            np.testing.assert_allclose(ours_u, their_u * ratio, rtol=rtol, atol=0, err_msg=f"{t}")
            assert np.max(np.abs(ours_u - their_u) / np.abs(their_u)) <= 0.012
        rectified_seen += rho_naive(t, 0.999) >= 5.0
    assert rectified_seen == 10


def test_none_gradient_keeps_the_leaf_s_moments() -> None:
    params = {"a": jnp.ones(2), "b": jnp.full(3, 2.0)}
    opt = radam(LR)
    state = opt.init(params)
    updates, state = opt.update({"a": jnp.ones(2), "b": jnp.ones(3)}, state, params)
    updates, new_state = opt.update({"a": jnp.ones(2), "b": None}, state, params)
    assert updates["b"] is None
    assert new_state.mu["b"] is state.mu["b"]
    assert new_state.nu["b"] is state.nu["b"]
    assert int(new_state.count) == 2
    updates, _ = opt.update({"a": jnp.ones(2), "b": jnp.ones(3)}, new_state, params)
    assert updates["b"].shape == (3,)


# The bad-input matrix ---------------------------------------------------------------------


def _params() -> dict[str, Any]:
    return {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.ones(4)}


def _grads() -> dict[str, Any]:
    return {"w": jnp.full((2, 3), 0.1), "b": jnp.linspace(-1.0, 1.0, 4)}


@pytest.mark.parametrize("lr", [np.float32(-1), np.float32(np.nan), np.float16(np.inf)])
def test_numpy_scalar_learning_rate_is_checked(lr: Any) -> None:
    with pytest.raises(ValueError, match=r"learning_rate must be finite and >= 0, got"):
        radam(lr)


@pytest.mark.parametrize(
    ("lr", "dtype"),
    [(np.asarray(1), "int64"), (jnp.asarray(True), "bool"), (jnp.asarray(1e-3 + 0j), "complex")],
)
def test_learning_rate_array_of_wrong_dtype(lr: Any, dtype: str) -> None:
    with pytest.raises(TypeError, match=rf"learning_rate must be .*dtype {dtype}"):
        radam(lr)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"w": jnp.ones(3, jnp.int32)}, r"params\['w'\] must be a floating-point .*got int32"),
        ({"w": jnp.ones(2), "n": [1.0, 2]}, r"params\['n'\]\[0\] must be a floating-point"),
    ],
)
def test_init_refuses_non_float_leaves(params: Any, match: str) -> None:
    with pytest.raises(TypeError, match=match):
        radam(LR).init(params)


def _bad_state(state: Any) -> Any:
    return state._replace(count=jnp.asarray(1.0))


BAD_UPDATES = {
    "shape": (
        lambda g, s, p: ({**g, "b": jnp.ones(5)}, s, p),
        ValueError,
        r"updates\['b'\] has shape \(5,\), but its state.mu has \(4,\)",
    ),
    "structure": (
        lambda g, s, p: ({"w": g["w"]}, s, p),
        ValueError,
        r"updates and state.mu differ in structure",
    ),
    "int-gradient": (
        lambda g, s, p: ({**g, "b": jnp.ones(4, jnp.int32)}, s, p),
        TypeError,
        r"updates\['b'\] must be a floating-point \(or complex\) array, got int32",
    ),
    "list-gradient": (
        lambda g, s, p: ({**g, "b": [0.1] * 4}, s, p),
        ValueError,
        r"updates and state.mu differ in structure",
    ),
    "complex-gradient": (
        lambda g, s, p: ({**g, "b": jnp.ones(4, jnp.complex64)}, s, p),
        TypeError,
        r"updates\['b'\] is complex \(complex64\), but its parameter is float32",
    ),
    "state-type": (
        lambda g, s, p: (g, tuple(s), p),
        TypeError,
        r"state must be a ScaleByRAdamState \(from init\), got tuple",
    ),
    "count": (
        lambda g, s, p: (g, _bad_state(s), p),
        TypeError,
        r"state.count must be a 0-d integer array",
    ),
    "state-from-another-tree": (
        lambda g, s, p: (g, radam(LR).init({"w": jnp.ones((2, 3))}), p),
        ValueError,
        r"updates and state.mu differ in structure",
    ),
}


@pytest.mark.parametrize("case", list(BAD_UPDATES))
@pytest.mark.parametrize("jit", [False, True])
def test_bad_update_raises_before_any_work(
    case: str, jit: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, error, match = BAD_UPDATES[case]
    opt = radam(LR, preset=radam_core.PRESETS["optax"].replace(amsgrad=True))
    params = _params()
    state = opt.init(params)
    _, state = opt.update(_grads(), state, params)
    before = [np.asarray(leaf).copy() for leaf in jax.tree.leaves(state)]
    calls: list[int] = []
    core = radam_optax.transform.radam_core

    class Spy:
        def __getattr__(self, name: str) -> Any:
            calls.append(1)
            return getattr(core, name)

    grads, bad_state, bad_params = make(_grads(), state, params)
    monkeypatch.setattr(radam_optax.transform, "radam_core", Spy())
    update = jax.jit(opt.update) if jit else opt.update
    with pytest.raises(error, match=match):
        update(grads, bad_state, bad_params)
    assert not calls  # not one core function was reached
    for old, leaf in zip(before, jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(leaf), old, strict=True)


def test_weight_decay_params_of_another_shape() -> None:
    opt = radam(LR, weight_decay=0.1)
    params = _params()
    state = opt.init(params)
    with pytest.raises(ValueError, match=r"params\['b'\] has shape \(3,\), expected \(4,\)"):
        opt.update(_grads(), state, {**params, "b": jnp.ones(3)})


def test_scale_by_radam_checks_as_radam() -> None:
    opt = scale_by_radam()
    state = opt.init(_params())
    with pytest.raises(ValueError, match=r"updates\['w'\] has shape"):
        opt.update({**_grads(), "w": jnp.ones(3)}, state)


# The kinds of checks optax's alias tests make, written for radam_optax ----------------------


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16, jnp.float32, jnp.complex64])
def test_update_is_dtype_stable_under_lax_cond(dtype: Any) -> None:
    """``lax.cond(c, update, identity)`` needs the update's and the state's types to be the
    parameters' and the input state's exactly, for every dtype."""
    opt = radam(LR)
    params = jnp.asarray([1.0, -2.0, 0.5], dtype)
    state = opt.init(params)

    @jax.jit
    def step(params: Any, state: Any) -> Any:
        grads = jax.grad(lambda p: jnp.sum(jnp.abs(p) ** 2))(params).conj()
        cond = jax.random.randint(jax.random.key(0), (), 0, 2) == 0
        updates, new_state = jax.lax.cond(
            cond, lambda: opt.update(grads, state, params), lambda: (params, state)
        )
        return optax.apply_updates(params, updates), new_state

    for _ in range(3):
        params, state = step(params, state)
        assert params.dtype == dtype
        assert state.mu.dtype == state.nu.dtype == dtype


def test_optimizes_a_complex_parabola() -> None:
    """min |z - c|^2 over complex z: with conjugated gradients (optax's convention) RAdam
    reaches c; with v from g * g (the bug) the purely imaginary parts would not."""
    target = jnp.asarray([1.0 - 2.0j, 3.0j, -0.5 + 0.25j], jnp.complex64)
    opt = radam(5e-2)
    params = jnp.zeros(3, jnp.complex64)
    state = opt.init(params)

    @jax.jit
    def step(params: Any, state: Any) -> Any:
        grads = jax.grad(lambda p: jnp.sum(jnp.abs(p - target) ** 2))(params).conj()
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(3000):
        params, state = step(params, state)
    np.testing.assert_allclose(params, target, atol=1e-2)
