"""The report of ``radam demo``: per-cell statistics, the paper's findings, and report.md.

A seed "learned the task" when its held-out loss ends below
[`LEARNED`][radam_cli.demo_report.LEARNED] x chance. Outcomes across seeds are often bimodal
(a seed learns or stays at chance), so the report counts the seeds that learned and gives
medians with the lowest and highest seed, never a mean and a standard deviation. Every
sentence is computed from the run's numbers: the paper's four findings are each stated as
reproduced or not, with the counts behind the verdict. The plots are in
[`demo_plots`][radam_cli.demo_plots].
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from radam_cli.demo_config import LABELS, RunResult

LEARNED = 0.1
"""A seed learned the task when its held-out loss is below this fraction of chance."""
EARLY = 5
"""The first-update comparisons pool this many steps."""


@dataclass(frozen=True)
class Cell:
    """The final held-out loss of one optimizer at one learning rate, across seeds.

    Attributes:
        optimizer: The optimizer's name.
        lr: The learning rate.
        learned: Seeds whose loss ended below ``LEARNED`` x chance.
        seeds: Number of seeds.
        median: Median loss over the seeds, a diverged seed counting as the highest (NaN
            when more than half diverged).
        low: The lowest finite loss (NaN if none is finite).
        high: The highest loss, infinite if a seed diverged.
        diverged: Seeds whose loss is not finite.
    """

    optimizer: str
    lr: float
    learned: int
    seeds: int
    median: float
    low: float
    high: float
    diverged: int

    @property
    def mostly_learned(self) -> bool:
        """Whether more than half of the seeds learned the task."""
        return 2 * self.learned > self.seeds


def summarize(results: Sequence[RunResult], chance: float) -> dict[tuple[str, float], Cell]:
    """One [`Cell`][radam_cli.demo_report.Cell] per (optimizer, learning rate) of ``results``.

    Args:
        results: Every run.
        chance: The chance-level loss, ``log(vocab)``.

    Returns:
        The cells, keyed by ``(optimizer, lr)``.
    """
    cells = {}
    for result in results:
        losses = np.array(result.final_loss, dtype=float)
        finite = np.isfinite(losses)
        ranked = np.sort(np.where(finite, losses, np.inf))
        median = float(np.median(ranked)) if ranked.size else math.nan
        cells[result.optimizer, result.lr] = Cell(
            optimizer=result.optimizer,
            lr=result.lr,
            learned=int((losses[finite] < LEARNED * chance).sum()),
            seeds=losses.size,
            median=median if math.isfinite(median) else math.nan,
            low=float(losses[finite].min()) if finite.any() else math.nan,
            high=float(ranked[-1]) if ranked.size else math.nan,
            diverged=int((~finite).sum()),
        )
    return cells


def format_cell(cell: Cell) -> str:
    """The median loss of ``cell`` with its range over the seeds.

    Returns:
        For example ``0.0113 (0.009 to 0.02)``, ``diverged`` when more than half the seeds
        diverged, and the count of diverged seeds where there are some.
    """
    if math.isnan(cell.median):
        return f"diverged ({cell.diverged} of {cell.seeds})"
    text = format_number(cell.median, 3)
    if cell.seeds > 1:
        high = "diverged" if math.isinf(cell.high) else format_number(cell.high, 2)
        text += f" ({format_number(cell.low, 2)} to {high})"
    return text


def format_count(cell: Cell) -> str:
    """``learned/seeds``, e.g. ``3/5``."""
    return f"{cell.learned}/{cell.seeds}"


def format_number(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits; below 1e-3 as ``4.2e-5``.

    Args:
        value: The number.
        digits: Significant digits.

    Returns:
        The text.
    """
    if value != 0 and abs(value) < 1e-3:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.{digits}g}"


def result_tables(
    cells: dict[tuple[str, float], Cell], optimizers: Sequence[str], markdown: bool
) -> list[str]:
    """Two tables: seeds that learned, and the median final loss with its range.

    Args:
        cells: From [`summarize`][radam_cli.demo_report.summarize].
        optimizers: The columns, in order.
        markdown: Markdown tables, else aligned plain text.

    Returns:
        The lines of both tables, a blank line between them.
    """
    lrs = sorted({lr for _, lr in cells})
    lines: list[str] = []
    for title, cell_text in (
        ("Seeds that learned the task", format_count),
        ("Median final held-out loss, nats/token (lowest to highest seed)", format_cell),
    ):
        header = ["lr", *(LABELS[name] for name in optimizers)]
        rows = [[f"{lr:g}", *(cell_text(cells[name, lr]) for name in optimizers)] for lr in lrs]
        if lines:
            lines.append("")
        if markdown:
            lines += [f"#### {title}", "", "| " + " | ".join(header) + " |"]
            lines.append("|---" * len(header) + "|")
            lines += ["| " + " | ".join(row) + " |" for row in rows]
        else:
            widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
            lines.append(title + ":")
            for first, *rest in [header, *rows]:
                right = zip(rest, widths[1:], strict=True)
                texts = [first.ljust(widths[0]), *(text.rjust(width) for text, width in right)]
                lines.append("  ".join(texts))
    return lines


