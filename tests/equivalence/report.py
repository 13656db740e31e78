"""The report: one table row per implementation x problem x configuration group.

Columns: the implementation and its dtype, the problem, the configuration group, how many
of the group's configurations ran, the largest relative error against the oracle, the
bound (float64: the fixed 1e-12; float32: the running bound where the error came closest
to it), the largest error/bound ratio (a row passes at <= 1), the status, and a note (why
a row failed or was skipped, and which configurations it did not run). Implementations
whose every row is skipped for one reason take one line.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from tests.equivalence.compare import FLOAT64_RTOL
from tests.equivalence.configs import configs_in
from tests.equivalence.float32_bound import COEFFICIENT_ROUNDOFFS, OPERATION_ROUNDOFFS
from tests.equivalence.problems import PROBLEMS
from tests.equivalence.results import FAIL, PASS, SKIP, RowResult

HEADER = (
    "implementation",
    "dtype",
    "problem",
    "group",
    "ran",
    "max rel err",
    "bound",
    "err/bound",
    "status",
    "note",
)


def format_report(
    results: Sequence[RowResult], device: str, quick: bool, seconds: float | None = None
) -> str:
    """The whole report: title, table, configurations not run, legend and totals."""
    steps = ", ".join(f"{p.name} {p.steps_for(quick)} steps" for p in PROBLEMS.values())
    lines = [
        f"RAdam cross-backend equivalence: device {device}, "
        f"{'quick' if quick else 'full'} run ({steps})",
        "",
        *_table([_cells(row) for row in _collapse(results)]),
        "",
        *_not_run_section(results),
        *_legend(),
        "",
        _totals(results, seconds),
    ]
    return "\n".join(lines)


def _collapse(results: Sequence[RowResult]) -> list[RowResult]:
    """Rows as they print: an implementation skipped everywhere for one reason is one row."""
    printed = []
    for _, rows in itertools.groupby(results, key=lambda r: (r.implementation, r.dtype)):
        block = list(rows)
        reasons = {r.reason for r in block}
        if len(block) > 1 and all(r.status == SKIP for r in block) and len(reasons) == 1:
            first = block[0]
            printed.append(
                RowResult(
                    implementation=first.implementation,
                    dtype=first.dtype,
                    device=first.device,
                    problem="*",
                    group="*",
                    status=SKIP,
                    bound=first.bound,
                    reason=f"{first.reason} (all {len(block)} rows)",
                )
            )
        else:
            printed.extend(block)
    return printed


def _cells(row: RowResult) -> tuple[str, ...]:
    worst = row.worst
    total = len(configs_in(row.group)) if row.group != "*" else 0
    ran = f"{len(row.outcomes)}/{total}" if total else "-"
    if worst is None:
        error = bound = ratio = "-"
    else:
        error = f"{row.max_rel_error:.1e}"
        bound = (
            f"{FLOAT64_RTOL:.0e}" if row.dtype == "float64" else f"f32 {worst.bound_at_worst:.1e}"
        )
        ratio = f"{worst.worst_ratio:.2g}"
    note = row.reason
    if row.status != SKIP and row.not_run:
        skipped = "not run: " + ", ".join(name for name, _ in row.not_run)
        note = f"{note}; {skipped}" if note else skipped
    return (
        row.implementation,
        row.dtype,
        row.problem,
        row.group,
        ran,
        error,
        bound,
        ratio,
        row.status,
        note,
    )


def _table(cells: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(c[i]) for c in [HEADER, *cells]) for i in range(len(HEADER) - 1)]

    def line(values: tuple[str, ...]) -> str:
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths, strict=True)]
        return "  ".join([*padded, values[-1]]).rstrip()

    rule = "  ".join("-" * w for w in widths) + "  ----"
    lines = [line(HEADER), rule]
    previous = None
    for values in cells:
        if previous is not None and values[:2] != previous:
            lines.append("")
        lines.append(line(values))
        previous = values[:2]
    return lines


def _not_run_section(results: Sequence[RowResult]) -> list[str]:
    """Each implementation's unsupported configurations, with the reason, once."""
    reasons: dict[tuple[str, str], dict[str, str]] = {}
    for row in results:
        if row.status != SKIP or row.not_run:
            for name, reason in row.not_run:
                reasons.setdefault((row.implementation, row.dtype), {})[name] = reason
    if not reasons:
        return []
    lines = ["Configurations an implementation does not run (no exact mapping):"]
    for (implementation, dtype), by_config in reasons.items():
        by_reason: dict[str, list[str]] = {}
        for name, reason in by_config.items():
            by_reason.setdefault(reason, []).append(name)
        for reason, names in by_reason.items():
            lines.append(f"  {implementation} ({dtype}): {', '.join(names)}: {reason}")
    return [*lines, ""]


def _legend() -> list[str]:
    return [
        "rel err = |impl - oracle| / (|oracle| + largest |oracle| at that step); the oracle "
        "(tests/oracle.py, float64) replays the gradients each implementation was fed, "
        "followed in the lookahead group by Lookahead written from the paper (reference.py).",
        f"bound: float64 rows {FLOAT64_RTOL:.0e} relative; float32 rows a running error "
        f"bound ({OPERATION_ROUNDOFFS:g}u per operation, {COEFFICIENT_ROUNDOFFS:g}u per step "
        "scalar, u = 2^-24, accumulated per element: tests/equivalence/float32_bound.py), "
        "shown relative where err/bound peaked.",
        "err/bound: the largest ratio over every step and element; a row passes at <= 1.",
    ]


def _totals(results: Sequence[RowResult], seconds: float | None) -> str:
    counts = {status: sum(r.status == status for r in results) for status in (PASS, FAIL, SKIP)}
    text = f"{len(results)} rows: {counts[PASS]} PASS, {counts[FAIL]} FAIL, {counts[SKIP]} SKIP"
    return text if seconds is None else f"{text} in {seconds:.0f} s"
