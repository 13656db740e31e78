"""The report of ``radam demo``: its summary and findings follow the numbers; its plots.

Every test feeds the report synthetic runs whose outcome it sets, so that it knows what each
sentence must say; none needs torch.
"""

import itertools
import math
import re

import numpy as np
import pytest

from radam_cli.demo_config import (
    BINS_PER_DECADE,
    GRADIENT_RANGE,
    LABELS,
    UPDATE_RANGE,
    RunResult,
    early_steps,
    histogram_edges,
)
from radam_cli.demo_report import (
    LEARNED,
    STUCK,
    findings,
    format_number,
    plot_histograms,
    plot_loss_curves,
    plot_robustness,
    summary,
    write_markdown,
)

OPTIMIZERS = tuple(LABELS)
CHANCE = math.log(16)
GOOD = LEARNED * CHANCE / 10  # a loss that learned the task
BAD = CHANCE  # a loss at chance
UPDATE_BINS = len(histogram_edges(UPDATE_RANGE)) - 1
GRADIENT_BINS = len(histogram_edges(GRADIENT_RANGE)) - 1
PARAMETERS = 1000


def _histograms(bins, per_row, steps):
    """``steps`` rows of counts, all ``PARAMETERS`` of each in the bin ``per_row(step)``."""
    rows = []
    for step in steps:
        row = [0] * bins
        row[per_row(step)] = PARAMETERS
        rows.append(row)
    return rows


def _grid(losses, optimizers=OPTIMIZERS, update_bin=None, steps=tuple(range(1, 13))):
    """One RunResult per (optimizer, lr) of ``losses``, a dict of per-seed losses.

    ``update_bin(name, step)``, if given, is the |update| / lr bin of every parameter entry.
    """
    results = []
    for (name, lr), seeds in losses.items():
        if name not in optimizers:
            continue
        result = RunResult(
            name,
            lr,
            list(range(len(seeds))),
            final_loss=list(seeds),
            final_accuracy=[0.5] * len(seeds),
        )
        if update_bin is not None:
            result.histogram_steps = list(steps)
            result.gradient_histograms = _histograms(GRADIENT_BINS, lambda s: s % 3, steps)
            result.update_histograms = _histograms(
                UPDATE_BINS, lambda s, name=name: update_bin(name, s), steps
            )
        results.append(result)
    return results


def _losses(learned, lrs, optimizers=OPTIMIZERS):
    """Two seeds per cell: ``GOOD`` where (name, lr) is in ``learned``, else ``BAD``."""
    return {
        (name, lr): [GOOD, GOOD * 1.5] if (name, lr) in learned else [BAD, BAD * 1.01]
        for name, lr in itertools.product(optimizers, lrs)
    }


def _config(seeds=2):
    return {
        "seq_len": 16,
        "vocab": 16,
        "n_layers": 2,
        "d_model": 32,
        "n_heads": 2,
        "batch": 32,
        "steps": 12,
        "beta2": 0.98,
        "large_eps": 1e-4,
        "warmup_steps": 4,
        "seeds": list(range(seeds)),
        "eval_size": 512,
    }


# --- the summary -------------------------------------------------------------------------


def test_report_opens_with_the_three_summary_sentences(tmp_path):
    lrs = (0.01, 0.1)
    learned = {(name, 0.01) for name in OPTIMIZERS} | {("radam", 0.1), ("adam-warmup", 0.1)}
    results = _grid(_losses(learned, lrs), update_bin=lambda name, step: 20)
    path = tmp_path / "report.md"
    write_markdown(path, results, _config(), CHANCE, OPTIMIZERS, plots=False)
    lines = path.read_text().splitlines()
    sentences = summary(results, CHANCE, OPTIMIZERS)
    assert len(sentences) == 3
    assert lines[0].startswith("# ")
    assert lines[1] == ""
    assert lines[2:5] == [f"- {sentence}" for sentence in sentences]
    assert lines[5] == ""
    for sentence in sentences:
        assert sentence.endswith(".")
        assert ". " not in sentence  # one sentence each
        assert sentence[0].isupper()


def test_summary_says_which_optimizers_learned_at_which_learning_rates():
    lrs = (0.003, 0.01, 0.05, 0.1)
    everyone = set(OPTIMIZERS)
    learners = {
        0.003: everyone,
        0.01: everyone - {"adam-2k"},
        0.05: {"adam-warmup", "radam"},
        0.1: set(),
    }
    learned = {(name, lr) for lr, names in learners.items() for name in names}
    sentence = summary(_grid(_losses(learned, lrs)), CHANCE, OPTIMIZERS)[0]
    threshold = format_number(LEARNED * CHANCE, 3)
    assert sentence == (
        f"At lr {lrs[0]:g}, all seven optimizers learned the task (mean held-out loss below "
        f"{LEARNED:g} x chance = {threshold} nats/token); at {lrs[1]:g}, all but Adam-2k did; "
        f"at {lrs[2]:g}, only Adam + warm-up and RAdam did; at {lrs[3]:g}, none did."
    )