def showcase_lr(cells: dict[tuple[str, float], Cell]) -> float:
    """The learning rate that the histograms and the loss curves show.

    The lowest learning rate at which Adam learned on at most half of the seeds, where the
    fixes can show what they change; without Adam or such a rate, the largest.

    Args:
        cells: From [`summarize`][radam_cli.demo_report.summarize].

    Returns:
        One of the learning rates of ``cells``.
    """
    lrs = sorted({lr for _, lr in cells})
    failed = [lr for lr in lrs if ("adam", lr) in cells and not cells["adam", lr].mostly_learned]
    return failed[0] if failed else lrs[-1]


# --- the paper's four findings -------------------------------------------------------------


def findings(
    results: Sequence[RunResult], chance: float, optimizers: Sequence[str]
) -> list[tuple[str, str]]:
    """The paper's four findings, each as (claim, what this run shows), from the numbers.

    Args:
        results: Every run.
        chance: The chance-level loss.
        optimizers: The optimizers that ran.

    Returns:
        Four pairs; the second item starts with "Reproduced", "Partly reproduced", "Not
        reproduced" or "Not tested" and gives the counts of seeds behind it.
    """
    cells = summarize(results, chance)
    lrs = sorted({lr for _, lr in cells})
    ran = set(optimizers)
    failed = [lr for lr in lrs if "adam" in ran and not cells["adam", lr].mostly_learned]
    return [
        ("Adam without warm-up fails at high learning rates.", _adam_fails(cells, lrs, ran)),
        (
            "Warm-up and RAdam learn where Adam fails.",
            _fixes_learn(cells, failed, ran, ("adam-warmup", "adam-warmup-short", "radam")),
        ),
        (
            "RAdam is more robust to the learning rate than a fixed short warm-up.",
            _robustness(cells, lrs, ran),
        ),
        (
            "Adam-2k and Adam-eps avoid Adam's bad start.",
            _controls(cells, failed, ran),
        ),
    ]


def _counts(cells: dict[tuple[str, float], Cell], name: str, lrs: Sequence[float]) -> str:
    """``3/5 seeds at lr 0.05, 0/5 at 0.07`` for ``name``."""
    parts = [f"{format_count(cells[name, lr])} at {lr:g}" for lr in lrs]
    parts[0] = parts[0].replace(" at ", " seeds at ", 1)
    return f"{LABELS[name]} learned on " + _join(parts)


def _adam_fails(cells: dict[tuple[str, float], Cell], lrs: list[float], ran: set[str]) -> str:
    if "adam" not in ran:
        return "Not tested: Adam without warm-up did not run."
    failed = [lr for lr in lrs if not cells["adam", lr].mostly_learned]
    counts = _counts(cells, "adam", lrs) + " (seeds that learned, by learning rate)"
    if not failed:
        return f"Not reproduced: {counts}; it learned on most seeds at every learning rate."
    learned_above = [lr for lr in lrs if lr > failed[0] and cells["adam", lr].mostly_learned]
    if learned_above:
        return (
            f"Partly reproduced: {counts}; it failed on most seeds at {_lrs(failed)}, but not "
            f"at every learning rate above {failed[0]:g} ({_lrs(learned_above)})."
        )
    if failed[0] == lrs[0]:
        return (
            f"Not shown: {counts}; it failed on most seeds at every learning rate, the lowest "
            "included, so this grid has no learning rate low enough for it to learn."
        )
    return f"Reproduced: {counts}; it failed on most seeds from lr {failed[0]:g} up."


