"""The report of ``radam demo``: per-cell statistics, findings, plots and report.md.

Every sentence of the findings is computed from the run's numbers; nothing is a canned
claim. The plots use matplotlib's Agg backend (no display needed), imported only when plots
are written, so ``--no-plots`` works without matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radam_cli.demo_config import GRADIENT_RANGE, LABELS, UPDATE_RANGE, RunResult, histogram_edges

LOSS_CURVES = "loss_curves.png"
LR_ROBUSTNESS = "lr_robustness.png"
HISTOGRAMS = "early_update_histograms.png"
PLOTS = (LOSS_CURVES, LR_ROBUSTNESS, HISTOGRAMS)
LEARNED = 0.1
"""A run "learned the task" when its held-out loss is below this fraction of chance."""
STUCK = 0.9
"""A run "stayed near chance" when its held-out loss is at least this fraction of it."""


@dataclass(frozen=True)
class Cell:
    """The final held-out loss of one optimizer at one learning rate, across seeds.

    Attributes:
        optimizer: The optimizer's name.
        lr: The learning rate.
        mean: Mean over the seeds whose loss is finite (NaN if none is).
        std: Sample standard deviation over them (NaN with fewer than two).
        low: The smallest finite loss.
        high: The largest finite loss.
        accuracy: Mean held-out token accuracy over the same seeds.
        seeds: Number of seeds.
        diverged: Seeds whose loss is not finite.
    """

    optimizer: str
    lr: float
    mean: float
    std: float
    low: float
    high: float
    accuracy: float
    seeds: int
    diverged: int


def summarize(results: Sequence[RunResult]) -> dict[tuple[str, float], Cell]:
    """One :class:`Cell` per (optimizer, learning rate) of ``results``."""
    cells = {}
    for result in results:
        losses = np.array(result.final_loss, dtype=float)
        finite = np.isfinite(losses)
        kept = losses[finite]
        accuracy = np.array(result.final_accuracy, dtype=float)[finite]
        cells[result.optimizer, result.lr] = Cell(
            optimizer=result.optimizer,
            lr=result.lr,
            mean=float(kept.mean()) if kept.size else math.nan,
            std=float(kept.std(ddof=1)) if kept.size > 1 else math.nan,
            low=float(kept.min()) if kept.size else math.nan,
            high=float(kept.max()) if kept.size else math.nan,
            accuracy=float(accuracy.mean()) if kept.size else math.nan,
            seeds=losses.size,
            diverged=int((~finite).sum()),
        )
    return cells


def format_cell(cell: Cell, separator: str = " ± ") -> str:
    """``mean ± std`` of ``cell`` (just the mean for one seed), noting diverged seeds.

    Args:
        cell: The statistics.
        separator: Between the mean and the standard deviation.

    Returns:
        The mean to 3 significant digits and the spread to 1, e.g. ``0.0113 ± 0.006`` or
        ``4.21e-5 ± 9e-6``.
    """
    if cell.diverged == cell.seeds:
        return "diverged"
    text = format_number(cell.mean, 3)
    if not math.isnan(cell.std):
        text += separator + format_number(cell.std, 1)
    if cell.diverged:
        text += f" ({cell.diverged} div.)"
    return text


def format_number(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits; below 1e-3 as ``4.2e-5``."""
    if value != 0 and abs(value) < 1e-3:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.{digits}g}"


def showcase_lr(cells: dict[tuple[str, float], Cell]) -> float:
    """The learning rate whose histograms the report shows.

    The one where Adam ends furthest above RAdam if both ran, else the one with the widest
    range of mean losses across optimizers; ties go to the larger learning rate.
    """
    lrs = sorted({lr for _, lr in cells})
    names = {name for name, _ in cells}

    def gap(lr: float) -> float:
        if {"adam", "radam"} <= names:
            values = [cells["adam", lr].mean, cells["radam", lr].mean]
        else:
            values = [cells[name, lr].mean for name in names]
        values = [v if math.isfinite(v) else 1e9 for v in values]
        return values[0] - values[1] if len(values) == 2 else max(values) - min(values)

    return max(reversed(lrs), key=gap)


