"""The ``radam`` command: ``radam schedule``, ``radam theory``, and its errors."""

import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from radam_cli import options
from radam_cli.main import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def _rows(text):
    return [line.split() for line in text.splitlines() if line.strip()[:1].isdigit()]


def test_schedule_prints_rho_r_and_the_start_of_rectification(capsys):
    assert main(["schedule", "--steps", "8"]) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    assert [int(r[0]) for r in rows] == list(range(1, 9))
    # rho_t = rho_inf - 2 t b2^t / (1 - b2^t), checked here from the formula.
    for t, rho_t, *_ in rows:
        b2t = 0.999 ** int(t)
        assert float(rho_t) == pytest.approx(1999 - 2 * int(t) * b2t / (1 - b2t), abs=1e-6)
    assert [r[3] for r in rows] == ["no"] * 5 + ["yes"] * 3
    assert "Rectification starts at step 6; steps before it take SGD with momentum." in out


def test_schedule_follows_the_preset_threshold(capsys):
    main(["schedule", "--preset", "paper", "--steps", "5"])
    assert "rho_t > 4" in capsys.readouterr().out
    main(["schedule", "--preset", "authors", "--steps", "6"])
    out = capsys.readouterr().out
    assert "rho_t >= 5" in out
    assert "starts at step 6; steps before it take no parameter update" in out