def _fixes_learn(
    cells: dict[tuple[str, float], Cell],
    failed: list[float],
    ran: set[str],
    fixes: Sequence[str],
) -> str:
    present = [name for name in fixes if name in ran]
    if "adam" not in ran or not present:
        return "Not tested: Adam or the warm-ups and RAdam did not run."
    if not failed:
        return "Not tested: Adam learned on most seeds at every learning rate of this grid."
    where = f"Where Adam failed on most seeds ({_lrs(failed)}): "
    clauses = [_counts(cells, name, failed) for name in present]
    good = {name: [lr for lr in failed if cells[name, lr].mostly_learned] for name in present}
    text = f"{_verdict(good, failed)}. {where}" + "; ".join(clauses) + "."
    short = [name for name in present if not good[name]]
    if short:
        text += f" {_names(short)} learned on most seeds at none of them."
    return text


def _robustness(cells: dict[tuple[str, float], Cell], lrs: list[float], ran: set[str]) -> str:
    if not {"radam", "adam-warmup-short"} <= ran:
        return "Not tested: RAdam or the short warm-up did not run."
    radam = {lr for lr in lrs if cells["radam", lr].mostly_learned}
    short = {lr for lr in lrs if cells["adam-warmup-short", lr].mostly_learned}
    more, fewer = sorted(radam - short), sorted(short - radam)
    totals = {
        name: sum(cells[name, lr].learned for lr in lrs)
        for name in ("radam", "adam-warmup-short", "adam-warmup")
        if name in ran
    }
    seeds = sum(cells["radam", lr].seeds for lr in lrs)
    learned = [f"{LABELS[name]} on {count}" for name, count in totals.items()]
    text = f"Of the {seeds} seed runs across the grid, {_join(learned)} learned the task. "
    text += _counts(cells, "radam", lrs) + "; " + _counts(cells, "adam-warmup-short", lrs) + "."
    if more and not fewer:
        return (
            f"Reproduced: RAdam learned on most seeds at {_lrs(more)}, where the short warm-up "
            f"did not, and the short warm-up at no learning rate where RAdam did not. {text}"
        )
    if more:
        return (
            f"Partly reproduced: RAdam learned on most seeds at {_lrs(more)}, where the short "
            f"warm-up did not, but the short warm-up did at {_lrs(fewer)}, where RAdam did not. "
            f"{text}"
        )
    if fewer:
        return (
            f"Not reproduced: the short warm-up learned on most seeds at {_lrs(fewer)}, where "
            f"RAdam did not. {text}"
        )
    return (
        "Not reproduced: RAdam and the short warm-up learned on most seeds at the same "
        f"learning rates. {text}"
    )


def _controls(cells: dict[tuple[str, float], Cell], failed: list[float], ran: set[str]) -> str:
    controls: list[str] = [name for name in ("adam-2k", "adam-eps") if name in ran]
    if "adam" not in ran or not controls:
        return "Not tested: Adam or Adam-2k and Adam-eps did not run."
    if not failed:
        return "Not tested: Adam learned on most seeds at every learning rate of this grid."
    good = {name: [lr for lr in failed if cells[name, lr].mostly_learned] for name in controls}
    text = f"{_verdict(good, failed)}. Where Adam failed on most seeds ({_lrs(failed)}): "
    text += "; ".join(_counts(cells, name, failed) for name in controls) + "."
    ablation = "adam-no-m-correction"
    if ablation in ran:
        damped = [lr for lr in failed if cells[ablation, lr].mostly_learned]
        text += " " + _counts(cells, ablation, failed) + " there: "
        if damped:
            text += (
                f"damping the first updates alone, with Adam's own v, was enough at "
                f"{_lrs(damped)}, so there this run does not separate the paper's variance "
                "explanation from simple damping."
            )
        else:
            text += (
                "damping the first updates alone, with Adam's own v, was not enough, as the "
                "paper's variance explanation expects."
            )
    return text


def worse_than_adam(cells: dict[tuple[str, float], Cell], optimizers: Sequence[str]) -> list[str]:
    """Where an optimizer learned on fewer seeds than Adam, one sentence per optimizer.

    Args:
        cells: From [`summarize`][radam_cli.demo_report.summarize].
        optimizers: The optimizers that ran.

    Returns:
        Sentences, none when Adam did not run or nothing did worse than it.
    """
    if "adam" not in optimizers:
        return []
    lrs = sorted({lr for _, lr in cells})
    lines = []
    for name in optimizers:
        worse = [lr for lr in lrs if cells[name, lr].learned < cells["adam", lr].learned]
        if name != "adam" and worse:
            parts = [
                f"{format_count(cells[name, lr])} against Adam's "
                f"{format_count(cells['adam', lr])} at {lr:g}"
                for lr in worse
            ]
            lines.append(f"{LABELS[name]} learned on fewer seeds than Adam: {_join(parts)}.")
    return lines


