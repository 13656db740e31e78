"""radam_optax.lookahead and ranger: golden trajectories under jit, exactness, errors."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

from radam_optax import LookaheadTransformState, lookahead, radam, ranger  # noqa: E402
from tests.conventions import preset_kwargs  # noqa: E402
from tests.test_lookahead import BAD, grad_fn, problem, ranger_oracle  # noqa: E402


@pytest.fixture
def x64() -> Iterator[None]:
    with jax.enable_x64(True):
        yield


def jit_run(tx, params, first, last, state=None):
    """Steps ``first..last`` under one jitted update; returns params, state and trajectory."""
    state = tx.init(params) if state is None else state

    @jax.jit
    def step(params, state, t):
        grads = [jnp.sin(3.0 * p + 0.1 * t) + 0.5 * p for p in params]
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    trajectory = []
    for t in range(first, last + 1):
        params, state = step(params, state, jnp.asarray(float(t), params[0].dtype))
        trajectory.append(params)
    return params, state, trajectory


@pytest.mark.parametrize(
    ("k", "alpha", "options"),
    [
        (6, 0.5, {}),
        (5, 0.8, {"preset": "authors", "weight_decay": 0.1}),
        (3, 0.3, {"amsgrad": True, "nesterov": True}),
    ],
)
def test_golden_trajectory_under_jit(x64, k, alpha, options):
    params = [jnp.asarray(p) for p in problem()]
    tx = ranger(0.05, sync_period=k, slow_step_size=alpha, **preset_kwargs(options, "optax"))
    _, state, trajectory = jit_run(tx, params, 1, 25)
    oracle = {"preset": "optax", **options}
    expected = ranger_oracle(problem(), grad_fn, 25, k=k, alpha=alpha, lr=0.05, **oracle)
    for t, (got, want) in enumerate(zip(trajectory, expected, strict=True), start=1):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12, atol=1e-14, err_msg=f"t={t}")
    assert int(state.count) == 25 % k
    assert isinstance(state, LookaheadTransformState)


def test_float32_close_to_oracle():
    params = [jnp.asarray(p, jnp.float32) for p in problem()]
    params, _, _ = jit_run(ranger(0.05), params, 1, 20)
    expected = ranger_oracle(problem(), grad_fn, 20, k=6, alpha=0.5, lr=0.05, preset="optax")
    for a, b in zip(params, expected[-1], strict=True):
        assert a.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(a), b, rtol=2e-5, atol=2e-5)


def test_updates_off_sync_are_the_inner_updates(x64):
    params = [jnp.asarray(p) for p in problem(1)]
    inner = radam(0.05)
    tx = lookahead(inner, sync_period=4, slow_step_size=0.5)
    state, inner_state = tx.init(params), inner.init(params)
    for t in range(1, 4):
        grads = [jnp.asarray(g) for g in grad_fn(params, t)]
        ours, state = tx.update(grads, state, params)
        theirs, inner_state = inner.update(grads, inner_state, params)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        params = optax.apply_updates(params, ours)


def test_k1_alpha1_is_the_inner_transformation(x64):
    a = [jnp.asarray(p) for p in problem(2)]
    b = list(a)
    tx, inner = lookahead(optax.adam(0.05), 1, 1.0), optax.adam(0.05)
    a, _, _ = jit_run(tx, a, 1, 12)
    b, _, _ = jit_run(inner, b, 1, 12)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_ranger_equals_lookahead_of_radam(x64):
    a = [jnp.asarray(p) for p in problem(3)]
    x, _, _ = jit_run(ranger(0.03, sync_period=4, slow_step_size=0.4, preset="torch"), a, 1, 18)
    y, _, _ = jit_run(lookahead(radam(0.03, preset="torch"), 4, 0.4), a, 1, 18)
    for p, q in zip(x, y, strict=True):
        np.testing.assert_array_equal(np.asarray(p), np.asarray(q))


def test_alpha0_returns_to_the_initial_weights_at_each_sync(x64):
    """phi stays theta_0 bit for bit; apply_updates lands on it to within one rounding."""
    initial = [jnp.asarray(p) for p in problem(4)]
    tx = ranger(0.1, sync_period=3, slow_step_size=0.0)
    state = tx.init(initial)
    params = initial
    for t in range(1, 10):
        params, state, _ = jit_run(tx, params, t, t, state)
        for p, q, s in zip(params, initial, state.slow, strict=True):
            np.testing.assert_array_equal(np.asarray(s), np.asarray(q))
            if t % 3 == 0:
                np.testing.assert_allclose(np.asarray(p), np.asarray(q), rtol=1e-15, atol=1e-16)
            elif p.size:
                assert not np.array_equal(np.asarray(p), np.asarray(q)), t


def test_checkpoint_mid_cycle_resumes_exactly(x64):
    params = [jnp.asarray(p) for p in problem(5)]
    tx = ranger(0.05, sync_period=5)
    mid, state, _ = jit_run(tx, params, 1, 7)
    saved = jax.tree.map(np.asarray, (mid, state))  # a host copy, as a checkpoint would be
    full, _, _ = jit_run(tx, mid, 8, 20, state)
    restored = jax.tree.map(jnp.asarray, saved)
    resumed, _, _ = jit_run(tx, restored[0], 8, 20, restored[1])
    for a, b in zip(full, resumed, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_slow_weights_are_the_parameters_after_a_sync(x64, alpha):
    """theta <- phi: after a sync the kept phi is the new parameters, bit for bit."""
    params = [jnp.asarray(p) for p in problem(6)]
    tx = ranger(0.05, sync_period=3, slow_step_size=alpha)
    state = tx.init(params)
    for t in range(1, 10):
        params, state, _ = jit_run(tx, params, t, t, state)
        synced = t % 3 == 0
        for p, s in zip(params, state.slow, strict=True):
            assert np.array_equal(np.asarray(p), np.asarray(s)) == (synced or p.size == 0), t


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_jitted_step_keeps_no_parameter_sized_temporary(alpha):
    """update and apply_updates under one jit, state donated: only scalar temporaries.

    With a temporary the size of a parameter, XLA's CPU backend maps fresh memory for it
    and page-faults through it on every step, which took a Ranger k-cycle from 6.7 to 16.8
    radam steps in the benchmark.
    """
    params = [jnp.ones((256, 256), jnp.float32), jnp.ones((256,), jnp.float32)]
    tx = ranger(1e-3, sync_period=6, slow_step_size=alpha)

    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, tx.init(params), params)
    temporaries = compiled.compile().memory_analysis().temp_size_in_bytes
    assert temporaries < 0.01 * sum(p.nbytes for p in params), temporaries


def test_schedule_and_extra_args():
    schedule = optax.linear_schedule(0.1, 0.0, 10)
    params = {"w": jnp.ones(3)}
    tx = optax.chain(optax.clip_by_global_norm(1.0), ranger(schedule, sync_period=2))
    state = tx.init(params)
    for _ in range(4):
        updates, state = tx.update({"w": jnp.ones(3)}, state, params)
        params = optax.apply_updates(params, updates)
    assert np.all(np.isfinite(np.asarray(params["w"])))


def test_needs_params():
    params = [jnp.ones(2)]
    tx = ranger(0.1)
    with pytest.raises(ValueError, match=r"radam_optax\.lookahead needs params"):
        tx.update(params, tx.init(params))


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_sync_period_and_slow_step_size(kwargs, error, message):
    names = {"k": "sync_period", "alpha": "slow_step_size"}
    renamed = {names[key]: value for key, value in kwargs.items()}
    expected = message.replace("k must", "sync_period must").replace(
        "alpha must", "slow_step_size must"
    )
    with pytest.raises(error, match=expected):
        ranger(0.1, **renamed)
    with pytest.raises(error, match=expected):
        lookahead(optax.sgd(0.1), **renamed)
