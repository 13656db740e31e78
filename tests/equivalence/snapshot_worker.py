"""One framework's part of the snapshot matrix (``test_snapshot_matrix.py``), in its own process.

``python -m tests.equivalence.snapshot_worker FRAMEWORK DIRECTORY``, with
``DIRECTORY/problem.npz`` (from ``write_problem``: the initial parameters and every step's
gradients, float64), runs in two phases, so that each framework is imported once:

1. start: for every ``Case``, the uninterrupted run of all ``STEPS`` steps (its trajectory),
   and a run of the first ``SPLIT`` steps whose state is saved with
   ``radam_core.save_snapshot`` (and its parameters then); then it prints ``started`` and
   waits for a ``resume`` line on stdin, sent once every framework has started;
2. resume: for every case and every framework's saved run, a fresh optimizer in this
   framework over that run's parameters, the snapshot imported, and the remaining steps
   (their trajectory); then it prints ``resumed``.

Every framework names the parameters ``NAMES`` (torch: the names given with the parameters;
optax: the paths of a dict pytree; Keras: variables made under ``keras.name_scope``; NumPy:
``names=``) and takes the same hyperparameters, in the torch convention. An optimizer kind
other than RAdam (Ranger, with Lookahead's state) is a new ``Case.kind`` that each
framework's class builds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

import radam_core
from radam_core import Snapshot, load_snapshot, save_snapshot

FRAMEWORKS = ("numpy", "torch", "optax", "keras-tensorflow", "keras-jax", "keras-torch")
NAMES = ("dense/kernel", "dense/bias", "head", "scale")
SHAPES = ((3, 4), (4,), (5,), ())  # a 0-d parameter too
# Resumed at the last step below the rectification threshold (rho_6 > 5 > rho_5 at
# beta2 = 0.999): the resumed run's first step is the first rectified one.
STEPS, SPLIT = 9, 5
CONVENTION = "torch"
# lr is a float32 number: Keras keeps its learning rate in a float32 variable.
LR, BETAS, EPS = 2.0**-4, (0.9, 0.999), 1e-8
# What a worker prints when its snapshots are saved, reads before it resumes, prints when done.
STARTED, RESUME, RESUMED = "started", "resume", "resumed"


@dataclasses.dataclass(frozen=True)
class Case:
    """One configuration every framework runs.

    Attributes:
        kind: The optimizer: ``"radam"``.
        amsgrad: The convention's amsgrad.
        dtype: ``"float32"`` or ``"float64"``, of the parameters and the state.
    """

    kind: str
    amsgrad: bool
    dtype: str

    @property
    def name(self) -> str:
        """``radam-amsgrad-float32`` and the like."""
        return f"{self.kind}-{'amsgrad' if self.amsgrad else 'plain'}-{self.dtype}"

    def preset(self) -> radam_core.Preset:
        """The convention every framework is given."""
        return radam_core.PRESETS[CONVENTION].replace(amsgrad=self.amsgrad)


CASES = tuple(
    Case("radam", amsgrad, dtype) for amsgrad in (False, True) for dtype in ("float64", "float32")
)


def snapshot_file(directory: Path, framework: str, case: Case) -> Path:
    """Where ``framework``'s run of ``case`` saves its state after ``SPLIT`` steps."""
    return directory / f"{framework}.{case.name}.safetensors"


def start_file(directory: Path, framework: str, case: Case) -> Path:
    """``framework``'s uninterrupted trajectory of ``case`` and its parameters at the split."""
    return directory / f"{framework}.{case.name}.start.npz"


def resume_file(directory: Path, source: str, target: str, case: Case) -> Path:
    """The trajectory of ``target`` resumed from ``source``'s snapshot."""
    return directory / f"{source}-to-{target}.{case.name}.npz"