def test_schedule_says_when_rectification_never_starts(capsys):
    main(["schedule", "--beta2", "0.5", "--steps", "3"])
    assert "never starts" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["schedule", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
        (["schedule", "--beta2", "1.0"], "argument --beta2: must be in [0, 1), got 1.0"),
        (["schedule", "--preset", "keras"], "argument --preset: invalid choice: 'keras'"),
        (["schedule", "--steps", "x"], "argument --steps: must be an integer, got 'x'"),
        (["schedule", "--bogus"], "unrecognized arguments: --bogus"),
        (["theory", "--rho-max", "5"], "argument --rho-max: must be >= 6, got 5"),
        (["theory", "--samples", "10"], "argument --samples: must be >= 100, got 10"),
        (["theory", "--sigma", "0"], "argument --sigma: must be finite and > 0, got 0"),
        (["theory", "--beta2", "-0.5"], "argument --beta2: must be in [0, 1), got -0.5"),
        (["theory", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
        (["theory", "--no-plot", "extra"], "unrecognized arguments: extra"),
        (["fly"], "argument COMMAND: invalid choice: 'fly'"),
        ([], "the following arguments are required: COMMAND"),
        (["--bogus", "schedule"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_options_exit_2_with_one_line_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert message in errors[0]
    # The usage and the error are the subcommand's, or radam's before a subcommand is known.
    command = argv[0] if argv and argv[0] in ("schedule", "theory") else None
    prog = f"radam {command}" if command else "radam"
    assert captured.err.startswith(f"usage: {prog} [-h]")
    assert errors[0].startswith(f"{prog}: error: ")


def test_version_prints_the_installed_distribution_s(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"radam {version('radam')}\n"


def test_there_is_no_radam_module_and_the_help_names_the_packages(capsys):
    # The distribution radam installs radam_core, the adapters and radam_cli, as scikit-learn
    # installs sklearn: a module named radam would be a half-module added by mistake.
    assert importlib.util.find_spec("radam") is None
    assert importlib.util.find_spec("radam_core") is not None
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    packages = [Path(path).name for path in wheel["targets"]["wheel"]["packages"]]
    assert "radam" not in packages
    with pytest.raises(SystemExit):
        main(["--help"])
    description = " ".join(capsys.readouterr().out.split())
    assert "There is no module named radam" in description
    for package in packages:
        assert package in description


def test_every_decay_rate_option_says_the_range_it_accepts():
    subcommands = next(
        action for action in build_parser()._actions if action.dest == "==SUPPRESS=="
    ).choices
    seen = 0
    for name, parser in subcommands.items():
        for action in parser._actions:
            if action.type is options.beta:
                seen += 1
                assert "in [0, 1)" in action.help, (name, action.dest)
    assert seen == 5  # schedule, theory and demo have --beta2, convert --beta1 and --beta2


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("schedule", ("--steps", "--beta2", "--preset", "--plot", "--out")),
        (
            "theory",
            ("--rho-max", "--sigma", "--beta2", "--samples", "--seed", "--out", "--no-plot"),
        ),
        (
            "convert",
            (
                "SRC",
                "DST",
                "--from",
                "--to",
                "--into",
                "--rename",
                "--preset",
                "--lr",
                "--beta1",
                "--beta2",
                "--eps",
                "--weight-decay",
                "--decoupled-weight-decay",
                "--nesterov",
                "--sync-period",
                "--slow-step-size",
                "Lookahead",
                "radam_torch.Ranger",
                "'optimizer_state_dict'",
                "'optimizer_states'",
                "param_names",
                "weights_only=True",
            ),
        ),
    ],
)
def test_help_describes_every_option(command, options, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(option in out for option in options)


def test_schedule_compares_every_preset_threshold(capsys):
    main(["schedule", "--steps", "3"])
    out = capsys.readouterr().out
    assert "paper    rho_t >  4: from step 5" in out
    assert "torch    rho_t >  5: from step 6" in out
    assert "authors  rho_t >= 5: from step 6" in out


def test_schedule_help_names_the_warm_up_length_that_the_plot_draws(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    with pytest.raises(SystemExit):
        main(["schedule", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    # Every length in the help that is a multiple of 1/(1 - beta2) is T_w = 2/(1 - beta2).
    assert re.findall(r"(\d+)/\(1 - beta2\)", text) == ["2", "2"]
    labels = []
    legend = Axes.legend

    def recording(self, *args, **kwargs):
        labels.extend(self.get_legend_handles_labels()[1])
        return legend(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Axes, "legend", recording)
        main(["schedule", "--plot", "--beta2", "0.99", "--out", str(tmp_path)])
    assert "linear warm-up over T_w = 2/(1 - beta2) = 200 steps" in labels


def test_schedule_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["schedule", "--plot", "--out", str(tmp_path), "--beta2", "0.99"]) == 0
    assert (tmp_path / "schedule.png").read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {tmp_path / 'schedule.png'}" in capsys.readouterr().out


def test_theory_table_is_the_closed_form_and_monte_carlo(capsys):
    from radam_core import theory

    assert main(["theory", "--no-plot", "--rho-max", "20", "--samples", "2000"]) == 0
    rows = _rows(capsys.readouterr().out)
    assert [int(r[0]) for r in rows][:4] == [3, 4, 5, 6]
    assert int(rows[-1][0]) == 20
    for rho, exact, approx, mc, _ in rows:
        assert float(exact) == pytest.approx(theory.exact_variance(int(rho)), rel=1e-5)
        assert approx == "undefined" if int(rho) <= 4 else float(approx) > 0
        assert float(mc) > 0


def test_theory_says_why_the_approximation_is_undefined_at_small_rho(capsys):
    assert main(["theory", "--no-plot", "--rho-max", "6", "--samples", "100"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out
    lines = out.splitlines()
    note = lines.index(
        "approx: the first-order approximation rho / (2 (rho - 2)(rho - 4) sigma^2) only "
        "holds for rho > 4."
    )
    assert note == len(lines) - 2  # under the table, above the standard error's note
    assert [line.split()[2] for line in lines[2:4]] == ["undefined", "undefined"]


def test_theory_gives_no_standard_error_where_the_fourth_moment_is_infinite(capsys):
    # psi = sqrt(rho / Y), Y ~ chi^2_rho: E[psi^4] = rho^2 E[Y^-2] = rho^2 / ((rho-2)(rho-4))
    # is finite only for rho > 4, and the standard error of a sample variance needs it.
    assert main(["theory", "--no-plot", "--rho-max", "8", "--samples", "200"]) == 0
    lines = capsys.readouterr().out.splitlines()
    errors = {int(line.split()[0]): line.split()[4] for line in lines[2:7]}
    assert errors[3] == errors[4] == "undefined"
    assert all(float(errors[rho]) > 0 for rho in (5, 6, 7))
    assert lines[-1] == (
        "+-: the standard error of the Monte Carlo variance needs E[psi^4], finite only for "
        "rho > 4."
    )


def test_theory_plot_draws_error_bars_only_where_the_fourth_moment_is_finite(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from matplotlib.axes import Axes

    barred = []
    errorbar = Axes.errorbar

    def recording(self, x, y, *args, **kwargs):
        barred.extend(x)
        return errorbar(self, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "errorbar", recording)
    argv = ["theory", "--rho-max", "12", "--samples", "200", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert barred
    assert min(barred) == 5


def test_theory_shows_its_progress_in_a_few_plain_lines_when_not_on_a_terminal(capsys):
    from tqdm import tqdm

    assert main(["theory", "--no-plot", "--rho-max", "20", "--samples", "500"]) == 0
    out, err = capsys.readouterr()
    assert "\r" not in err
    lines = err.splitlines()
    assert 1 <= len(lines) <= 10
    assert all(line.startswith("Monte Carlo:") for line in lines)
    assert "100%" in lines[-1]
    # Each rho of the table takes 500 * rho Gaussian draws, and all of them are counted.
    draws = tqdm.format_sizeof(500 * sum(int(row[0]) for row in _rows(out)))
    assert f" {draws}/{draws} " in lines[-1]
    assert "draw/s]" in lines[-1]


def test_theory_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    argv = ["theory", "--rho-max", "12", "--samples", "500", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert (tmp_path / "theory.png").read_bytes()[:4] == b"\x89PNG"


def _unwritable(tmp_path, kind):
    """A folder nothing can be written in: under a regular file, or in /proc."""
    if kind == "proc":
        return Path("/proc/radam-test/out")
    (tmp_path / "file").write_text("not a folder")
    return tmp_path / "file" / "sub"


@pytest.mark.parametrize("kind", ["under-a-file", "proc"])
@pytest.mark.parametrize(
    "argv",
    [
        ["schedule", "--plot"],
        # Samples that would take minutes: the error must come before any of them.
        ["theory", "--samples", "100000000"],
    ],
    ids=["schedule", "theory"],
)
def test_an_unwritable_out_exits_2_before_any_work(argv, kind, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    if kind == "proc" and not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    folder = _unwritable(tmp_path, kind)
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(folder)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].startswith(f"usage: radam {argv[0]} [-h]")
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1
    assert errors[0].startswith(
        f"radam {argv[0]}: error: argument --out: cannot write to {folder}: "
    )
    assert errors[0] == lines[-1]
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("argv", [["schedule"], ["theory", "--no-plot", "--rho-max", "6"]])
def test_an_unwritable_out_is_no_error_when_nothing_is_written_there(argv, tmp_path, capsys):
    folder = _unwritable(tmp_path, "under-a-file")
    assert main([*argv, "--out", str(folder)]) == 0
    assert "error" not in capsys.readouterr().err


def test_an_out_folder_is_created_and_checked_by_writing_in_it(tmp_path):
    import argparse

    parser = argparse.ArgumentParser(prog="radam test")
    folder = tmp_path / "a" / "b"
    options.writable_folder(parser, folder)
    assert folder.is_dir()
    assert list(folder.iterdir()) == []  # the file written to check is gone


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "radam_cli.main", "schedule", "--steps", "3"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "rho_inf = 1999" in done.stdout


def _python_m_radam_cli(*argv):
    return subprocess.run(
        [sys.executable, "-m", "radam_cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_python_m_radam_cli_runs_the_command(capsys):
    done = _python_m_radam_cli("schedule", "--steps", "3")
    assert done.returncode == 0, done.stderr
    assert main(["schedule", "--steps", "3"]) == 0
    assert done.stdout == capsys.readouterr().out
    bad = _python_m_radam_cli("schedule", "--bogus")
    assert bad.returncode == 2
    assert bad.stderr.startswith("usage: radam schedule [-h]")
    assert bad.stderr.splitlines()[-1] == "radam schedule: error: unrecognized arguments: --bogus"
    version = _python_m_radam_cli("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("radam ")


def test_a_reader_that_stops_early_ends_the_command_quietly():
    # radam schedule --steps 20000 | head -n 1: no traceback about the closed pipe.
    process = subprocess.Popen(
        [sys.executable, "-m", "radam_cli.main", "schedule", "--steps", "20000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().startswith("RAdam schedule")
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 1
    assert err == ""
