"""The report of ``radam demo``: per-cell statistics, findings, plots and report.md.

Every sentence of the summary and of the findings is computed from the run's numbers;
nothing is a canned claim. The plots are drawn on matplotlib figures that are not attached to
pyplot (no display and no global state), and matplotlib is imported only when plots are drawn,
so ``--no-plots`` works without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from radam_cli.demo_config import GRADIENT_RANGE, LABELS, UPDATE_RANGE, RunResult, histogram_edges

if TYPE_CHECKING:
    from matplotlib.figure import Figure

LOSS_CURVES = "loss_curves.png"
LR_ROBUSTNESS = "lr_robustness.png"
HISTOGRAMS = "early_update_histograms.png"
PLOTS = (LOSS_CURVES, LR_ROBUSTNESS, HISTOGRAMS)
LEARNED = 0.1
"""A run "learned the task" when its held-out loss is below this fraction of chance."""
STUCK = 0.9
"""A run "stayed near chance" when its held-out loss is at least this fraction of it."""
EARLY = 5
"""The findings pool the update magnitudes of this many first steps."""
STYLES: dict[str, tuple[str, str, Any]] = {
    "adam": ("C0", "o", "-"),
    "adam-warmup-short": ("C5", "P", (0, (3, 1))),
    "adam-warmup": ("C1", "s", "--"),
    "radam": ("C2", "^", "-."),
    "adam-2k": ("C3", "D", ":"),
    "adam-eps": ("C4", "v", (0, (6, 2, 1, 2, 1, 2))),
    "adam-no-m-correction": ("C7", "X", (0, (1, 3))),
}
"""Each optimizer's colour, marker and line style: all differ, so coinciding curves stay
distinguishable."""
CHANCE_STYLE: dict[str, Any] = {"color": "gray", "linestyle": (0, (8, 4)), "linewidth": 0.8}
PLOT_RC: dict[Any, Any] = {"font.size": 9}
DPI = 110
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


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
    """One [`Cell`][radam_cli.demo_report.Cell] per (optimizer, learning rate) of ``results``.

    Args:
        results: Every run.

    Returns:
        The cells, keyed by ``(optimizer, lr)``.
    """
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


def showcase_lr(cells: dict[tuple[str, float], Cell]) -> float:
    """The learning rate whose histograms the report shows.

    The one where Adam ends furthest above RAdam if both ran, else the one with the widest
    range of mean losses across optimizers; ties go to the larger learning rate.

    Args:
        cells: The cells of [`summarize`][radam_cli.demo_report.summarize].

    Returns:
        One of the learning rates of ``cells``.
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


# --- the summary ------------------------------------------------------------------------


def summary(results: Sequence[RunResult], chance: float, optimizers: Sequence[str]) -> list[str]:
    """The three sentences that open report.md, computed from the run's numbers.

    Args:
        results: Every run.
        chance: The chance-level loss, ``log(vocab)``.
        optimizers: The optimizers in the order to report them.

    Returns:
        Exactly three sentences: which optimizers learned the task at which learning rates;
        how Adam without warm-up fared against Adam with warm-up and RAdam; how large Adam's
        first updates were against RAdam's.
    """
    cells = summarize(results)
    lrs = sorted({lr for _, lr in cells})
    learned = _learned(cells, lrs, optimizers, chance)
    return [
        _who_learned(learned, lrs, optimizers, chance),
        _adam_against_the_fixes(cells, learned, lrs, optimizers),
        _first_updates(results, showcase_lr(cells), optimizers),
    ]


def _who_learned(
    learned: dict[str, list[float]], lrs: list[float], optimizers: Sequence[str], chance: float
) -> str:
    """Which optimizers learned the task at which learning rates, in one sentence."""
    criterion = (
        f"mean held-out loss below {LEARNED:g} x chance = "
        f"{format_number(LEARNED * chance, 3)} nats/token"
    )
    if len(optimizers) == 1:
        name = optimizers[0]
        yes = learned[name]
        no = [lr for lr in lrs if lr not in yes]
        if not yes:
            return (
                f"{LABELS[name]} did not learn the task ({criterion}) at any learning rate of "
                f"this run ({_lrs(lrs)})."
            )
        if not no:
            return (
                f"{LABELS[name]} learned the task ({criterion}) at every learning rate of this "
                f"run ({_lrs(lrs)})."
            )
        return (
            f"{LABELS[name]} learned the task ({criterion}) at lr {_lrs(yes)} but not at "
            f"{_lrs(no)}."
        )
    groups: list[tuple[list[float], list[str]]] = []
    for lr in lrs:
        who = [name for name in optimizers if lr in learned[name]]
        if groups and groups[-1][1] == who:
            groups[-1][0].append(lr)
        else:
            groups.append(([lr], who))
    if len(groups) == 1:
        who = groups[0][1]
        if not who:
            return (
                f"No optimizer learned the task ({criterion}) at any learning rate of this run "
                f"({_lrs(lrs)})."
            )
        return (
            f"{_capital(_subject(who, optimizers))} learned the task ({criterion}) at every "
            f"learning rate of this run ({_lrs(lrs)})."
        )
    clauses = []
    for index, (group, who) in enumerate(groups):
        if index == 0:
            subject = _subject(who, optimizers) if who else "no optimizer"
            clauses.append(f"At lr {_lrs(group)}, {subject} learned the task ({criterion})")
        else:
            subject = _subject(who, optimizers) if who else "none"
            clauses.append(f"at {_lrs(group)}, {subject} did")
    return "; ".join(clauses) + "."


