"""A run saved in any framework resumes in any other: the snapshot matrix.

Six frameworks (radam_numpy, radam_torch, radam_optax, radam_keras on TensorFlow, JAX and
torch), each in a fresh interpreter (Keras picks its backend once per process), run the same
seeded problem (:mod:`tests.equivalence.snapshot_cases`) in the torch convention, with and
without amsgrad, and as Ranger (Lookahead around RAdam, cut mid-cycle), in float64 and
float32. Each saves its state after the last step below the
rectification threshold; each then resumes every framework's file, its own included, and
takes the remaining steps, the first of them rectified. Every resumed trajectory is judged
against the float64 oracle fed the same gradients (:mod:`tests.equivalence.reference`):
float64 within 1e-12 relative, float32 within the float32 error bound of a run in one
framework (:mod:`tests.equivalence.float32_bound`), at every step and element. A run resumed
in its own framework equals its uninterrupted run bit for bit.

The judgement has teeth where a snapshot could go wrong: the oracle resumed with its count
restarted, its moments lost, or (amsgrad) its max v replaced by v fails it, in float32 too.
"""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tests import oracle
from tests.equivalence.compare import FLOAT64_RTOL, StepBound, compare_trajectories
from tests.equivalence.float32_bound import Float32ErrorBound
from tests.equivalence.reference import OracleLookahead, Trajectory, oracle_replay
from tests.equivalence.snapshot_cases import (
    BETAS,
    CASES,
    CONVENTION,
    EPS,
    FRAMEWORKS,
    LR,
    NAMES,
    RANGER,
    RESUME,
    RESUMED,
    SPLIT,
    STARTED,
    Case,
    problem,
    resume_file,
    start_file,
    unstacked,
    write_problem,
)
from tests.script_runner import REPO, script_environment

TIMEOUT = 600


