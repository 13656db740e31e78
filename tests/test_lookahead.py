"""Lookahead (Zhang et al. 2019) in radam_core and radam_numpy, against a float64 oracle.

The oracle here is written from the paper's formulas, independently of radam_core: the
RAdam step is tests/oracle.py's, and Lookahead is written out below::

    every step t:  theta <- RAdam step of theta
    t % k == 0:    phi <- phi + alpha (theta - phi);  theta <- phi      (phi_0 = theta_0)
"""

from __future__ import annotations

import pickle
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import radam_core
from radam_numpy import Lookahead, RAdam, Ranger
from tests.conftest import asarray, assert_close, count_array, is_jax, to_numpy, x64_if
from tests.oracle import OracleState, oracle_step, resolve

SHAPES = [(7, 5), (3,), (), (0, 2), (40,)]


def problem(seed: int = 0, shapes: Sequence[tuple[int, ...]] = SHAPES) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def grad_fn(params: Sequence[Any], t: int) -> list[np.ndarray]:
    """A deterministic gradient that depends on the parameters, so trajectories feed back."""
    return [np.sin(3.0 * to_numpy(p) + 0.1 * t) + 0.5 * to_numpy(p) for p in params]


def ranger_oracle(
    params0: Sequence[Any],
    grads: Callable[[list[np.ndarray], int], Sequence[Any]],
    steps: int,
    *,
    k: int,
    alpha: float,
    preset: str = "torch",
    **overrides: Any,
) -> list[list[np.ndarray]]:
    """Parameters after each step of Lookahead(RAdam), in float64, written out plainly."""
    hp = resolve(preset, **overrides)
    params = [np.array(p, dtype=np.float64) for p in params0]
    slow = [p.copy() for p in params]
    state = OracleState(params, hp["amsgrad"])
    trajectory = []
    for t in range(1, steps + 1):
        params = oracle_step(params, grads([p.copy() for p in params], t), state, hp)
        if t % k == 0:
            slow = [s + alpha * (p - s) for s, p in zip(slow, params, strict=True)]
            params = [s.copy() for s in slow]
        trajectory.append([p.copy() for p in params])
    return trajectory


def core_trajectory(
    xp: Any, params0: Sequence[np.ndarray], steps: int, *, k: int, alpha: float, **hp: Any
) -> list[list[Any]]:
    params = tuple(asarray(xp, p, xp.float64) for p in params0)
    state = radam_core.init_state(params, amsgrad=hp.get("amsgrad", False))
    slow = radam_core.init_lookahead(params)
    out = []
    for t in range(1, steps + 1):
        grads = tuple(asarray(xp, g, xp.float64) for g in grad_fn(params, t))
        params, state = radam_core.step(params, grads, state, **hp)
        params, slow = radam_core.lookahead_step(params, slow, k=k, alpha=alpha)
        out.append(list(params))
    return out


