"""The report of ``radam demo``: its counts, medians and findings follow the numbers; its plots.

Every test feeds the report synthetic runs whose outcome it sets, so that it knows what each
sentence must say; none needs torch.
"""

import itertools
import math

import numpy as np
import pytest

from radam_cli.demo_config import (
    GRADIENT_RANGE,
    LABELS,
    UPDATE_RANGE,
    RunResult,
    early_steps,
    histogram_edges,
)
from radam_cli.demo_report import (
    LEARNED,
    findings,
    first_updates,
    format_cell,
    format_number,
    showcase_lr,
    summarize,
    worse_than_adam,
    write_markdown,
)

OPTIMIZERS = tuple(LABELS)
CHANCE = math.log(16)
GOOD = LEARNED * CHANCE / 10  # a loss that learned the task
BAD = CHANCE  # a loss at chance
UPDATE_BINS = len(histogram_edges(UPDATE_RANGE)) - 1
GRADIENT_BINS = len(histogram_edges(GRADIENT_RANGE)) - 1
PARAMETERS = 1000
LRS = (0.01, 0.03, 0.1)


def _histograms(bins, per_row, steps):
    """``steps`` rows of counts, all ``PARAMETERS`` of each in the bin ``per_row(step)``."""
    rows = []
    for step in steps:
        row = [0] * bins
        row[per_row(step)] = PARAMETERS
        rows.append(row)
    return rows


def _grid(learned_seeds, lrs=LRS, seeds=5, optimizers=OPTIMIZERS, update_median=None):
    """One RunResult per (optimizer, lr): ``learned_seeds[name, lr]`` seeds learn (default 0).

    ``update_median(name, step, seed)``, if given, is each seed's median |update| / lr.
    """
    results = []
    steps = list(range(1, 13))
    for name, lr in itertools.product(optimizers, lrs):
        good = learned_seeds.get((name, lr), 0)
        losses = [GOOD * (1 + i) for i in range(good)] + [BAD] * (seeds - good)
        result = RunResult(name, lr, list(range(seeds)), final_loss=losses)
        result.final_accuracy = [0.5] * seeds
        if update_median is not None:
            result.histogram_steps = steps
            result.update_medians = [
                [update_median(name, step, seed) for seed in range(seeds)] for step in steps
            ]
        results.append(result)
    return results


def _everywhere(names, count=5, lrs=LRS):
    return {(name, lr): count for name in names for lr in lrs}


def _config(seeds=5):
    return {
        "seq_len": 16,
        "vocab": 16,
        "n_layers": 2,
        "d_model": 32,
        "n_heads": 2,
        "batch": 32,
        "steps": 12,
        "beta2": 0.98,
        "large_eps": 7e-4,
        "median_gradient": 7.5e-4,
        "warmup_steps": 100,
        "short_warmup_steps": 5,
        "v_only_steps": 100,
        "seeds": list(range(seeds)),
        "eval_size": 512,
    }


# --- the statistics ----------------------------------------------------------------------


def test_a_cell_counts_the_seeds_that_learned_and_gives_the_median_and_range():
    losses = [0.01, 2.7, 0.2, math.nan, 0.02]
    (cell,) = summarize(
        [RunResult("adam", 0.05, list(range(5)), final_loss=losses)], CHANCE
    ).values()
    threshold = LEARNED * CHANCE  # 0.277: 0.01, 0.2 and 0.02 are below it
    assert sum(v < threshold for v in losses if math.isfinite(v)) == cell.learned == 3
    assert cell.seeds == 5
    assert cell.mostly_learned
    # The diverged seed ranks highest: sorted 0.01, 0.02, 0.2, 2.7, inf, median 0.2.
    assert cell.median == 0.2
    assert cell.low == 0.01
    assert math.isinf(cell.high)
    assert cell.diverged == 1
    assert format_cell(cell) == "0.2 (0.01 to diverged)"


def test_a_cell_where_most_seeds_diverged_has_no_median():
    results = [RunResult("adam", 0.1, [0, 1, 2], final_loss=[math.nan, math.nan, 2.7])]
    (cell,) = summarize(results, CHANCE).values()
    assert math.isnan(cell.median)
    assert not cell.mostly_learned
    assert format_cell(cell) == "diverged (2 of 3)"


def test_numbers_are_short_and_keep_small_values():
    assert [format_number(v, 3) for v in (2.7731, 0.1013, 0.0079412, 5.53e-5, 0.0)] == [
        "2.77",
        "0.101",
        "0.00794",
        "5.53e-5",
        "0",
    ]
    assert format_number(6.4e-5, 1) == "6e-5"


# --- the four findings -------------------------------------------------------------------


