"""radam_optax on parameters sharded over a mesh of 8 host devices, against one device.

JAX fixes its device count when it starts, so the run is a fresh interpreter with
``XLA_FLAGS=--xla_force_host_platform_device_count=8`` that reports JSON back. The parameters
are sharded over a 4 x 2 ``jax.sharding.Mesh`` (a matrix over both axes, a vector over one).
The step is elementwise, so the sharded and the single-device trajectories are equal bit for
bit, every state leaf keeps its parameter's sharding, and the compiled step moves no data
between devices (no collective in its HLO).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.script_runner import run_json_script

pytestmark = pytest.mark.backend("jax")
pytest.importorskip("optax")

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec
    import radam_optax

    make = {
        "radam": lambda: radam_optax.radam(1e-2, weight_decay=0.01),
        "ranger": lambda: radam_optax.ranger(1e-2, sync_period=3),
    }[sys.argv[1]]
    mesh = Mesh(np.array(jax.devices()).reshape(4, 2), ("data", "model"))
    rng = np.random.default_rng(0)
    params = {
        "w": jnp.asarray(rng.normal(size=(64, 32)), jnp.float32),
        "b": jnp.asarray(rng.normal(size=32), jnp.float32),
    }
    specs = {"w": PartitionSpec("data", "model"), "b": PartitionSpec("model")}
    sharded = jax.device_put(params, {k: NamedSharding(mesh, s) for k, s in specs.items()})

    def loss(p):
        return jnp.sum(jnp.sin(p["w"]) ** 2) + jnp.sum((p["b"] - 1.0) ** 2)

    tx = make()

    @jax.jit
    def step(p, s):
        updates, s = tx.update(jax.grad(loss)(p), s, p)
        return optax.apply_updates(p, updates), s

    def matches(tree):
        # (leaves shaped like a parameter, those whose sharding is that parameter's)
        checked = kept = 0
        for leaf in jax.tree.leaves(tree):
            for name, param in sharded.items():
                if leaf.shape == param.shape:
                    checked += 1
                    kept += leaf.sharding.is_equivalent_to(param.sharding, leaf.ndim)
        return checked, kept

    state = jax.jit(tx.init)(sharded)
    hlo = step.lower(sharded, state).compile().as_text()
    single_params, single_state = params, tx.init(params)
    for _ in range(10):
        sharded, state = step(sharded, state)
        single_params, single_state = step(single_params, single_state)
    json.dump(
        {
            "devices": len(jax.devices()),
            "state_leaves": matches(state),
            "param_devices": {k: len(v.sharding.device_set) for k, v in sharded.items()},
            "params_kept": [
                sharded[k].sharding.is_equivalent_to(NamedSharding(mesh, s), sharded[k].ndim)
                for k, s in specs.items()
            ],
            "collectives": [
                op for op in ("all-gather", "all-reduce", "all-to-all", "collective-permute")
                if op in hlo
            ],
            "difference": max(
                float(jnp.max(jnp.abs(sharded[k] - single_params[k]))) for k in params
            ),
            "state_difference": max(
                float(jnp.max(jnp.abs(a - b)))
                for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(single_state))
            ),
        },
        sys.stdout,
    )
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["radam", "ranger"])
def test_sharded_parameters_keep_their_shardings_and_the_single_device_trajectory(
    tmp_path: Path, optimizer: str
) -> None:
    result = run_json_script(
        SCRIPT,
        [optimizer],
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "JAX_PLATFORMS": "cpu"},
        tmp_path,
    )
    assert result["devices"] == 8
    checked, kept = result["state_leaves"]
    assert checked >= (6 if optimizer == "ranger" else 4)  # m, v (and slow weights) of w and b
    assert kept == checked
    assert result["param_devices"] == {"w": 8, "b": 8}
    assert all(result["params_kept"])
    assert result["collectives"] == []
    assert result["difference"] == 0.0
    assert result["state_difference"] == 0.0
