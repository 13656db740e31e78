"""radam_optax's state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot], and back.

The [`ScaleByRAdamState`][radam_optax.ScaleByRAdamState] is found wherever it sits in the
optimizer's state (alone, in ``optax.chain``, ``inject_hyperparams``, ``MultiSteps`` or
``lookahead``). Each parameter is named by its path in the params pytree, its keys joined with
``/`` (``{"dense": {"kernel": w}}`` gives ``"dense/kernel"``, as Keras names a variable), or by
``names`` in the order of ``jax.tree.leaves(params)``. optax keeps one count: every parameter
of a snapshot it resumes from must have taken as many steps. A bfloat16 state is written as
float32 (exactly) and read back as bfloat16; an imported array is placed with its parameter's
sharding, so a sharded run resumes sharded. A complex parameter's state is in optax's
convention (v of ``|g|^2``; see [`radam_core.snapshot`][radam_core.snapshot]): it moves to
radam_numpy and radam_keras, not to torch, whose convention differs.

optax's state does not hold the hyperparameters: pass the transformation's ``preset`` (and
``lr`` and the like, which the snapshot records) to both functions. Around
[`lookahead`][radam_optax.lookahead.lookahead] ([`ranger`][radam_optax.ranger]), the state's
[`LookaheadTransformState`][radam_optax.LookaheadTransformState] moves too (its count and slow
weights); pass its ``sync_period`` (and, to export, ``slow_step_size``), which the state does
not hold either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import radam_core
from radam_core import LookaheadPosition, ParameterState, Snapshot
from radam_optax.lookahead import LookaheadTransformState
from radam_optax.transform import DEFAULT_PRESET, ScaleByRAdamState


def export_state(
    opt_state: Any,
    params: Any,
    *,
    preset: str | radam_core.Preset = DEFAULT_PRESET,
    names: Sequence[str] | None = None,
    sync_period: int | None = None,
    slow_step_size: float | None = None,
    **hyperparameters: Any,
) -> Snapshot:
    """The RAdam state inside ``opt_state`` as a snapshot (host copies).

    Args:
        opt_state: The optimizer's state, holding one ``ScaleByRAdamState``.
        params: The parameters (for their paths, and the leaves' order).
        preset: The transformation's convention.
        names: One name per leaf of ``params``; default: the paths (see the module).
        sync_period: Lookahead's k, when ``opt_state`` holds a ``LookaheadTransformState``.
        slow_step_size: Lookahead's alpha, likewise.
        **hyperparameters: ``lr``, ``betas``, ... to record in the snapshot.

    Returns:
        The [`Snapshot`][radam_core.snapshot.Snapshot].

    Raises:
        ValueError: No ``ScaleByRAdamState`` in ``opt_state``, or more than one; a
            Lookahead state without ``sync_period`` and ``slow_step_size``, or those
            without one.
    """
    state = _radam_state(opt_state)
    lookahead = _lookahead_state(opt_state, sync_period)
    keys = _names(params, names)
    count = int(state.count)
    moments = [jax.tree.leaves(tree) for tree in (state.mu, state.nu)]
    maxima = jax.tree.leaves(state.nu_max) if state.nu_max is not None else [None] * len(keys)
    parameters = {}
    for name, m, v, top in zip(keys, *moments, maxima, strict=True):
        arrays = (count, _host(m), _host(v), None if top is None else _host(top))
        complex_param = jnp.iscomplexobj(m)
        parameters[name] = (
            ParameterState.of_complex(*arrays) if complex_param else ParameterState(*arrays)
        )
    snapshot = Snapshot(radam_core.hyperparameters_for(preset, **hyperparameters), parameters)
    if lookahead is None:
        return snapshot
    if slow_step_size is None:
        raise ValueError("opt_state holds a Lookahead state: pass its slow_step_size too")
    position = LookaheadPosition(sync_period, slow_step_size, int(lookahead.count))  # type: ignore[arg-type]
    slow = [_host(phi) for phi in jax.tree.leaves(lookahead.slow)]
    return snapshot.with_lookahead(position, dict(zip(keys, slow, strict=True)))


def import_state(
    opt_state: Any,
    snapshot: Snapshot,
    params: Any,
    *,
    preset: str | radam_core.Preset = DEFAULT_PRESET,
    names: Sequence[str] | None = None,
    sync_period: int | None = None,
) -> Any:
    """``opt_state`` with its RAdam state (and Lookahead's) replaced by the snapshot's.

    Args:
        opt_state: The optimizer's state (from ``init``), holding one ``ScaleByRAdamState``.
        snapshot: The snapshot.
        params: The parameters; each imported array takes its parameter's sharding.
        preset: The transformation's convention, which must be the snapshot's.
        names: As for [`export_state`][radam_optax.snapshot.export_state].
        sync_period: Lookahead's k, when ``opt_state`` holds a ``LookaheadTransformState``;
            it must be the snapshot's.

    Returns:
        The new optimizer state (``opt_state`` itself is unchanged).

    Raises:
        ValueError: A snapshot that does not fit (names, shapes, dtypes, conventions,
            parameters with different counts, Lookahead's state or k); a Lookahead state
            without ``sync_period``, or one without the other.
    """
    state = _radam_state(opt_state)
    lookahead = _lookahead_state(opt_state, sync_period)
    keys = _names(params, names)
    leaves = jax.tree.leaves(params)
    mu = jax.tree.leaves(state.mu)
    snapshot.check(
        {name: (tuple(m.shape), _neutral_dtype(m.dtype)) for name, m in zip(keys, mu, strict=True)},
        radam_core.hyperparameters_for(preset),
        k=sync_period,
        complex_names=[name for name, m in zip(keys, mu, strict=True) if jnp.iscomplexobj(m)],
    )
    counts = {snapshot.parameters[name].count for name in keys}
    if len(counts) > 1:
        raise ValueError(
            f"optax keeps one step count, but the snapshot's parameters have {sorted(counts)}"
        )
    saved = [snapshot.parameters[name] for name in keys]
    slots = [state.complex_slots() if state.is_complex else state.slots() for state in saved]

    def placed(arrays: list[np.ndarray], like: list[Any]) -> list[Any]:
        return [
            jax.device_put(jnp.asarray(a, dtype=m.dtype), getattr(p, "sharding", None))
            for a, m, p in zip(arrays, like, leaves, strict=True)
        ]

    treedef = jax.tree.structure(state.mu)
    new = ScaleByRAdamState(
        count=jnp.asarray(counts.pop() if counts else 0, dtype=jnp.int32),
        mu=jax.tree.unflatten(treedef, placed([s["exp_avg"] for s in slots], mu)),
        nu=jax.tree.unflatten(treedef, placed([s["exp_avg_sq"] for s in slots], mu)),
        nu_max=None
        if state.nu_max is None
        else jax.tree.unflatten(treedef, placed([s["max_exp_avg_sq"] for s in slots], mu)),
    )
    opt_state = _replace(opt_state, ScaleByRAdamState, new)
    if lookahead is None or snapshot.lookahead is None:
        return opt_state
    (current,) = _nodes(opt_state, LookaheadTransformState)  # holding the new RAdam state
    slow = placed([s["slow"] for s in slots], leaves)
    return _replace(
        opt_state,
        LookaheadTransformState,
        current._replace(
            count=jnp.asarray(snapshot.lookahead.count, dtype=lookahead.count.dtype),
            slow=jax.tree.unflatten(jax.tree.structure(lookahead.slow), slow),
        ),
    )


def _replace(tree: Any, kind: type, new: Any) -> Any:
    """``tree`` with its node of type ``kind`` replaced by ``new``."""
    return jax.tree.map(
        lambda node: new if isinstance(node, kind) else node,
        tree,
        is_leaf=lambda node: isinstance(node, kind),
    )


def _radam_state(opt_state: Any) -> ScaleByRAdamState:
    found = _nodes(opt_state, ScaleByRAdamState)
    if len(found) != 1:
        raise ValueError(
            f"opt_state must hold exactly one radam_optax ScaleByRAdamState, it holds {len(found)}"
        )
    return found[0]


def _lookahead_state(opt_state: Any, sync_period: int | None) -> LookaheadTransformState | None:
    """The one ``LookaheadTransformState`` in ``opt_state`` (or None), given ``sync_period``."""
    found = _nodes(opt_state, LookaheadTransformState)
    if len(found) > 1:
        raise ValueError(
            f"opt_state holds {len(found)} radam_optax Lookahead states; a snapshot holds one"
        )
    if found and sync_period is None:
        raise ValueError("opt_state holds a Lookahead state: pass its sync_period")
    if not found and sync_period is not None:
        raise ValueError(f"sync_period={sync_period!r}, but opt_state holds no Lookahead state")
    return found[0] if found else None


def _nodes(tree: Any, kind: type) -> list[Any]:
    """The nodes of type ``kind`` in ``tree``, outermost first."""
    return [
        node
        for node in jax.tree.leaves(tree, is_leaf=lambda n: isinstance(n, kind))
        if isinstance(node, kind)
    ]


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


def _host(array: Any) -> np.ndarray:
    """A host copy of a state array: bfloat16 as float32 (exactly), others as they are."""
    host = np.asarray(jax.device_get(array))
    return host.astype(np.float32 if array.dtype == jnp.bfloat16 else host.dtype, copy=True)


def _neutral_dtype(dtype: Any) -> np.dtype[Any]:
    """The dtype of a state of ``dtype`` in a snapshot: float32 for bfloat16, else real."""
    if dtype == jnp.bfloat16:
        return np.dtype(np.float32)
    return np.finfo(np.dtype(dtype)).dtype
