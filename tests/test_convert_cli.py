"""``radam convert`` without a framework: its options, snapshot files, and missing packages.

The conversions of each framework's files are tested in the sessions that have the framework:
test_convert_torch, test_convert_optax (and test_convert_orbax), and
tests/keras_backends/test_convert_keras.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import radam_numpy
from radam_cli.main import main
from radam_core import load_snapshot, save_snapshot


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    """A snapshot file of a radam_numpy run of three steps, parameters ``a/w`` and ``b/w``."""
    opt = radam_numpy.RAdam([np.ones(3), np.zeros((2, 2))], lr=0.1)
    for _ in range(3):
        opt.step([np.full(3, 0.5), np.ones((2, 2))])
    path = tmp_path / "run.safetensors"
    save_snapshot(opt.export_state(["a/w", "b/w"]), path)
    return path


def test_a_snapshot_is_renamed_and_nothing_else_changes(
    snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "renamed.safetensors"
    argv = ["convert", snapshot, out, "--rename", "/", ".", "--rename", r"^(\w)\.", r"layer_\1."]
    assert main(list(map(str, argv))) == 0
    assert capsys.readouterr().out == (
        f"wrote {out} (snapshot): 2 parameters at step 3, convention 'torch', lr 0.1, "
        "betas (0.9, 0.999), eps 1e-08, weight decay 0\n"
    )
    before, after = load_snapshot(snapshot), load_snapshot(out)
    assert list(after.parameters) == ["layer_a.w", "layer_b.w"]
    assert after.hyperparameters == before.hyperparameters
    for old, new in zip(before.parameters.values(), after.parameters.values(), strict=True):
        assert new.count == old.count
        np.testing.assert_array_equal(new.exp_avg, old.exp_avg)
        np.testing.assert_array_equal(new.exp_avg_sq, old.exp_avg_sq)


def test_a_lookahead_snapshot_keeps_its_slow_weights_and_position_when_renamed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opt = radam_numpy.Lookahead(radam_numpy.RAdam([np.ones(3), np.zeros(2)], lr=0.1), k=4)
    for _ in range(6):
        opt.step([np.full(3, 0.5), np.ones(2)])
    save_snapshot(opt.export_state(["a/w", "b/w"]), tmp_path / "ranger.safetensors")
    out = tmp_path / "renamed.safetensors"
    argv = ["convert", tmp_path / "ranger.safetensors", out, "--rename", "/", "."]
    assert main(list(map(str, argv))) == 0
    assert capsys.readouterr().out.endswith(
        "; Lookahead k 4, alpha 0.5, 2 fast steps since its last sync\n"
    )
    before, after = load_snapshot(tmp_path / "ranger.safetensors"), load_snapshot(out)
    assert list(after.parameters) == ["a.w", "b.w"]
    assert after.lookahead == before.lookahead
    for old, new in zip(before.parameters.values(), after.parameters.values(), strict=True):
        assert old.slow is not None
        assert new.slow is not None
        np.testing.assert_array_equal(new.slow, old.slow)


def _fails(capsys: pytest.CaptureFixture[str], *argv: object) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", *map(str, argv)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: radam convert [-h]")
    errors = [line for line in captured.err.splitlines() if "error:" in line]
    assert len(errors) == 1
    assert errors[0] == captured.err.splitlines()[-1]
    return errors[0].removeprefix("radam convert: error: ")


def test_bad_arguments_stop_before_any_work_with_one_line(
    snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.safetensors"
    (tmp_path / "file").write_text("a file, not a folder")
    cases = {
        "argument SRC: nowhere.pt does not exist": ["nowhere.pt", out],
        "argument DST: cannot tell the format of out.bin from its name; give --to "
        "torch|keras|optax|snapshot": [snapshot, "out.bin"],
        "argument --lr: only for an optax SRC, whose state holds no hyperparameters "
        f"({snapshot} is snapshot, which records its own)": [snapshot, out, "--lr", "0.1"],
        "argument --into: a snapshot DST is written whole, from SRC alone": [
            snapshot,
            out,
            "--into",
            snapshot,
        ],
        "argument --into: nowhere.keras does not exist": [
            snapshot,
            tmp_path / "m.keras",
            "--into",
            "nowhere.keras",
        ],
        "argument --into: writing keras needs the checkpoint to put the state into: give "
        "--into MODEL.keras (DST itself when it exists)": [snapshot, tmp_path / "m.keras"],
        "argument --into: writing optax needs the checkpoint to put the state into: give "
        "--into CHECKPOINT (params, opt_state) (DST itself when it exists)": [
            snapshot,
            tmp_path / "o.pkl",
        ],
        f"argument DST: Keras saves models to .keras files, not {tmp_path / 'm.h5'}": [
            snapshot,
            tmp_path / "m.h5",
            "--to",
            "keras",
        ],
        "argument --rename: '(' is not a regular expression: missing ), unterminated "
        "subpattern at position 0": [snapshot, out, "--rename", "(", "x"],
        "argument --beta1: must be in [0, 1), got 1.5": [snapshot, out, "--beta1", "1.5"],
        "argument --sync-period: only for an optax SRC, whose state holds no hyperparameters "
        f"({snapshot} is snapshot, which records its own)": [snapshot, out, "--sync-period", "6"],
        "argument --sync-period: must be >= 1, got 0": [snapshot, out, "--sync-period", "0"],
        "argument --slow-step-size: must be in [0, 1], got 2": [
            snapshot,
            out,
            "--slow-step-size",
            "2",
        ],
        "argument --from: invalid choice: 'jax'": [snapshot, out, "--from", "jax"],
        f"argument DST: cannot write to {tmp_path / 'file'}: Not a directory": [
            snapshot,
            tmp_path / "file" / "out.safetensors",
        ],
    }
    for message, argv in cases.items():
        assert _fails(capsys, *argv).startswith(message), message
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file", "run.safetensors"]


def test_names_that_collide_after_renaming_write_nothing(
    snapshot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.safetensors"
    assert _fails(capsys, snapshot, out, "--rename", "^./", "") == (
        "--rename gives two parameters the name 'w'"
    )
    assert not out.exists()
    (tmp_path / "text.safetensors").write_text("not a snapshot")
    assert "text.safetensors is cut short" in _fails(capsys, tmp_path / "text.safetensors", out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("fmt", "suffix", "blocked", "line"),
    [
        (
            "torch",
            ".pt",
            ("torch",),
            "radam convert needs PyTorch for torch checkpoints: python -m pip install "
            "torch==2.13.0 (any torch >= 2.6 works)",
        ),
        (
            "keras",
            ".keras",
            ("keras",),
            "radam convert needs Keras and a backend for .keras files: python -m pip install "
            '"keras>=3.8" tensorflow (or jax or torch, chosen with KERAS_BACKEND)',
        ),
        (
            "optax",
            ".pkl",
            ("jax", "optax"),
            'radam convert needs optax for optax checkpoints: python -m pip install "optax>=0.2.4"',
        ),
    ],
    ids=["torch", "keras", "optax"],
)
def test_a_missing_framework_gives_the_line_that_installs_it_and_status_1(
    snapshot: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    suffix: str,
    blocked: tuple[str, ...],
    line: str,
) -> None:
    for name in blocked:
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    for name in list(sys.modules):
        if name.startswith(
            (f"radam_cli.convert_{fmt}", "radam_torch", "radam_keras", "radam_optax")
        ):
            monkeypatch.delitem(sys.modules, name)
    (tmp_path / f"into{suffix}").write_bytes(b"")
    argv = ["convert", snapshot, tmp_path / f"out{suffix}", "--into", tmp_path / f"into{suffix}"]
    assert main(list(map(str, argv))) == 1
    assert capsys.readouterr().err == line + "\n"
    assert not (tmp_path / f"out{suffix}").exists()
