"""radam_optax's ranger in the framework-neutral snapshot: resumed in optax and in NumPy.

A run saved mid-cycle resumes with the same slow weights and position in the k-cycle: bit
for bit in optax, to float64 rounding in NumPy under x64 (1e-12 relative).
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
from radam_core import load_snapshot, save_snapshot  # noqa: E402

STEPS, SPLIT, K, ALPHA = 16, 8, 5, 0.6
NAMES = ["dense/bias", "dense/kernel"]  # jax.tree.leaves order: keys sorted


def _params(dtype: Any) -> dict[str, Any]:
    rng = np.random.default_rng(2)
    return {
        "dense": {
            "kernel": jnp.asarray(rng.normal(size=(3, 4)), dtype),
            "bias": jnp.asarray(rng.normal(size=4), dtype),
        }
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