# --- the first updates -----------------------------------------------------------------------


def first_updates(
    results: Sequence[RunResult], lr: float, optimizers: Sequence[str], first_rectified: int
) -> list[str]:
    """Sentences on the sizes of the first updates at ``lr``, over the seeds.

    A seed's size is the median over ``EARLY`` recorded steps of its per-step median
    |update| / lr. Adam's first updates are set against RAdam's first rectified ones (its
    steps before ``first_rectified`` take no adaptive rate), seed by seed, and against those
    of Adam-2k, Adam-eps and the ablation. Each value is the median over the seeds, with
    their range.

    Args:
        results: Every run.
        lr: The learning rate to describe.
        optimizers: The optimizers that ran.
        first_rectified: RAdam's first rectified step.

    Returns:
        Sentences; none where Adam's medians are missing.
    """
    runs = {r.optimizer: r for r in results if r.lr == lr and r.update_medians}
    if "adam" not in runs:
        return []
    adam, adam_steps = _seed_updates(runs["adam"], 1)
    seeds = f"{len(adam)} seeds" if len(adam) != 1 else "1 seed"
    lines = []
    if "radam" in runs:
        radam, radam_steps = _seed_updates(runs["radam"], first_rectified)
        if radam_steps:
            lines.append(
                f"At lr {lr:g}, over {seeds}, the median |update| / lr was {_spread(adam)} "
                f"over Adam's {adam_steps} and {_spread(radam)} over RAdam's first rectified "
                f"{radam_steps}: Adam's were {_spread(adam / radam, _ratio)} times larger, "
                "seed by seed (medians, with the range over the seeds)."
            )
    others = [name for name in ("adam-2k", "adam-eps", "adam-no-m-correction") if name in runs]
    if others:
        parts = [f"{_spread(adam)} for Adam"]
        parts += [
            f"{_spread(_seed_updates(runs[name], 1)[0])} for {LABELS[name]}" for name in others
        ]
        lines.append(
            f"At lr {lr:g}, over {seeds}, the median |update| / lr over the first {EARLY} "
            f"updates was {_join(parts)}."
        )
    return lines


def _seed_updates(run: RunResult, start: int) -> tuple[np.ndarray, str]:
    """Each seed's median |update| / lr over ``EARLY`` recorded steps from ``start``; the steps."""
    rows = [i for i, step in enumerate(run.histogram_steps) if start <= step < start + EARLY]
    if not rows:
        return np.full(len(run.seeds), math.nan), ""
    steps = run.histogram_steps
    return np.median(np.asarray(run.update_medians)[rows], axis=0), (
        f"steps {steps[rows[0]]} to {steps[rows[-1]]}"
    )


def _spread(values: np.ndarray, text: Callable[[float], str] | None = None) -> str:
    """The median of ``values`` and their range: ``7.5e-4 (6.1e-4 to 9.9e-4)``.

    NaN (a seed whose parameters stopped being finite) makes every part NaN.
    """
    text = text or _number_text
    if np.isnan(values).any():
        return "nan"
    low, middle, high = np.min(values), np.median(values), np.max(values)
    return f"{text(float(middle))} ({text(float(low))} to {text(float(high))})"


# --- report.md ---------------------------------------------------------------------------