# --- radam_core ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "alpha", "hp"),
    [
        (6, 0.5, {"lr": 0.05}),
        (5, 0.8, {"lr": 0.1, "preset": "authors", "weight_decay": 0.1}),
        (3, 0.3, {"lr": 0.05, "preset": "optax", "amsgrad": True}),
    ],
)
def test_core_golden_trajectory(xp, k, alpha, hp):
    params0 = problem()
    with x64_if(xp, "float64"):
        ours = core_trajectory(xp, params0, 25, k=k, alpha=alpha, **hp)
    expected = ranger_oracle(params0, grad_fn, 25, k=k, alpha=alpha, **hp)
    for t, (got, want) in enumerate(zip(ours, expected, strict=True), start=1):
        for a, b in zip(got, want, strict=True):
            assert_close(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {t}")


def test_core_array_count_equals_host_count(xp):
    params0 = problem(1)
    dtype = xp.float32
    fast = [tuple(asarray(xp, p, dtype) for p in params0)] * 2
    states = [
        radam_core.init_lookahead(fast[0]),
        radam_core.init_lookahead(fast[1])._replace(count=count_array(xp, 0)),
    ]
    rng = np.random.default_rng(2)
    for t in range(1, 14):
        moved = [asarray(xp, p + rng.standard_normal(p.shape), dtype) for p in params0]
        for index in (0, 1):
            fast[index], states[index] = radam_core.lookahead_step(
                tuple(moved), states[index], k=4, alpha=0.25
            )
        assert int(states[1].count) == states[0].count == t % 4
        for a, b in zip(fast[0], fast[1], strict=True):
            np.testing.assert_array_equal(to_numpy(a, None), to_numpy(b, None))
            assert b.dtype == dtype


def test_core_host_count_without_sync_returns_the_inputs():
    params = (np.ones(3), np.zeros(2))
    state = radam_core.init_lookahead(params)
    moved = (np.full(3, 2.0), np.ones(2))
    out, state = radam_core.lookahead_step(moved, state, k=2, alpha=0.5)
    assert all(a is b for a, b in zip(out, moved, strict=True))
    out, state = radam_core.lookahead_step(moved, state, k=2, alpha=0.5)
    np.testing.assert_array_equal(out[0], np.full(3, 1.5))
    assert state.count == 0
    assert all(a is b for a, b in zip(out, state.slow, strict=True))


def test_core_init_copies():
    params = [np.ones(3)]
    state = radam_core.init_lookahead(params)
    params[0][...] = 5.0
    np.testing.assert_array_equal(state.slow[0], np.ones(3))
    assert radam_core.init_lookahead([]) == radam_core.LookaheadState(0, ())


def test_core_half_precision_computes_in_float32(xp):
    if not hasattr(xp, "float16"):
        pytest.skip(f"{xp.__name__} has no float16")
    slow = asarray(xp, [1.0, 2.0, 3.0], xp.float16)
    fast = asarray(xp, [2.0, 2.5, -1.0], xp.float16)
    new = radam_core.for_adapters.lookahead_leaf(fast, slow, 0.25, xp)
    assert new.dtype == xp.float16
    expected = np.array([1.0, 2.0, 3.0]) + 0.25 * (np.array([2.0, 2.5, -1.0]) - [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(to_numpy(new), expected.astype(np.float16).astype(np.float64))


def test_core_alpha_ends_are_exact(xp):
    slow = asarray(xp, [1e-30, 3.0, -7.25], xp.float32)
    fast = asarray(xp, [1.0, 1e20, 0.1], xp.float32)
    assert radam_core.for_adapters.lookahead_leaf(fast, slow, 1.0, xp) is fast
    assert radam_core.for_adapters.lookahead_leaf(fast, slow, 0, xp) is slow


@pytest.mark.parametrize("dtype_name", ["float32", "float16"])
def test_core_overwrite_fast_gives_the_same_bits(xp, dtype_name):
    if not hasattr(xp, dtype_name):
        pytest.skip(f"{xp.__name__} has no {dtype_name}")
    dtype = getattr(xp, dtype_name)
    rng = np.random.default_rng(3)
    theta, phi = rng.standard_normal(64), rng.standard_normal(64)
    slow = asarray(xp, phi, dtype)
    expected = to_numpy(
        radam_core.for_adapters.lookahead_leaf(asarray(xp, theta, dtype), slow, 0.3, xp)
    )
    fast = asarray(xp, theta, dtype)
    new = radam_core.for_adapters.lookahead_leaf(fast, slow, 0.3, xp, overwrite_fast=True)
    np.testing.assert_array_equal(to_numpy(new), expected)
    assert new.dtype == dtype
    np.testing.assert_array_equal(to_numpy(slow), to_numpy(asarray(xp, phi, dtype)))
    # float32 is the compute dtype: the result lives in fast's memory where the namespace
    # writes in place (JAX has no in-place operators); float16 computes in a float32
    # temporary and leaves fast alone.
    writes_in_place = dtype_name == "float32" and not is_jax(xp)
    assert (new is fast) == writes_in_place
    if not writes_in_place:
        np.testing.assert_array_equal(to_numpy(fast), to_numpy(asarray(xp, theta, dtype)))


BAD = [
    ({"k": 0}, ValueError, "k must be >= 1, got 0"),
    ({"k": -3}, ValueError, "k must be >= 1, got -3"),
    ({"k": 2.0}, TypeError, "k must be an int, got 2.0"),
    ({"k": True}, TypeError, "k must be an int, got True"),
    ({"alpha": 1.5}, ValueError, r"alpha must be in \[0, 1\], got 1.5"),
    ({"alpha": -0.1}, ValueError, r"alpha must be in \[0, 1\], got -0.1"),
    ({"alpha": float("nan")}, ValueError, r"alpha must be in \[0, 1\], got nan"),
    ({"alpha": "0.5"}, TypeError, "alpha must be a real number, got '0.5'"),
    ({"alpha": np.ones(())}, TypeError, "alpha must be a real number"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_k_and_alpha(kwargs, error, message):
    params = [np.ones(2)]
    with pytest.raises(error, match=message):
        radam_core.lookahead_step(params, radam_core.init_lookahead(params), **kwargs)
    with pytest.raises(error, match=message):
        Ranger([np.ones(2)], **kwargs)
    with pytest.raises(error, match=message):
        Lookahead(RAdam([np.ones(2)]), **kwargs)


def test_core_bad_state():
    params = [np.ones(2)]
    with pytest.raises(TypeError, match="state must be a LookaheadState"):
        radam_core.lookahead_step(params, radam_core.init_state(params))
    with pytest.raises(ValueError, match=r"state\.slow has 1 arrays, but params has 2"):
        radam_core.lookahead_step([np.ones(2), np.ones(1)], radam_core.init_lookahead(params))
    with pytest.raises(ValueError, match=r"state.slow\[0\] has shape \(2,\), expected \(3,\)"):
        radam_core.lookahead_step([np.ones(3)], radam_core.init_lookahead(params))
    with pytest.raises(ValueError, match=r"state\.count must be >= 0"):
        radam_core.lookahead_step(params, radam_core.LookaheadState(-1, (np.ones(2),)))
    with pytest.raises(TypeError, match="params\\[0\\] must have a real floating-point dtype"):
        radam_core.init_lookahead([np.ones(2, dtype=np.int64)])


def test_core_k1_alpha1_is_the_inner_optimizer():
    params0 = problem(3)
    plain = core_trajectory(
        array_namespace_numpy(), params0, 12, k=1, alpha=1.0, lr=0.05
    )  # Lookahead that changes nothing
    params = tuple(np.array(p) for p in params0)
    state = radam_core.init_state(params)
    for t in range(1, 13):
        params, state = radam_core.step(params, grad_fn(params, t), state, lr=0.05)
        for a, b in zip(plain[t - 1], params, strict=True):
            np.testing.assert_array_equal(a, b)


def test_core_alpha0_returns_to_the_initial_weights_at_each_sync():
    params0 = problem(4)
    trajectory = core_trajectory(array_namespace_numpy(), params0, 15, k=5, alpha=0.0, lr=0.1)
    for t, params in enumerate(trajectory, start=1):
        same = all(np.array_equal(a, b) for a, b in zip(params, params0, strict=True))
        assert same == (t % 5 == 0), t


def array_namespace_numpy() -> Any:
    import array_api_compat

    return array_api_compat.array_namespace(np.empty(0))


# --- radam_numpy --------------------------------------------------------------------------


@pytest.mark.parametrize(("block_size", "threads"), [(7, 2), (1 << 17, 1)])
@pytest.mark.parametrize(("k", "alpha"), [(6, 0.5), (4, 0.9)])
def test_numpy_golden_trajectory(block_size, threads, k, alpha):
    params = problem()
    opt = Ranger(params, k=k, alpha=alpha, lr=0.05, block_size=block_size, threads=threads)
    expected = ranger_oracle(problem(), grad_fn, 25, k=k, alpha=alpha, lr=0.05)
    for t in range(1, 26):
        opt.step(grad_fn(params, t))
        for a, b in zip(params, expected[t - 1], strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {t}")
    assert opt.count == 25 % k


def test_numpy_equals_core():
    params = problem(5)
    opt = Ranger(params, k=3, alpha=0.6, lr=0.1, preset="tfa", weight_decay=0.01)
    expected = core_trajectory(
        array_namespace_numpy(), problem(5), 14, k=3, alpha=0.6, lr=0.1, preset="tfa",
        weight_decay=0.01,
    )  # fmt: skip
    for t in range(1, 15):
        opt.step(grad_fn(params, t))
    for a, b in zip(params, expected[-1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


def test_numpy_ranger_equals_lookahead_of_radam():
    a, b = problem(6), problem(6)
    ranger = Ranger(a, k=4, alpha=0.4, lr=0.03, preset="paper")
    wrapped = Lookahead(RAdam(b, lr=0.03, preset="paper"), k=4, alpha=0.4)
    for t in range(1, 19):
        ranger.step(grad_fn(a, t))
        wrapped.step(grad_fn(b, t))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_numpy_k1_alpha1_is_radam():
    a, b = problem(7), problem(7)
    ranger, radam = Ranger(a, k=1, alpha=1.0, lr=0.05), RAdam(b, lr=0.05)
    for t in range(1, 13):
        ranger.step(grad_fn(a, t))
        radam.step(grad_fn(b, t))
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_numpy_alpha0_freezes_at_the_initial_weights():
    params, initial = problem(8), problem(8)
    opt = Ranger(params, k=3, alpha=0.0, lr=0.1)
    for t in range(1, 10):
        opt.step(grad_fn(params, t))
        same = all(np.array_equal(a, b) for a, b in zip(params, initial, strict=True))
        assert same == (t % 3 == 0)


@pytest.mark.parametrize("stop", [7, 9, 12])
def test_numpy_checkpoint_mid_cycle_resumes_exactly(stop):
    params = problem(9)
    opt = Ranger(params, k=5, alpha=0.5, lr=0.05, preset="authors")
    for t in range(1, stop + 1):
        opt.step(grad_fn(params, t))
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    saved_params = [p.copy() for p in params]
    for t in range(stop + 1, 21):
        opt.step(grad_fn(params, t))

    resumed = [p.copy() for p in saved_params]
    other = Ranger(resumed, k=2, alpha=0.1, lr=0.05, preset="authors")
    other.load_state_dict(saved)
    assert (other.k, other.alpha, other.count) == (5, 0.5, stop % 5)
    for t in range(stop + 1, 21):
        other.step(grad_fn(resumed, t))
    for a, b in zip(params, resumed, strict=True):
        np.testing.assert_array_equal(a, b)


def test_numpy_slow_weights_loaded_in_fortran_order_sync_in_place():
    """phi from a checkpoint in any memory order is kept C-contiguous, so syncs reach it."""
    params = problem(10)
    opt = Ranger(params, k=3, alpha=0.5, lr=0.05)
    saved = opt.state_dict()
    assert any(s.ndim == 2 and s.shape[0] > 1 and s.shape[1] > 1 for s in saved["slow"])
    expected = [p.copy() for p in params]
    twin = Ranger(expected, k=3, alpha=0.5, lr=0.05)
    fortran = [np.asfortranarray(s) if s.ndim == 2 else s for s in saved["slow"]]
    opt.load_state_dict({**saved, "slow": fortran})
    for t in range(1, 8):
        opt.step(grad_fn(params, t))
        twin.step(grad_fn(expected, t))
    for a, b, s, u in zip(params, expected, opt.slow, twin.slow, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(s, u)


def test_numpy_load_state_dict_refuses_mismatch():
    opt = Ranger([np.ones(3)], lr=0.1)
    good = opt.state_dict()
    with pytest.raises(ValueError, match=r"slow\[0\] has shape \(2,\)"):
        opt.load_state_dict({**good, "slow": [np.ones(2)]})
    with pytest.raises(ValueError, match="k must be >= 1"):
        opt.load_state_dict({**good, "k": 0})
    with pytest.raises(ValueError, match="count must be an int >= 0"):
        opt.load_state_dict({**good, "count": -1})


def test_numpy_sync_allocates_no_full_size_temporaries():
    param = np.random.default_rng(1).standard_normal(1 << 21)  # 16 MiB of float64
    opt = Ranger([param], k=2, block_size=1 << 14, threads=1)
    opt.step([np.cos(param)])
    grad = np.cos(param)
    tracemalloc.start()
    try:
        opt.step([grad])  # a sync
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opt.count == 0
    assert peak < param.nbytes / 8, peak


def test_numpy_lookahead_needs_an_optimizer():
    with pytest.raises(TypeError, match="optimizer must have params and step"):
        Lookahead(object())  # type: ignore[arg-type]


def test_numpy_lookahead_refuses_parameters_it_cannot_sync_in_place():
    """A duck-typed inner optimizer's Fortran-ordered parameter would sync into a copy."""

    class Inner:
        def __init__(self):
            self.params = [np.ones(3), np.asfortranarray(np.ones((3, 4)))]

        def step(self, grads):
            pass

    with pytest.raises(
        ValueError, match=r"optimizer\.params\[1\] must be a writeable C-contiguous"
    ):
        Lookahead(Inner())  # type: ignore[arg-type]


@pytest.mark.backend("jax")
def test_core_jax_array_count_is_jittable():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    params = (jnp.ones(3), jnp.zeros(2))
    state = radam_core.init_lookahead(params)._replace(count=jnp.zeros([], jnp.int32))
    step = jax.jit(lambda p, s: radam_core.lookahead_step(p, s, k=3, alpha=0.5))
    for t in range(1, 7):
        params = tuple(p + 1.0 for p in params)
        params, state = step(params, state)
        assert int(state.count) == t % 3
    np.testing.assert_allclose(np.asarray(params[0]), [4.0, 4.0, 4.0])  # 1 -> 2.5 -> 4


def test_numpy_extra_memory_is_one_parameter_sized_buffer():
    params = problem(10)
    opt = Ranger(params, lr=0.1)
    assert sum(s.nbytes for s in opt.slow) == sum(p.nbytes for p in params)
    assert not any(np.shares_memory(s, p) for s, p in zip(opt.slow, params, strict=True))


def test_lookahead_sync_is_a_deprecated_alias_of_advance_lookahead() -> None:
    """The old name still works for a release, with a DeprecationWarning."""
    with pytest.warns(DeprecationWarning, match="advance_lookahead"):
        old = radam_core.lookahead_sync(4, 5)
    assert old == radam_core.for_adapters.advance_lookahead(4, 5) == (0, True)
