"""radam_optax's state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot], and back.

The [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState] is found wherever it sits in the
optimizer's state (alone, in ``optax.chain``, ``inject_hyperparams``, ``MultiSteps`` or
``lookahead``). Each parameter is named by its path in the params pytree, its keys joined with
``/`` (``{"dense": {"kernel": w}}`` gives ``"dense/kernel"``, as Keras names a variable), or by
``names`` in the order of ``jax.tree.leaves(params)``. optax keeps one count: every parameter
of a snapshot it resumes from must have taken as many steps. A bfloat16 state is written as
float32 (exactly) and read back as bfloat16; an imported array is placed with its parameter's
sharding, so a sharded run resumes sharded. Complex states are refused: optax's v is
``|g|^2`` of the complex gradient, which other frameworks do not keep.

optax's state does not hold the hyperparameters: pass the transformation's ``preset`` (and
``lr`` and the like, which the snapshot records) to both functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import radam_core
from radam_core import ParameterState, Snapshot
from radam_optax.transform import DEFAULT_PRESET, ScaleByRAdamState


def export_state(
    opt_state: Any,
    params: Any,
    *,
    preset: str | radam_core.Preset = DEFAULT_PRESET,
    names: Sequence[str] | None = None,
    **hyperparameters: Any,
) -> Snapshot:
    """The RAdam state inside ``opt_state`` as a snapshot (host copies).

    Args:
        opt_state: The optimizer's state, holding one ``ScaleByRAdamState``.
        params: The parameters (for their paths, and the leaves' order).
        preset: The transformation's convention.
        names: One name per leaf of ``params``; default: the paths (see the module).
        **hyperparameters: ``lr``, ``betas``, ... to record in the snapshot.

    Returns:
        The [`Snapshot`][radam_core.snapshot.Snapshot].

    Raises:
        ValueError: No ``ScaleByRAdamState`` in ``opt_state``, or more than one.
        TypeError: A complex state.
    """
    state = _radam_state(opt_state)
    keys = _names(params, names)
    count = int(state.count)
    moments = [jax.tree.leaves(tree) for tree in (state.mu, state.nu)]
    maxima = jax.tree.leaves(state.nu_max) if state.nu_max is not None else [None] * len(keys)
    return Snapshot(
        radam_core.hyperparameters_for(preset, **hyperparameters),
        {
            name: ParameterState(
                count, _neutral(m), _neutral(v), None if top is None else _neutral(top)
            )
            for name, m, v, top in zip(keys, *moments, maxima, strict=True)
        },
    )


def import_state(
    opt_state: Any,
    snapshot: Snapshot,
    params: Any,
    *,
    preset: str | radam_core.Preset = DEFAULT_PRESET,
    names: Sequence[str] | None = None,
) -> Any:
    """``opt_state`` with its RAdam state replaced by the snapshot's.

    Args:
        opt_state: The optimizer's state (from ``init``), holding one ``ScaleByRAdamState``.
        snapshot: The snapshot.
        params: The parameters; each imported array takes its parameter's sharding.
        preset: The transformation's convention, which must be the snapshot's.
        names: As for [`export_state`][radam_optax.snapshot.export_state].

    Returns:
        The new optimizer state (``opt_state`` itself is unchanged).

    Raises:
        ValueError: A snapshot that does not fit (names, shapes, dtypes, conventions, or
            parameters with different counts).
    """
    state = _radam_state(opt_state)
    keys = _names(params, names)
    leaves = jax.tree.leaves(params)
    mu = jax.tree.leaves(state.mu)
    snapshot.check(
        {name: (tuple(m.shape), _neutral_dtype(m.dtype)) for name, m in zip(keys, mu, strict=True)},
        radam_core.hyperparameters_for(preset),
    )
    counts = {snapshot.parameters[name].count for name in keys}
    if len(counts) > 1:
        raise ValueError(
            f"optax keeps one step count, but the snapshot's parameters have {sorted(counts)}"
        )
    saved = [snapshot.parameters[name] for name in keys]

    def placed(arrays: list[np.ndarray], like: list[Any]) -> list[Any]:
        return [
            jax.device_put(jnp.asarray(a, dtype=m.dtype), getattr(p, "sharding", None))
            for a, m, p in zip(arrays, like, leaves, strict=True)
        ]

    treedef = jax.tree.structure(state.mu)
    new = ScaleByRAdamState(
        count=jnp.asarray(counts.pop() if counts else 0, dtype=jnp.int32),
        mu=jax.tree.unflatten(treedef, placed([s.exp_avg for s in saved], mu)),
        nu=jax.tree.unflatten(treedef, placed([s.exp_avg_sq for s in saved], mu)),
        nu_max=None
        if state.nu_max is None
        else jax.tree.unflatten(
            treedef,
            placed([s.max_exp_avg_sq for s in saved], mu),  # type: ignore[misc]
        ),
    )
    return jax.tree.map(
        lambda node: new if isinstance(node, ScaleByRAdamState) else node,
        opt_state,
        is_leaf=lambda node: isinstance(node, ScaleByRAdamState),
    )


def _radam_state(opt_state: Any) -> ScaleByRAdamState:
    found = [
        node
        for node in jax.tree.leaves(opt_state, is_leaf=lambda n: isinstance(n, ScaleByRAdamState))
        if isinstance(node, ScaleByRAdamState)
    ]
    if len(found) != 1:
        raise ValueError(
            f"opt_state must hold exactly one radam_optax ScaleByRAdamState, it holds {len(found)}"
        )
    return found[0]


def _names(params: Any, names: Sequence[str] | None) -> list[str]:
    paths = jax.tree_util.tree_leaves_with_path(params)
    if names is None:
        return ["/".join(_key(k) for k in path) for path, _ in paths]
    names = list(names)
    if len(names) != len(paths) or len(set(names)) != len(names):
        raise ValueError(
            f"names must be {len(paths)} distinct names, one per leaf of params, got {names}"
        )
    return names


def _key(key: Any) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def _neutral(array: Any) -> np.ndarray:
    if jnp.iscomplexobj(array):
        raise TypeError(
            "a snapshot does not hold complex optax states: optax's v is |g|^2 of the complex "
            "gradient, which other frameworks do not keep"
        )
    host = np.asarray(jax.device_get(array))
    return host.astype(_neutral_dtype(array.dtype), copy=True)


def _neutral_dtype(dtype: Any) -> np.dtype[Any]:
    return np.dtype(np.float32) if dtype == jnp.bfloat16 else np.dtype(dtype)
