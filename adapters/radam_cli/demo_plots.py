"""The plots of ``radam demo``, each the miniature of a figure of Liu et al. 2019.

The figures are drawn on matplotlib figures that are not attached to pyplot (no display and
no global state), and matplotlib is imported only when plots are drawn, so ``--no-plots``
works without it. Each figure's title and its caption in report.md name the paper's figure
that it mirrors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radam_cli.demo_config import (
    GRADIENT_RANGE,
    LABELS,
    NAMES,
    UPDATE_RANGE,
    RunResult,
    histogram_edges,
)
from radam_cli.demo_report import LEARNED, format_number, showcase_lr, summarize

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STYLES: dict[str, tuple[str, str, Any]] = dict(
    zip(
        NAMES,
        [
            ("C0", "o", "-"),
            ("C5", "P", (0, (3, 1))),
            ("C1", "s", "--"),
            ("C2", "^", "-."),
            ("C3", "D", ":"),
            ("C4", "v", (0, (6, 2, 1, 2, 1, 2))),
            ("C7", "X", (0, (1, 3))),
        ],
        strict=True,
    )
)
"""Each optimizer's colour, marker and line style: all differ, so coinciding curves stay
distinguishable."""
CHANCE_STYLE: dict[str, Any] = {"color": "gray", "linestyle": (0, (8, 4)), "linewidth": 0.8}
PLOT_RC: dict[Any, Any] = {"font.size": 9}
DPI = 110
VARIANCE_SAMPLES = 4000
"""Monte Carlo draws per step of the variance figure."""


def write_plots(
    out_dir: Path,
    results: Sequence[RunResult],
    chance: float,
    optimizers: Sequence[str],
    config: dict[str, Any],
) -> list[tuple[Path, str]]:
    """Write the PNG plots into ``out_dir``, each with the caption that report.md gives it.

    Args:
        out_dir: An existing folder.
        results: Every run.
        chance: The chance-level loss (drawn as a dashed line).
        optimizers: The optimizers in legend order.
        config: The demo's settings (beta2, the warm-up lengths, K).

    Returns:
        ``(path, caption)`` of each file written.
    """
    from matplotlib import rc_context

    lr = showcase_lr(summarize(results, chance))
    ran = set(optimizers)
    k = config["v_only_steps"]
    figures: list[tuple[str, Figure, str]] = [
        (
            "loss_curves.png",
            plot_loss_curves(results, chance, optimizers, lr),
            f"The paper's Figure 1 in miniature: training loss against the step at lr {lr:g} "
            f"(median over seeds, band from the lowest to the highest seed); Adam-2k is drawn "
            f"from step {1 - k}: its K = {k} steps that only update v end at step 0.",
        )
    ]
    warmups = [name for name in ("adam", "adam-warmup-short", "adam-warmup") if name in ran]
    if len(warmups) > 1:
        figures.append(
            (
                "gradient_histograms.png",
                plot_histograms(results, warmups, lr, ("gradient",)),
                f"The paper's Figure 2 in miniature: |gradient| of every parameter entry at the "
                f"first steps and later, Adam against warm-up, lr {lr:g}, first seed.",
            )
        )
    controls = [
        name for name in ("adam", "adam-2k", "adam-eps", "adam-no-m-correction") if name in ran
    ]
    if len(controls) > 1:
        figures.append(
            (
                "control_histograms.png",
                plot_histograms(results, controls, lr, ("gradient", "update")),
                "The paper's Figure 3 in miniature: |gradient| and |update| / lr of Adam-2k "
                "(from its first update after the v-only steps), Adam-eps and Adam without "
                f"the momentum correction, against Adam, lr {lr:g}, first seed.",
            )
        )
    compared: list[str] = [
        name for name in ("adam", "adam-warmup-short", "adam-warmup", "radam") if name in ran
    ] or list(optimizers)
    labels = [LABELS[name] for name in compared]
    shown = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    figures.append(
        (
            "success_rate.png",
            plot_success(results, chance, compared),
            "The paper's Figure 8 in miniature: the share of seeds that learned the task "
            f"(held-out loss below {LEARNED:g} x chance) against the learning rate, for "
            f"{shown}.",
        )
    )
    figures.append(
        (
            "variance.png",
            plot_variance(config["beta2"]),
            "The paper's variance simulation in miniature (Theorem 1): the variance "
            "of Adam's adaptive learning rate psi_t and of RAdam's r_t psi_t against the step, "
            f"simulated with Gaussian gradients at beta2 = {config['beta2']:g}, beside Theorem 1 "
            "at rho_t.",
        )
    )
    written = []
    with rc_context(PLOT_RC):
        for name, figure, caption in figures:
            path = out_dir / name
            figure.savefig(path, dpi=DPI)
            written.append((path, caption))
    return written


def plot_loss_curves(
    results: Sequence[RunResult], chance: float, optimizers: Sequence[str], lr: float
) -> Figure:
    """The training loss against the step at ``lr``, one curve per optimizer (Figure 1).

    Each optimizer has its own colour, line style and marker, and its markers sit at steps
    of its own, so that curves that coincide (at chance, say) all stay visible.

    Args:
        results: Every run.
        chance: The chance-level loss (drawn as a labelled dashed line).
        optimizers: The optimizers in legend order.
        lr: The learning rate to show.

    Returns:
        The figure (not attached to pyplot).
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    by_key = {(r.optimizer, r.lr): r for r in results}
    with rc_context(PLOT_RC):
        fig = Figure(figsize=(8, 4.8), layout="constrained")
        ax = fig.subplots()
        for index, name in enumerate(optimizers):
            result = by_key[name, lr]
            color, marker, style = STYLES[name]
            curves = np.array(result.curves, dtype=float)
            median = np.nanmedian(np.where(np.isfinite(curves), curves, np.inf), axis=0)
            ax.plot(
                result.curve_steps,
                np.where(np.isfinite(median), median, np.nan),
                color=color,
                linestyle=style,
                linewidth=1.2,
                marker=marker,
                markersize=4,
                markevery=_staggered(len(result.curve_steps), index, len(optimizers)),
                label=LABELS[name],
            )
            low = np.nanmin(np.where(np.isfinite(curves), curves, np.nan), axis=0)
            high = np.nanmax(np.where(np.isfinite(curves), curves, np.nan), axis=0)
            ax.fill_between(result.curve_steps, low, high, color=color, alpha=0.12, linewidth=0)
        ax.axhline(chance, label=f"chance ({chance:.3g})", **CHANCE_STYLE)
        ax.axvline(0.5, color="gray", linewidth=0.6)
        ax.set_yscale("log")
        ax.set_xlabel("step (Adam-2k's v-only steps are 0 and below)")
        ax.set_ylabel("training loss (nats/token)")
        ax.legend(fontsize=8, ncols=2)
        fig.suptitle(
            f"Figure 1 in miniature: training loss at lr = {lr:g} (median over seeds, band: "
            "lowest to highest seed)"
        )
    return fig