def _subject(who: Sequence[str], optimizers: Sequence[str]) -> str:
    """``who`` (not empty) among ``optimizers`` as a subject: "all five optimizers", ..."""
    missing = [name for name in optimizers if name not in who]
    if not missing:
        count = len(optimizers)
        return "both optimizers" if count == 2 else f"all {_number(count)} optimizers"
    if len(optimizers) >= 3 and len(missing) < len(who):
        return f"all but {_names(missing)}"
    return f"only {_names(who)}"


def _adam_against_the_fixes(
    cells: dict[tuple[str, float], Cell],
    learned: dict[str, list[float]],
    lrs: list[float],
    optimizers: Sequence[str],
) -> str:
    """How Adam without warm-up fared against Adam with warm-up and RAdam, in one sentence."""
    fixes = [name for name in ("adam-warmup", "radam") if name in optimizers]
    if "adam" not in optimizers:
        return (
            "This run did not train Adam without warm-up, so it does not show what warm-up or "
            "RAdam change for it."
        )
    if not fixes:
        return (
            "This run trained neither Adam + warm-up nor RAdam, so it does not compare Adam "
            "without warm-up with them."
        )
    failed = [lr for lr in lrs if lr not in learned["adam"]]
    if failed:
        clauses = [f"Adam without warm-up did not learn the task at lr {_lrs(failed)}"]
        outcomes: dict[tuple[float, ...], list[str]] = {}
        for name in fixes:
            rescued = tuple(lr for lr in failed if lr in learned[name])
            outcomes.setdefault(rescued, []).append(name)
        for rescued, names in outcomes.items():
            missed = [lr for lr in failed if lr not in rescued]
            subject = _names(names) + (" both" if len(names) == 2 else "")
            if not rescued:
                clauses.append(
                    f"neither {LABELS[names[0]]} nor {LABELS[names[1]]} learned it there"
                    if len(names) == 2
                    else f"{_names(names)} did not learn it there either"
                )
            elif not missed:
                where = "there" if len(failed) == 1 else f"at all {_number(len(failed))}"
                clauses.append(f"{subject} learned it {where}")
            else:
                clauses.append(
                    f"{subject} learned it at {_lrs(list(rescued))} but not at {_lrs(missed)}"
                )
    else:
        clauses = [
            "Adam without warm-up learned the task at every learning rate of this run, so "
            f"{_names(fixes)} had no failure of it to prevent"
        ]
    for name in fixes:
        lost = [lr for lr in learned["adam"] if lr not in learned[name]]
        if lost:
            clauses.append(f"{LABELS[name]} did not learn it at {_lrs(lost)}, where Adam did")
    together = [lr for lr in learned["adam"] if all(lr in learned[name] for name in fixes)]
    if together:
        lowest = [
            lr
            for lr in together
            if all(cells["adam", lr].mean < cells[name, lr].mean for name in fixes)
        ]
        all_of = "all three" if len(fixes) == 2 else "both"
        where = f"where {all_of} learned ({_lrs(together)})"
        best = "the lowest" if len(fixes) == 2 else "the lower"
        if lowest == together:
            always = "always " if len(together) > 1 else ""
            clauses.append(f"{where}, Adam {always}ended with {best} mean held-out loss")
        elif lowest:
            clauses.append(f"{where}, Adam ended with {best} mean held-out loss at {_lrs(lowest)}")
        else:
            never = "never ended" if len(together) > 1 else "did not end"
            clauses.append(f"{where}, Adam {never} with {best} mean held-out loss")
    return "; ".join(clauses) + "."