def stacked(trajectory: Sequence[Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
    """``trajectory[t][i]`` as one array per parameter, keyed by its index (for ``np.savez``)."""
    return {str(i): np.stack([step[i] for step in trajectory]) for i in range(len(NAMES))}


def unstacked(arrays: Any) -> list[list[np.ndarray]]:
    """The inverse of :func:`stacked` (from ``np.load``)."""
    return _steps([arrays[str(i)] for i in range(len(NAMES))])


def _steps(per_parameter: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Arrays of shape ``(steps, *shape)``, one per parameter, as ``steps[t][i]`` (0-d kept)."""
    count = len(per_parameter[0])
    return [[np.asarray(array[t]) for array in per_parameter] for t in range(count)]


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
    """radam_numpy.RAdam."""

    def __init__(self, case: Case, params: list[np.ndarray]) -> None:
        import radam_numpy

        self.opt = radam_numpy.RAdam(
            [p.copy() for p in params], preset=case.preset(), lr=LR, betas=BETAS, eps=EPS
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
    """radam_torch.RAdam over ``(name, parameter)`` pairs."""

    def __init__(self, case: Case, params: list[np.ndarray]) -> None:
        import radam_torch
        import torch

        self.named = [
            (name, torch.nn.Parameter(torch.from_numpy(p.copy())))
            for name, p in zip(NAMES, params, strict=True)
        ]
        self.opt = radam_torch.RAdam(
            [p for _, p in self.named], preset=case.preset(), lr=LR, betas=BETAS, eps=EPS
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
    """radam_optax.radam over a dict pytree whose paths are ``NAMES``, its step jitted."""

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

        return radam_optax.export_state(
            self.state, self.tree, preset=self.case.preset(), lr=LR, betas=BETAS, eps=EPS
        )

    def import_state(self, snapshot: Snapshot) -> None:
        import radam_optax

        fresh = self.tx.init(self.tree)
        self.state = radam_optax.import_state(fresh, snapshot, self.tree, preset=self.case.preset())


@functools.cache
def _optax_step(case: Case) -> tuple[Any, Any]:
    """The transformation of ``case`` and its jitted step, compiled once per case."""
    import jax
    import optax

    import radam_optax

    tx = radam_optax.radam(LR, BETAS[0], BETAS[1], EPS, preset=case.preset())

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
    """radam_keras.RAdam over variables made under ``keras.name_scope``: paths ``NAMES``."""

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
        self.opt = radam_keras.RAdam(
            learning_rate=LR, beta_1=BETAS[0], beta_2=BETAS[1], epsilon=EPS, preset=case.preset()
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
    if case.kind != "radam":
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


def run(optimizer: Optimizer, grads: Sequence[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Step through ``grads``; the parameters after each step."""
    trajectory = []
    for step_grads in grads:
        optimizer.step(step_grads)
        trajectory.append(optimizer.params())
    return trajectory


def start(framework: str, directory: Path) -> None:
    """Every case's uninterrupted run, and its first ``SPLIT`` steps saved as a snapshot."""
    for case in CASES:
        initial, grads = problem(directory, case)
        with precision(framework, case):
            uninterrupted = run(build(framework, case, initial), grads)
            first = build(framework, case, initial)
            at_split = run(first, grads[:SPLIT])[-1]
            save_snapshot(first.export_state(), snapshot_file(directory, framework, case))
        np.savez(
            start_file(directory, framework, case),
            **stacked(uninterrupted),
            **{f"split{i}": p for i, p in enumerate(at_split)},
        )


def resume(framework: str, directory: Path) -> None:
    """Every case resumed from every framework's snapshot, and run to the end."""
    for case in CASES:
        _, grads = problem(directory, case)
        for source in FRAMEWORKS:
            with np.load(start_file(directory, source, case)) as saved:
                at_split = [saved[f"split{i}"] for i in range(len(NAMES))]
            snapshot = load_snapshot(snapshot_file(directory, source, case))
            with precision(framework, case):
                resumed = build(framework, case, at_split)
                resumed.import_state(snapshot)
                trajectory = run(resumed, grads[SPLIT:])
            np.savez(resume_file(directory, source, framework, case), **stacked(trajectory))


def write_problem(directory: Path, seed: int = 0) -> None:
    """``directory/problem.npz``: seeded initial parameters and every step's gradients.

    The gradients are large for two steps, then a hundred times smaller: v falls from step 3
    on while max v stays, so that with amsgrad the maximum is state of its own.
    """
    rng = np.random.default_rng(seed)
    scale = np.where(np.arange(1, STEPS + 1) <= 2, 1.0, 0.01)
    arrays = {}
    for i, shape in enumerate(SHAPES):
        arrays[f"initial{i}"] = rng.normal(size=shape)
        grads = rng.normal(size=(STEPS, *shape))
        arrays[f"grads{i}"] = grads * scale.reshape(-1, *(1,) * len(shape))
    np.savez(directory / "problem.npz", **arrays)


def problem(directory: Path, case: Case) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """The initial parameters and each step's gradients, in the case's dtype."""
    with np.load(directory / "problem.npz") as arrays:
        initial = [arrays[f"initial{i}"].astype(case.dtype) for i in range(len(NAMES))]
        per_parameter = [arrays[f"grads{i}"].astype(case.dtype) for i in range(len(NAMES))]
    return initial, _steps(per_parameter)


def main(argv: Sequence[str]) -> None:
    """``FRAMEWORK DIRECTORY``: start, print ``started``, resume once told ``resume``."""
    if len(argv) != 2 or argv[0] not in FRAMEWORKS:
        raise SystemExit(f"usage: FRAMEWORK (one of {', '.join(FRAMEWORKS)}) DIRECTORY")
    framework, directory = argv[0], Path(argv[1])
    start(framework, directory)
    print(STARTED, flush=True)
    if sys.stdin.readline().strip() != RESUME:
        raise SystemExit(f"{framework}: expected {RESUME!r} on stdin")
    resume(framework, directory)
    print(RESUMED, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
