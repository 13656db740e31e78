"""radam_optax's export and import of the framework-neutral snapshot (radam, ranger, complex
states), and runs that move between optax and NumPy.

A run resumed in optax equals the uninterrupted one bit for bit; one that moves to NumPy and
back equals it to float64 rounding under x64 (1e-12 relative), and to float32 rounding without
(test_golden's float32 bound, 1e-5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import radam_numpy  # noqa: E402
import radam_optax  # noqa: E402
from radam_core import PRESETS, ParameterState, Snapshot, load_snapshot, save_snapshot  # noqa: E402

STEPS, SPLIT = 20, 8
K, ALPHA = 5, 0.6  # Ranger: a k-cycle that SPLIT cuts in the middle
NAMES = ["dense/bias", "dense/kernel", "head"]  # jax.tree.leaves order: keys sorted


def _params(dtype: Any) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "dense": {
            "kernel": jnp.asarray(rng.normal(size=(3, 4)), dtype),
            "bias": jnp.asarray(rng.normal(size=4), dtype),
        },
        "head": jnp.asarray(rng.normal(size=2), dtype),
    }


def _grads(params: Any, t: int) -> Any:
    return jax.tree.map(lambda p: jnp.sin(p + 0.1 * t), params)


def _run(tx: Any, params: Any, state: Any, first: int, last: int) -> tuple[Any, Any]:
    @jax.jit
    def step(params: Any, state: Any, grads: Any) -> tuple[Any, Any]:
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for t in range(first, last + 1):
        params, state = step(params, state, _grads(params, t))
    return params, state


def _transformation() -> Any:
    return optax.chain(optax.clip_by_global_norm(10.0), radam_optax.radam(0.05))


def test_an_optax_run_resumes_exactly_from_the_file(tmp_path: Path) -> None:
    tx = _transformation()
    params = _params(jnp.float32)
    reference, _ = _run(tx, params, tx.init(params), 1, STEPS)

    params, state = _run(tx, params, tx.init(params), 1, SPLIT)
    snapshot = radam_optax.export_state(state, params, lr=0.05)
    assert list(snapshot.parameters) == NAMES
    save_snapshot(snapshot, tmp_path / "s.safetensors")
    fresh = tx.init(params)
    resumed_state = radam_optax.import_state(
        fresh, load_snapshot(tmp_path / "s.safetensors"), params
    )
    assert int(fresh[1].count) == 0  # the state passed in is not changed
    assert int(resumed_state[1].count) == SPLIT
    resumed, _ = _run(tx, params, resumed_state, SPLIT + 1, STEPS)
    for mine, theirs in zip(jax.tree.leaves(resumed), jax.tree.leaves(reference), strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


@pytest.mark.parametrize("use_x64", [False, True], ids=["float32", "float64"])
def test_a_run_moves_from_optax_to_numpy_and_back(use_x64: bool) -> None:
    with jax.enable_x64(use_x64):
        dtype = jnp.float64 if use_x64 else jnp.float32
        tx = radam_optax.radam(0.05)
        params = _params(dtype)
        reference, _ = _run(tx, params, tx.init(params), 1, STEPS)

        params, state = _run(tx, params, tx.init(params), 1, SPLIT)
        snapshot = radam_optax.export_state(state, params, lr=0.05)
        arrays = [np.array(leaf) for leaf in jax.tree.leaves(params)]
        numpy_opt = radam_numpy.RAdam(arrays, preset="optax", lr=0.05)
        numpy_opt.import_state(snapshot, NAMES)
        for t in range(SPLIT + 1, 15):
            grads = _grads(jax.tree.unflatten(jax.tree.structure(params), numpy_opt.params), t)
            numpy_opt.step([np.asarray(g) for g in jax.tree.leaves(grads)])
        params = jax.tree.unflatten(
            jax.tree.structure(params), [jnp.asarray(a) for a in numpy_opt.params]
        )
        state = radam_optax.import_state(tx.init(params), numpy_opt.export_state(NAMES), params)
        resumed, _ = _run(tx, params, state, 15, STEPS)
        tolerance = 1e-12 if use_x64 else 1e-5
        for mine, theirs in zip(jax.tree.leaves(resumed), jax.tree.leaves(reference), strict=True):
            assert mine.dtype == dtype
            np.testing.assert_allclose(mine, theirs, rtol=tolerance, atol=tolerance)


def test_bfloat16_states_are_written_as_float32_and_read_back() -> None:
    tx = radam_optax.radam(0.01)
    params = _params(jnp.bfloat16)
    params, state = _run(tx, params, tx.init(params), 1, 3)
    snapshot = radam_optax.export_state(state, params)
    assert snapshot.parameters["head"].exp_avg.dtype == np.float32
    again = radam_optax.import_state(tx.init(params), snapshot, params)
    for mine, theirs in zip(jax.tree.leaves(again), jax.tree.leaves(state), strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(np.asarray(mine, np.float32), np.asarray(theirs, np.float32))


def test_a_snapshot_that_does_not_fit_is_refused() -> None:
    tx = radam_optax.radam(0.05)
    params = _params(jnp.float32)
    params, state = _run(tx, params, tx.init(params), 1, 3)
    snapshot = radam_optax.export_state(state, params)
    with pytest.raises(ValueError, match="convention eps_placement is 'corrected' in the snapshot"):
        radam_optax.import_state(state, snapshot, params, preset="torch")
    with pytest.raises(ValueError, match="exactly one radam_optax ScaleByRAdamState, it holds 0"):
        radam_optax.export_state(optax.adam(0.1).init(params), params)
    with pytest.raises(ValueError, match="names must be 3 distinct names"):
        radam_optax.import_state(state, snapshot, params, names=["a", "b"])
    numpy_opt = radam_numpy.RAdam([np.zeros(2, np.float32)], preset="optax")
    numpy_opt.step([np.ones(2, np.float32)])
    with pytest.raises(ValueError, match=r"missing parameters \['dense/bias', 'dense/kernel'\]"):
        radam_optax.import_state(state, numpy_opt.export_state(["head"]), params)
    head = snapshot.parameters["head"]
    staggered = ParameterState(4, head.exp_avg, head.exp_avg_sq)
    uneven = Snapshot(snapshot.hyperparameters, {**snapshot.parameters, "head": staggered})
    with pytest.raises(ValueError, match=r"optax keeps one step count, .* \[3, 4\]"):
        radam_optax.import_state(state, uneven, params)


def test_a_complex_run_moves_from_optax_to_numpy_and_back() -> None:
    with jax.enable_x64(True):
        rng = np.random.default_rng(4)
        params = {
            "phase": jnp.asarray(rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))),
            "scale": jnp.asarray(rng.normal(size=4)),
        }
        preset = PRESETS["optax"].replace(amsgrad=True)
        tx = radam_optax.radam(0.05, preset=preset)
        reference, _ = _run(tx, params, tx.init(params), 1, STEPS)

        params, state = _run(tx, params, tx.init(params), 1, SPLIT)
        snapshot = radam_optax.export_state(state, params, preset=preset, lr=0.05)
        assert snapshot.parameters["phase"].is_complex
        assert snapshot.parameters["phase"].exp_avg_sq.dtype == np.float64
        names = ["phase", "scale"]
        numpy_opt = radam_numpy.RAdam(
            [np.array(leaf) for leaf in jax.tree.leaves(params)],
            preset=preset,
            lr=0.05,
        )
        numpy_opt.import_state(snapshot, names)
        structure = jax.tree.structure(params)
        for t in range(SPLIT + 1, 15):
            grads = _grads(jax.tree.unflatten(structure, numpy_opt.params), t)
            numpy_opt.step([np.asarray(g) for g in jax.tree.leaves(grads)])
        params = jax.tree.unflatten(structure, [jnp.asarray(a) for a in numpy_opt.params])
        state = radam_optax.import_state(
            tx.init(params), numpy_opt.export_state(names), params, preset=preset
        )
        assert state.nu["phase"].dtype == jnp.complex128
        resumed, _ = _run(tx, params, state, 15, STEPS)
        for mine, theirs in zip(jax.tree.leaves(resumed), jax.tree.leaves(reference), strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)


def _ranger() -> Any:
    return radam_optax.ranger(0.05, sync_period=K, slow_step_size=ALPHA)


def test_a_ranger_run_resumes_exactly_from_the_file(tmp_path: Path) -> None:
    tx = optax.chain(optax.clip_by_global_norm(10.0), _ranger())
    params = _params(jnp.float32)
    reference, _ = _run(tx, params, tx.init(params), 1, STEPS)

    params, state = _run(tx, params, tx.init(params), 1, SPLIT)
    snapshot = radam_optax.export_state(state, params, lr=0.05, sync_period=K, slow_step_size=ALPHA)
    assert snapshot.lookahead is not None
    assert (snapshot.lookahead.k, snapshot.lookahead.alpha, snapshot.lookahead.count) == (
        K,
        ALPHA,
        SPLIT % K,
    )
    save_snapshot(snapshot, tmp_path / "r.safetensors")
    resumed_state = radam_optax.import_state(
        tx.init(params), load_snapshot(tmp_path / "r.safetensors"), params, sync_period=K
    )
    for mine, theirs in zip(jax.tree.leaves(resumed_state), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
    resumed, _ = _run(tx, params, resumed_state, SPLIT + 1, STEPS)
    for mine, theirs in zip(jax.tree.leaves(resumed), jax.tree.leaves(reference), strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_a_ranger_run_moves_from_optax_to_numpy_and_back() -> None:
    with jax.enable_x64(True):
        tx = _ranger()
        params = _params(jnp.float64)
        reference, _ = _run(tx, params, tx.init(params), 1, STEPS)

        params, state = _run(tx, params, tx.init(params), 1, SPLIT)
        snapshot = radam_optax.export_state(state, params, sync_period=K, slow_step_size=ALPHA)
        numpy_opt = radam_numpy.Ranger(
            [np.array(leaf) for leaf in jax.tree.leaves(params)],
            preset="optax",
            lr=0.05,
            k=K,
            alpha=ALPHA,
        )
        numpy_opt.import_state(snapshot, NAMES)
        structure = jax.tree.structure(params)
        for t in range(SPLIT + 1, 12):
            grads = _grads(jax.tree.unflatten(structure, numpy_opt.params), t)
            numpy_opt.step([np.asarray(g) for g in jax.tree.leaves(grads)])
        params = jax.tree.unflatten(structure, [jnp.asarray(a) for a in numpy_opt.params])
        state = radam_optax.import_state(
            tx.init(params), numpy_opt.export_state(NAMES), params, sync_period=K
        )
        resumed, _ = _run(tx, params, state, 12, STEPS)
        for mine, theirs in zip(jax.tree.leaves(resumed), jax.tree.leaves(reference), strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)


def test_lookahead_settings_that_do_not_fit_are_refused() -> None:
    tx = _ranger()
    params = _params(jnp.float32)
    params, state = _run(tx, params, tx.init(params), 1, 3)
    with pytest.raises(ValueError, match="holds a Lookahead state: pass its sync_period"):
        radam_optax.export_state(state, params)
    with pytest.raises(ValueError, match="pass its slow_step_size too"):
        radam_optax.export_state(state, params, sync_period=K)
    snapshot = radam_optax.export_state(state, params, sync_period=K, slow_step_size=ALPHA)
    with pytest.raises(ValueError, match="holds a Lookahead state: pass its sync_period"):
        radam_optax.import_state(state, snapshot, params)
    with pytest.raises(ValueError, match="Lookahead's k is 5 in the snapshot, 4 here"):
        radam_optax.import_state(state, snapshot, params, sync_period=4)
    with pytest.raises(ValueError, match="holds no Lookahead state"):
        radam_optax.import_state(state, snapshot.inner(), params, sync_period=K)
    plain = radam_optax.radam(0.05)
    plain_state = plain.init(params)
    with pytest.raises(ValueError, match="sync_period=5, but opt_state holds no Lookahead state"):
        radam_optax.import_state(plain_state, snapshot, params, sync_period=K)
    with pytest.raises(ValueError, match="the optimizer is not a Lookahead"):
        radam_optax.import_state(plain_state, snapshot, params)
    inner = radam_optax.import_state(plain_state, snapshot.inner(), params)
    assert int(inner.count) == 3
