"""``radam schedule``: rho_t, r_t and the rectification decision for the first steps."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from radam_core import PRESETS, first_rectified_step, hyperparameters_for, rho_inf, schedule


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``schedule`` and its options on the ``radam`` command."""
    parser = subparsers.add_parser(
        "schedule",
        help="print rho_t, r_t and whether each step is rectified",
        description="Print the rectification schedule of RAdam: rho_t (the length of the "
        "approximated simple moving average), r_t (the variance rectification term), "
        "whether each step is rectified, and the linear warm-up min(t, T_w)/T_w with "
        "T_w = 2/(1 - beta2) that r_t resembles; then say when rectification starts.",
    )
    parser.add_argument(
        "--steps", type=_positive_int, default=12, help="steps to list (default 12)"
    )
    parser.add_argument(
        "--beta2", type=_beta, default=0.999, help="second-moment decay in [0, 1) (default 0.999)"
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="torch",
        help="convention whose threshold applies (default torch: rho_t > 5)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the schedule table for ``args`` to ``out``; return the exit status."""
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
        return 0
    below = "SGD with momentum" if hp.below_threshold == "sgd" else "no parameter update"
    print(f"Rectification starts at step {start}; steps before it take {below}.", file=out)
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _beta(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value