def _the_paper_s_grid():
    """Adam fails at 0.1; the warm-ups, RAdam and the controls learn there; the ablation not."""
    learned = _everywhere(OPTIMIZERS, lrs=(0.01, 0.03))
    learned.update({(name, 0.1): 5 for name in ("adam-warmup", "radam", "adam-2k", "adam-eps")})
    learned[("adam-warmup-short", 0.1)] = 1
    return learned


def test_the_paper_s_findings_reproduce_when_the_numbers_say_so():
    results = _grid(_the_paper_s_grid())
    (_, fails), (_, fixes), (_, robust), (_, controls) = findings(results, CHANCE, OPTIMIZERS)
    assert fails == (
        "Reproduced: Adam learned on 5/5 seeds at 0.01, 5/5 at 0.03 and 0/5 at 0.1 (seeds that "
        "learned, by learning rate); it failed on most seeds from lr 0.1 up."
    )
    # The short warm-up learned on 1 of 5 where Adam failed: only partly reproduced.
    assert fixes.startswith("Partly reproduced. Where Adam failed on most seeds (0.1): ")
    assert "Adam + warm-up learned on 5/5 seeds at 0.1" in fixes
    assert "Adam + short warm-up learned on 1/5 seeds at 0.1" in fixes
    assert fixes.endswith("Adam + short warm-up learned on most seeds at none of them.")
    assert robust.startswith(
        "Reproduced: RAdam learned on most seeds at 0.1, where the short warm-up did not, and "
        "the short warm-up at no learning rate where RAdam did not."
    )
    assert "Of the 15 seed runs across the grid, RAdam on 15, Adam + short warm-up on 11" in robust
    assert controls.startswith("Reproduced. Where Adam failed on most seeds (0.1): ")
    assert "was not enough, as the paper's variance explanation expects" in controls


def test_findings_say_what_does_not_reproduce_and_why():
    learned = _the_paper_s_grid()
    learned[("adam-warmup-short", 0.1)] = 5
    learned[("radam", 0.03)] = 2  # RAdam fails where the short warm-up learns
    learned[("adam-2k", 0.1)] = 0
    learned[("adam-no-m-correction", 0.1)] = 4  # damping alone is enough
    results = _grid(learned)
    (_, _), (_, _), (_, robust), (_, controls) = findings(results, CHANCE, OPTIMIZERS)
    assert robust.startswith(
        "Not reproduced: the short warm-up learned on most seeds at 0.03, where RAdam did not."
    )
    assert controls.startswith("Partly reproduced.")
    assert "Adam-2k learned on 0/5 seeds at 0.1" in controls
    assert "Adam, no m correction learned on 4/5 seeds at 0.1 there: damping the first" in controls
    assert "this run does not separate the paper's variance explanation from simple damping" in (
        controls
    )


def test_a_difference_of_a_seed_or_two_is_not_called_more_robust():
    learned = _the_paper_s_grid()
    learned[("radam", 0.1)] = 2  # 2/5 against the short warm-up's 1/5: no majority either way
    (_, _), (_, _), (_, robust), (_, _) = findings(_grid(learned), CHANCE, OPTIMIZERS)
    assert robust.startswith("Not reproduced: RAdam and the short warm-up learned on most seeds")
    assert "RAdam learned on 5/5 seeds at 0.01, 5/5 at 0.03 and 2/5 at 0.1" in robust


def test_findings_are_not_tested_when_adam_never_fails():
    results = _grid(_everywhere(OPTIMIZERS))
    (_, fails), (_, fixes), (_, robust), (_, controls) = findings(results, CHANCE, OPTIMIZERS)
    assert fails.startswith("Not reproduced: Adam learned on 5/5 seeds at 0.01")
    assert fixes.startswith("Not tested: Adam learned on most seeds at every learning rate")
    assert controls.startswith("Not tested")
    assert robust.startswith("Not reproduced: RAdam and the short warm-up learned on most seeds")


def test_findings_do_not_call_a_failure_at_the_lowest_rate_a_failure_at_high_rates():
    results = _grid({("radam", 0.1): 5})
    (_, fails), *_ = findings(results, CHANCE, OPTIMIZERS)
    assert fails.startswith("Not shown: ")
    assert "the lowest included" in fails


def test_findings_without_the_optimizers_they_need_say_not_tested():
    results = _grid(_everywhere(["radam"]), optimizers=("radam",))
    verdicts = [text for _, text in findings(results, CHANCE, ("radam",))]
    assert all(text.startswith("Not tested") for text in verdicts)


def test_the_plots_show_the_lowest_learning_rate_where_adam_failed_else_the_highest():
    learned = _everywhere(OPTIMIZERS, lrs=(0.01,))
    learned[("adam", 0.1)] = 3  # learned on most seeds at 0.1: 0.03 is where it failed first
    assert showcase_lr(summarize(_grid(learned), CHANCE)) == 0.03
    assert showcase_lr(summarize(_grid(_everywhere(OPTIMIZERS)), CHANCE)) == 0.1
    assert showcase_lr(summarize(_grid({}, optimizers=("radam",)), CHANCE)) == 0.1