def plot_histograms(
    results: Sequence[RunResult],
    optimizers: Sequence[str],
    lr: float,
    quantities: Sequence[str],
) -> Figure:
    """The first seed's |gradient| or |update| / lr at each recorded step, as heatmaps.

    One row of panels per optimizer, one row of each heatmap per recorded step; the colour is
    the share of the model's parameter entries in each bin (each row sums to 1), on one
    logarithmic scale for every panel, shown by the colorbar.

    Args:
        results: Every run.
        optimizers: The optimizers, top to bottom.
        lr: The learning rate to show.
        quantities: ``"gradient"``, ``"update"`` or both: the columns.

    Returns:
        The figure (not attached to pyplot).

    Raises:
        ValueError: For an unknown quantity.
    """
    from matplotlib import colormaps, rc_context
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    known = {
        "gradient": ("gradient_histograms", GRADIENT_RANGE, "|gradient|"),
        "update": ("update_histograms", UPDATE_RANGE, "|update| / lr"),
    }
    unknown = [q for q in quantities if q not in known]
    if unknown:
        raise ValueError(f"quantities: unknown {unknown[0]!r}; choose from gradient, update")
    panels = [known[q] for q in quantities]
    by_key = {(r.optimizer, r.lr): r for r in results}
    names = [name for name in optimizers if by_key[name, lr].histogram_steps]
    totals = [sum(by_key[name, lr].gradient_histograms[0]) for name in names]
    norm = LogNorm(vmin=1 / max([*totals, 1]), vmax=1.0)
    cmap = colormaps["viridis"].with_extremes(bad=colormaps["viridis"](0.0))
    figure_number = 2 if quantities == ("gradient",) else 3
    with rc_context(PLOT_RC):
        rows = max(len(names), 1)
        fig = Figure(figsize=(5 * len(panels) + 1, 2.0 * rows + 1.0), layout="constrained")
        axes = fig.subplots(rows, len(panels), squeeze=False)
        image = None
        for row, name in enumerate(names):
            result = by_key[name, lr]
            steps = result.histogram_steps
            for ax, (field, log_range, what) in zip(axes[row], panels, strict=True):
                table = np.array(getattr(result, field), dtype=float)
                table /= np.maximum(table.sum(axis=1, keepdims=True), 1.0)
                image = ax.imshow(
                    np.where(table > 0, table, np.nan),
                    aspect="auto",
                    origin="upper",
                    cmap=cmap,
                    norm=norm,
                    extent=(log_range[0], log_range[1], len(steps) - 0.5, -0.5),
                    interpolation="nearest",
                )
                ticks = _step_ticks(steps)
                ax.set_yticks(ticks, [str(steps[i]) for i in ticks])
                ax.set_ylabel("update step")
                ax.set_title(f"{LABELS[name]}: {what}")
        for ax, (_, log_range, what) in zip(axes[-1], panels, strict=True):
            zero = format_number(10 ** histogram_edges(log_range)[1], 2)
            ax.set_xlabel(f"log10 {what} (leftmost bin: below {zero}, zeros included)")
        if image is not None:
            fig.colorbar(
                image,
                ax=axes,
                label="share of the parameter entries in the bin (each row sums to 1)",
                shrink=0.6,
            )
        fig.suptitle(
            f"Figure {figure_number} in miniature: lr = {lr:g}, first seed; one row per "
            "recorded update step (rows not to scale past step 10)"
        )
    return fig