@pytest.mark.parametrize(
    ("learned", "start"),
    [
        (set(), "No optimizer learned the task"),
        ({(name, lr) for name in OPTIMIZERS for lr in (0.01, 0.1)}, "All seven optimizers learned"),
    ],
)
def test_summary_of_who_learned_handles_nobody_and_everybody(learned, start):
    sentences = summary(_grid(_losses(learned, (0.01, 0.1))), CHANCE, OPTIMIZERS)
    assert sentences[0].startswith(start)
    assert "learning rate of this run (0.01 and 0.1)." in sentences[0]
    assert not any(re.search(r"\bat none\b", s) for s in sentences)


def test_summary_of_one_optimizer_names_it():
    losses = _losses({("radam", 0.01)}, (0.01, 0.1), ("radam",))
    sentences = summary(_grid(losses, ("radam",)), CHANCE, ("radam",))
    assert sentences[0].startswith("RAdam learned the task (")
    assert sentences[0].endswith(") at lr 0.01 but not at 0.1.")
    assert sentences[1].startswith("This run did not train Adam without warm-up")
    assert sentences[2].startswith("This run did not train both Adam and RAdam")


def test_summary_sets_adam_against_warm_up_and_radam():
    lrs = (0.003, 0.01, 0.05, 0.1)
    learned = {(name, lr) for name in OPTIMIZERS for lr in lrs[:2]}
    learned |= {("adam-warmup", lrs[2]), ("radam", lrs[2])}
    losses = _losses(learned, lrs)
    losses["adam", lrs[0]] = [GOOD / 2, GOOD / 3]  # Adam lowest at 0.003, not at 0.01
    losses["adam", lrs[1]] = [GOOD * 3, GOOD * 3]
    sentence = summary(_grid(losses), CHANCE, OPTIMIZERS)[1]
    assert sentence == (
        f"Adam without warm-up did not learn the task at lr {lrs[2]:g} and {lrs[3]:g}; "
        f"Adam + warm-up and RAdam both learned it at {lrs[2]:g} but not at {lrs[3]:g}; "
        f"where all three learned ({lrs[0]:g} and {lrs[1]:g}), Adam ended with the lowest "
        f"mean held-out loss at {lrs[0]:g}."
    )


@pytest.mark.parametrize(
    ("learned", "expected"),
    [
        (
            {(name, lr) for name in OPTIMIZERS for lr in (0.01, 0.1)},
            "Adam without warm-up learned the task at every learning rate of this run, so Adam + "
            "warm-up and RAdam had no failure of it to prevent; where all three learned (0.01 and "
            "0.1), Adam never ended with the lowest mean held-out loss.",
        ),
        (
            {(name, 0.01) for name in OPTIMIZERS},
            "Adam without warm-up did not learn the task at lr 0.1; neither Adam + warm-up nor "
            "RAdam learned it there; where all three learned (0.01), Adam did not end with the "
            "lowest mean held-out loss.",
        ),
        (
            {("adam", 0.01), ("radam", 0.01), ("radam", 0.1)},
            "Adam without warm-up did not learn the task at lr 0.1; Adam + warm-up did not learn "
            "it there either; RAdam learned it there; Adam + warm-up did not learn it at 0.01, "
            "where Adam did.",
        ),
    ],
)
def test_summary_of_adam_handles_the_empty_cases(learned, expected):
    # Equal losses: Adam is never strictly the lowest.
    sentence = summary(_grid(_losses(learned, (0.01, 0.1))), CHANCE, OPTIMIZERS)[1]
    assert sentence == expected


def test_summary_compares_adam_s_first_updates_with_radam_s():
    edges = histogram_edges(UPDATE_RANGE)
    adam_bin, radam_bin, late_bin = 31, 19, 3
    assert adam_bin - radam_bin == 3 * BINS_PER_DECADE  # a factor of 1000

    def update_bin(name, step):
        if step > 5:  # only steps 1 to 5 count; the later ones would move the median
            return late_bin
        return {"adam": adam_bin, "radam": radam_bin}.get(name, 10)

    learned = {(name, 0.01) for name in OPTIMIZERS}
    results = _grid(_losses(learned, (0.01, 0.1)), update_bin=update_bin)
    sentence = summary(results, CHANCE, OPTIMIZERS)[2]
    centre = 10 ** ((edges[adam_bin] + edges[adam_bin + 1]) / 2)
    radam = 10 ** ((edges[radam_bin] + edges[radam_bin + 1]) / 2)
    assert sentence == (
        "At lr 0.1 (first seed), the median |update| over steps 1 to 5 was "
        f"{format_number(centre, 2)} x lr for Adam, about {centre / radam:,.0f} times RAdam's "
        f"{format_number(radam, 2)} x lr."
    )
    assert f"{centre / radam:,.0f}" == "1,000"


