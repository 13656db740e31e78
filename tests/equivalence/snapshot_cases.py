"""What the snapshot matrix runs (``test_snapshot_matrix.py``): the frameworks, the cases, the
seeded problem, and where each run's files go.

Every framework names the parameters ``NAMES`` (torch: the names given with the parameters;
optax: the paths of a dict pytree; Keras: variables made under ``keras.name_scope``; NumPy:
``names=``) and takes the same hyperparameters, in the torch convention. Ranger's cases cut
a k-cycle in the middle: the resumed run's first sync needs the slow weights and the position
the snapshot carries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import radam_core
from tests.equivalence.configs import Lookahead

FRAMEWORKS = ("numpy", "torch", "optax", "keras-tensorflow", "keras-jax", "keras-torch")
NAMES = ("dense/kernel", "dense/bias", "head", "scale")
SHAPES = ((3, 4), (4,), (5,), ())  # a 0-d parameter too
# Resumed at the last step below the rectification threshold (rho_6 > 5 > rho_5 at
# beta2 = 0.999): the resumed run's first step is the first rectified one.
STEPS, SPLIT = 9, 5
CONVENTION = "torch"
# lr is a float32 number: Keras keeps its learning rate in a float32 variable.
LR, BETAS, EPS = 2.0**-4, (0.9, 0.999), 1e-8
# Ranger: syncs after steps 3, 6 and 9, so the snapshot (after step 5) is one step short of one.
RANGER = Lookahead(k=3, alpha=0.5)
# What a worker prints when its snapshots are saved, reads before it resumes, prints when done.
STARTED, RESUME, RESUMED = "started", "resume", "resumed"


@dataclasses.dataclass(frozen=True)
class Case:
    """One configuration every framework runs.

    Attributes:
        kind: The optimizer: ``"radam"`` or ``"ranger"`` (Lookahead ``RANGER`` around RAdam).
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

    @property
    def lookahead(self) -> Lookahead | None:
        """Lookahead's k and alpha for Ranger, else None."""
        return RANGER if self.kind == "ranger" else None

    def preset(self) -> radam_core.Preset:
        """The convention every framework is given."""
        return radam_core.PRESETS[CONVENTION].replace(amsgrad=self.amsgrad)


CASES = tuple(
    Case("radam", amsgrad, dtype) for amsgrad in (False, True) for dtype in ("float64", "float32")
) + tuple(Case("ranger", False, dtype) for dtype in ("float64", "float32"))


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