def _first_updates(results: Sequence[RunResult], lr: float, optimizers: Sequence[str]) -> str:
    """How large Adam's first updates were against RAdam's, in one sentence."""
    runs = {r.optimizer: r for r in results if r.lr == lr and r.update_histograms}
    if not {"adam", "radam"} <= set(optimizers):
        return (
            "This run did not train both Adam and RAdam, so it does not compare the sizes of "
            "their first updates."
        )
    if not {"adam", "radam"} <= set(runs):
        return (
            "This run did not record the updates of both Adam and RAdam, so it does not compare "
            "their sizes."
        )
    edges = histogram_edges(UPDATE_RANGE)
    adam, span = _early_median(runs["adam"], edges)
    radam, _ = _early_median(runs["radam"], edges)
    zero = 10 ** edges[1]
    where = f"At lr {lr:g} (first seed), the median |update| {span}"
    if adam < zero and radam < zero:
        return f"{where} was below {_number_text(zero)} x lr (no update) for both Adam and RAdam."
    if radam < zero:
        return (
            f"{where} was {_number_text(adam)} x lr for Adam, while RAdam's was below "
            f"{_number_text(zero)} x lr (no update)."
        )
    if adam < zero:
        return (
            f"{where} was below {_number_text(zero)} x lr for Adam (no update), while RAdam's "
            f"was {_number_text(radam)} x lr."
        )
    ratio = adam / radam
    if ratio >= 1.5:
        compared = f"about {_ratio(ratio)} times RAdam's {_number_text(radam)} x lr"
    elif ratio <= 1 / 1.5:
        compared = (
            f"about {_ratio(1 / ratio)} times smaller than RAdam's {_number_text(radam)} x lr"
        )
    else:
        compared = f"about the same as RAdam's {_number_text(radam)} x lr"
    return f"{where} was {_number_text(adam)} x lr for Adam, {compared}."


# --- the details -------------------------------------------------------------------------


def finding_sections(
    results: Sequence[RunResult], chance: float, optimizers: Sequence[str]
) -> list[tuple[str, list[str]]]:
    """The detailed findings of report.md, by section, computed from the run's numbers.

    Args:
        results: Every run.
        chance: The chance-level loss, ``log(vocab)``.
        optimizers: The optimizers in the order to report them.

    Returns:
        ``(heading, sentences)`` pairs: the paper's claims set against this run (where the
        optimizers they need ran), each optimizer's range of learning rates, each learning
        rate's best and worst optimizer, and the early steps. Empty sections are left out.
    """
    cells = summarize(results)
    lrs = sorted({lr for _, lr in cells})
    learned = _learned(cells, lrs, optimizers, chance)
    sections = [
        ("The paper's claims in this run", _paper_comparison(cells, lrs, learned, optimizers)),
        ("Each optimizer", _per_optimizer(cells, lrs, learned, optimizers, chance)),
        ("Each learning rate", [_per_lr(cells, lr, optimizers) for lr in lrs]),
        ("The first steps", early_step_findings(results, showcase_lr(cells), optimizers)),
    ]
    return [(heading, lines) for heading, lines in sections if lines]


def findings(results: Sequence[RunResult], chance: float, optimizers: Sequence[str]) -> list[str]:
    """Every sentence of [`finding_sections`][radam_cli.demo_report.finding_sections], in order.

    Args:
        results: Every run.
        chance: The chance-level loss, ``log(vocab)``.
        optimizers: The optimizers in the order to report them.

    Returns:
        Markdown bullet texts (without the bullet).
    """
    return [line for _, lines in finding_sections(results, chance, optimizers) for line in lines]


