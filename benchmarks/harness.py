"""Run the benchmarks: time each implementation, derive the ratios, report and save them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import footprint, naive, report
from benchmarks.bandwidth import METHODS, Bandwidth, Triad
from benchmarks.problems import PROBLEMS, QUICK_PROBLEMS, SEED, Problem
from benchmarks.registry import Implementation, implementations
from benchmarks.targets import AT_LEAST, FOOTPRINT, TARGETS, evaluate

# Untimed steps first: torch's rule rectifies from t = 6, so every timed step is rectified,
# and the first rectified steps (new temporaries, first page touches) stay untimed too.
WARMUP_STEPS = 10
# A pause before each implementation's turn: OpenMP workers (torch's) spin for milliseconds
# after a parallel region and would take a core from whatever runs next.
SETTLE_SECONDS = 0.03
DEFAULT_REPEATS = 20
QUICK_REPEATS = 2
BYTES_PER_PARAM = 28  # fp32: read p, g, m, v; write p, m, v
TRIAD_ELEMENTS = 1 << 25  # 128 MiB per array, 4x a 32 MiB L3
QUICK_TRIAD_ELEMENTS = 1 << 22
DEFAULT_JSON = Path("benchmark-results") / "benchmarks.json"


@dataclasses.dataclass(frozen=True)
class Result:
    """One implementation timed on one problem; ratios use median step times.

    Attributes:
        problem: The problem's name.
        implementation: The implementation's name.
        n_params: Parameters in the problem.
        n_tensors: Parameter tensors in the problem.
        times_s: Every timed step, in seconds.
        median_s: Their median.
        min_s: Their minimum.
        speedup_vs_naive: ``median_s`` of the naive step divided by this ``median_s``.
        bytes_per_second: ``BYTES_PER_PARAM * n_params / median_s``.
        bandwidth_fraction: ``bytes_per_second`` over the measured triad bandwidth.
    """

    problem: str
    implementation: str
    n_params: int
    n_tensors: int
    times_s: tuple[float, ...]
    median_s: float
    min_s: float
    speedup_vs_naive: float
    bytes_per_second: float
    bandwidth_fraction: float


def time_problem(
    problem: Problem, selected: Sequence[Implementation], repeats: int, triad: Triad
) -> dict[str, list[float]]:
    """Time every implementation in ``selected`` on the same arrays of ``problem``.

    Each implementation gets fresh copies of the arrays and takes :data:`WARMUP_STEPS`
    untimed steps. Then ``repeats`` rounds each run the triad once and, for every
    implementation in turn, pause :data:`SETTLE_SECONDS`, take one untimed step and
    then one step timed with ``time.perf_counter``: interleaved, all of them see the same
    state of the machine, and each timed step directly follows a step of its own, as in a
    run of consecutive steps (an idle pause just before a timed step lets a virtual CPU
    go idle and halves a threaded step's speed at random). Finally every parameter must
    have changed and be finite.

    Args:
        problem: The problem.
        selected: The implementations.
        repeats: Rounds, i.e. timed steps of each implementation.
        triad: The run's bandwidth measurement, run once per round.

    Returns:
        The step times of each implementation in seconds, by name, in order.

    Raises:
        RuntimeError: An implementation left a parameter unchanged or not finite.
    """
    params, grads = problem.arrays(SEED)
    steppers = {
        impl.name: impl.setup([p.copy() for p in params], [g.copy() for g in grads])
        for impl in selected
    }
    for stepper in steppers.values():
        for _ in range(WARMUP_STEPS):
            stepper.step()
    times: dict[str, list[float]] = {name: [] for name in steppers}
    for _ in range(repeats):
        time.sleep(SETTLE_SECONDS)
        triad.run()
        for name, stepper in steppers.items():
            time.sleep(SETTLE_SECONDS)
            stepper.step()
            start = time.perf_counter()
            stepper.step()
            times[name].append(time.perf_counter() - start)
    for name, stepper in steppers.items():
        _verify(name, params, stepper.params())
    return times


def _verify(name: str, before: Sequence[np.ndarray], after: Sequence[Any]) -> None:
    if len(after) != len(before):
        raise RuntimeError(f"{name} returned {len(after)} parameters, expected {len(before)}")
    for index, (old, current) in enumerate(zip(before, after, strict=True)):
        new = np.asarray(current)
        if new.shape != old.shape or not np.isfinite(new).all():
            raise RuntimeError(f"{name}: params[{index}] has a wrong shape or is not finite")
        if np.array_equal(new, old):
            raise RuntimeError(f"{name}: params[{index}] did not change")


def results(problem: Problem, times: dict[str, list[float]], bandwidth: Bandwidth) -> list[Result]:
    """Derive the ratios of one problem's step times.

    Args:
        problem: The problem.
        times: From :func:`time_problem`; the naive reference among them.
        bandwidth: The run's triad measurement.

    Returns:
        One :class:`Result` per implementation, in order.
    """
    naive_median = statistics.median(times[naive.NAME])
    rows = []
    for name, steps in times.items():
        median = statistics.median(steps)
        achieved = BYTES_PER_PARAM * problem.n_params / median
        rows.append(
            Result(
                problem=problem.name,
                implementation=name,
                n_params=problem.n_params,
                n_tensors=len(problem.shapes),
                times_s=tuple(steps),
                median_s=median,
                min_s=min(steps),
                speedup_vs_naive=naive_median / median,
                bytes_per_second=achieved,
                bandwidth_fraction=achieved / bandwidth.bytes_per_second,
            )
        )
    return rows


def measure_footprints(
    ran: Mapping[tuple[str, str], object], *, quick: bool
) -> list[footprint.Footprint]:
    """Measure the footprint of every ``(implementation, problem)`` a target asks about.

    Args:
        ran: The ``(implementation, problem)`` pairs that ran.
        quick: Use the tiny problems.

    Returns:
        One :class:`benchmarks.footprint.Footprint` per pair measured.
    """
    wanted = {(t.implementation, t.problem) for t in TARGETS if t.metric in FOOTPRINT}
    measured = (footprint.measure(*pair, quick=quick) for pair in sorted(wanted) if pair in ran)
    return [fp for fp in measured if fp is not None]


def machine() -> dict[str, Any]:
    """Describe the machine and the software the run used.

    Returns:
        CPU count, platform, Python and NumPy versions.
    """
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }


def parse_args(argv: Sequence[str] | None, names: Sequence[str]) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv: The arguments (without the program name); ``sys.argv[1:]`` when None.
        names: The registered implementations, the choices of ``--only``.

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time RAdam steps as ratios to a naive NumPy step and to the measured "
        "triad memory bandwidth, and check the declared targets.",
    )
    parser.add_argument("--problem", choices=[*PROBLEMS, "all"], default="large")
    parser.add_argument(
        "--repeats", type=_positive, help=f"timed steps (default {DEFAULT_REPEATS})"
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny problems and 2 repeats: a smoke test"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"time only this implementation (repeatable; {naive.NAME} always runs, "
        f"as the reference); one of: {', '.join(names)}",
    )
    parser.add_argument(
        "--triad", choices=METHODS, default="auto", help="how to measure the bandwidth"
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the table and the targets, and write the JSON.

    Args:
        argv: Command-line arguments (see ``python -m benchmarks --help``).

    Returns:
        0: a missed target is reported, never an error.
    """
    registered = implementations()
    args = parse_args(argv, [impl.name for impl in registered])
    wanted = {naive.NAME, *args.only} if args.only else None
    selected = [impl for impl in registered if wanted is None or impl.name in wanted]
    catalogue = QUICK_PROBLEMS if args.quick else PROBLEMS
    problems = list(catalogue.values()) if args.problem == "all" else [catalogue[args.problem]]
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)

    with Triad(QUICK_TRIAD_ELEMENTS if args.quick else TRIAD_ELEMENTS, args.triad) as triad:
        timed = [(p, time_problem(p, selected, repeats, triad)) for p in problems]
        bandwidth = triad.bandwidth()
    rows = [row for problem, times in timed for row in results(problem, times, bandwidth)]
    metrics = {
        (r.implementation, r.problem): {m: getattr(r, m) for m in (*AT_LEAST, "median_s")}
        for r in rows
    }
    footprints = measure_footprints(metrics, quick=args.quick)
    for fp in footprints:
        metrics[fp.implementation, fp.problem].update({m: getattr(fp, m) for m in FOOTPRINT})
    outcomes = evaluate(TARGETS, metrics)

    settings = {
        "quick": args.quick,
        "problems": {p.name: p.description for p in problems},
        "repeats": repeats,
        "warmup_steps": WARMUP_STEPS,
        "seed": SEED,
        "bytes_per_param": BYTES_PER_PARAM,
        "reference": naive.NAME,
    }
    host = machine()
    print(report.header(host, settings, bandwidth))
    print(report.table(rows))
    print(report.footprints(footprints))
    print(report.targets(outcomes, quick=args.quick))

    document = {
        "machine": host,
        "settings": settings,
        "bandwidth": dataclasses.asdict(bandwidth),
        "results": [dataclasses.asdict(r) for r in rows],
        "footprints": [dataclasses.asdict(fp) for fp in footprints],
        "targets": [
            {**dataclasses.asdict(o.target), "value": o.value, "status": o.status} for o in outcomes
        ],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0