def test_the_report_says_where_an_optimizer_did_worse_than_adam():
    learned = _everywhere(OPTIMIZERS)
    learned[("adam-2k", 0.03)] = 2
    cells = summarize(_grid(learned), CHANCE)
    assert worse_than_adam(cells, OPTIMIZERS) == [
        "Adam-2k learned on fewer seeds than Adam: 2/5 against Adam's 5/5 at 0.03."
    ]


# --- the first updates -------------------------------------------------------------------


def test_adam_s_first_updates_are_compared_with_radam_s_first_rectified_ones():
    def update_median(name, step, seed):
        if name == "radam":
            return 0.0 if step < 6 else 2e-3  # no adaptive step before rectification
        if name == "adam":
            return 0.1 * (seed + 1) * (1 + step / 100)  # seed 0: 0.101 to 0.105, median 0.103
        return 0.02 * (seed + 1)

    results = _grid({}, update_median=update_median)
    lines = first_updates(results, 0.1, OPTIMIZERS, first_rectified=6)
    # Per seed, Adam's median over steps 1 to 5 is 0.103 (seed + 1); RAdam's over steps 6 to
    # 10 is 2e-3, so the ratios are 51.5 (seed + 1).
    assert lines[0] == (
        "At lr 0.1, over 5 seeds, the median |update| / lr was 0.31 (0.1 to 0.52) over Adam's "
        "steps 1 to 5 and 0.002 (0.002 to 0.002) over RAdam's first rectified steps 6 to 10: "
        "Adam's were 150 (52 to 260) times larger, seed by seed (medians, with the range over "
        "the seeds)."
    )
    assert lines[1].startswith("At lr 0.1, over 5 seeds, the median |update| / lr over the first 5")
    assert "0.06 (0.02 to 0.1) for Adam-2k" in lines[1]


def test_first_updates_of_a_diverged_seed_are_nan():
    def update_median(name, step, seed):
        return math.nan if (name, seed) == ("adam", 4) else 0.01

    lines = first_updates(_grid({}, update_median=update_median), 0.1, OPTIMIZERS, 6)
    assert "was nan over Adam's steps 1 to 5" in lines[0]
    assert "Adam's were nan times larger" in lines[0]


# --- report.md ---------------------------------------------------------------------------


def test_report_md_opens_with_the_four_findings_and_states_eps_against_the_gradients(tmp_path):
    results = _grid(_the_paper_s_grid(), update_median=lambda name, step, seed: 0.01)
    path = tmp_path / "report.md"
    captions = [("loss_curves.png", "The paper's Figure 1 in miniature: ...")]
    write_markdown(path, results, _config(), CHANCE, OPTIMIZERS, captions)
    text = path.read_text()
    lines = text.splitlines()
    verdicts = findings(results, CHANCE, OPTIMIZERS)
    numbered = [line for line in lines if line[:3] in ("1. ", "2. ", "3. ", "4. ")]
    assert numbered == [
        f"{n}. **{claim}** {verdict}" for n, (claim, verdict) in enumerate(verdicts, 1)
    ]
    assert "eps = 7.0e-4 on the raw sqrt(v)" in text
    assert "that is 0.93 x the median |gradient| of the models at initialization (7.5e-4)" in text
    assert "| 0.1 | 0/5 | 1/5 | 5/5 | 5/5 | 5/5 | 5/5 | 0/5 |" in text
    assert "±" not in text
    assert "![loss_curves.png](loss_curves.png)" in text
    assert "*The paper's Figure 1 in miniature: ...*" in text


# --- the plots ---------------------------------------------------------------------------


def _runs_with_curves(lrs=(0.01, 0.1)):
    steps = early_steps(400)
    results = []
    for name, lr in itertools.product(OPTIMIZERS, lrs):
        result = RunResult(name, lr, [0, 1], final_loss=[GOOD, BAD], final_accuracy=[0, 0])
        first = -99 if name == "adam-2k" else 1
        result.curve_steps = list(range(first + 9, 401, 10))
        result.curves = [[BAD] * len(result.curve_steps)] * 2
        result.histogram_steps = list(steps)
        result.gradient_histograms = _histograms(GRADIENT_BINS, lambda s: s % 7, steps)
        result.update_histograms = _histograms(UPDATE_BINS, lambda s: s % 11, steps)
        results.append(result)
    return results