def _paper_comparison(
    cells: dict[tuple[str, float], Cell],
    lrs: list[float],
    learned: dict[str, list[float]],
    optimizers: Sequence[str],
) -> list[str]:
    """Sentences that set this run against the paper's claims, where the optimizers ran."""
    lines = []
    ran = set(optimizers)
    failed = [lr for lr in lrs if lr not in learned.get("adam", lrs)]
    if {"adam", "radam"} <= ran:
        extra = [lr for lr in learned["radam"] if lr not in learned["adam"]]
        lost = [lr for lr in learned["adam"] if lr not in learned["radam"]]
        if extra:
            rates = "a learning rate" if len(extra) == 1 else "learning rates"
            lines.append(
                f"As the paper claims, RAdam learned the task at {rates} where Adam without "
                f"warm-up did not: {_lrs(extra)}."
            )
        elif failed:
            lines.append(
                "RAdam did not learn the task at any learning rate where Adam without warm-up "
                f"failed ({_lrs(failed)}): the paper's robustness claim is not visible in this "
                "run."
            )
        else:
            lines.append(
                "Adam without warm-up learned the task at every learning rate of this grid, so "
                "this run cannot show the paper's robustness claim."
            )
        if lost:
            lines.append(
                f"Adam without warm-up learned the task at {_lrs(lost)}, where RAdam did not."
            )
        both = [lr for lr in learned["adam"] if lr in learned["radam"]]
        if both:
            lines.append(
                f"Where both learned ({_lrs(both)}), "
                + _which_lower(cells, "adam", "radam", both)
                + "."
            )
    if {"radam", "adam-warmup"} <= ran:
        both = [lr for lr in learned["radam"] if lr in learned["adam-warmup"]]
        only_warmup = [lr for lr in learned["adam-warmup"] if lr not in learned["radam"]]
        only_radam = [lr for lr in learned["radam"] if lr not in learned["adam-warmup"]]
        if not (both or only_warmup or only_radam):
            lines.append(
                "Neither RAdam nor Adam + warm-up learned the task at any learning rate of this "
                "grid."
            )
        else:
            if not (only_warmup or only_radam):
                text = (
                    "RAdam, without warm-up, learned the task at the same learning rates as "
                    f"Adam + warm-up ({_lrs(both)})"
                )
            else:
                parts = []
                if both:
                    parts.append(f"RAdam and Adam + warm-up both learned the task at {_lrs(both)}")
                if only_warmup:
                    parts.append(f"only Adam + warm-up learned it at {_lrs(only_warmup)}")
                if only_radam:
                    parts.append(f"only RAdam learned it at {_lrs(only_radam)}")
                text = _capital("; ".join(parts))
            if both:
                text += "; there, " + _which_lower(cells, "radam", "adam-warmup", both)
            lines.append(text + ".")
    controls = {
        "adam-2k": "a second moment estimated over K steps before any update",
        "adam-eps": "a large eps",
    }
    for name, what in controls.items():
        if {name, "adam"} <= ran:
            rescued = [lr for lr in failed if lr in learned[name]]
            if not failed:
                lines.append(
                    f"Adam learned the task at every learning rate of this grid, so {LABELS[name]} "
                    f"({what}) had no failure of Adam to prevent."
                )
            elif rescued == failed:
                lines.append(
                    f"{LABELS[name]} learned the task at every learning rate where Adam failed "
                    f"({_lrs(failed)}): here, {what} prevented Adam's failures."
                )
            elif rescued:
                missed = [lr for lr in failed if lr not in rescued]
                lines.append(
                    f"{LABELS[name]} learned the task at {_lrs(rescued)}, where Adam failed, but "
                    f"not at {_lrs(missed)}, where Adam failed too: here, {what} prevented some "
                    "of Adam's failures."
                )
            else:
                lines.append(
                    f"{LABELS[name]} did not learn the task at any learning rate where Adam "
                    f"failed ({_lrs(failed)}): here, {what} did not prevent Adam's failures."
                )
    return lines


def _which_lower(
    cells: dict[tuple[str, float], Cell], first: str, second: str, lrs: list[float]
) -> str:
    """Which of two optimizers ended with the lower mean loss at ``lrs``, as a clause."""
    a, b = LABELS[first], LABELS[second]
    a_lower = [lr for lr in lrs if cells[first, lr].mean < cells[second, lr].mean]
    b_lower = [lr for lr in lrs if cells[second, lr].mean < cells[first, lr].mean]
    always = "always " if len(lrs) > 1 else ""
    if a_lower == lrs:
        return f"{a}'s mean final loss was {always}lower than {b}'s"
    if b_lower == lrs:
        return f"{b}'s mean final loss was {always}lower than {a}'s"
    if a_lower and b_lower:
        return (
            f"{a}'s mean final loss was the lower at {_lrs(a_lower)} and {b}'s at {_lrs(b_lower)}"
        )
    if a_lower or b_lower:
        lower = a if a_lower else b
        return (
            f"{lower}'s mean final loss was the lower at {_lrs(a_lower or b_lower)} and "
            "equal elsewhere"
        )
    return f"{a} and {b} ended with equal mean final losses"


