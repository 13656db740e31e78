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
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from radam_core import load_snapshot, save_snapshot
from tests.equivalence.snapshot_cases import (
    CASES,
    FRAMEWORKS,
    NAMES,
    RESUME,
    RESUMED,
    SPLIT,
    STARTED,
    problem,
    resume_file,
    snapshot_file,
    stacked,
    start_file,
)
from tests.equivalence.snapshot_frameworks import Optimizer, build, precision


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
