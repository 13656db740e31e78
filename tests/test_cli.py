"""The ``radam`` command: ``radam schedule`` and its errors."""

import subprocess
import sys

import pytest

from radam_cli.main import main


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
        (["theory", "--rho-max", "5"], "argument --rho-max: must be >= 6, got 5"),
        (["theory", "--samples", "10"], "argument --samples: must be >= 100, got 10"),
        (["theory", "--sigma", "0"], "argument --sigma: must be finite and > 0, got 0"),
        (["theory", "--beta2", "-0.5"], "argument --beta2: must be in [0, 1), got -0.5"),
        (["fly"], "argument COMMAND: invalid choice: 'fly'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_options_exit_2_with_one_line_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert message in errors[0]


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("schedule", ("--steps", "--beta2", "--preset", "--plot", "--out")),
        (
            "theory",
            ("--rho-max", "--sigma", "--beta2", "--samples", "--seed", "--out", "--no-plot"),
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
        assert approx == "nan" if int(rho) <= 4 else float(approx) > 0
        assert float(mc) > 0


def test_theory_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    argv = ["theory", "--rho-max", "12", "--samples", "500", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert (tmp_path / "theory.png").read_bytes()[:4] == b"\x89PNG"


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "radam_cli.main", "schedule", "--steps", "3"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "rho_inf = 1999" in done.stdout