def findings(results: Sequence[RunResult], chance: float, optimizers: Sequence[str]) -> list[str]:
    """Sentences that state what the run measured, computed from its numbers.

    First the paper's claims set against this run, then each optimizer's range of learning
    rates, then each learning rate's best and worst optimizer, then the early steps.

    Args:
        results: Every run.
        chance: The chance-level loss, ``log(vocab)``.
        optimizers: The optimizers in the order to report them.

    Returns:
        Markdown bullet texts (without the bullet).
    """
    cells = summarize(results)
    lrs = sorted({lr for _, lr in cells})
    learned = {
        name: [lr for lr in lrs if cells[name, lr].mean < LEARNED * chance] for name in optimizers
    }
    stuck = {
        name: [lr for lr in lrs if not cells[name, lr].mean < STUCK * chance] for name in optimizers
    }
    lines = _paper_comparison(cells, lrs, learned, optimizers)
    for name in optimizers:
        lines.append(
            f"{LABELS[name]} learned the task (mean held-out loss < {LEARNED:g} x chance) at "
            f"{len(learned[name])} of {len(lrs)} learning rates ({_lr_list(learned[name])}); "
            f"it stayed near chance (>= {STUCK:g} x chance) or diverged at "
            f"{_lr_list(stuck[name])}."
        )
    most = max(len(v) for v in learned.values())
    robust = [LABELS[name] for name in optimizers if len(learned[name]) == most]
    lines.append(f"Most robust to the learning rate on this grid: {', '.join(robust)}.")
    for lr in lrs:
        ranked = sorted(
            (cells[name, lr] for name in optimizers),
            key=lambda c: c.mean if math.isfinite(c.mean) else math.inf,
        )
        best, worst = ranked[0], ranked[-1]
        spread = max(ranked, key=lambda c: c.std if math.isfinite(c.std) else -1.0)
        text = (
            f"lr {lr:g}: lowest final loss {LABELS[best.optimizer]} ({format_cell(best)}), "
            f"highest {LABELS[worst.optimizer]} ({format_cell(worst)})"
        )
        if math.isfinite(spread.std):
            text += f"; widest spread across seeds {LABELS[spread.optimizer]} "
            text += f"({format_number(spread.low, 3)} to {format_number(spread.high, 3)})"
        lines.append(text + ".")
    lines.extend(early_step_findings(results, showcase_lr(cells), optimizers))
    return lines


def _paper_comparison(
    cells: dict[tuple[str, float], Cell],
    lrs: list[float],
    learned: dict[str, list[float]],
    optimizers: Sequence[str],
) -> list[str]:
    """Sentences that set this run against the paper's claims, where both optimizers ran."""
    lines = []
    ran = set(optimizers)
    if {"adam", "radam"} <= ran:
        extra = sorted(set(learned["radam"]) - set(learned["adam"]))
        lost = sorted(set(learned["adam"]) - set(learned["radam"]))
        if extra:
            lines.append(
                "As the paper claims, RAdam learned the task at learning rates where Adam "
                f"without warm-up did not: {_lr_list(extra)}."
            )
        else:
            lines.append(
                "RAdam learned at no learning rate of this grid where Adam without warm-up did "
                "not: the paper's robustness claim is not visible in this run."
            )
        if lost:
            lines.append(f"Adam learned at {_lr_list(lost)}, where RAdam did not.")
        both = sorted(set(learned["adam"]) & set(learned["radam"]))
        adam_lower = [lr for lr in both if cells["adam", lr].mean < cells["radam", lr].mean]
        if both:
            lines.append(
                f"Where both learned ({_lr_list(both)}), Adam's mean final loss was lower than "
                f"RAdam's at {_lr_list(adam_lower)}: RAdam's first steps are smaller (see the "
                "update magnitudes below), which costs a short run some progress."
                if adam_lower
                else f"Where both learned ({_lr_list(both)}), RAdam's mean final loss was "
                "never above Adam's."
            )
    if {"radam", "adam-warmup"} <= ran:
        both = sorted(set(learned["radam"]) & set(learned["adam-warmup"]))
        lower = [lr for lr in both if cells["radam", lr].mean < cells["adam-warmup", lr].mean]
        only_warmup = sorted(set(learned["adam-warmup"]) - set(learned["radam"]))
        only_radam = sorted(set(learned["radam"]) - set(learned["adam-warmup"]))
        lines.append(
            f"RAdam (no warm-up) against Adam with warm-up: both learned at {_lr_list(both)} "
            f"(RAdam's mean loss lower at {len(lower)} of them); only Adam with warm-up at "
            f"{_lr_list(only_warmup)}; only RAdam at {_lr_list(only_radam)}."
        )
    controls = {
        "adam-2k": "a second moment estimated over K steps before any update",
        "adam-eps": "a large eps",
    }
    for name, what in controls.items():
        if {name, "adam"} <= ran:
            extra = sorted(set(learned[name]) - set(learned["adam"]))
            if extra:
                lines.append(f"{LABELS[name]} learned where Adam did not at {_lr_list(extra)}.")
            elif set(learned[name]) != set(lrs) or set(learned["adam"]) != set(lrs):
                lines.append(
                    f"{LABELS[name]} learned at no learning rate where Adam did not: here, "
                    f"{what} did not prevent Adam's failures."
                )
    return lines