def write_markdown(
    path: Path,
    results: Sequence[RunResult],
    config: dict[str, Any],
    chance: float,
    optimizers: Sequence[str],
    captions: Sequence[tuple[str, str]],
) -> None:
    """Write ``report.md``: the four findings, the setup, the tables, the first updates, plots.

    Args:
        path: The file to write.
        results: Every run.
        config: The demo's settings, as written to results.json.
        chance: The chance-level loss.
        optimizers: The optimizers in report order.
        captions: ``(file name, caption)`` of each plot written, in order.
    """
    from radam_core import first_rectified_step

    cells = summarize(results, chance)
    lrs = sorted({lr for _, lr in cells})
    shown = showcase_lr(cells)
    seeds = len(config["seeds"])
    beta2 = config["beta2"]
    out = ["# radam demo: the paper's findings in miniature", ""]
    out += [
        "Liu et al. 2019 ([arXiv:1908.03265](https://arxiv.org/abs/1908.03265)) find that Adam "
        "without warm-up can fail, that warm-up and RAdam avoid it, that RAdam is more robust to "
        "the learning rate than a fixed warm-up, and that Adam-2k and Adam-eps, which reduce the "
        "variance of the first adaptive steps, avoid it too. Each finding in this run:",
        "",
    ]
    for number, (claim, shown_here) in enumerate(findings(results, chance, optimizers), 1):
        out.append(f"{number}. **{claim}** {shown_here}")
    threshold = format_number(LEARNED * chance, 3)
    out += [
        "",
        f"A seed learned the task when its held-out loss ended below {LEARNED:g} x chance = "
        f"{threshold} nats/token; a finding holds at a learning rate when more than half of "
        f"the {seeds} seeds did.",
        "",
        "## Setup",
        "",
        f"- Task: reverse a sequence of {config['seq_len']} tokens over {config['vocab']} "
        f"symbols (generated; chance level log {config['vocab']} = {chance:.3f} nats/token), "
        f"with a Post-LN Transformer encoder ({config['n_layers']} layers, d_model "
        f"{config['d_model']}, {config['n_heads']} heads), batch {config['batch']}, "
        f"{config['steps']} parameter updates, no dropout, constant learning rate after any "
        "warm-up.",
        f"- betas (0.9, {beta2}); eps 1e-8 except for Adam-eps. 2/(1 - beta2) = "
        f"{2 / (1 - beta2):.0f} steps plays the role of the paper's 2000 at beta2 = 0.999.",
        f"- Warm-ups: linear, T_w = {config['short_warmup_steps']} (short: the paper's 100 of "
        f"2000, scaled) and T_w = {config['warmup_steps']} (2/(1 - beta2), a later rule of "
        "thumb).",
        f"- Adam-2k: K = {config['v_only_steps']} steps that only update v, then Adam with the "
        "first moment's bias correction at the global step, as in the authors' code; it runs K "
        f"steps more than the others, so it makes as many updates ({config['steps']}).",
        f"- Adam-eps: eps = {format_number(config['large_eps'], 2)} on the raw sqrt(v), as in "
        f"the authors' code; that is {config['large_eps'] / config['median_gradient']:.2g} x "
        "the median |gradient| of the models at initialization "
        f"({format_number(config['median_gradient'], 2)}).",
        "- Adam, no m correction: Adam without the first moment's bias correction, whose first "
        "updates are damped by 1 - beta1^t as Adam-2k's are, but with Adam's own v: an "
        "ablation that separates damping from the variance of v.",
        f"- Learning rates {_lrs(lrs)}; seeds {', '.join(str(s) for s in config['seeds'])} "
        "(each: its own initialization and data); held-out set of "
        f"{config['eval_size']} sequences.",
        "",
        "## Results",
        "",
        *result_tables(cells, optimizers, markdown=True),
        "",
    ]
    worse = worse_than_adam(cells, optimizers)
    rectified = first_rectified_step("torch", betas=(0.9, beta2))
    early = first_updates(results, shown, optimizers, rectified or 1)
    if worse or early:
        out += ["## Details", ""]
        out += [f"- {line}" for line in [*worse, *early]]
        out.append("")
    out += [
        f"This is one short run of one tiny model on one task, with {seeds} "
        f"seed{'s' if seeds > 1 else ''} per cell: it shows whether the effects appear here, "
        "not how large they are in general.",
        "",
    ]
    if captions:
        out += ["## Plots", ""]
        for name, caption in captions:
            out += [f"![{name}]({name})", "", f"*{caption}*", ""]
    out += ["Raw numbers: [results.json](results.json).", ""]
    path.write_text("\n".join(out), encoding="utf-8")


# --- words -------------------------------------------------------------------------------


def _join(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; never called with nothing to join."""
    if not items:
        raise ValueError("nothing to join")
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _verdict(good: Mapping[str, list[float]], failed: list[float]) -> str:
    """The verdict on a finding: reproduced, partly or not.

    Reproduced: each optimizer learned on most seeds at every lr in ``failed``; partly: some
    did at some.
    """
    if all(lrs == failed for lrs in good.values()):
        return "Reproduced"
    if any(good.values()):
        return "Partly reproduced"
    return "Not reproduced"


def _lrs(lrs: Sequence[float]) -> str:
    return _join([f"{lr:g}" for lr in lrs])


def _names(names: Sequence[str]) -> str:
    return _join([LABELS[name] for name in names])


def _number_text(value: float) -> str:
    """A measured magnitude to 2 significant digits: ``0.75``, ``7.5e-4``, ``1.8e-8``."""
    return format_number(value, 2)


def _ratio(value: float) -> str:
    """A ratio to 2 significant digits, as a plain number: ``1.8``, ``18``, ``1,000``."""
    return f"{value:.2g}" if value < 10 else f"{float(f'{value:.2g}'):,.0f}"
