"""Run every row: plan them, start the worker processes (a few at a time), collect results.

Rows of implementations that do not run on the chosen device are SKIP rows made here;
the others run in their worker process (:mod:`tests.equivalence.worker`). A worker that
crashes or times out turns each of its rows that had not reported into a FAIL row that
quotes the end of its error output: a row is never silently missing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from catalogue.workers import WORKERS
from tests.equivalence.problems import PROBLEMS
from tests.equivalence.registry import SINGLE_THREAD_ENV, PlannedRow, planned_rows
from tests.equivalence.results import FAIL, SKIP, RowResult
from tests.equivalence.runner import unrun_row

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_TIMEOUT_S = 900.0
POLL_S = 0.2

Progress = Callable[[str], None]


@dataclasses.dataclass
class RunningWorker:
    """A started worker process."""

    name: str
    process: subprocess.Popen[bytes]
    output: Path
    log: Path
    started: float


def run(
    device: str = "cpu",
    quick: bool = False,
    jobs: int = 2,
    only: str | None = None,
    progress: Progress | None = None,
) -> list[RowResult]:
    """Run the harness and return every row's result, in report order.

    Args:
        device: ``"cpu"`` or ``"cuda"``.
        quick: Fewer steps per problem.
        jobs: Worker processes running at once.
        only: Keep the row families :func:`tests.equivalence.registry.selected` keeps.
        progress: Called with a line whenever a worker starts or ends.
    """
    say = progress or (lambda line: None)
    rows = planned_rows(only)
    results: dict[str, RowResult] = {}
    for row in rows:
        devices = row.family.implementation.devices
        if device not in devices:
            where = " and ".join(devices)
            reason = f"runs on {where} only (this run: --device {device})"
            results[row.key] = unrun_row(
                row.family, PROBLEMS[row.problem], row.group, device, SKIP, reason
            )
    pending = sorted(
        {row.family.worker for row in rows if row.key not in results},
        key=lambda name: -WORKERS[name].weight,
    )
    with tempfile.TemporaryDirectory(prefix="radam-equivalence-") as scratch:
        running: list[RunningWorker] = []
        try:
            while pending or running:
                while pending and len(running) < max(1, jobs):
                    running.append(_start(pending.pop(0), device, quick, only, Path(scratch)))
                    say(f"started worker {running[-1].name}")
                time.sleep(POLL_S)
                for worker in list(running):
                    elapsed = time.perf_counter() - worker.started
                    if worker.process.poll() is None and elapsed < WORKER_TIMEOUT_S:
                        continue
                    running.remove(worker)
                    ending = collect(worker, rows, results, device, elapsed)
                    say(f"worker {worker.name} {ending} after {elapsed:.0f} s")
        finally:  # interrupted: no worker outlives the harness
            for worker in running:
                worker.process.kill()
                worker.process.wait()
    return [results[row.key] for row in rows]


def _start(name: str, device: str, quick: bool, only: str | None, scratch: Path) -> RunningWorker:
    output, log = scratch / f"{name}.jsonl", scratch / f"{name}.log"
    command = [sys.executable, "-m", "tests.equivalence.worker", name, "--device", device]
    command += ["--output", str(output), *(["--quick"] if quick else [])]
    command += ["--only", only] if only else []
    env = {**os.environ, **SINGLE_THREAD_ENV, **WORKERS[name].env}
    if device == "cpu":  # a CPU run stays on the CPU, Keras's automatic placement included
        env["CUDA_VISIBLE_DEVICES"] = ""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    return RunningWorker(name, process, output, log, time.perf_counter())


def collect(
    worker: RunningWorker,
    rows: list[PlannedRow],
    results: dict[str, RowResult],
    device: str,
    elapsed: float,
) -> str:
    """Collect a worker's rows; rows it never reported become FAIL rows.

    Returns:
        How the worker ended (``"exited with code 0"``, ``"timed out after 900 s"``).
    """
    if worker.process.poll() is None:
        worker.process.kill()
        worker.process.wait()
        ending = f"timed out after {elapsed:.0f} s"
    else:
        ending = f"exited with code {worker.process.returncode}"
    if worker.output.exists():
        for line in worker.output.read_text(encoding="utf-8").splitlines():
            result = RowResult.from_json(json.loads(line))
            results[result.key] = result
    tail = worker.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    for row in rows:
        if row.family.worker == worker.name and row.key not in results:
            reason = f"worker {worker.name} {ending} before this row: {' | '.join(tail)}"
            results[row.key] = unrun_row(
                row.family, PROBLEMS[row.problem], row.group, device, FAIL, reason
            )
    return ending


def has_failures(results: list[RowResult]) -> bool:
    """Whether any row failed."""
    return any(result.status == FAIL for result in results)