def plot_success(results: Sequence[RunResult], chance: float, optimizers: Sequence[str]) -> Figure:
    """The share of seeds that learned the task against the learning rate (Figure 8).

    Args:
        results: Every run.
        chance: The chance-level loss.
        optimizers: The optimizers to draw.

    Returns:
        The figure (not attached to pyplot).
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    cells = summarize(results, chance)
    lrs = sorted({lr for _, lr in cells})
    with rc_context(PLOT_RC):
        fig = Figure(figsize=(7, 4.2), layout="constrained")
        ax = fig.subplots()
        for index, name in enumerate(optimizers):
            color, marker, style = STYLES[name]
            shares = [cells[name, lr].learned / cells[name, lr].seeds for lr in lrs]
            # A small vertical offset per optimizer, so that equal shares stay visible.
            offset = 0.012 * (index - (len(optimizers) - 1) / 2)
            ax.plot(
                lrs,
                np.array(shares) + offset,
                color=color,
                linestyle=style,
                marker=marker,
                markersize=6,
                label=LABELS[name],
            )
        ax.set_xscale("log")
        ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_ylim(-0.08, 1.08)
        ax.set_xlabel("learning rate")
        ax.set_ylabel(f"share of seeds with held-out loss < {LEARNED:g} x chance")
        ax.legend(fontsize=8)
        fig.suptitle("Figure 8 in miniature: robustness to the learning rate")
    return fig


def plot_variance(beta2: float, seed: int = 0) -> Figure:
    """Var[psi_t] and Var[r_t psi_t] against t, simulated and by Theorem 1.

    ``psi_t`` is simulated by
    [`ema_variance_monte_carlo`][radam_core.theory.ema_variance_monte_carlo] (Adam's EMA of
    Gaussian gradients, sigma = 1); ``r_t`` is deterministic, so
    ``Var[r_t psi_t] = r_t^2 Var[psi_t]``, drawn where RAdam rectifies (torch's threshold).
    Theorem 1's closed form is evaluated at ``rho_t``.

    Args:
        beta2: The second-moment decay.
        seed: The Monte Carlo seed.

    Returns:
        The figure (not attached to pyplot).
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    from radam_core import schedule, theory

    horizon = max(10, round(3 / (1 - beta2)))
    steps = sorted({round(float(t)) for t in np.geomspace(1, horizon, 30)})
    rows = {row.t: row for row in schedule(horizon, "torch", betas=(0.9, beta2))}
    simulated = [
        theory.ema_variance_monte_carlo(t, beta2, samples=VARIANCE_SAMPLES, seed=seed + t).variance
        for t in steps
    ]
    rho_t = [theory.effective_rho(t, beta2) for t in steps]
    exact = [theory.exact_variance(r) if r > 2 else math.nan for r in rho_t]
    rectified = [i for i, t in enumerate(steps) if rows[t].rectified]
    r2 = [rows[steps[i]].r_t ** 2 for i in rectified]
    with rc_context(PLOT_RC):
        fig = Figure(figsize=(7, 4.4), layout="constrained")
        ax = fig.subplots()
        ax.plot(
            steps, simulated, "o", color="C0", markersize=4, label=r"Adam: Var[$\psi_t$], simulated"
        )
        ax.plot(steps, exact, "-", color="C0", linewidth=1, label=r"Theorem 1 at $\rho_t$")
        rectified_steps = [steps[i] for i in rectified]
        ax.plot(
            rectified_steps,
            [r * simulated[i] for r, i in zip(r2, rectified, strict=True)],
            "^",
            color="C2",
            markersize=4,
            label=r"RAdam: Var[$r_t \psi_t$], simulated",
        )
        theorem = [r * exact[i] for r, i in zip(r2, rectified, strict=True)]
        label = r"$r_t^2$ x Theorem 1 at $\rho_t$"
        ax.plot(rectified_steps, theorem, "-", color="C2", linewidth=1, label=label)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="step t",
            ylabel="variance of the adaptive learning rate (sigma = 1)",
        )
        ax.legend(fontsize=8)
        fig.suptitle(f"The paper's variance simulation in miniature, beta2 = {beta2:g}")
    return fig


def _step_ticks(steps: Sequence[int]) -> list[int]:
    """Row indices of ``steps`` to label: the rows nearest 1, 3, 10, 30, 100, ..."""
    nice = [m * 10**k for k in range(7) for m in (1, 3)]
    targets = [t for t in nice if t <= steps[-1]] + [steps[-1]]
    rows = {min(range(len(steps)), key=lambda i: abs(steps[i] - t)) for t in targets}
    return sorted(rows)


def _staggered(points: int, index: int, count: int, marks: int = 8) -> list[int]:
    """Indices of the points of curve ``index`` (of ``count``) that carry a marker.

    About ``marks`` per curve, and no two curves share an index.
    """
    period = max(count, points // marks)
    return list(range(index * period // count, points, period))
