"""The printed report: the run's context, the table of results and the targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from benchmarks.bandwidth import BYTES_PER_ELEMENT, Bandwidth
from benchmarks.targets import Outcome

if TYPE_CHECKING:
    from benchmarks.harness import Result

GB = 1e9
MiB = 1 << 20


def header(machine: Mapping[str, Any], settings: Mapping[str, Any], bandwidth: Bandwidth) -> str:
    """The run's context: machine, settings and the measured triad bandwidth.

    Args:
        machine: From ``benchmarks.harness.machine``.
        settings: The run's settings (``repeats``, ``warmup_steps``, ``problems``, ...).
        bandwidth: The triad measurement.

    Returns:
        A few lines of text.
    """
    mode = " (quick: tiny problems)" if settings["quick"] else ""
    problems = "; ".join(f"{name}: {text}" for name, text in settings["problems"].items())
    return "\n".join(
        [
            f"machine: {machine['cpu_count']} CPUs, {machine['platform']}, "
            f"Python {machine['python']}, NumPy {machine['numpy']}",
            f"problems{mode}: {problems}; fp32, seed {settings['seed']}",
            f"steps: the first, {settings['warmup_steps']} warm-up, then "
            f"{settings['repeats']} timed, each implementation in a fresh process",
            f"triad bandwidth: {bandwidth.bytes_per_second / GB:.1f} GB/s (best run: "
            f"{bandwidth.best_bytes_per_second / GB:.1f}) at "
            f"{BYTES_PER_ELEMENT} B/element, {bandwidth.threads} threads, median of "
            f"{bandwidth.runs} runs (one before each implementation) over "
            f"3 x {4 * bandwidth.elements / MiB:.0f} MiB arrays: {bandwidth.method}",
            "",
        ]
    )


def table(results: Sequence[Result]) -> str:
    """The results, one row per implementation and problem.

    Args:
        results: The run's results.

    Returns:
        The table, with a legend line.
    """
    columns = (
        "problem",
        "implementation",
        "median ms",
        "min ms",
        "vs naive",
        "GB/s",
        "of triad",
        "first ms",
        "peak MiB",
    )
    rows = [
        (
            r.problem,
            r.implementation,
            f"{1e3 * r.median_s:.2f}",
            f"{1e3 * r.min_s:.2f}",
            f"{r.speedup_vs_naive:.2f}x",
            f"{r.bytes_per_second / GB:.1f}",
            f"{r.bandwidth_fraction:.2f}",
            f"{1e3 * r.first_step_s:.1f}",
            "-" if r.peak_extra_bytes is None else f"{r.peak_extra_bytes / MiB:.1f}",
        )
        for r in results
    ]
    widths = [max(len(row[k]) for row in (columns, *rows)) for k in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        text = [
            cell.ljust(w) if k < 2 else cell.rjust(w)
            for k, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(text)

    return "\n".join(
        [
            line(columns),
            line(["-" * w for w in widths]),
            *(line(row) for row in rows),
            "vs naive: naive median / median; GB/s: 28 B/param / median; of triad: GB/s / "
            "triad; first ms: the first step; peak MiB: peak extra memory during a step",
        ]
    )


def targets(outcomes: Sequence[Outcome], *, quick: bool) -> str:
    """The targets section: each target's measured value and PASS, FAIL or NOT RUN.

    Args:
        outcomes: The evaluated targets.
        quick: Whether the run used the tiny problems (the values mean nothing then).

    Returns:
        The section's text.
    """
    title = "targets (quick run: tiny problems, not meaningful)" if quick else "targets"
    lines = ["", title + ":"]
    for outcome in outcomes:
        target = outcome.target
        value = "-" if outcome.value is None else f"{outcome.value:.2f}"
        paired = " (paired)" if outcome.paired else ""
        lines.append(
            f"  {outcome.status:7}  {target.implementation} on {target.problem}: "
            f"{target.metric}{paired} = {value} (target: {target.describe()})"
        )
    lines.append("(paired: both in one process, timed in rounds; the median of the rounds' ratios)")
    return "\n".join(lines)
