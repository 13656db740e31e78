"""Run one implementation on one problem: the gradient loop, the oracle replay, the verdict.

At every step the problem's float64 gradient is computed from the implementation's
current parameters, cast to the implementation's dtype and fed to it; the oracle then
replays exactly those gradients (:mod:`tests.equivalence.reference`; followed by
Lookahead in the lookahead configurations) and every step of the two trajectories is
compared (:mod:`tests.equivalence.compare`): float64 to 1e-12 relative, float32 within
the running bound of :mod:`tests.equivalence.float32_bound`.
"""

from __future__ import annotations

import dataclasses
import time
import traceback

import numpy as np

from catalogue.stepper import Setup
from tests.equivalence.compare import FLOAT64_RTOL, StepBound, compare_trajectories
from tests.equivalence.configs import Config, configs_in
from tests.equivalence.float32_bound import Float32ErrorBound
from tests.equivalence.problems import Problem
from tests.equivalence.reference import oracle_replay
from tests.equivalence.registry import RowFamily
from tests.equivalence.results import FAIL, PASS, SKIP, ConfigOutcome, RowResult

FLOAT32_BOUND_NAME = "float32 running bound"


def bound_name(dtype: str) -> str:
    """How a row of ``dtype`` is judged, as the report says it."""
    return f"{FLOAT64_RTOL:.0e}" if dtype == "float64" else FLOAT32_BOUND_NAME


def run_config(
    family: RowFamily, problem: Problem, config: Config, device: str, steps: int
) -> ConfigOutcome:
    """Run ``steps`` steps of one configuration and compare them with the oracle.

    An exception inside the implementation becomes a failed outcome that carries it.
    """
    dtype = np.dtype(family.dtype)
    implementation = family.implementation
    hyperparameters = config.hyperparameters(problem.lr)
    initial = [np.asarray(p).astype(dtype) for p in problem.initial_params]
    trajectory: list[list[np.ndarray]] = []
    gradients: list[list[np.ndarray]] = []
    try:
        with implementation.context(family.dtype):
            stepper = implementation.build(Setup(initial, config, hyperparameters, device))
            current = [p.astype(np.float64) for p in initial]
            for _ in range(steps):
                grads = [g.astype(dtype) for g in problem.gradient(current)]
                stepper.set_gradients(grads)
                stepper.step()
                current = [np.asarray(p).astype(np.float64) for p in stepper.params()]
                gradients.append(grads)
                trajectory.append(current)
    except Exception as error:  # the implementation's failure is the finding
        last = traceback.format_exception_only(type(error), error)[-1].strip()
        return ConfigOutcome(config.name, len(trajectory), 0.0, 0.0, 0.0, error=last)
    expected = oracle_replay(initial, gradients, hyperparameters, config.lookahead)
    if family.dtype == "float64":
        bounds = [StepBound(rtol=FLOAT64_RTOL)] * steps
    else:
        bound = Float32ErrorBound(initial, hyperparameters, config.lookahead)
        bounds = [StepBound(absolute=bound.step(grads)) for grads in gradients]
    return compare_trajectories(config.name, trajectory, expected, bounds)


def run_row(family: RowFamily, problem: Problem, group: str, device: str, quick: bool) -> RowResult:
    """Every supported configuration of ``group``: one report row.

    The row passes when every configuration that ran passed, fails on the first that did
    not, and is skipped (with the reasons) when none of the group's configurations maps
    onto the implementation.
    """
    start = time.perf_counter()
    outcomes, not_run = [], []
    for config in configs_in(group):
        reason = family.rows.supports(config)
        if reason is not None:
            not_run.append((config.name, reason))
            continue
        outcomes.append(run_config(family, problem, config, device, problem.steps_for(quick)))
    row = RowResult(
        implementation=family.name,
        dtype=family.dtype,
        device=device,
        problem=problem.name,
        group=group,
        status=PASS,
        bound=bound_name(family.dtype),
        outcomes=tuple(outcomes),
        not_run=tuple(not_run),
        seconds=time.perf_counter() - start,
    )
    if not outcomes:
        reasons = "; ".join(sorted({reason for _, reason in not_run}))
        return dataclasses.replace(row, status=SKIP, reason=f"no configuration maps: {reasons}")
    failed = [o for o in outcomes if not o.passed]
    if not failed:
        return row
    first = failed[0]
    detail = first.error or (first.violation.describe() if first.violation else "")
    prefix = "raised" if first.error else "diverged at"
    return dataclasses.replace(row, status=FAIL, reason=f"config {first.config}: {prefix} {detail}")


def unrun_row(
    family: RowFamily,
    problem: Problem,
    group: str,
    device: str,
    status: str,
    reason: str,
) -> RowResult:
    """A row that did not run: SKIP (a missing package, another device) or FAIL (a crash)."""
    return RowResult(
        implementation=family.name,
        dtype=family.dtype,
        device=device,
        problem=problem.name,
        group=group,
        status=status,
        bound=bound_name(family.dtype),
        reason=reason,
    )