def test_histogram_plot_has_one_colorbar_and_names_its_figure():
    pytest.importorskip("matplotlib")
    from radam_cli.demo_plots import plot_histograms

    results = _runs_with_curves()
    figure = plot_histograms(results, ["adam", "adam-warmup"], 0.1, ("gradient",))
    images = [image for ax in figure.axes for image in ax.images]
    assert len(images) == 2
    colorbars = {image.colorbar for image in images} - {None}
    assert len(colorbars) == 1
    assert figure.get_suptitle().startswith("Figure 2 in miniature: lr = 0.1")
    both = plot_histograms(results, ["adam", "adam-2k"], 0.1, ("gradient", "update"))
    assert both.get_suptitle().startswith("Figure 3 in miniature")
    with pytest.raises(ValueError, match="quantities: unknown 'loss'"):
        plot_histograms(results, ["adam"], 0.1, ("loss",))


def test_loss_curves_draw_adam_2k_from_its_first_v_only_step():
    pytest.importorskip("matplotlib")
    from radam_cli.demo_plots import plot_loss_curves

    figure = plot_loss_curves(_runs_with_curves(), CHANCE, OPTIMIZERS, 0.1)
    (ax,) = figure.axes
    curves = {line.get_label(): line for line in ax.get_lines()}
    assert curves["Adam-2k"].get_xdata()[0] == -90
    assert curves["Adam"].get_xdata()[0] == 10
    assert len({curves[LABELS[name]].get_marker() for name in OPTIMIZERS}) == len(OPTIMIZERS)
    assert figure.get_suptitle().startswith("Figure 1 in miniature")


def test_success_plot_draws_the_share_of_seeds_that_learned():
    pytest.importorskip("matplotlib")
    from radam_cli.demo_plots import plot_success

    learned = {("radam", 0.01): 5, ("radam", 0.1): 2, ("adam", 0.01): 5}
    results = _grid(learned, lrs=(0.01, 0.1))
    figure = plot_success(results, CHANCE, ["adam", "radam"])
    (ax,) = figure.axes
    curves = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(curves["RAdam"].get_ydata(), [1.0, 0.4], atol=0.01)
    np.testing.assert_allclose(curves["Adam"].get_ydata(), [1.0, 0.0], atol=0.01)
    assert figure.get_suptitle().startswith("Figure 8 in miniature")


def test_variance_plot_shows_rectification_keeping_the_variance_flat():
    pytest.importorskip("matplotlib")
    from radam_cli.demo_plots import plot_variance
    from radam_core import theory

    beta2 = 0.9
    figure = plot_variance(beta2)
    (ax,) = figure.axes
    curves = {line.get_label(): line for line in ax.get_lines()}
    theorem = curves[r"Theorem 1 at $\rho_t$"]
    steps, values = theorem.get_xdata(), theorem.get_ydata()
    for t, value in zip(steps, values, strict=True):
        rho_t = theory.effective_rho(int(t), beta2)
        if rho_t > 2:
            assert value == pytest.approx(theory.exact_variance(rho_t), rel=1e-12)
    # r_t^2 = Var_approx(rho_inf) / Var_approx(rho_t): the rectified closed form stays within
    # a factor 2.5 of Var at rho_inf (the approximation overstates Var most at the smallest
    # rectified rho_t) and ends near it, while Adam's falls by more than 5 over the same steps.
    rectified = curves[r"$r_t^2$ x Theorem 1 at $\rho_t$"]
    limit = theory.exact_variance(2 / (1 - beta2) - 1)
    assert np.all(np.abs(np.log(rectified.get_ydata() / limit)) < math.log(2.5))
    first = list(steps).index(rectified.get_xdata()[0])
    assert rectified.get_ydata()[-1] == pytest.approx(limit, rel=0.05)
    assert values[first] / values[-1] > 5
    # The simulated EMA is only approximately scaled-inverse-chi-square (the paper's SMA
    # approximation), so its variance sits below Theorem 1's; it is flat too.
    simulated = curves[r"RAdam: Var[$r_t \psi_t$], simulated"].get_ydata()
    assert simulated.max() / simulated.min() < 2.5
    adam = curves[r"Adam: Var[$\psi_t$], simulated"].get_ydata()
    assert adam[first] / adam[-1] > 5


def test_only_the_figures_whose_optimizers_ran_are_drawn_and_captions_name_them(tmp_path):
    pytest.importorskip("matplotlib")
    from radam_cli.demo_plots import write_plots

    results = [r for r in _runs_with_curves() if r.optimizer == "radam"]
    written = write_plots(tmp_path, results, CHANCE, ("radam",), _config())
    assert [path.name for path, _ in written] == [
        "loss_curves.png",
        "success_rate.png",
        "variance.png",
    ]
    captions = dict((path.name, caption) for path, caption in written)
    assert captions["success_rate.png"].endswith("against the learning rate, for RAdam.")
    assert "Adam-2k is drawn from step -99" in captions["loss_curves.png"]
    assert all((tmp_path / name).read_bytes()[:4] == b"\x89PNG" for name in captions)