def _per_optimizer(
    cells: dict[tuple[str, float], Cell],
    lrs: list[float],
    learned: dict[str, list[float]],
    optimizers: Sequence[str],
    chance: float,
) -> list[str]:
    """Each optimizer's range of learning rates, then the most robust ones."""
    count = len(lrs)
    lines = [
        "An optimizer learned the task at a learning rate when its mean held-out loss was "
        f"below {LEARNED:g} x chance ({format_number(LEARNED * chance, 3)} nats/token), and "
        f"stayed near chance when it was at least {STUCK:g} x chance "
        f"({format_number(STUCK * chance, 3)})."
    ]
    for name in optimizers:
        label = LABELS[name]
        yes = learned[name]
        if len(yes) == count:
            where = {1: f"lr {_lrs(lrs)}", 2: "both learning rates"}.get(
                count, f"all {count} learning rates"
            )
            text = f"{label} learned the task at {where}"
        elif not yes:
            text = f"{label} did not learn the task at " + (
                f"lr {_lrs(lrs)}" if count == 1 else f"any of the {count} learning rates"
            )
        else:
            text = f"{label} learned the task at {len(yes)} of the {count} learning rates "
            text += f"({_lrs(yes)})"
        kinds: dict[str, list[float]] = {}
        for lr in lrs:
            if lr not in yes:
                kinds.setdefault(_outcome(cells[name, lr], chance), []).append(lr)
        verbs = {
            "chance": "stayed near chance",
            "between": "ended between the two thresholds",
            "diverged": "diverged on every seed",
        }
        clauses = [f"{verbs[kind]} at {_lrs(where)}" for kind, where in kinds.items()]
        if clauses:
            text += "; it " + _join(clauses)
        text += "."
        for lr in lrs:
            cell = cells[name, lr]
            if 0 < cell.diverged < cell.seeds:
                text += f" At {lr:g}, {cell.diverged} of its {cell.seeds} seeds diverged."
        lines.append(text)
    if len(optimizers) > 1:
        most = max(len(learned[name]) for name in optimizers)
        robust = [name for name in optimizers if len(learned[name]) == most]
        if most and len(robust) == len(optimizers):
            lines.append(
                f"All {_number(len(optimizers))} optimizers learned the task at the same number "
                f"of learning rates ({most} of {count})."
            )
        elif most:
            verb = "it was" if len(robust) == 1 else "they were"
            lines.append(
                f"{_names(robust)} learned the task at the most learning rates ({most} of "
                f"{count}), so {verb} the most robust to the learning rate on this grid."
            )
    return lines


def _per_lr(cells: dict[tuple[str, float], Cell], lr: float, optimizers: Sequence[str]) -> str:
    """One learning rate's lowest and highest final loss and widest spread, as a sentence."""
    present = [cells[name, lr] for name in optimizers]
    finite = sorted((c for c in present if math.isfinite(c.mean)), key=lambda c: c.mean)
    gone = [c.optimizer for c in present if not math.isfinite(c.mean)]
    if not finite:
        who = LABELS[gone[0]] if len(gone) == 1 else "every optimizer"
        return f"At lr {lr:g}, {who} diverged on every seed."
    best, worst = finite[0], finite[-1]
    if len(finite) == 1:
        text = f"At lr {lr:g}, {LABELS[best.optimizer]} ended with a mean held-out loss of "
        text += f"{format_cell(best)}"
    else:
        text = (
            f"At lr {lr:g}, {LABELS[best.optimizer]} ended with the lowest mean held-out loss "
            f"({format_cell(best)}) and {LABELS[worst.optimizer]} with the highest "
            f"({format_cell(worst)})"
        )
    if gone:
        text += f"; {_names(gone)} diverged on every seed"
    spread = [c for c in finite if math.isfinite(c.std)]
    if spread and len(present) > 1:
        widest = max(spread, key=lambda c: c.std)
        text += (
            f"; the seeds of {LABELS[widest.optimizer]} spread the most "
            f"({format_number(widest.low, 3)} to {format_number(widest.high, 3)})"
        )
    elif spread:
        text += f"; its seeds ranged from {format_number(best.low, 3)} to "
        text += format_number(best.high, 3)
    return text + "."


