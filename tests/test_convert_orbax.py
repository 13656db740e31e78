"""``radam convert`` with orbax checkpoint folders: to the snapshot and back, resumed exactly.

RAdam's state, and ranger's (Lookahead's count and slow weights too).

Runs in the ``recipes`` session, which installs ``orbax-checkpoint`` (not a default session).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.backend("recipes")

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")
ocp = pytest.importorskip("orbax.checkpoint")

import jax.numpy as jnp  # noqa: E402

import radam_optax  # noqa: E402
from radam_cli.main import main  # noqa: E402
from radam_core import LookaheadPosition, load_snapshot  # noqa: E402

STEPS, SPLIT = 12, 5


def _params() -> dict[str, Any]:
    rng = np.random.default_rng(1)
    return {
        "dense": {"kernel": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32)},
        "head": jnp.asarray(rng.normal(size=2), jnp.float32),
    }


@functools.cache
def _step(tx: Any) -> Any:
    @jax.jit
    def step(params: Any, state: Any, t: int) -> tuple[Any, Any]:
        grads = jax.tree.map(lambda p: jnp.sin(p + 0.1 * t), params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def _run(tx: Any, params: Any, state: Any, first: int, last: int) -> tuple[Any, Any]:
    for t in range(first, last + 1):
        params, state = _step(tx)(params, state, t)
    return params, state


def _save(path: Path, params: Any, opt_state: Any) -> None:
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path, {"params": params, "opt_state": opt_state})
    checkpointer.wait_until_finished()


@pytest.mark.parametrize("ranger", [False, True], ids=["radam", "ranger"])
def test_an_orbax_checkpoint_goes_to_a_snapshot_and_back_and_resumes_exactly(
    tmp_path: Path, ranger: bool
) -> None:
    k = 3  # ranger's: SPLIT is 2 updates into its second cycle
    inner = radam_optax.ranger(0.05, sync_period=k) if ranger else radam_optax.radam(0.05)
    tx = optax.chain(optax.clip_by_global_norm(10.0), inner)
    reference, _ = _run(tx, _params(), tx.init(_params()), 1, STEPS)
    params, state = _run(tx, _params(), tx.init(_params()), 1, SPLIT)
    _save(tmp_path / "run", params, state)

    options = ["--sync-period", str(k), "--slow-step-size", "0.5"] if ranger else []
    argv = ["convert", str(tmp_path / "run"), str(tmp_path / "run.safetensors"), *options]
    assert main(argv) == 0
    snapshot = load_snapshot(tmp_path / "run.safetensors")
    assert list(snapshot.parameters) == ["dense/kernel", "head"]
    assert {s.count for s in snapshot.parameters.values()} == {SPLIT}
    assert snapshot.lookahead == (LookaheadPosition(k, 0.5, SPLIT % k) if ranger else None)

    _save(tmp_path / "resume", params, tx.init(params))  # DST exists: written into
    assert main(["convert", str(tmp_path / "run.safetensors"), str(tmp_path / "resume")]) == 0
    target = {"params": params, "opt_state": tx.init(params)}
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
    restored = ocp.StandardCheckpointer().restore(tmp_path / "resume", abstract)
    assert int(restored["opt_state"][1].count) == (SPLIT % k if ranger else SPLIT)
    final, _ = _run(tx, restored["params"], restored["opt_state"], SPLIT + 1, STEPS)
    for mine, theirs in zip(jax.tree.leaves(final), jax.tree.leaves(reference), strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))
