"""``radam demo``: its options, its optimizers, its task, and a tiny end-to-end run."""

import json
import math
import re
import subprocess
import sys
from io import StringIO

import numpy as np
import pytest

from radam_cli.main import main

OPTIMIZERS = (
    "adam",
    "adam-warmup-short",
    "adam-warmup",
    "radam",
    "adam-2k",
    "adam-eps",
    "adam-no-m-correction",
)
LABELS = (
    "Adam",
    "Adam + short warm-up",
    "Adam + warm-up",
    "RAdam",
    "Adam-2k",
    "Adam-eps",
    "Adam, no m correction",
)
# Tests that need torch run in the torch session of nox (see tests/conftest.py).
TORCH = pytest.mark.backend("torch")
TINY = ["--steps", "12", "--seeds", "2", "--lrs", "0.01,0.1", "--warmup-steps", "4"]


def _python(code):
    """Run ``code`` in a fresh interpreter; return (exit status, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    return done.returncode, done.stdout, done.stderr


# --- without torch or matplotlib ---------------------------------------------------------


def test_schedule_works_without_torch_or_matplotlib():
    status, out, err = _python(
        "import sys; sys.modules['torch'] = None; sys.modules['matplotlib'] = None\n"
        "from radam_cli.main import main\n"
        "sys.exit(main(['schedule', '--steps', '3']))"
    )
    assert status == 0, err
    assert "Rectification starts" in out


def _pretend(name):
    """Code that makes the commands see ``name`` as installed, whether it is or not."""
    return (
        "import radam_cli.options as options\n"
        "found = options.importable\n"
        f"options.importable = lambda name: name == {name!r} or found(name)\n"
    )


INSTALL_TORCH = "python -m pip install torch==2.13.0"
INSTALL_MATPLOTLIB = 'python -m pip install "matplotlib>=3.8"'


# Each runs in a fresh interpreter where the blocked packages cannot be imported; any other
# package the message depends on is reported present, so that the test means the same
# whatever this environment has.
@pytest.mark.parametrize(
    ("blocked", "prelude", "argv", "message"),
    [
        (
            ["torch"],
            _pretend("matplotlib"),
            ["demo", "--quick"],
            f"radam demo needs PyTorch: {INSTALL_TORCH} (any torch >= 2.6 works)",
        ),
        (
            ["torch"],
            "",
            ["demo", "--quick", "--no-plots"],
            f"radam demo needs PyTorch: {INSTALL_TORCH} (any torch >= 2.6 works)",
        ),
        (
            ["torch", "matplotlib"],
            "",
            ["demo", "--quick"],
            f'radam demo needs PyTorch and matplotlib: {INSTALL_TORCH} "matplotlib>=3.8" '
            "(any torch >= 2.6 works; with --no-plots matplotlib is not needed)",
        ),
        (
            ["matplotlib"],
            _pretend("torch"),
            ["demo", "--quick"],
            f"radam demo needs matplotlib for its plots: {INSTALL_MATPLOTLIB} "
            "(or run it with --no-plots)",
        ),
        (
            ["matplotlib"],
            "",
            ["schedule", "--plot"],
            f"radam schedule --plot needs matplotlib: {INSTALL_MATPLOTLIB} (or leave out --plot)",
        ),
        (
            ["matplotlib"],
            "",
            # Samples that would take minutes: the message must come before any of them.
            ["theory", "--samples", "100000000"],
            f"radam theory needs matplotlib for its plot: {INSTALL_MATPLOTLIB} "
            "(or run it with --no-plot)",
        ),
    ],
    ids=["demo-torch", "demo-torch-no-plots", "demo-both", "demo-matplotlib", "schedule", "theory"],
)
def test_a_missing_dependency_exits_1_before_any_work_saying_how_to_install_it(
    blocked, prelude, argv, message, tmp_path
):
    status, out, err = _python(
        "import sys\n"
        + "".join(f"sys.modules[{name!r}] = None\n" for name in blocked)
        + prelude
        + "from radam_cli.main import main\n"
        + f"sys.exit(main({[*argv, '--out', str(tmp_path / 'out')]!r}))"
    )
    assert status == 1
    assert err == message + "\n"
    assert out == ""
    # The project is not on PyPI: no hint may send anyone there for it.
    assert "install radam" not in err
    assert "radam[" not in err
    assert not (tmp_path / "out").exists()


# --- options -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "0"], "argument --steps: must be >= 1, got 0"),
        (["--steps", "ten"], "argument --steps: must be an integer, got 'ten'"),
        (["--seeds", "-1"], "argument --seeds: must be >= 1, got -1"),
        (["--lrs", "0.1,abc"], "argument --lrs: must be a number, got 'abc'"),
        (["--lrs", "0.1,-1"], "argument --lrs: must be finite and > 0, got -1"),
        (["--lrs", "0.1,,0.2"], "argument --lrs: expected numbers separated by commas"),
        (["--lrs", "0.1,0.1"], "argument --lrs: repeated learning rate in '0.1,0.1'"),
        (["--lrs", "nan"], "argument --lrs: must be finite and > 0, got nan"),
        (["--optimizers", "adam,sgd"], "argument --optimizers: unknown optimizer 'sgd'"),
        (["--optimizers", "adam,adam"], "argument --optimizers: repeated optimizer"),
        (["--beta2", "1"], "argument --beta2: must be in [0, 1), got 1"),
        (["--warmup-steps", "-3"], "argument --warmup-steps: must be >= 0, got -3"),
        (["--large-eps", "0"], "argument --large-eps: must be finite and > 0, got 0"),
        (["--jobs", "0"], "argument --jobs: must be >= 1, got 0"),
        (["--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_options_exit_2_with_one_line_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert message in errors[0]
    assert err.startswith("usage: radam demo [-h]")  # the demo's usage, not radam's
    assert errors[0].startswith("radam demo: error: ")


@TORCH
@pytest.mark.parametrize("path", ["taken", "taken/sub"])
def test_an_unwritable_out_exits_2_before_any_work(path, tmp_path, capsys):
    pytest.importorskip("torch")
    (tmp_path / "taken").write_text("not a folder")
    folder = tmp_path / path
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", *TINY, "--no-plots", "--out", str(folder)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # not even the header
    lines = captured.err.splitlines()
    assert lines[0].startswith("usage: radam demo [-h]")
    assert [line for line in lines if "error:" in line] == [lines[-1]]
    assert lines[-1] == (
        f"radam demo: error: argument --out: cannot write to {folder}: Not a directory"
    )


def test_help_describes_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    # Where the run times are (docs/demo.md), not a time that goes stale.
    assert "--quick: a smaller, shorter run; the run times are in docs/demo.md" in " ".join(
        out.split()
    )
    for option in (
        "--quick",
        "--out",
        "--steps",
        "--seeds",
        "--lrs",
        "--optimizers",
        "--beta2",
        "--warmup-steps",
        "--short-warmup-steps",
        "--large-eps",
        "--jobs",
        "--no-plots",
    ):
        assert option in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "demo" in capsys.readouterr().out


# --- the optimizers ----------------------------------------------------------------------


def _authors_adam_oracle(grads, start, lr, beta1, beta2, eps, k=0, correct_momentum=True):
    """Float64 parameters after each step, from the authors' update written out here.

    v advances on every step; for t <= k nothing else does; then m advances and
    theta -= lr (m / c_t) sqrt(1 - beta2^t) / (sqrt(v) + eps), c_t = 1 - beta1^t (global t)
    or 1 without the momentum correction.
    """
    theta, m, v = np.array(start, dtype=np.float64), np.zeros(len(start)), np.zeros(len(start))
    thetas = []
    for t, grad in enumerate(grads, start=1):
        v = beta2 * v + (1 - beta2) * grad**2
        if t > k:
            m = beta1 * m + (1 - beta1) * grad
            correction = 1 - beta1**t if correct_momentum else 1.0
            theta = theta - lr * (m / correction) * math.sqrt(1 - beta2**t) / (np.sqrt(v) + eps)
        thetas.append(theta.copy())
    return thetas


def _run_authors_adam(grads, start, **kwargs):
    torch = pytest.importorskip("torch")
    from radam_cli.demo_baselines import AuthorsAdam

    param = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = AuthorsAdam([param], **kwargs)
    thetas = []
    for grad in grads:
        param.grad = torch.tensor(grad)
        optimizer.step()
        thetas.append(param.detach().numpy().copy())
    return thetas, optimizer.state[param]


AUTHORS = {"lr": 0.1, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8}


def _authors_kwargs(**extra):
    kwargs = {"lr": AUTHORS["lr"], "betas": (AUTHORS["beta1"], AUTHORS["beta2"])}
    return {**kwargs, "eps": AUTHORS["eps"], **extra}


@TORCH
@pytest.mark.parametrize(
    "variant",
    [{}, {"v_only_steps": 3}, {"eps": 0.05}, {"correct_momentum": False}],
    ids=["adam", "adam-2k", "adam-eps", "no-m-correction"],
)
def test_authors_adam_matches_the_authors_update_written_out(variant):
    grads = np.random.default_rng(0).normal(size=(9, 3))
    start = np.array([0.5, -1.0, 2.0])
    got, state = _run_authors_adam(grads, start, **_authors_kwargs(**variant))
    oracle_options = {**AUTHORS, **variant}
    oracle_options["k"] = oracle_options.pop("v_only_steps", 0)
    expected = _authors_adam_oracle(grads, start, **oracle_options)
    for step, (a, b) in enumerate(zip(got, expected, strict=True), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=0, err_msg=f"step {step}")
    assert state["step"] == len(grads)


@TORCH
def test_authors_adam_without_eps_or_v_only_steps_is_torch_adam():
    torch = pytest.importorskip("torch")
    grads = np.random.default_rng(1).normal(size=(6, 4))
    start = np.linspace(-1, 1, 4)
    got, _ = _run_authors_adam(grads, start, **_authors_kwargs(eps=0.0))
    param = torch.tensor(start, requires_grad=True)
    peer = torch.optim.Adam([param], lr=0.1, betas=(0.9, 0.99), eps=0.0)
    for grad, theta in zip(grads, got, strict=True):
        param.grad = torch.tensor(grad)
        peer.step()
        np.testing.assert_allclose(theta, param.detach().numpy(), rtol=1e-12)


@TORCH
def test_adam_2k_freezes_for_k_steps_then_its_first_update_is_damped_by_the_global_t():
    k, beta1, beta2, lr = 20, AUTHORS["beta1"], AUTHORS["beta2"], AUTHORS["lr"]
    grads = np.random.default_rng(2).normal(size=(k + 1, 3))
    start = np.array([0.5, -1.0, 2.0])
    got, state = _run_authors_adam(grads, start, **_authors_kwargs(v_only_steps=k))
    assert all(np.array_equal(theta, start) for theta in got[:k])  # frozen: only v moves
    v = sum((1 - beta2) * beta2 ** (k - i) * grads[i] ** 2 for i in range(k + 1))
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), v, rtol=1e-13)
    # Step K + 1: m = (1 - beta1) g, divided by 1 - beta1^(K+1), the global step's correction
    # (not by 1 - beta1^1 = 1 - beta1, which would make it Adam's undamped first step).
    t = k + 1
    adaptive = math.sqrt(1 - beta2**t) / (np.sqrt(v) + AUTHORS["eps"])
    damping = (1 - beta1) / (1 - beta1**t)
    np.testing.assert_allclose(start - got[k], lr * damping * grads[k] * adaptive, rtol=1e-12)
    assert damping < 0.12  # about 0.1 x an undamped first step


@TORCH
def test_adam_eps_adds_eps_to_the_raw_sqrt_v():
    beta2, lr, eps = AUTHORS["beta2"], AUTHORS["lr"], 0.3
    grad = np.array([[0.2, -1.0, 4.0]])
    start = np.zeros(3)
    got, _ = _run_authors_adam(grad, start, **_authors_kwargs(eps=eps))
    # t = 1: m_hat = g, raw sqrt(v) = sqrt(1 - beta2) |g|, step lr g sqrt(1 - beta2) / (.. + eps)
    raw = math.sqrt(1 - beta2) * np.abs(grad[0])
    np.testing.assert_allclose(-got[0], lr * grad[0] * math.sqrt(1 - beta2) / (raw + eps))
    # torch.optim.Adam's eps sits on the bias-corrected sqrt(v) = |g|: a different step.
    assert not np.allclose(-got[0], lr * grad[0] / (np.abs(grad[0]) + eps))


@TORCH
def test_authors_adam_rejects_bad_arguments():
    torch = pytest.importorskip("torch")
    from radam_cli.demo_baselines import AuthorsAdam

    param = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        AuthorsAdam([param], lr=-1)
    with pytest.raises(ValueError, match=r"Invalid beta parameter at index 1: 1\.0"):
        AuthorsAdam([param], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match=r"Invalid epsilon value: -0\.1"):
        AuthorsAdam([param], eps=-0.1)
    with pytest.raises(ValueError, match="Invalid v_only_steps: -2"):
        AuthorsAdam([param], v_only_steps=-2)
    with pytest.raises(TypeError, match=r"v_only_steps must be an int, got 2\.5"):
        AuthorsAdam([param], v_only_steps=2.5)


@TORCH
def test_adam_2k_runs_k_extra_steps_and_records_its_first_updates():
    pytest.importorskip("torch")
    from radam_cli.demo_config import (
        UPDATE_RANGE,
        OptimizerSettings,
        RunSpec,
        TaskConfig,
        histogram_edges,
    )
    from radam_cli.demo_train import train

    settings = OptimizerSettings(lr=0.01, beta2=0.98, v_only_steps=4)
    task = TaskConfig(batch=4, eval_size=8)
    done = []
    spec = RunSpec("adam-2k", settings, (0.01,), (0, 1), 6, task, histogram_steps=(1, 2))
    (result,) = train(spec, done.append)
    assert sum(done) == spec.total_steps == 10
    assert result.curve_steps[0] == -3
    assert result.curve_steps[-1] == 6
    assert result.histogram_steps == [1, 2]
    total = sum(result.update_histograms[0])
    assert result.update_histograms[0][0] < total  # its first real update, not a frozen step
    # Each seed's median update per recorded step; the first seed's lies in the median bin
    # of its histogram.
    assert [len(row) for row in result.update_medians] == [2, 2]
    edges = histogram_edges(UPDATE_RANGE)
    for counts, (first_seed, _) in zip(
        result.update_histograms, result.update_medians, strict=True
    ):
        cumulative = np.cumsum(counts)
        index = int(np.searchsorted(cumulative, cumulative[-1] / 2))
        assert edges[index] - 1e-9 <= math.log10(first_seed) <= edges[index + 1] + 1e-9
    (adam,) = train(RunSpec("adam", settings, (0.01,), (0,), 6, task), done.append)
    assert adam.curve_steps[0] == 1
    assert adam.curve_steps[-1] == 6


@TORCH
@pytest.mark.parametrize("name", ["adam", "adam-warmup", "radam", "adam-2k"])
def test_each_stacked_learning_rate_trains_as_its_optimizer_alone_at_that_rate(name):
    pytest.importorskip("torch")
    from radam_cli.demo_config import EVAL_SEED, OptimizerSettings, RunSpec, TaskConfig
    from radam_cli.demo_optimizers import make_optimizer
    from radam_cli.demo_task import StackedTransformer, reversal_batch, stacked_batch
    from radam_cli.demo_train import train

    task = TaskConfig(batch=4, eval_size=16)
    settings = OptimizerSettings(lr=1.0, beta2=0.98, warmup_steps=3, v_only_steps=2)
    lrs, seeds, steps = (0.01, 0.05), (0, 1), 8
    results = train(RunSpec(name, settings, lrs, seeds, steps, task))
    for lr, result in zip(lrs, results, strict=True):
        # The peer: the seeds' models with the optimizer at this lr, as in a torch script.
        model = StackedTransformer(task, seeds)
        alone = OptimizerSettings(lr=lr, beta2=0.98, warmup_steps=3, v_only_steps=2)
        optimizer, scheduler = make_optimizer(name, model.parameters(), alone)
        rngs = [np.random.default_rng(seed) for seed in seeds]
        for _ in range(steps + (2 if name == "adam-2k" else 0)):
            optimizer.zero_grad()
            model.losses(*stacked_batch(rngs, task)).sum().backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        held_out = reversal_batch(np.random.default_rng(EVAL_SEED), task, task.eval_size)
        expected, _ = model.evaluate(held_out)
        assert result.lr == lr
        np.testing.assert_allclose(result.final_loss, expected.numpy(), rtol=1e-4)
    assert results[0].final_loss != results[1].final_loss  # the learning rates differ


@TORCH
def test_median_gradient_is_the_median_entry_of_each_seed_s_first_gradient():
    torch = pytest.importorskip("torch")
    from radam_cli.demo_config import TaskConfig
    from radam_cli.demo_task import StackedTransformer, stacked_batch
    from radam_cli.demo_train import median_gradient

    task = TaskConfig(batch=4)
    entries = []
    for seed in (0, 1):  # each seed alone, on its own first batch
        model = StackedTransformer(task, (seed,))
        model.losses(*stacked_batch([np.random.default_rng(seed)], task)).sum().backward()
        entries += [p.grad.abs().reshape(-1) for p in model.parameters()]
    magnitudes = np.sort(torch.cat(entries).double().numpy())
    lower_median = magnitudes[(magnitudes.size - 1) // 2]
    assert median_gradient(task, (0, 1)) == pytest.approx(lower_median, rel=1e-6)


@TORCH
def test_warm_up_multiplies_the_lr_by_min_t_tw_over_tw():
    torch = pytest.importorskip("torch")
    from radam_cli.demo_config import OptimizerSettings
    from radam_cli.demo_optimizers import make_optimizer, warmup_factor

    assert [warmup_factor(t, 4) for t in (1, 2, 3, 4, 5, 100)] == [0.25, 0.5, 0.75, 1, 1, 1]
    assert warmup_factor(1, 0) == 1.0
    param = torch.zeros(2, requires_grad=True)
    settings = OptimizerSettings(lr=0.2, warmup_steps=4)
    optimizer, scheduler = make_optimizer("adam-warmup", [param], settings)
    assert scheduler is not None
    seen = []
    for _ in range(6):
        seen.append(optimizer.param_groups[0]["lr"])  # the lr that this step uses
        param.grad = torch.ones(2)
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2, 0.2])


@TORCH
def test_make_optimizer_builds_the_seven():
    torch = pytest.importorskip("torch")
    from radam_torch import RAdam

    from radam_cli.demo_baselines import AuthorsAdam
    from radam_cli.demo_config import NAMES, OptimizerSettings
    from radam_cli.demo_optimizers import make_optimizer

    assert NAMES == OPTIMIZERS
    settings = OptimizerSettings(
        lr=0.01, beta2=0.98, warmup_steps=8, short_warmup_steps=2, v_only_steps=7, large_eps=1e-3
    )
    built = {name: make_optimizer(name, [torch.zeros(1)], settings) for name in NAMES}
    assert type(built["adam"][0]) is torch.optim.Adam
    assert built["adam"][0].defaults["eps"] == 1e-8
    assert built["adam"][0].defaults["betas"] == (0.9, 0.98)
    assert isinstance(built["radam"][0], RAdam)
    authors = {"adam-2k": (7, 1e-8, True), "adam-eps": (0, 1e-3, True)}
    authors["adam-no-m-correction"] = (0, 1e-8, False)
    for name, (k, eps, corrected) in authors.items():
        optimizer = built[name][0]
        assert type(optimizer) is AuthorsAdam
        assert optimizer.defaults["v_only_steps"] == k
        assert optimizer.defaults["eps"] == eps
        assert optimizer.defaults["correct_momentum"] is corrected
    warmups = [name for name, (_, sched) in built.items() if sched is not None]
    assert warmups == ["adam-warmup-short", "adam-warmup"]
    factors = [[factor(0) for factor in built[name][1].lr_lambdas] for name in warmups]
    assert factors == [[1 / 2], [1 / 8]]
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        make_optimizer("sgd", [torch.zeros(1)], settings)


# --- the task ----------------------------------------------------------------------------


@TORCH
def test_stacked_models_match_the_same_seed_alone():
    torch = pytest.importorskip("torch")
    from radam_cli.demo_config import TaskConfig
    from radam_cli.demo_task import StackedTransformer, reversal_targets

    config = TaskConfig(batch=4)
    pair = StackedTransformer(config, (3, 5))
    alone = StackedTransformer(config, (5,))
    for (name, stacked), single in zip(pair.named_parameters(), alone.parameters(), strict=True):
        assert torch.equal(stacked[1], single[0]), name
    tokens = torch.randint(0, config.vocab, (1, 4, config.seq_len))
    targets = torch.from_numpy(reversal_targets(tokens.numpy()))
    both = pair.losses(tokens.expand(2, -1, -1), targets.expand(2, -1, -1))
    torch.testing.assert_close(both[1:], alone.losses(tokens, targets))
    assert both[0] != both[1]
    untrained, _ = alone.evaluate(np.zeros((8, config.seq_len), dtype=np.int64))
    assert math.isfinite(float(untrained[0]))


@TORCH
def test_reversal_targets_reverse_each_sequence():
    pytest.importorskip("torch")
    from radam_cli.demo_task import reversal_targets

    tokens = np.array([[1, 2, 3], [4, 5, 6]])
    assert reversal_targets(tokens).tolist() == [[3, 2, 1], [6, 5, 4]]


# --- the report pieces -------------------------------------------------------------------


def _fake_results(adam_high, radam_high, lrs=(0.01, 0.1)):
    from radam_cli.demo_config import RunResult

    results = []
    for lr in lrs:
        for name in OPTIMIZERS:
            stuck = lr == lrs[-1] and (
                (name == "adam" and adam_high) or (name == "radam" and radam_high)
            )
            loss = [2.77, 2.75] if stuck else [0.01, 0.02]
            results.append(RunResult(name, lr, [0, 1], final_loss=loss, final_accuracy=[1, 1]))
    return results


def test_table_counts_the_seeds_that_learned_and_gives_medians():
    from radam_cli.demo import format_table

    table = format_table(_fake_results(True, False), math.log(16), OPTIMIZERS)
    lines = table.splitlines()
    assert lines[0] == (
        "A seed learned the task when its held-out loss ended below 0.1 x chance (2.773) = "
        "0.277 nats/token."
    )
    assert lines[1] == "Seeds that learned the task:"
    assert all(label in lines[2] for label in LABELS)
    assert lines[4].split() == ["0.1", "0/2", *["2/2"] * (len(OPTIMIZERS) - 1)]
    medians = lines.index("Median final held-out loss, nats/token (lowest to highest seed):")
    row = lines[medians + 3]
    assert row.startswith("0.1 ")
    assert "2.76 (2.8 to 2.8)" in row  # Adam: the median of 2.77 and 2.75
    assert "±" not in table


class _Terminal(StringIO):
    def isatty(self):
        return True


class _Log(StringIO):
    def isatty(self):
        return False


def test_progress_on_a_terminal_is_a_tqdm_bar_with_the_time_left():
    from radam_cli.progress import Progress

    stream = _Terminal()
    with Progress(10, stream, "training", unit="step") as progress:
        progress.advance(4)
        progress.advance(6)
        progress.advance(3)  # never past the total
    text = stream.getvalue()
    assert text.endswith("\n")
    assert text.count("\r") >= 2  # redrawn in place
    final = text.rsplit("\r", 1)[-1]
    assert final.startswith("training: 100%|")
    assert "| 10/10 [" in final
    assert "<00:00" in final  # elapsed<left
    assert "step/s]" in final


def test_progress_elsewhere_is_a_few_plain_lines_ending_at_100_percent():
    from radam_cli.progress import Progress

    stream = _Log()
    with Progress(726, stream, "training", unit="step") as progress:
        for _ in range(726):  # one at a time, as the workers report them
            progress.advance(1)
    text = stream.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 10  # one per tenth
    assert [line.split("%")[0].split()[-1] for line in lines] == [str(10 * k) for k in range(1, 11)]
    assert all(line.startswith("training: ") for line in lines)
    assert all(" [00:" in line and "<" in line for line in lines)  # elapsed<left
    assert "| 726/726 [" in lines[-1]


def test_progress_elsewhere_writes_nothing_until_a_tenth_is_done_and_then_one_line():
    from radam_cli.progress import Progress

    stream = _Log()
    progress = Progress(100, stream, "Monte Carlo")
    progress.advance(9)
    assert stream.getvalue() == ""
    progress.advance(45)  # past five tenths at once: still one line
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Monte Carlo:  54%|#####4    | 54/100 [00:00<")
    progress.close()
    assert len(stream.getvalue().splitlines()) == 1


# --- end to end --------------------------------------------------------------------------


def _run_demo(tmp_path, capsys, *extra):
    out = tmp_path / "report"
    assert main(["demo", *TINY, "--jobs", "1", "--out", str(out), *extra]) == 0
    captured = capsys.readouterr()
    return out, captured.out, captured.err


@TORCH
def test_tiny_demo_writes_table_json_and_report(tmp_path, capsys):
    pytest.importorskip("torch")
    out, stdout, stderr = _run_demo(tmp_path, capsys, "--no-plots")
    assert "100%" in stderr
    header = next(line for line in stdout.splitlines() if line.startswith("lr "))
    assert all(label in header for label in LABELS)
    rows = [line for line in stdout.splitlines() if line.split()[:1] in (["0.01"], ["0.1"])]
    assert len(rows) == 4  # seeds that learned, then medians
    assert all(len(re.findall(r"\b\d/2\b", row)) == len(OPTIMIZERS) for row in rows[:2])
    assert sorted(p.name for p in out.iterdir()) == ["report.md", "results.json"]

    document = json.loads((out / "results.json").read_text())
    assert document["config"]["steps"] == 12
    assert document["config"]["warmup_steps"] == 4
    runs = document["runs"]
    assert {(r["optimizer"], r["lr"]) for r in runs} == {
        (name, lr) for name in OPTIMIZERS for lr in (0.01, 0.1)
    }
    parameters = None
    for run in runs:
        assert run["seeds"] == [0, 1]
        assert all(math.isfinite(v) for v in run["final_loss"])
        assert all(0 <= v <= 1 for v in run["final_accuracy"])
        assert all(math.isfinite(v) for curve in run["curves"] for v in curve)
        assert run["curve_steps"][-1] == 12
        assert run["curve_steps"][0] == (-3 if run["optimizer"] == "adam-2k" else 1)
        assert run["histogram_steps"] == list(range(1, 13))
        totals = {sum(h) for h in run["gradient_histograms"] + run["update_histograms"]}
        assert len(totals) == 1
        parameters = parameters or totals.pop()
    assert parameters > 1000
    # Adam-2k's histograms are of its first updates, after its K = 4 v-only steps.
    adam_2k = next(r for r in runs if r["optimizer"] == "adam-2k")
    assert all(h[0] < parameters for h in adam_2k["update_histograms"])
    assert len(document["summary"]) == 2 * len(OPTIMIZERS)
    config = document["config"]
    assert config["v_only_steps"] == 4
    assert config["short_warmup_steps"] == 5  # 5% of 2/(1 - 0.98)
    # Adam-eps's eps is the median |gradient| at initialization, to one digit.
    assert config["large_eps"] == float(f"{config['median_gradient']:.1g}")
    ratio = config["large_eps"] / config["median_gradient"]
    assert f"{ratio:.2g} x the median |gradient| at initialization" in stdout

    report = (out / "report.md").read_text()
    assert "| 0.1 |" in report
    assert ".png" not in report
    # It opens with the four findings computed from the numbers in results.json.
    from radam_cli.demo_config import RunResult
    from radam_cli.demo_report import findings

    results = [RunResult(**run) for run in runs]
    verdicts = findings(results, document["chance_loss"], OPTIMIZERS)
    for number, (claim, verdict) in enumerate(verdicts, 1):
        assert f"{number}. **{claim}** {verdict}" in report.splitlines()


@TORCH
def test_tiny_demo_draws_the_plots(tmp_path, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib")
    out, _, _ = _run_demo(tmp_path, capsys)
    figures = {
        "loss_curves.png": "Figure 1",
        "gradient_histograms.png": "Figure 2",
        "control_histograms.png": "Figure 3",
        "success_rate.png": "Figure 8",
        "variance.png": "variance simulation",
    }
    report = (out / "report.md").read_text().splitlines()
    for name, figure in figures.items():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        line = report.index(f"![{name}]({name})")
        assert report[line + 2].startswith(f"*The paper's {figure} in miniature")


@TORCH
def test_a_failed_run_stops_every_worker_at_once():
    import multiprocessing

    pytest.importorskip("torch")
    from radam_cli.demo import train_all
    from radam_cli.demo_config import OptimizerSettings, RunSpec, TaskConfig

    settings = OptimizerSettings(lr=1.0, beta2=0.98)
    task = TaskConfig(batch=4, eval_size=8)
    endless = RunSpec("adam", settings, (0.01,), (0,), 10**6, task)  # stopped, never finished
    failing = RunSpec("no-such-optimizer", settings, (0.01,), (0,), 5, task)
    done = []
    with pytest.raises(ValueError, match="unknown optimizer 'no-such-optimizer'"):
        train_all([endless, failing], jobs=2, progress=done.append)
    assert sum(done) < endless.total_steps
    assert multiprocessing.active_children() == []


@TORCH
@pytest.mark.slow
def test_worker_processes_give_the_same_numbers(tmp_path, capsys):
    pytest.importorskip("torch")
    argv = ["demo", *TINY, "--optimizers", "adam,radam", "--no-plots"]
    runs = {}
    for jobs in ("1", "2"):
        out = tmp_path / jobs
        assert main([*argv, "--jobs", jobs, "--out", str(out)]) == 0
        runs[jobs] = json.loads((out / "results.json").read_text())["runs"]
        # The progress reaches stderr from the workers too: a few plain lines, to 100%.
        err = capsys.readouterr().err
        assert "\r" not in err
        lines = err.splitlines()
        assert 1 <= len(lines) <= 10
        assert lines[-1].startswith("training: 100%|")
        assert "| 24/24 [" in lines[-1]  # 2 optimizers x 12 steps (lrs and seeds at once)
    for one, two in zip(runs["1"], runs["2"], strict=True):
        assert one["final_loss"] == two["final_loss"]
        assert one["curves"] == two["curves"]
