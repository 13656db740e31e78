"""``radam schedule``: rho_t, r_t and the rectification decision for the first steps."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from radam_cli.options import INSTALL_MATPLOTLIB, beta, importable, positive_int, writable_folder
from radam_core import (
    PRESETS,
    ScheduleRow,
    first_rectified_step,
    hyperparameters_for,
    rho_inf,
    schedule,
)

DEFAULT_OUT = "radam-schedule"
MATPLOTLIB_MISSING = (
    f"radam schedule --plot needs matplotlib: {INSTALL_MATPLOTLIB} (or leave out --plot)"
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``schedule`` and its options on the ``radam`` command."""
    parser = subparsers.add_parser(
        "schedule",
        help="print rho_t, r_t and whether each step is rectified",
        description="Print the rectification schedule of RAdam: rho_t (the length of the "
        "approximated simple moving average), r_t (the variance rectification term), "
        "whether each step is rectified, and the linear warm-up min(t, T_w)/T_w with "
        "T_w = 2/(1 - beta2) that r_t resembles; then say when rectification starts, "
        "under this preset and under every other one (threshold 4 against 5).",
    )
    parser.add_argument("--steps", type=positive_int, default=12, help="steps to list (12)")
    parser.add_argument(
        "--beta2", type=beta, default=0.999, help="second-moment decay in [0, 1) (default 0.999)"
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="torch",
        help="convention whose threshold applies (default torch: rho_t > 5)",
    )
    parser.add_argument(
        "--plot",
        action="store_true",
        help="also plot r_t against the linear warm-up min(t, T_w)/T_w with T_w = "
        "2/(1 - beta2), for t up to max(--steps, 2 T_w), to --out/schedule.png (needs "
        "matplotlib)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_OUT),
        help=f"folder for schedule.png with --plot, created if needed (default ./{DEFAULT_OUT})",
    )
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the schedule table for ``args`` to ``out`` (and plot it); return the status.

    Returns:
        0; 1, with one line on stderr and nothing done, when ``--plot`` lacks matplotlib.

    Raises:
        SystemExit: With status 2 and nothing done, when ``--plot`` cannot write to
            ``--out``.
    """
    if args.plot:
        if not importable("matplotlib"):
            print(MATPLOTLIB_MISSING, file=sys.stderr)
            return 1
        writable_folder(args.parser, args.out)
    overrides: dict[str, Any] = {"betas": (0.9, args.beta2)}
    hp = hyperparameters_for(args.preset, **overrides)
    print(
        f"RAdam schedule, preset {args.preset!r}: beta2 = {args.beta2}, "
        f"rho_inf = {rho_inf(args.beta2):.6g}, rectify when rho_t "
        f"{'>=' if hp.threshold_inclusive else '>'} {hp.threshold:g}",
        file=out,
    )
    print(f"{'t':>8}  {'rho_t':>12}  {'r_t':>10}  {'rectified':>9}  {'warm-up':>10}", file=out)
    for row in schedule(args.steps, args.preset, **overrides):
        print(
            f"{row.t:>8}  {row.rho_t:>12.6f}  {row.r_t:>10.6f}  "
            f"{'yes' if row.rectified else 'no':>9}  {row.warmup:>10.6f}",
            file=out,
        )
    start = first_rectified_step(args.preset, **overrides)
    if start is None:
        print("Rectification never starts: rho_t stays below the threshold.", file=out)
    else:
        below = "SGD with momentum" if hp.below_threshold == "sgd" else "no parameter update"
        print(f"Rectification starts at step {start}; steps before it take {below}.", file=out)
    print("Every preset at this beta2:", file=out)
    for name in sorted(PRESETS):
        other = hyperparameters_for(name, **overrides)
        first = first_rectified_step(name, **overrides)
        print(
            f"  {name:<8} rho_t {'>=' if other.threshold_inclusive else '> '} "
            f"{other.threshold:g}: {'never' if first is None else f'from step {first}'}",
            file=out,
        )
    if not args.plot:
        return 0
    import matplotlib

    matplotlib.use("Agg")
    horizon = max(args.steps, int(2 * warmup_length(args.beta2)))
    path = plot(schedule(horizon, args.preset, **overrides), args, args.out)
    print(f"wrote {path}", file=out)
    return 0


def warmup_length(beta2: float) -> float:
    """``T_w = 2 / (1 - beta2)``, the warm-up length that the table and the plot compare with.

    It is the length of [`ScheduleRow.warmup`][radam_core.diagnostics.ScheduleRow] (Ma and
    Yarats' rule of thumb), not the paper's, whose warm-ups were 5% to 50% of it.

    Args:
        beta2: Second-moment decay in ``[0, 1)``.

    Returns:
        The number of steps, not rounded.
    """
    return 2.0 / (1.0 - beta2)


def plot(rows: list[ScheduleRow], args: argparse.Namespace, folder: Path) -> Path:
    """Plot r_t (0 where not rectified) and the linear warm-up; save ``schedule.png``.

    Args:
        rows: From [`schedule`][radam_core.schedule].
        args: The parsed options (preset, beta2).
        folder: Where to write; created if missing.

    Returns:
        The PNG's path.
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4))
    steps = [row.t for row in rows]
    axes.plot(steps, [row.r_t if row.rectified else 0.0 for row in rows], label="RAdam's r_t")
    axes.plot(
        steps,
        [row.warmup for row in rows],
        "--",
        label=f"linear warm-up over T_w = 2/(1 - beta2) = {warmup_length(args.beta2):g} steps",
    )
    axes.set(
        xlabel="step t",
        ylabel="learning-rate multiplier",
        title=f"Rectification, preset {args.preset!r}, beta2 = {args.beta2:g}",
    )
    axes.legend()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "schedule.png"
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