def test_summary_says_when_radam_made_no_first_update():
    def update_bin(name, step):
        return 0 if name == "radam" else 30

    results = _grid(_losses(set(), (0.01,)), update_bin=update_bin)
    sentence = summary(results, CHANCE, OPTIMIZERS)[2]
    zero = format_number(10 ** histogram_edges(UPDATE_RANGE)[1], 2)
    assert sentence.endswith(f"for Adam, while RAdam's was below {zero} x lr (no update).")


# --- the details -------------------------------------------------------------------------


def _fake_results(adam_high, radam_high, lrs=(0.01, 0.1)):
    learned = {(name, lr) for name in OPTIMIZERS for lr in lrs}
    if adam_high:
        learned.discard(("adam", lrs[-1]))
    if radam_high:
        learned.discard(("radam", lrs[-1]))
    losses = _losses(learned, lrs)
    for key in losses:
        losses[key] = [0.01, 0.02] if key in learned else [2.77, 2.75]
    return _grid(losses)


def test_findings_follow_the_numbers():
    agree = " ".join(findings(_fake_results(True, False), CHANCE, OPTIMIZERS))
    assert (
        "As the paper claims, RAdam learned the task at a learning rate where Adam without "
        "warm-up did not: 0.1." in agree
    )
    low, high = [0.01, 0.02], [2.77, 2.75]  # the losses of _fake_results
    assert (
        f"with the lowest mean held-out loss ({format_number(np.mean(low), 3)} ± "
        f"{format_number(np.std(low, ddof=1), 1)}) and Adam with the highest "
        f"({format_number(np.mean(high), 3)} ± {format_number(np.std(high, ddof=1), 1)})" in agree
    )
    assert (
        "Adam learned the task at 1 of the 2 learning rates (0.01); it stayed near chance at 0.1."
        in agree
    )
    disagree = " ".join(findings(_fake_results(False, True), CHANCE, OPTIMIZERS))
    assert (
        "RAdam did not learn the task at any learning rate where Adam without warm-up failed"
        not in disagree  # Adam did not fail
    )
    assert "Adam without warm-up learned the task at 0.1, where RAdam did not." in disagree
    assert "only Adam + warm-up learned it at 0.1" in disagree


def test_findings_use_plain_sentences_for_the_empty_cases():
    # Everyone learns everywhere: each comparison has an empty side.
    lines = findings(_fake_results(False, False), CHANCE, OPTIMIZERS)
    text = " ".join(lines)
    assert re.search(r"\bnone\b", text, re.IGNORECASE) is None
    assert (
        "RAdam, without warm-up, learned the task at the same learning rates as Adam + warm-up "
        "(0.01 and 0.1)" in text
    )
    assert "Adam + warm-up learned the task at both learning rates." in lines
    assert (
        "Adam learned the task at every learning rate of this grid, so Adam-2k (a second moment "
        "estimated over K steps before any update) had no failure of Adam to prevent." in lines
    )
    assert "All seven optimizers learned the task at the same number of learning rates" in text
    # Nobody learns anywhere.
    text = " ".join(findings(_grid(_losses(set(), (0.01, 0.1))), CHANCE, OPTIMIZERS))
    assert re.search(r"\bnone\b", text, re.IGNORECASE) is None
    assert "Neither RAdam nor Adam + warm-up learned the task at any learning rate" in text
    assert "Adam did not learn the task at any of the 2 learning rates; it stayed near " in text


def test_findings_state_the_thresholds_and_the_divergences():
    losses = _losses({("adam", 0.01)}, (0.01, 0.1), ("adam", "radam"))
    losses["radam", 0.1] = [math.nan, math.nan]
    losses["adam", 0.1] = [math.inf, 1.0]
    text = " ".join(findings(_grid(losses, ("adam", "radam")), CHANCE, ("adam", "radam")))
    assert f"below {LEARNED:g} x chance ({format_number(LEARNED * CHANCE, 3)} nats/token)" in text
    assert f"at least {STUCK:g} x chance ({format_number(STUCK * CHANCE, 3)})" in text
    assert (
        "RAdam did not learn the task at any of the 2 learning rates; it stayed near chance "
        "at 0.01 and diverged on every seed at 0.1." in text
    )
    assert "it ended between the two thresholds at 0.1. At 0.1, 1 of its 2 seeds diverged." in text
    assert "At lr 0.1, Adam ended with a mean held-out loss of 1 (1 div.); RAdam diverged" in text


