"""Run the benchmarks: time each implementation, derive the ratios, report and save them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import device, report
from benchmarks.bandwidth import METHODS, Bandwidth, Triad
from benchmarks.problems import BYTES_PER_PARAM, PROBLEMS, QUICK_PROBLEMS, SEED, Problem
from benchmarks.registry import Benchmarked, implementations
from benchmarks.targets import AT_LEAST, FOOTPRINT, TARGETS, TIME_RATIO, evaluate
from benchmarks.worker import WARMUP_STEPS, Measurement, measure, measure_pair
from catalogue import naive

DEFAULT_REPEATS = 20
QUICK_REPEATS = 2
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
        first_step_s: The very first step, state allocation included.
        first_step_excess_s: ``first_step_s - median_s``.
        peak_extra_bytes: Peak memory above the resident set during a step (None where
            it cannot be measured).
        memory_fraction: ``peak_extra_bytes`` over the parameters' bytes (or None).
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
    first_step_s: float
    first_step_excess_s: float
    peak_extra_bytes: int | None
    memory_fraction: float | None


def time_problem(
    problem: Problem, selected: Sequence[Benchmarked], repeats: int, triad: Triad, quick: bool
) -> dict[str, Measurement]:
    """Measure every implementation in ``selected`` on ``problem``, each in its own process.

    The triad runs once before each implementation, so the bandwidth is sampled across
    the same stretch of time as the steps (see ``benchmarks.worker``).

    Args:
        problem: The problem.
        selected: The implementations.
        repeats: Timed steps of each implementation.
        triad: The run's bandwidth measurement.
        quick: ``problem`` is one of the tiny problems.

    Returns:
        Each implementation's ``benchmarks.worker.Measurement``, by name, in order.
    """
    measured = {}
    for impl in selected:
        triad.run()
        measured[impl.name] = measure(impl.name, problem, repeats, quick=quick)
    return measured


def time_pairs(
    problem: Problem, measured: Mapping[str, Measurement], repeats: int, quick: bool
) -> dict[tuple[str, str, str], float]:
    """The paired time ratio of every time-ratio target on ``problem`` whose two ran.

    Args:
        problem: The problem.
        measured: From ``time_problem`` (which implementations ran).
        repeats: Timed steps of each.
        quick: ``problem`` is one of the tiny problems.

    Returns:
        The median over rounds of ``implementation / reference``, their steps alternating
        in one process (each round's two steps see the same memory-bandwidth regime), by
        ``(implementation, reference, problem)``.
    """
    ratios = {}
    for target in TARGETS:
        pair = (target.implementation, target.reference or "")
        key = (*pair, problem.name)
        if target.metric != TIME_RATIO or target.problem != problem.name or key in ratios:
            continue
        if not all(name in measured for name in pair):
            continue
        times, reference_times = measure_pair(*pair, problem, repeats, quick=quick)
        ratios[key] = statistics.median(
            mine / theirs for mine, theirs in zip(times, reference_times, strict=True)
        )
    return ratios


def results(
    problem: Problem, measured: Mapping[str, Measurement], bandwidth: Bandwidth
) -> list[Result]:
    """Derive the ratios of one problem's measurements.

    Args:
        problem: The problem.
        measured: From ``time_problem``; the naive reference among them.
        bandwidth: The run's triad measurement.

    Returns:
        One ``Result`` per implementation, in order.
    """
    naive_median = statistics.median(measured[naive.NAME].times_s)
    param_bytes = 4 * problem.n_params
    rows = []
    for name, m in measured.items():
        median = statistics.median(m.times_s)
        achieved = BYTES_PER_PARAM * problem.n_params / median
        rows.append(
            Result(
                problem=problem.name,
                implementation=name,
                n_params=problem.n_params,
                n_tensors=len(problem.shapes),
                times_s=m.times_s,
                median_s=median,
                min_s=min(m.times_s),
                speedup_vs_naive=naive_median / median,
                bytes_per_second=achieved,
                bandwidth_fraction=achieved / bandwidth.bytes_per_second,
                first_step_s=m.first_step_s,
                first_step_excess_s=m.first_step_s - median,
                peak_extra_bytes=m.peak_extra_bytes,
                memory_fraction=None
                if m.peak_extra_bytes is None
                else m.peak_extra_bytes / param_bytes,
            )
        )
    return rows


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
    parser.add_argument(
        "--device",
        help="instead: time radam_torch and radam_keras against their peers on this torch "
        "device (cuda, xpu, mps; cpu runs the same code), paired (see benchmarks.device)",
    )
    parser.add_argument("--json", type=Path, help=f"where to write JSON (default {DEFAULT_JSON})")
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
    if args.device is not None:
        path = args.json or DEFAULT_JSON.with_name(f"benchmarks-{args.device}.json")
        return device.run(args.device, problems, repeats, args.quick, path)
    args.json = args.json or DEFAULT_JSON

    with Triad(QUICK_TRIAD_ELEMENTS if args.quick else TRIAD_ELEMENTS, args.triad) as triad:
        timed = [(p, time_problem(p, selected, repeats, triad, args.quick)) for p in problems]
        bandwidth = triad.bandwidth()
    paired = {
        key: ratio
        for problem, measured in timed
        for key, ratio in time_pairs(problem, measured, repeats, args.quick).items()
    }
    rows = [row for problem, times in timed for row in results(problem, times, bandwidth)]
    metrics = {
        (r.implementation, r.problem): {
            m: getattr(r, m)
            for m in (*AT_LEAST, *FOOTPRINT, "median_s")
            if getattr(r, m) is not None
        }
        for r in rows
    }
    outcomes = evaluate(TARGETS, metrics, paired)

    settings = {
        "quick": args.quick,
        "problems": {p.name: p.description for p in problems},
        "repeats": repeats,
        "warmup_steps": WARMUP_STEPS,
        "isolation": "each implementation in a fresh process; time-ratio targets paired "
        "(both in one process, timed in rounds; the median of the rounds' ratios)",
        "seed": SEED,
        "bytes_per_param": BYTES_PER_PARAM,
        "reference": naive.NAME,
    }
    host = machine()
    print(report.header(host, settings, bandwidth))
    print(report.table(rows))
    print(report.targets(outcomes, quick=args.quick))

    document = {
        "machine": host,
        "settings": settings,
        "bandwidth": dataclasses.asdict(bandwidth),
        "results": [dataclasses.asdict(r) for r in rows],
        "targets": [
            {
                **dataclasses.asdict(o.target),
                "value": o.value,
                "status": o.status,
                "paired": o.paired,
            }
            for o in outcomes
        ],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0
