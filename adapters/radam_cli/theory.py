"""``radam theory``: the variance of Adam's adaptive learning rate against rho, three ways."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TextIO

from radam_cli.options import (
    INSTALL_MATPLOTLIB,
    beta,
    importable,
    non_negative_int,
    positive_float,
    positive_int,
    writable_folder,
)
from radam_cli.progress import Progress
from radam_core import theory

DEFAULT_OUT = "radam-theory"
MATPLOTLIB_MISSING = (
    f"radam theory needs matplotlib for its plot: {INSTALL_MATPLOTLIB} (or run it with --no-plot)"
)
FOURTH_MOMENT_FINITE_ABOVE = 4
"""E[psi^4] = rho^2 E[Y^-2] / sigma^4, Y ~ chi^2_rho, is finite only for rho > 4: below, the
sample variance has no standard error."""
STANDARD_ERROR_NOTE = (
    "+-: the standard error of the Monte Carlo variance needs E[psi^4], finite only for rho > 4."
)
APPROXIMATION_NOTE = (
    "approx: the first-order approximation rho / (2 (rho - 2)(rho - 4) sigma^2) only holds "
    "for rho > 4."
)


class TheoryRow(NamedTuple):
    """Var[psi] at one rho, every way it is computed.

    Attributes:
        rho: Degrees of freedom (the simple moving average's length).
        exact: Theorem 1's closed form (inf where rho <= 2).
        approximate: The first-order approximation (nan where rho <= 4).
        monte_carlo: The simple-moving-average Monte Carlo estimate.
        standard_error: Its standard error; nan where rho <= 4, where E[psi^4] is infinite
            and a standard error of the sample variance means nothing.
    """

    rho: int
    exact: float
    approximate: float
    monte_carlo: float
    standard_error: float


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``theory`` and its options on the ``radam`` command."""
    parser = subparsers.add_parser(
        "theory",
        help="plot the variance of Adam's adaptive learning rate against rho",
        description="Compare, for each rho, the exact Var[psi] of Theorem 1 (psi^2 ~ "
        "Scale-inv-chi^2(rho, 1/sigma^2), by log-gamma), its first-order approximation "
        "rho / (2 (rho - 2)(rho - 4) sigma^2), and a Monte Carlo estimate from simulated "
        "Gaussian gradients; plus Adam's own EMA after t steps against rho_t. The variance "
        "diverges at small rho and decreases monotonically: the reason for rectifying.",
    )
    parser.add_argument(
        "--rho-max", type=_rho_max, default=100, help="largest rho (default 100, >= 6)"
    )
    parser.add_argument(
        "--sigma",
        type=positive_float,
        default=1.0,
        help="gradient standard deviation (default 1)",
    )
    parser.add_argument(
        "--beta2",
        type=beta,
        default=0.9,
        help="beta2 of the plot's Adam EMA points, in [0, 1) (default 0.9)",
    )
    parser.add_argument(
        "--samples",
        type=_samples,
        default=20_000,
        help="Monte Carlo draws per point (default 20000, >= 100)",
    )
    parser.add_argument(
        "--seed", type=non_negative_int, default=0, help="Monte Carlo seed, >= 0 (default 0)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_OUT),
        help=f"folder for theory.png, created if needed (default ./{DEFAULT_OUT})",
    )
    parser.add_argument(
        "--no-plot",
        action="store_true",
        help="print the table only (no theory.png; matplotlib not needed)",
    )
    parser.set_defaults(run=run, parser=parser)


def rows(
    rho_max: int,
    sigma: float,
    samples: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> list[TheoryRow]:
    """Var[psi] at rho = 3, 4, ... up to ``rho_max`` (about 30 points, log-spaced).

    Args:
        rho_max: The largest rho.
        sigma: Gradient standard deviation.
        samples: Monte Carlo draws per point.
        seed: Monte Carlo seed (each point offsets it by its rho).
        progress: Called after each point with the Gaussian draws it took (rho * samples).

    Returns:
        One [`TheoryRow`][radam_cli.theory.TheoryRow] per rho.
    """
    table = []
    for rho in _grid(rho_max):
        estimate = theory.sma_variance_monte_carlo(rho, sigma, samples, seed + rho)
        if progress is not None:
            progress(rho * samples)
        table.append(
            TheoryRow(
                rho,
                theory.exact_variance(rho, sigma),
                theory.approximate_variance(rho, sigma) if rho > 4 else math.nan,
                estimate.variance,
                estimate.standard_error if rho > FOURTH_MOMENT_FINITE_ABOVE else math.nan,
            )
        )
    return table


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the table and write ``theory.png``; return the exit status.

    The Monte Carlo estimates show their progress on stderr (see
    [`Progress`][radam_cli.progress.Progress]).

    Returns:
        0; 1, with one line on stderr and nothing done, when the plot lacks matplotlib.

    Raises:
        SystemExit: With status 2 and nothing done, when the plot cannot be written to
            ``--out``.
    """
    plotting = not args.no_plot
    if plotting:
        if not importable("matplotlib"):
            print(MATPLOTLIB_MISSING, file=sys.stderr)
            return 1
        writable_folder(args.parser, args.out)
    grid = _grid(args.rho_max)
    ema_steps = _ema_steps(args.beta2, grid[-1]) if plotting else []
    draws = args.samples * (sum(grid) + sum(ema_steps))
    with Progress(draws, sys.stderr, "Monte Carlo", unit="draw", unit_scale=True) as progress:
        table = rows(args.rho_max, args.sigma, args.samples, args.seed, progress.advance)
        ema = [
            _ema_point(t, args.beta2, args.sigma, args.samples, args.seed, progress.advance)
            for t in ema_steps
        ]
    print(
        f"Var[psi] of Adam's adaptive learning rate, sigma = {args.sigma:g}, "
        f"{args.samples} Monte Carlo draws per rho",
        file=out,
    )
    print(f"{'rho':>6}  {'exact':>12}  {'approx':>12}  {'monte carlo':>12}  {'+-':>10}", file=out)
    for row in table:
        approximate = f"{row.approximate:.6g}" if math.isfinite(row.approximate) else "undefined"
        error = f"{row.standard_error:.2g}" if math.isfinite(row.standard_error) else "undefined"
        print(
            f"{row.rho:>6}  {row.exact:>12.6g}  {approximate:>12}  "
            f"{row.monte_carlo:>12.6g}  {error:>10}",
            file=out,
        )
    print(APPROXIMATION_NOTE, file=out)
    print(STANDARD_ERROR_NOTE, file=out)
    if not plotting:
        return 0
    import matplotlib

    matplotlib.use("Agg")
    path = plot(table, ema, args, args.out)
    print(f"wrote {path}", file=out)
    return 0


def plot(
    table: list[TheoryRow],
    ema: list[tuple[float, float]],
    args: argparse.Namespace,
    folder: Path,
) -> Path:
    """Draw the three variance curves and Adam's EMA against rho; save ``theory.png``.

    Args:
        table: From [`rows`][radam_cli.theory.rows].
        ema: (rho_t, Monte Carlo Var[psi_t]) of Adam's EMA at some steps t.
        args: The parsed options (beta2, for the legend).
        folder: Where to write; created if missing.

    Returns:
        The PNG's path.
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5))
    rhos = [row.rho for row in table]
    axes.plot(rhos, [row.exact for row in table], label="exact (Theorem 1)", color="black")
    axes.plot(
        rhos,
        [row.approximate for row in table],
        "--",
        label=r"approximation $\rho / (2(\rho-2)(\rho-4)\sigma^2)$",
    )
    barred = [row for row in table if math.isfinite(row.standard_error)]
    bare = [row for row in table if not math.isfinite(row.standard_error)]
    axes.errorbar(
        [row.rho for row in barred],
        [row.monte_carlo for row in barred],
        yerr=[2 * row.standard_error for row in barred],
        fmt="o",
        markersize=3,
        color="C2",
        label=r"Monte Carlo, simple moving average ($\pm$2 s.e.)",
    )
    axes.plot(
        [row.rho for row in bare],
        [row.monte_carlo for row in bare],
        "o",
        markersize=3,
        markerfacecolor="none",
        color="C2",
        label=r"Monte Carlo at $\rho \leq 4$: no error bar, E[$\psi^4$] is infinite",
    )
    axes.plot(
        [point[0] for point in ema],
        [point[1] for point in ema],
        "x",
        label=rf"Monte Carlo, Adam's EMA at step t, $\beta_2$ = {args.beta2:g}, at $\rho_t$",
    )
    axes.set(
        xscale="log",
        yscale="log",
        xlabel=r"$\rho$ (length of the simple moving average)",
        ylabel=r"Var[$\psi$]",
        title="The adaptive learning rate's variance diverges at small rho",
    )
    axes.legend(fontsize=8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "theory.png"
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def _grid(rho_max: int) -> list[int]:
    """The table's rho: 3, 4, 5, 6, then about 26 log-spaced up to ``rho_max``."""
    return sorted({3, 4, 5, 6, *(round(x) for x in _geometric(6, rho_max, 26))})


def _ema_steps(beta2: float, rho_max: int) -> list[int]:
    """The steps t, about 25% apart, whose rho_t lies in (4, rho_max]."""
    steps = []
    t = 1
    while t < 10_000:
        rho_t = theory.effective_rho(t, beta2)
        if rho_t > rho_max:
            break
        if rho_t > 4.0:
            steps.append(t)
        t = max(t + 1, int(t * 1.25))
    return steps


def _ema_point(
    t: int,
    beta2: float,
    sigma: float,
    samples: int,
    seed: int,
    progress: Callable[[int], None],
) -> tuple[float, float]:
    """(rho_t, Monte Carlo Var[psi_t]) at step ``t``; ``progress`` gets its t * samples draws."""
    estimate = theory.ema_variance_monte_carlo(t, beta2, sigma, samples, seed + t)
    progress(t * samples)
    return theory.effective_rho(t, beta2), estimate.variance


def _geometric(start: float, stop: float, count: int) -> list[float]:
    ratio = (stop / start) ** (1.0 / (count - 1))
    return [start * ratio**k for k in range(count)]


def _rho_max(text: str) -> int:
    value = positive_int(text)
    if value < 6:
        raise argparse.ArgumentTypeError(f"must be >= 6, got {text}")
    return value


def _samples(text: str) -> int:
    value = positive_int(text)
    if value < 100:
        raise argparse.ArgumentTypeError(f"must be >= 100, got {text}")
    return value
