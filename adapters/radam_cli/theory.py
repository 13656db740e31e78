"""``radam theory``: the variance of Adam's adaptive learning rate against rho, three ways."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import NamedTuple, TextIO

from radam_cli.options import beta, positive_float, positive_int
from radam_core import theory


class TheoryRow(NamedTuple):
    """Var[psi] at one rho, every way it is computed.

    Attributes:
        rho: Degrees of freedom (the simple moving average's length).
        exact: Theorem 1's closed form (inf where rho <= 2).
        approximate: The first-order approximation (nan where rho <= 4).
        monte_carlo: The simple-moving-average Monte Carlo estimate.
        standard_error: Its standard error.
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
        "--sigma", type=positive_float, default=1.0, help="gradient standard deviation (1)"
    )
    parser.add_argument(
        "--beta2", type=beta, default=0.9, help="beta2 of the EMA curve, in [0, 1) (default 0.9)"
    )
    parser.add_argument(
        "--samples",
        type=_samples,
        default=20_000,
        help="Monte Carlo draws per point (default 20000, >= 100)",
    )
    parser.add_argument("--seed", type=int, default=0, help="Monte Carlo seed (default 0)")
    parser.add_argument(
        "--out", type=Path, default=Path("radam-theory"), help="folder for theory.png"
    )
    parser.add_argument("--no-plot", action="store_true", help="print the table only")
    parser.set_defaults(run=run)


def rows(rho_max: int, sigma: float, samples: int, seed: int) -> list[TheoryRow]:
    """Var[psi] at rho = 3, 4, ... up to ``rho_max`` (about 30 points, log-spaced).

    Args:
        rho_max: The largest rho.
        sigma: Gradient standard deviation.
        samples: Monte Carlo draws per point.
        seed: Monte Carlo seed (each point offsets it by its rho).

    Returns:
        One :class:`TheoryRow` per rho.
    """
    grid = sorted({3, 4, 5, 6, *(round(x) for x in _geometric(6, rho_max, 26))})
    table = []
    for rho in grid:
        estimate = theory.sma_variance_monte_carlo(rho, sigma, samples, seed + rho)
        table.append(
            TheoryRow(
                rho,
                theory.exact_variance(rho, sigma),
                theory.approximate_variance(rho, sigma) if rho > 4 else math.nan,
                estimate.variance,
                estimate.standard_error,
            )
        )
    return table


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Print the table and write ``theory.png``; return the exit status."""
    table = rows(args.rho_max, args.sigma, args.samples, args.seed)
    print(
        f"Var[psi] of Adam's adaptive learning rate, sigma = {args.sigma:g}, "
        f"{args.samples} Monte Carlo draws per rho",
        file=out,
    )
    print(f"{'rho':>6}  {'exact':>12}  {'approx':>12}  {'monte carlo':>12}  {'+-':>10}", file=out)
    for row in table:
        print(
            f"{row.rho:>6}  {row.exact:>12.6g}  {row.approximate:>12.6g}  "
            f"{row.monte_carlo:>12.6g}  {row.standard_error:>10.2g}",
            file=out,
        )
    if args.no_plot:
        return 0
    try:
        import matplotlib
    except ImportError:
        print("the plot needs matplotlib: pip install radam[demo] (or use --no-plot)", file=out)
        return 1
    matplotlib.use("Agg")
    path = plot(table, args, args.out)
    print(f"wrote {path}", file=out)
    return 0


def plot(table: list[TheoryRow], args: argparse.Namespace, folder: Path) -> Path:
    """Draw the three variance curves and Adam's EMA against rho; save ``theory.png``.

    Args:
        table: From :func:`rows`.
        args: The parsed options (sigma, beta2, samples, seed).
        folder: Where to write; created if missing.

    Returns:
        The PNG's path.
    """
    import matplotlib.pyplot as plt

    ema = _ema_points(args.beta2, args.sigma, args.samples, args.seed, table[-1].rho)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    rhos = [row.rho for row in table]
    axes.plot(rhos, [row.exact for row in table], label="exact (Theorem 1)", color="black")
    axes.plot(
        rhos,
        [row.approximate for row in table],
        "--",
        label=r"approximation $\rho / (2(\rho-2)(\rho-4)\sigma^2)$",
    )
    axes.errorbar(
        rhos,
        [row.monte_carlo for row in table],
        yerr=[2 * row.standard_error for row in table],
        fmt="o",
        markersize=3,
        label="Monte Carlo, simple moving average (±2 s.e.)",
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


def _ema_points(
    beta2: float, sigma: float, samples: int, seed: int, rho_max: int
) -> list[tuple[float, float]]:
    """(rho_t, Monte Carlo Var[psi_t]) for the steps whose rho_t lies in (4, rho_max]."""
    points = []
    t = 1
    while t < 10_000:
        rho_t = theory.effective_rho(t, beta2)
        if rho_t > rho_max:
            break
        if rho_t > 4.0:
            estimate = theory.ema_variance_monte_carlo(t, beta2, sigma, samples, seed + t)
            points.append((rho_t, estimate.variance))
        t = max(t + 1, int(t * 1.25))
    return points


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