def early_step_findings(
    results: Sequence[RunResult], lr: float, optimizers: Sequence[str], first: int = EARLY
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
    steps = runs[names[0]].histogram_steps
    last = steps[-1]
    edges = histogram_edges(UPDATE_RANGE)
    zero = 10 ** edges[1]
    early, late, zeros_first, zeros_last = {}, {}, {}, {}
    span = ""
    for name in names:
        run = runs[name]
        median, span = _early_median(run, edges, first)
        early[name] = _median_text(median, zero)
        late[name] = _median_text(
            _median_from_counts(np.asarray(run.update_histograms[-1]), edges), zero
        )
        gradients = np.asarray(run.gradient_histograms, dtype=float)
        share = gradients[:, 0] / np.maximum(gradients.sum(axis=1), 1.0)
        zeros_first[name] = f"{share[0]:.0%}"
        zeros_last[name] = f"{share[-1]:.0%}"
    vanished = _number_text(10 ** histogram_edges(GRADIENT_RANGE)[1])
    if len(steps) == 1:
        return [
            f"At lr {lr:g} (first seed), the median |update| / lr at step {last} was "
            f"{_by_name(early)}.",
            f"At lr {lr:g} (first seed), the share of gradient entries below {vanished} "
            f"(vanished gradients) at step {last} was {_by_name(zeros_first)}.",
        ]
    return [
        f"At lr {lr:g} (first seed), the median |update| / lr {span} was {_by_name(early)}; "
        f"at step {last} it was {_by_name(late)}.",
        f"At lr {lr:g} (first seed), the share of gradient entries below {vanished} (vanished "
        f"gradients) was {_by_name(zeros_first)} at step {steps[0]}, and "
        f"{_by_name(zeros_last)} at step {last}.",
    ]


def _early_median(run: RunResult, edges: np.ndarray, first: int = EARLY) -> tuple[float, str]:
    """The median |update| / lr over the first ``first`` recorded steps, and those steps."""
    steps = run.histogram_steps
    rows = [i for i, step in enumerate(steps) if step <= first] or [0]
    counts = np.sum(np.asarray(run.update_histograms)[rows], axis=0)
    span = (
        f"at step {steps[rows[0]]}"
        if len(rows) == 1
        else f"over steps {steps[rows[0]]} to {steps[rows[-1]]}"
    )
    return _median_from_counts(counts, edges), span


def _median_text(median: float, zero: float) -> str:
    """A median |update| / lr as text; "below ..." when it falls in the first (zero) bin."""
    return f"below {_number_text(zero)}" if median < zero else _number_text(median)


def _median_from_counts(counts: np.ndarray, edges: np.ndarray) -> float:
    """The centre (in log10) of the bin that holds the median of a histogram."""
    cumulative = np.cumsum(counts)
    index = int(np.searchsorted(cumulative, cumulative[-1] / 2))
    return float(10 ** ((edges[index] + edges[index + 1]) / 2))


def _by_name(texts: dict[str, str]) -> str:
    """``"0.75 for Adam and 0.013 for RAdam"``, or ``"0% for every optimizer"``."""
    values = list(texts.values())
    if len(values) > 1 and len(set(values)) == 1:
        return f"{values[0]} for " + ("both optimizers" if len(values) == 2 else "every optimizer")
    return _join([f"{value} for {LABELS[name]}" for name, value in texts.items()])


# --- report.md ---------------------------------------------------------------------------


def write_markdown(
    path: Path,
    results: Sequence[RunResult],
    config: dict[str, Any],
    chance: float,
    optimizers: Sequence[str],
    plots: bool,
) -> None:
    """Write ``report.md``: the summary, the setup, the table, the findings and the plots.

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
    out = ["# radam demo: RAdam against Adam and its warm-up variants, in miniature", ""]
    out += [f"- {line}" for line in summary(results, chance, optimizers)]
    out += [
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
    for heading, lines in finding_sections(results, chance, optimizers):
        out += [f"### {heading}", ""]
        out += [f"- {line}" for line in lines]
        out.append("")
    out += [
        f"This is one short run of one tiny model on one task, with {len(config['seeds'])} "
        f"seed{'s' if len(config['seeds']) > 1 else ''} per cell: it shows whether the "
        "effects appear here, not how large they are in general.",
        "",
    ]
    if plots:
        steps = next(
            (r.histogram_steps for r in results if r.lr == shown and r.histogram_steps), []
        )
        recorded = f" at {_rows_text(steps)}" if steps else ""
        out += [
            "## Plots",
            "",
            f"- [Loss curves]({LOSS_CURVES}): training loss (mean over seeds, band from "
            "lowest to highest seed) per learning rate.",
            f"- [Robustness to the learning rate]({LR_ROBUSTNESS}): final held-out loss "
            "against the learning rate (the optimizers side by side around each learning "
            "rate).",
            f"- [Early update histograms]({HISTOGRAMS}): distribution of |gradient| and of "
            f"|update| / lr{recorded}, at lr {shown:g} (first seed), as in the paper's "
            "Figure 2.",
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


# --- the plots ---------------------------------------------------------------------------


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
    from matplotlib import rc_context

    written = []
    with rc_context(PLOT_RC):
        figures = (
            (LOSS_CURVES, plot_loss_curves(results, chance, optimizers)),
            (LR_ROBUSTNESS, plot_robustness(results, chance, optimizers)),
            (HISTOGRAMS, plot_histograms(results, optimizers)),
        )
        for name, figure in figures:
            path = out_dir / name
            figure.savefig(path, dpi=DPI)
            written.append(path)
    return written


def plot_loss_curves(
    results: Sequence[RunResult], chance: float, optimizers: Sequence[str]
) -> Figure:
    """The training loss curves, one panel per learning rate.

    Each optimizer has its own colour, line style and marker, and its markers sit at steps
    of its own, so that curves that coincide (at chance, say) all stay visible.

    Args:
        results: Every run.
        chance: The chance-level loss (drawn as a labelled dashed line).
        optimizers: The optimizers in legend order.

    Returns:
        The figure (not attached to pyplot).
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    by_key = {(r.optimizer, r.lr): r for r in results}
    lrs = sorted({r.lr for r in results})
    columns = min(len(lrs), 3)
    rows = math.ceil(len(lrs) / columns)
    with rc_context(PLOT_RC):
        fig = Figure(figsize=(4 * columns, 3 * rows + 0.6), layout="constrained")
        axes = fig.subplots(rows, columns, sharey=True, squeeze=False)
        for ax, lr in zip(axes.flat, lrs, strict=False):
            for index, name in enumerate(optimizers):
                result = by_key[name, lr]
                color, marker, style = STYLES[name]
                mean, low, high = _finite_stats(np.array(result.curves, dtype=float))
                ax.plot(
                    result.curve_steps,
                    mean,
                    color=color,
                    linestyle=style,
                    linewidth=1.2,
                    marker=marker,
                    markersize=4,
                    markevery=_staggered(len(result.curve_steps), index, len(optimizers)),
                    label=LABELS[name],
                )
                ax.fill_between(result.curve_steps, low, high, color=color, alpha=0.15, linewidth=0)
            ax.axhline(chance, label=f"chance ({chance:.3g})", **CHANCE_STYLE)
            ax.set_yscale("log")
            ax.set_title(f"lr = {lr:g}")
            ax.set_xlabel("step")
        for ax in axes.flat[len(lrs) :]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("training loss (nats/token)")
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
        fig.suptitle(
            "Training loss per learning rate: mean over seeds, band from lowest to highest seed"
        )
    return fig


def plot_robustness(
    results: Sequence[RunResult], chance: float, optimizers: Sequence[str]
) -> Figure:
    """The final held-out loss against the learning rate.

    The optimizers are drawn side by side around each learning rate (a small offset on the
    logarithmic axis), each with its own marker and line style, so that equal values do not
    hide each other.

    Args:
        results: Every run.
        chance: The chance-level loss (drawn as a labelled dashed line).
        optimizers: The optimizers in legend order.

    Returns:
        The figure (not attached to pyplot).
    """
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullLocator

    by_key = {(r.optimizer, r.lr): r for r in results}
    lrs = sorted({r.lr for r in results})
    floor = 1e-6
    step = _dodge(lrs, len(optimizers))
    with rc_context(PLOT_RC):
        fig = Figure(figsize=(7, 4.4), layout="constrained")
        ax = fig.subplots()
        for index, name in enumerate(optimizers):
            color, marker, style = STYLES[name]
            x = np.array(lrs) * 10 ** (step * (index - (len(optimizers) - 1) / 2))
            losses = np.array([by_key[name, lr].final_loss for lr in lrs], dtype=float)
            losses = np.where(np.isfinite(losses), np.maximum(losses, floor), np.nan)
            mean = _finite_stats(losses.T)[0]
            ax.plot(
                x,
                mean,
                color=color,
                linestyle=style,
                marker=marker,
                markersize=6,
                label=LABELS[name],
            )
            for column in losses.T:
                ax.scatter(x, column, s=10, color=color, marker=marker, alpha=0.35, linewidths=0)
        ax.axhline(chance, label=f"chance ({chance:.3g})", **CHANCE_STYLE)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("learning rate (the optimizers side by side around each)")
        ax.set_ylabel("final held-out loss (nats/token)")
        ax.set_title("Final held-out loss against the learning rate (line: mean; dots: seeds)")
        ax.legend(fontsize=8)
    return fig


def plot_histograms(
    results: Sequence[RunResult], optimizers: Sequence[str], lr: float | None = None
) -> Figure:
    """The first seed's |gradient| and |update| / lr at each recorded step, as heatmaps.

    One row per optimizer, one row of each heatmap per recorded step; the colour is the share
    of the model's parameter entries in each bin (each row sums to 1), on one logarithmic
    scale for every panel, shown by the colorbar.

    Args:
        results: Every run.
        optimizers: The optimizers, top to bottom.
        lr: The learning rate to show; by default
            [`showcase_lr`][radam_cli.demo_report.showcase_lr].

    Returns:
        The figure (not attached to pyplot).
    """
    from matplotlib import colormaps, rc_context
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    if lr is None:
        lr = showcase_lr(summarize(results))
    by_key = {(r.optimizer, r.lr): r for r in results}
    names = [name for name in optimizers if by_key[name, lr].histogram_steps]
    totals = [sum(by_key[name, lr].update_histograms[0]) for name in names]
    norm = LogNorm(vmin=1 / max([*totals, 1]), vmax=1.0)
    cmap = colormaps["viridis"]
    cmap = cmap.with_extremes(bad=cmap(0.0), under=cmap(0.0))
    panels = (
        ("gradient_histograms", GRADIENT_RANGE, "|gradient|"),
        ("update_histograms", UPDATE_RANGE, "|update| / lr"),
    )
    with rc_context(PLOT_RC):
        rows = max(len(names), 1)
        fig = Figure(figsize=(10, 2.2 * rows + 0.8), layout="constrained")
        axes = fig.subplots(rows, 2, squeeze=False)
        image = None
        for row, name in enumerate(names):
            result = by_key[name, lr]
            steps = result.histogram_steps
            for ax, (field, log_range, what) in zip(axes[row], panels, strict=True):
                table = np.array(getattr(result, field), dtype=float)
                table /= np.maximum(table.sum(axis=1, keepdims=True), 1.0)
                image = ax.imshow(
                    table,
                    aspect="auto",
                    origin="upper",
                    cmap=cmap,
                    norm=norm,
                    extent=(log_range[0], log_range[1], len(steps) - 0.5, -0.5),
                    interpolation="nearest",
                )
                ticks = _step_ticks(steps)
                ax.set_yticks(ticks, [str(steps[i]) for i in ticks])
                ax.set_ylabel("step")
                ax.set_title(f"{LABELS[name]}: {what}")
        for ax, (_, log_range, what) in zip(axes[-1], panels, strict=True):
            zero = _number_text(10 ** histogram_edges(log_range)[1])
            ax.set_xlabel(f"log10 {what} (leftmost bin: below {zero}, zeros included)")
        if image is not None:
            fig.colorbar(
                image,
                ax=axes,
                label="share of the parameter entries in the bin (each row sums to 1; "
                "empty bins darkest)",
                shrink=0.6,
            )
            steps = by_key[names[0], lr].histogram_steps
            fig.suptitle(
                f"|gradient| and |update| / lr of every parameter entry, lr = {lr:g}, first "
                f"seed;\none row per recorded step: {_rows_text(steps)}"
            )
        else:
            fig.suptitle(f"No histograms were recorded at lr = {lr:g}")
    return fig


def _rows_text(steps: Sequence[int]) -> str:
    """Which steps the rows of the heatmaps are, e.g. "every step from 1 to 12"."""
    if list(steps) == list(range(steps[0], steps[-1] + 1)):
        return f"every step from {steps[0]} to {steps[-1]}"
    run = 1
    while run < len(steps) and steps[run] == steps[run - 1] + 1:
        run += 1
    return (
        f"every step from {steps[0]} to {steps[run - 1]}, then {len(steps) - run} steps spaced "
        f"about geometrically up to {steps[-1]} (rows not to scale)"
    )


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


def _dodge(lrs: Sequence[float], count: int) -> float:
    """Decades between neighbouring optimizers around a learning rate in the robustness plot."""
    gaps = np.diff(np.log10(np.asarray(lrs, dtype=float)))
    smallest = float(gaps.min()) if gaps.size else 1.0
    return min(0.03, smallest / (count + 1))


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


# --- words -------------------------------------------------------------------------------


def _learned(
    cells: dict[tuple[str, float], Cell],
    lrs: list[float],
    optimizers: Sequence[str],
    chance: float,
) -> dict[str, list[float]]:
    """Per optimizer, the learning rates at which it learned the task."""
    return {
        name: [lr for lr in lrs if _outcome(cells[name, lr], chance) == "learned"]
        for name in optimizers
    }


def _outcome(cell: Cell, chance: float) -> str:
    """The cell's outcome: learned, chance (stayed near it), between or diverged (every seed)."""
    if not math.isfinite(cell.mean):
        return "diverged"
    if cell.mean < LEARNED * chance:
        return "learned"
    return "between" if cell.mean < STUCK * chance else "chance"


def _join(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; never called with nothing to join."""
    if not items:
        raise ValueError("nothing to join")
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _lrs(lrs: Sequence[float]) -> str:
    return _join([f"{lr:g}" for lr in lrs])


def _names(names: Sequence[str]) -> str:
    return _join([LABELS[name] for name in names])


def _number(count: int) -> str:
    return NUMBER_WORDS.get(count, str(count))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _number_text(value: float) -> str:
    """A measured magnitude to 2 significant digits: ``0.75``, ``7.5e-4``, ``1.8e-8``."""
    return format_number(value, 2)


def _ratio(value: float) -> str:
    """A ratio to 2 significant digits, as a plain number: ``1.8``, ``18``, ``1,000``."""
    return f"{value:.2g}" if value < 10 else f"{float(f'{value:.2g}'):,.0f}"
