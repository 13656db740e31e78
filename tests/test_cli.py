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


def test_help_describes_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["schedule", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(option in out for option in ("--steps", "--beta2", "--preset"))


def test_console_script_runs():
    done = subprocess.run(
        [sys.executable, "-m", "radam_cli.main", "schedule", "--steps", "3"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "rho_inf = 1999" in done.stdout