def early_step_findings(
    results: Sequence[RunResult], lr: float, optimizers: Sequence[str], first: int = 5
) -> list[str]:
    """Sentences on the early steps at ``lr``, read from the first seed's histograms.

    Args:
        results: Every run.
        lr: The learning rate to describe.
        optimizers: The optimizers in report order.
        first: How many first steps to pool.

    Returns:
        Up to two sentences: the median |update| / lr over the first steps and at the last
        recorded step, and the share of gradient entries that are (almost) zero.
    """
    runs = {r.optimizer: r for r in results if r.lr == lr and r.update_histograms}
    names = [name for name in optimizers if name in runs]
    if not names:
        return []
    last = runs[names[0]].histogram_steps[-1]
    updates, zeros = [], []
    edges = histogram_edges(UPDATE_RANGE)
    for name in names:
        run = runs[name]
        early = _median_text(np.sum(run.update_histograms[:first], axis=0), edges)
        late = _median_text(np.asarray(run.update_histograms[-1]), edges)
        updates.append(f"{LABELS[name]} {early} then {late}")
        gradients = np.asarray(run.gradient_histograms, dtype=float)
        share = gradients[:, 0] / gradients.sum(axis=1)
        zeros.append(f"{LABELS[name]} {share[0]:.0%} then {share[-1]:.0%}")
    low = f"1e{GRADIENT_RANGE[0]:g}"
    return [
        f"At lr {lr:g} (first seed), median |update| / lr over the first {first} steps, then at "
        f"step {last}: " + "; ".join(updates) + ".",
        f"At lr {lr:g}, share of gradient entries below {low} (vanished) at step 1, then at "
        f"step {last}: " + "; ".join(zeros) + ".",
    ]


def _median_text(counts: np.ndarray, edges: np.ndarray) -> str:
    """The median of a histogram as text; ``0`` when it falls in the first (zero) bin."""
    median = _median_from_counts(counts, edges)
    return "0" if median < 10 ** edges[1] else f"{median:.2g}"


def _median_from_counts(counts: np.ndarray, edges: np.ndarray) -> float:
    cumulative = np.cumsum(counts)
    index = int(np.searchsorted(cumulative, cumulative[-1] / 2))
    return float(10 ** ((edges[index] + edges[index + 1]) / 2))