def test_numbers_are_short_and_keep_small_values():
    assert [format_number(v, 3) for v in (2.7731, 0.1013, 0.0079412, 5.53e-5, 0.0)] == [
        "2.77",
        "0.101",
        "0.00794",
        "5.53e-5",
        "0",
    ]
    assert format_number(6.4e-5, 1) == "6e-5"


# --- the plots ---------------------------------------------------------------------------


def _equal_runs(lrs=(0.003, 0.01, 0.02, 0.03, 0.05, 0.1)):
    """Every optimizer with the same numbers: the curves that would hide each other."""
    steps = early_steps(400)
    results = []
    for name, lr in itertools.product(OPTIMIZERS, lrs):
        loss = BAD * lr / max(lrs)  # equal across optimizers, not across learning rates
        result = RunResult(name, lr, [0, 1], final_loss=[loss, loss], final_accuracy=[0, 0])
        result.curve_steps = list(range(10, 410, 10))
        result.curves = [[BAD] * 40, [BAD] * 40]
        result.histogram_steps = list(steps)
        result.gradient_histograms = _histograms(GRADIENT_BINS, lambda s: s % 7, steps)
        result.update_histograms = _histograms(UPDATE_BINS, lambda s: s % 11, steps)
        results.append(result)
    return results


def test_histogram_plot_has_a_colorbar_and_titles_match_the_axes():
    pytest.importorskip("matplotlib")
    results = _equal_runs()
    steps = results[0].histogram_steps
    figure = plot_histograms(results, OPTIMIZERS, lr=0.05)
    images = [image for ax in figure.axes for image in ax.images]
    assert len(images) == 2 * len(OPTIMIZERS)
    colorbars = {image.colorbar for image in images} - {None}
    assert len(colorbars) == 1
    (colorbar,) = colorbars
    assert "share of the parameter entries in the bin" in colorbar.ax.get_ylabel()
    assert all(image.norm is colorbar.norm for image in images)  # one scale for every panel
    title = figure.get_suptitle()
    assert "first steps" not in title
    assert f"lr = {0.05:g}" in title
    assert f"every step from {steps[0]} to 10" in title
    assert f"up to {steps[-1]}" in title
    panels = [ax for ax in figure.axes if ax.images]
    for ax in panels:
        labels = [label.get_text() for label in ax.get_yticklabels()]
        assert labels[0] == str(steps[0])
        assert labels[-1] == str(steps[-1])
        assert ax.images[0].get_array().shape[0] == len(steps)
    for column in (panels[-2], panels[-1]):
        quantity = column.get_title().split(": ", 1)[1]
        assert column.get_xlabel().startswith(f"log10 {quantity} ")


def test_robustness_plot_draws_equal_values_apart():
    pytest.importorskip("matplotlib")
    figure = plot_robustness(_equal_runs(), CHANCE, OPTIMIZERS)
    (ax,) = figure.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    curves = [lines[LABELS[name]] for name in OPTIMIZERS]
    assert len({line.get_marker() for line in curves}) == len(OPTIMIZERS)
    assert len({line.get_color() for line in curves}) == len(OPTIMIZERS)
    assert any(label.startswith("chance") for label in lines)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert any(text.startswith("chance") for text in legend)
    figure.draw_without_rendering()  # the layout, then the drawn (display) coordinates
    points = [ax.transData.transform(line.get_xydata()) for line in curves]
    for first, second in itertools.combinations(points, 2):
        np.testing.assert_allclose(first[:, 1], second[:, 1])  # the same values...
        assert np.all(np.abs(first[:, 0] - second[:, 0]) >= 3)  # ...drawn 3 pixels apart


def test_loss_curves_keep_coinciding_curves_visible():
    pytest.importorskip("matplotlib")
    figure = plot_loss_curves(_equal_runs(), CHANCE, OPTIMIZERS)
    labels = {LABELS[name] for name in OPTIMIZERS}
    for ax in figure.axes:
        curves = [line for line in ax.get_lines() if line.get_label() in labels]
        assert len(curves) == len(OPTIMIZERS)
        assert len({line.get_marker() for line in curves}) == len(OPTIMIZERS)
        assert len({line.get_color() for line in curves}) == len(OPTIMIZERS)
        marked = [{float(line.get_xdata()[i]) for i in line.get_markevery()} for line in curves]
        assert all(marked)
        for first, second in itertools.combinations(marked, 2):
            assert not first & second  # each curve's markers at steps of its own
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert any(text.startswith("chance") for text in legend)
