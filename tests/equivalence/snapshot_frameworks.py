"""Each framework's optimizer behind one interface, for the snapshot matrix's worker.

Each class builds the case's kind: RAdam, or Ranger (Lookahead ``RANGER`` around RAdam), whose
snapshot carries the slow weights and the position in the k-cycle.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from radam_core import Snapshot
from tests.equivalence.snapshot_cases import BETAS, EPS, LR, NAMES, RANGER, Case


class Optimizer(Protocol):
    """One framework's optimizer over its own copies of the parameters ``NAMES``."""

    def step(self, grads: list[np.ndarray]) -> None:
        """One step with ``grads`` (NumPy, in the case's dtype)."""

    def params(self) -> list[np.ndarray]:
        """Copies of the parameters."""

    def export_state(self) -> Snapshot:
        """The state, through the adapter's ``export_state``."""

    def import_state(self, snapshot: Snapshot) -> None:
        """Replace the state, through the adapter's ``import_state``."""


class NumpyOptimizer:
    """radam_numpy.RAdam or Ranger."""

    def __init__(self, case: Case, params: list[np.ndarray]) -> None:
        import radam_numpy

        options = {"preset": case.preset(), "lr": LR, "betas": BETAS, "eps": EPS}
        copies = [p.copy() for p in params]
        self.opt: Any = (
            radam_numpy.Ranger(copies, k=RANGER.k, alpha=RANGER.alpha, **options)
            if case.lookahead
            else radam_numpy.RAdam(copies, **options)
        )

    def step(self, grads: list[np.ndarray]) -> None:
        self.opt.step(grads)

    def params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.opt.params]

    def export_state(self) -> Snapshot:
        return self.opt.export_state(NAMES)

    def import_state(self, snapshot: Snapshot) -> None:
        self.opt.import_state(snapshot, NAMES)


class TorchOptimizer:
    """radam_torch.RAdam or Ranger over ``(name, parameter)`` pairs."""

    def __init__(self, case: Case, params: list[np.ndarray]) -> None:
        import radam_torch
        import torch

        self.named = [
            (name, torch.nn.Parameter(torch.from_numpy(p.copy())))
            for name, p in zip(NAMES, params, strict=True)
        ]
        options = {"preset": case.preset(), "lr": LR, "betas": BETAS, "eps": EPS}
        params_only = [p for _, p in self.named]
        self.opt: Any = (
            radam_torch.Ranger(params_only, k=RANGER.k, alpha=RANGER.alpha, **options)
            if case.lookahead
            else radam_torch.RAdam(params_only, **options)
        )

    def step(self, grads: list[np.ndarray]) -> None:
        import torch

        for (_, param), grad in zip(self.named, grads, strict=True):
            param.grad = torch.from_numpy(grad.copy())
        self.opt.step()

    def params(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for _, p in self.named]

    def export_state(self) -> Snapshot:
        return self.opt.export_state(self.named)

    def import_state(self, snapshot: Snapshot) -> None:
        self.opt.import_state(snapshot, self.named)


class OptaxOptimizer:
    """radam_optax.radam or ranger over a dict pytree whose paths are ``NAMES``, its step jitted."""

    def __init__(self, case: Case, params: list[np.ndarray]) -> None:
        import jax

        self.case = case
        self.tx, self._step = _optax_step(case)
        self.tree = _tree([jax.numpy.asarray(p) for p in params])
        self.state = self.tx.init(self.tree)

    def step(self, grads: list[np.ndarray]) -> None:
        self.tree, self.state = self._step(self.tree, self.state, _tree(grads))

    def params(self) -> list[np.ndarray]:
        return [np.array(leaf) for leaf in _leaves(self.tree)]

    def export_state(self) -> Snapshot:
        import radam_optax

        lookahead = (
            {"sync_period": RANGER.k, "slow_step_size": RANGER.alpha} if self.case.lookahead else {}
        )
        return radam_optax.export_state(
            self.state,
            self.tree,
            preset=self.case.preset(),
            lr=LR,
            betas=BETAS,
            eps=EPS,
            **lookahead,
        )

    def import_state(self, snapshot: Snapshot) -> None:
        import radam_optax

        fresh = self.tx.init(self.tree)
        self.state = radam_optax.import_state(
            fresh,
            snapshot,
            self.tree,
            preset=self.case.preset(),
            sync_period=RANGER.k if self.case.lookahead else None,
        )