def write_markdown(
    path: Path,
    results: Sequence[RunResult],
    config: dict[str, Any],
    chance: float,
    optimizers: Sequence[str],
    plots: bool,
) -> None:
    """Write ``report.md``: the setup, the table, the findings and links to the plots.

    Args:
        path: The file to write.
        results: Every run.
        config: The demo's settings, as written to results.json.
        chance: The chance-level loss.
        optimizers: The optimizers in report order.
        plots: Whether the plots were written (else they are not linked).
    """
    cells = summarize(results)
    lrs = sorted({lr for _, lr in cells})
    shown = showcase_lr(cells)
    out = [
        "# radam demo: RAdam against Adam and its warm-up variants, in miniature",
        "",
        "Liu et al. 2019 ([arXiv:1908.03265](https://arxiv.org/abs/1908.03265)) argue that "
        "Adam's adaptive learning rate has a large variance in the first steps, that warm-up "
        "works by damping those steps, and that RAdam, which rectifies that variance, needs no "
        "warm-up and is robust to the learning rate. This run puts that to a small test.",
        "",
        "## Setup",
        "",
        f"- Task: reverse a sequence of {config['seq_len']} tokens over {config['vocab']} "
        f"symbols (generated; chance level log {config['vocab']} = {chance:.3f} nats/token), "
        f"with a Post-LN Transformer encoder ({config['n_layers']} layers, d_model "
        f"{config['d_model']}, {config['n_heads']} heads), batch {config['batch']}, "
        f"{config['steps']} steps, no dropout, constant learning rate.",
        f"- Optimizers: {', '.join(LABELS[n] for n in optimizers)}; betas (0.9, "
        f"{config['beta2']}), eps 1e-8 (Adam-eps: {config['large_eps']:g}); warm-up "
        f"T_w = {config['warmup_steps']} steps, Adam-2k K = {config['warmup_steps']} steps "
        f"(2/(1 - beta2) = {2 / (1 - config['beta2']):.0f}, as 2000 is for beta2 = 0.999 in "
        "the paper). Adam-2k and Adam-eps are the paper's controls for its explanation: each "
        "reduces the variance of the adaptive learning rate in the first steps without any "
        "warm-up of the learning rate; in the paper, Adam-2k avoided vanilla Adam's bad "
        "convergence.",
        f"- Learning rates {', '.join(f'{lr:g}' for lr in lrs)}; seeds "
        f"{', '.join(str(s) for s in config['seeds'])} (each: its own initialization and "
        "data); final loss: cross-entropy on a held-out set of "
        f"{config['eval_size']} sequences after the last step.",
        "",
        "## Final held-out loss (mean ± std over seeds)",
        "",
        "| lr | " + " | ".join(LABELS[n] for n in optimizers) + " |",
        "|---|" + "---|" * len(optimizers),
    ]
    for lr in lrs:
        row = [format_cell(cells[name, lr]) for name in optimizers]
        out.append(f"| {lr:g} | " + " | ".join(row) + " |")
    out += ["", "## What this run showed", ""]
    out += [f"- {line}" for line in findings(results, chance, optimizers)]
    out += [
        "",
        f"This is one short run of one tiny model on one task, with {len(config['seeds'])} "
        f"seed{'s' if len(config['seeds']) > 1 else ''} per cell: it shows whether the "
        "effects appear here, not how large they are in general.",
        "",
    ]
    if plots:
        out += [
            "## Plots",
            "",
            f"- [Loss curves]({LOSS_CURVES}): training loss (mean over seeds, band from "
            "lowest to highest seed) per learning rate.",
            f"- [Robustness to the learning rate]({LR_ROBUSTNESS}): final held-out loss "
            "against the learning rate.",
            f"- [Early update histograms]({HISTOGRAMS}): distribution of |gradient| and of "
            f"|update| / lr over the first steps at lr {shown:g} (first seed), as in the "
            "paper's Figure 2.",
            "",
            f"![loss curves]({LOSS_CURVES})",
            "",
            f"![robustness to the learning rate]({LR_ROBUSTNESS})",
            "",
            f"![early update histograms]({HISTOGRAMS})",
            "",
        ]
    out += ["Raw numbers: [results.json](results.json).", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def write_plots(
    out_dir: Path, results: Sequence[RunResult], chance: float, optimizers: Sequence[str]
) -> list[Path]:
    """Write the three PNG plots into ``out_dir``.

    Args:
        out_dir: An existing folder.
        results: Every run.
        chance: The chance-level loss (drawn as a dashed line).
        optimizers: The optimizers in legend order.

    Returns:
        The files written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {name: f"C{i}" for i, name in enumerate(LABELS)}
    by_key = {(r.optimizer, r.lr): r for r in results}
    lrs = sorted({r.lr for r in results})
    written = []
    with plt.rc_context({"font.size": 9}):
        written.append(_plot_curves(plt, out_dir, by_key, lrs, chance, optimizers, colors))
        written.append(_plot_robustness(plt, out_dir, by_key, lrs, chance, optimizers, colors))
        shown = showcase_lr(summarize(results))
        written.append(_plot_histograms(plt, out_dir, by_key, shown, optimizers))
    return written


def _plot_curves(
    plt: Any,
    out_dir: Path,
    by_key: dict[tuple[str, float], RunResult],
    lrs: list[float],
    chance: float,
    optimizers: Sequence[str],
    colors: dict[str, str],
) -> Path:
    columns = min(len(lrs), 3)
    rows = math.ceil(len(lrs) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4 * columns, 3 * rows), sharey=True, squeeze=False
    )
    for ax, lr in zip(axes.flat, lrs, strict=False):
        for name in optimizers:
            result = by_key[name, lr]
            mean, low, high = _finite_stats(np.array(result.curves, dtype=float))
            ax.plot(result.curve_steps, mean, color=colors[name], label=LABELS[name])
            ax.fill_between(
                result.curve_steps,
                low,
                high,
                color=colors[name],
                alpha=0.15,
                linewidth=0,
            )
        ax.axhline(chance, color="gray", linestyle="--", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_title(f"lr = {lr:g}")
        ax.set_xlabel("step")
    for ax in axes.flat[len(lrs) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("training loss (nats/token)")
    axes.flat[0].legend(loc="lower left")
    fig.suptitle("Loss curves (dashed: chance level)")
    fig.tight_layout()
    path = out_dir / LOSS_CURVES
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_robustness(
    plt: Any,
    out_dir: Path,
    by_key: dict[tuple[str, float], RunResult],
    lrs: list[float],
    chance: float,
    optimizers: Sequence[str],
    colors: dict[str, str],
) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    floor = 1e-6
    for i, name in enumerate(optimizers):
        losses = np.array([by_key[name, lr].final_loss for lr in lrs], dtype=float)
        losses = np.where(np.isfinite(losses), np.maximum(losses, floor), np.nan)
        mean = _finite_stats(losses.T)[0]
        ax.plot(lrs, mean, marker="o", color=colors[name], label=LABELS[name])
        shift = 1.0 + 0.02 * (i - len(optimizers) / 2)
        for column in losses.T:
            ax.scatter(np.array(lrs) * shift, column, s=8, color=colors[name], alpha=0.4)
    ax.axhline(chance, color="gray", linestyle="--", linewidth=0.8, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("final held-out loss (nats/token)")
    ax.set_title("Robustness to the learning rate (line: mean; dots: seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / LR_ROBUSTNESS
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_histograms(
    plt: Any,
    out_dir: Path,
    by_key: dict[tuple[str, float], RunResult],
    lr: float,
    optimizers: Sequence[str],
) -> Path:
    names = [name for name in optimizers if by_key[name, lr].histogram_steps]
    fig, axes = plt.subplots(
        max(len(names), 1), 2, figsize=(9, 2.2 * max(len(names), 1)), squeeze=False
    )
    for row, name in enumerate(names):
        result = by_key[name, lr]
        panels = (
            (result.gradient_histograms, GRADIENT_RANGE, "|gradient|"),
            (result.update_histograms, UPDATE_RANGE, "|update| / lr"),
        )
        for ax, (counts, log_range, what) in zip(axes[row], panels, strict=True):
            table = np.array(counts, dtype=float)
            table /= np.maximum(table.sum(axis=1, keepdims=True), 1.0)
            steps = result.histogram_steps
            ax.imshow(
                table,
                aspect="auto",
                origin="upper",
                cmap="viridis",
                extent=(log_range[0], log_range[1], len(steps) - 0.5, -0.5),
                interpolation="nearest",
            )
            ticks = _step_ticks(steps)
            ax.set_yticks(ticks, [str(steps[i]) for i in ticks])
            ax.set_ylabel("step")
            ax.set_title(f"{LABELS[name]}: log10 {what}")
    for ax in axes[-1]:
        ax.set_xlabel("log10 magnitude (zeros in the leftmost bin)")
    fig.suptitle(f"Distributions over the first steps, lr = {lr:g}, first seed")
    fig.tight_layout()
    path = out_dir / HISTOGRAMS
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _step_ticks(steps: Sequence[int]) -> list[int]:
    """Row indices of ``steps`` to label: the rows nearest 1, 3, 10, 30, 100, ..."""
    nice = [m * 10**k for k in range(7) for m in (1, 3)]
    targets = [t for t in nice if t <= steps[-1]] + [steps[-1]]
    rows = {min(range(len(steps)), key=lambda i: abs(steps[i] - t)) for t in targets}
    return sorted(rows)


def _finite_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over axis 0 of the finite entries; NaN where a column has none."""
    finite = np.isfinite(rows)
    count = finite.sum(axis=0)
    safe = np.where(finite, rows, 0.0)
    empty = count == 0
    mean = np.where(empty, np.nan, safe.sum(axis=0) / np.maximum(count, 1))
    low = np.where(empty, np.nan, np.where(finite, rows, np.inf).min(axis=0))
    high = np.where(empty, np.nan, np.where(finite, rows, -np.inf).max(axis=0))
    return mean, low, high


def _lr_list(lrs: Sequence[float]) -> str:
    return ", ".join(f"{lr:g}" for lr in lrs) if lrs else "none"