def _run_workers(directory: Path) -> None:
    """Every framework's worker at once: all start, then all resume (each imported once).

    A worker still running after ``TIMEOUT`` seconds is killed, and the test fails with
    its stderr.
    """
    with contextlib.ExitStack() as stack:
        workers = {}
        for framework in FRAMEWORKS:
            stderr = stack.enter_context((directory / f"{framework}.stderr").open("w"))
            command = [sys.executable, "-m", "tests.equivalence.snapshot_worker", framework]
            workers[framework] = worker = subprocess.Popen(
                [*command, str(directory)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                cwd=REPO,
                env=script_environment(_backend(framework)),
            )
            stack.enter_context(worker)  # on exit: its pipes closed, and waited for
            stack.callback(_kill_if_running, worker)
        timer = threading.Timer(TIMEOUT, lambda: [_kill_if_running(w) for w in workers.values()])
        timer.start()
        stack.callback(timer.cancel)
        for framework, worker in workers.items():
            _expect(directory, framework, worker, STARTED)
        for worker in workers.values():
            assert worker.stdin is not None
            worker.stdin.write(RESUME + "\n")
            worker.stdin.close()
        for framework, worker in workers.items():
            _expect(directory, framework, worker, RESUMED)
            assert worker.wait() == 0, _stderr(directory, framework)


def _backend(framework: str) -> dict[str, str]:
    """``KERAS_BACKEND`` for a Keras framework."""
    keras, _, backend = framework.partition("keras-")
    return {"KERAS_BACKEND": backend} if backend and not keras else {}


def _kill_if_running(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.kill()


def _expect(directory: Path, framework: str, worker: subprocess.Popen, line: str) -> None:
    """Read the worker's stdout up to ``line``; its stderr if it ends first."""
    assert worker.stdout is not None
    for printed in worker.stdout:
        if printed.strip() == line:
            return
    worker.wait()
    raise AssertionError(f"{framework} ended before {line!r}: {_stderr(directory, framework)}")


def _stderr(directory: Path, framework: str) -> str:
    return (directory / f"{framework}.stderr").read_text()[-4000:]


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder with every framework's snapshots and trajectories."""
    path = tmp_path_factory.mktemp("snapshot_matrix")
    write_problem(path)
    _run_workers(path)
    return path


def _hyperparameters(case: Case) -> dict:
    return oracle.resolve(CONVENTION, lr=LR, betas=BETAS, eps=EPS, amsgrad=case.amsgrad)


@functools.cache
def _reference(directory: Path, case: Case) -> tuple[Trajectory, list[StepBound]]:
    """The oracle's trajectory of ``case`` and each step's bound."""
    initial, grads = problem(directory, case)
    hp = _hyperparameters(case)
    expected = oracle_replay(initial, grads, hp, case.lookahead)
    if case.dtype == "float64":
        return expected, [StepBound(rtol=FLOAT64_RTOL)] * len(grads)
    bound = Float32ErrorBound(initial, hp, case.lookahead)
    return expected, [StepBound(absolute=bound.step(step)) for step in grads]


def _trajectory(path: Path) -> Trajectory:
    with np.load(path) as arrays:
        return [[p.astype(np.float64) for p in step] for step in unstacked(arrays)]


PAIRS = [
    pytest.param(case, source, target, id=f"{case.name}-{source}-to-{target}")
    for case in CASES
    for source in FRAMEWORKS
    for target in FRAMEWORKS
]


@pytest.mark.parametrize(("case", "source", "target"), PAIRS)
def test_a_run_resumed_in_another_framework_follows_the_oracle(
    directory: Path, case: Case, source: str, target: str
) -> None:
    expected, bounds = _reference(directory, case)
    resumed = _trajectory(resume_file(directory, source, target, case))
    outcome = compare_trajectories(case.name, resumed, expected[SPLIT:], bounds[SPLIT:])
    assert outcome.violation is None, (
        f"{source} -> {target}, {case.name}, {SPLIT} steps before the resume: "
        f"{outcome.violation.describe()}"
    )


@pytest.mark.parametrize(
    ("case", "framework"),
    [pytest.param(c, f, id=f"{c.name}-{f}") for c in CASES for f in FRAMEWORKS],
)
def test_a_run_resumed_in_its_own_framework_equals_the_uninterrupted_one(
    directory: Path, case: Case, framework: str
) -> None:
    with np.load(start_file(directory, framework, case)) as arrays:
        uninterrupted = unstacked(arrays)
    with np.load(resume_file(directory, framework, framework, case)) as arrays:
        resumed = unstacked(arrays)
    for step, (mine, theirs) in enumerate(zip(resumed, uninterrupted[SPLIT:], strict=True)):
        for name, a, b in zip(NAMES, mine, theirs, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"step {SPLIT + step + 1}, {name}")


def _lose_moments(state: oracle.OracleState, slow: OracleLookahead, params: list) -> None:
    state.m = [np.zeros_like(m) for m in state.m]
    state.v = [np.zeros_like(v) for v in state.v]


def _drop_max_v(state: oracle.OracleState, slow: OracleLookahead, params: list) -> None:
    if state.vmax is not None:  # amsgrad's
        state.vmax = [v.copy() for v in state.v]


def _restart_slow(state: oracle.OracleState, slow: OracleLookahead, params: list) -> None:
    slow.slow = [np.array(p, copy=True) for p in params]


CORRUPTIONS = {
    "nothing": lambda state, slow, params: None,
    "count restarted": lambda state, slow, params: setattr(state, "t", 0),
    "moments lost": _lose_moments,
    "max v dropped": _drop_max_v,
    "k-cycle restarted": lambda state, slow, params: setattr(slow, "count", 0),
    "slow weights restarted at theta": _restart_slow,
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
@pytest.mark.parametrize("kind", ["radam", "ranger"])
def test_a_resume_passes_only_with_the_whole_state(
    tmp_path: Path, kind: str, corruption: str
) -> None:
    case = Case(kind, amsgrad=kind == "radam", dtype="float32")
    write_problem(tmp_path)
    initial, grads = problem(tmp_path, case)
    hp = _hyperparameters(case)
    assert not oracle.is_rectified(SPLIT, hp)
    assert oracle.is_rectified(SPLIT + 1, hp)
    params = [p.astype(np.float64) for p in initial]
    state = oracle.OracleState(params, amsgrad=case.amsgrad)
    slow = OracleLookahead(params, RANGER.k, RANGER.alpha)
    for step in grads[:SPLIT]:
        params = oracle.oracle_step(params, step, state, hp)
        if case.lookahead:
            params = slow.after_step(params)
    CORRUPTIONS[corruption](state, slow, params)
    resumed = []
    for step in grads[SPLIT:]:
        params = oracle.oracle_step(params, step, state, hp)
        if case.lookahead:
            params = slow.after_step(params)
        resumed.append(params)
    expected, bounds = _reference(tmp_path, case)
    outcome = compare_trajectories(case.name, resumed, expected[SPLIT:], bounds[SPLIT:])
    # A corruption of what a case does not have (max v without amsgrad, Lookahead's state
    # without Lookahead) changes nothing; every other one fails the bound.
    harmless = corruption == "nothing" or (
        (corruption == "max v dropped" and not case.amsgrad)
        or (
            (corruption in ("k-cycle restarted", "slow weights restarted at theta"))
            and not case.lookahead
        )
    )
    assert (outcome.violation is None) == harmless, outcome