@functools.cache
def _optax_step(case: Case) -> tuple[Any, Any]:
    """The transformation of ``case`` and its jitted step, compiled once per case."""
    import jax
    import optax

    import radam_optax

    tx = (
        radam_optax.ranger(
            LR,
            BETAS[0],
            BETAS[1],
            EPS,
            sync_period=RANGER.k,
            slow_step_size=RANGER.alpha,
            preset=case.preset(),
        )
        if case.lookahead
        else radam_optax.radam(LR, BETAS[0], BETAS[1], EPS, preset=case.preset())
    )

    def step(params: Any, state: Any, grads: Any) -> tuple[Any, Any]:
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return tx, jax.jit(step)


def _tree(arrays: Sequence[Any]) -> dict[str, Any]:
    """A dict pytree with the arrays at the paths ``NAMES``."""
    tree: dict[str, Any] = {}
    for name, array in zip(NAMES, arrays, strict=True):
        *scopes, leaf = name.split("/")
        node = tree
        for scope in scopes:
            node = node.setdefault(scope, {})
        node[leaf] = array
    return tree


def _leaves(tree: dict[str, Any]) -> list[Any]:
    """The arrays of a :func:`_tree`, in the order of ``NAMES``."""
    leaves = []
    for name in NAMES:
        node: Any = tree
        for key in name.split("/"):
            node = node[key]
        leaves.append(node)
    return leaves


class KerasOptimizer:
    """radam_keras.RAdam or Ranger over variables made under ``keras.name_scope`` (``NAMES``)."""

    def __init__(self, case: Case, params: list[np.ndarray]) -> None:
        import keras
        import radam_keras

        self.variables = []
        for name, value in zip(NAMES, params, strict=True):
            *scopes, leaf = name.split("/")
            with contextlib.ExitStack() as scope:
                for part in scopes:
                    scope.enter_context(keras.name_scope(part))
                self.variables.append(keras.Variable(value, dtype=case.dtype, name=leaf))
        options = {
            "learning_rate": LR,
            "beta_1": BETAS[0],
            "beta_2": BETAS[1],
            "epsilon": EPS,
            "preset": case.preset(),
        }
        self.opt: Any = (
            radam_keras.Ranger(k=RANGER.k, alpha=RANGER.alpha, **options)
            if case.lookahead
            else radam_keras.RAdam(**options)
        )

    def step(self, grads: list[np.ndarray]) -> None:
        self.opt.apply(grads, self.variables)

    def params(self) -> list[np.ndarray]:
        import keras

        return [np.array(keras.ops.convert_to_numpy(v.value)) for v in self.variables]

    def export_state(self) -> Snapshot:
        return self.opt.export_state(self.variables)

    def import_state(self, snapshot: Snapshot) -> None:
        self.opt.import_state(snapshot, self.variables)


def build(framework: str, case: Case, params: list[np.ndarray]) -> Optimizer:
    """A fresh optimizer of ``framework`` for ``case`` over copies of ``params``."""
    if case.kind not in ("radam", "ranger"):
        raise ValueError(f"unknown optimizer kind {case.kind!r}")
    if framework.startswith("keras-"):
        return KerasOptimizer(case, params)
    classes: dict[str, type[Optimizer]] = {
        "numpy": NumpyOptimizer,
        "torch": TorchOptimizer,
        "optax": OptaxOptimizer,
    }
    return classes[framework](case, params)


@contextlib.contextmanager
def precision(framework: str, case: Case) -> Iterator[None]:
    """JAX's x64 for a float64 case on JAX (optax, Keras's JAX backend); a no-op otherwise."""
    if framework in ("optax", "keras-jax"):
        import jax

        with jax.enable_x64(case.dtype == "float64"):
            yield
    else:
        yield
