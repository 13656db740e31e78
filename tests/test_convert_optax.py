"""``radam convert`` with optax checkpoints (pickle files): to the snapshot and back, resumed.

A run saved as ``{"params", "opt_state"}``, converted to a snapshot and back into a fresh
checkpoint, resumes to exactly the uninterrupted run, ranger's too (Lookahead's k and alpha
given as options); one moved to radam_numpy equals it to
float32 rounding (test_golden's float32 bound, 1e-5). Orbax folders: test_convert_orbax.
The other frameworks' conversions are in tests/keras_backends, where all are installed.
"""

from __future__ import annotations

import functools
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import radam_numpy  # noqa: E402
import radam_optax  # noqa: E402
from radam_cli import convert as convert_command  # noqa: E402
from radam_cli.main import main  # noqa: E402
from radam_core import PRESETS, LookaheadPosition, load_snapshot  # noqa: E402
from radam_optax.transform import DEFAULT_PRESET  # noqa: E402
from tests.convert_cli import convert, refused  # noqa: E402

STEPS, SPLIT = 16, 7
K, ALPHA = 4, 0.6  # ranger's: SPLIT is 3 updates into its second cycle
LOOKAHEAD = ("--sync-period", str(K), "--slow-step-size", str(ALPHA))
NAMES = ["dense/bias", "dense/kernel", "head"]  # jax.tree.leaves order: keys sorted


def _params() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    return {
        "dense": {
            "kernel": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32),
            "bias": jnp.asarray(rng.normal(size=4), jnp.float32),
        },
        "head": jnp.asarray(rng.normal(size=2), jnp.float32),
    }


def _grads(params: Any, t: int) -> Any:
    return jax.tree.map(lambda p: jnp.sin(p + 0.1 * t), params)


def _run(tx: Any, params: Any, state: Any, first: int, last: int) -> tuple[Any, Any]:
    step = _step(tx)
    for t in range(first, last + 1):
        params, state = step(params, state, _grads(params, t))
    return params, state


@functools.cache
def _step(tx: Any) -> Any:
    """``tx``'s step, jitted once for all the runs of a test."""

    @jax.jit
    def step(params: Any, state: Any, grads: Any) -> tuple[Any, Any]:
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return step


def _save(path: Path, params: Any, opt_state: Any) -> None:
    with path.open("wb") as file:
        pickle.dump({"params": params, "opt_state": opt_state, "epoch": 3}, file)


def test_the_default_convention_of_an_optax_source_is_radam_optax_s() -> None:
    assert convert_command.OPTAX_PRESET == DEFAULT_PRESET


@pytest.mark.parametrize("amsgrad", [False, True])
def test_an_optax_checkpoint_goes_to_a_snapshot_and_back_and_resumes_exactly(
    tmp_path: Path, amsgrad: bool
) -> None:
    preset = PRESETS["optax"].replace(amsgrad=amsgrad)
    tx = optax.chain(optax.clip_by_global_norm(10.0), radam_optax.radam(0.05, preset=preset))
    reference, _ = _run(tx, _params(), tx.init(_params()), 1, STEPS)
    params, state = _run(tx, _params(), tx.init(_params()), 1, SPLIT)
    _save(tmp_path / "run.pkl", params, state)

    convert(tmp_path / "run.pkl", tmp_path / "run.safetensors", "--lr", "0.05")
    snapshot = load_snapshot(tmp_path / "run.safetensors")
    assert list(snapshot.parameters) == NAMES
    assert snapshot.hyperparameters.lr == 0.05
    assert snapshot.hyperparameters.amsgrad is amsgrad  # read from the state
    assert snapshot.hyperparameters.eps_placement == "corrected"  # optax's convention

    _save(tmp_path / "fresh.pkl", params, tx.init(params))
    convert(tmp_path / "run.safetensors", tmp_path / "resume.pkl", "--into", tmp_path / "fresh.pkl")
    with (tmp_path / "resume.pkl").open("rb") as file:
        resumed = pickle.load(file)
    assert resumed["epoch"] == 3
    final, _ = _run(tx, resumed["params"], resumed["opt_state"], SPLIT + 1, STEPS)
    for mine, theirs in zip(jax.tree.leaves(final), jax.tree.leaves(reference), strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_an_optax_run_moves_to_numpy_through_the_file(tmp_path: Path) -> None:
    tx = radam_optax.radam(0.05, preset="torch", weight_decay=0.1)
    reference, _ = _run(tx, _params(), tx.init(_params()), 1, STEPS)
    params, state = _run(tx, _params(), tx.init(_params()), 1, SPLIT)
    _save(tmp_path / "run.pickle", params, state)
    argv = ["--preset", "torch", "--lr", "0.05", "--weight-decay", "0.1"]
    convert(tmp_path / "run.pickle", tmp_path / "run.safetensors", *argv)

    arrays = [np.array(leaf) for leaf in jax.tree.leaves(params)]
    numpy_opt = radam_numpy.RAdam(arrays, lr=0.05, weight_decay=0.1)
    numpy_opt.import_state(load_snapshot(tmp_path / "run.safetensors"), NAMES)
    treedef = jax.tree.structure(params)
    for t in range(SPLIT + 1, STEPS + 1):
        grads = _grads(jax.tree.unflatten(treedef, numpy_opt.params), t)
        numpy_opt.step([np.asarray(g) for g in jax.tree.leaves(grads)])
    for mine, theirs in zip(numpy_opt.params, jax.tree.leaves(reference), strict=True):
        np.testing.assert_allclose(mine, np.asarray(theirs), rtol=1e-5, atol=1e-6)


def test_a_ranger_checkpoint_goes_to_a_snapshot_and_back_and_resumes_exactly(
    tmp_path: Path,
) -> None:
    ranger = radam_optax.ranger(0.05, sync_period=K, slow_step_size=ALPHA)
    tx = optax.chain(optax.clip_by_global_norm(10.0), ranger)
    reference, _ = _run(tx, _params(), tx.init(_params()), 1, STEPS)
    params, state = _run(tx, _params(), tx.init(_params()), 1, SPLIT)
    _save(tmp_path / "run.pkl", params, state)

    convert(tmp_path / "run.pkl", tmp_path / "run.safetensors", "--lr", "0.05", *LOOKAHEAD)
    snapshot = load_snapshot(tmp_path / "run.safetensors")
    assert snapshot.lookahead == LookaheadPosition(K, ALPHA, SPLIT % K)
    slow = jax.tree.leaves(state[1].slow)
    for name, phi in zip(NAMES, slow, strict=True):
        np.testing.assert_array_equal(snapshot.parameters[name].slow, np.asarray(phi))

    _save(tmp_path / "fresh.pkl", params, tx.init(params))  # its slow weights: params
    convert(tmp_path / "run.safetensors", tmp_path / "resume.pkl", "--into", tmp_path / "fresh.pkl")
    with (tmp_path / "resume.pkl").open("rb") as file:
        resumed = pickle.load(file)
    final, _ = _run(tx, resumed["params"], resumed["opt_state"], SPLIT + 1, STEPS)
    for mine, theirs in zip(jax.tree.leaves(final), jax.tree.leaves(reference), strict=True):
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(theirs))


def test_lookahead_s_options_and_states_are_needed_where_they_fit_and_refused_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain, ranger = radam_optax.radam(0.05), radam_optax.ranger(0.05, sync_period=K)
    _save(tmp_path / "plain.pkl", *_run(plain, _params(), plain.init(_params()), 1, 2))
    _save(tmp_path / "ranger.pkl", *_run(ranger, _params(), ranger.init(_params()), 1, 2))
    convert(tmp_path / "plain.pkl", tmp_path / "plain.safetensors")
    convert(tmp_path / "ranger.pkl", tmp_path / "ranger.safetensors", *LOOKAHEAD)
    before = {path: path.read_bytes() for path in tmp_path.iterdir()}

    out = tmp_path / "out.safetensors"
    held = "ranger.pkl's opt_state holds Lookahead's state (radam_optax.ranger's or lookahead's)"
    assert f"{held}, whose k and alpha it does not record: give --sync-period and " in refused(
        capsys, tmp_path / "ranger.pkl", out
    )
    assert f"{held}, whose k and alpha it does not record: give --slow-step-size" in refused(
        capsys, tmp_path / "ranger.pkl", out, "--sync-period", str(K)
    )
    assert "argument --sync-period: " in refused(capsys, tmp_path / "plain.pkl", out, *LOOKAHEAD)
    assert (
        f"{held}, but the snapshot holds none (slow weights, position in the k-cycle)"
    ) in refused(capsys, tmp_path / "plain.safetensors", tmp_path / "ranger.pkl")
    assert (
        f"the snapshot holds Lookahead's state (k={K}), but the optimizer is not a Lookahead"
    ) in refused(capsys, tmp_path / "ranger.safetensors", tmp_path / "plain.pkl")
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == before


def test_files_that_are_not_optax_checkpoints_stop_with_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "text.pkl").write_text("not a pickle")
    assert "text.pkl is not a pickle file" in refused(
        capsys, tmp_path / "text.pkl", tmp_path / "a.safetensors"
    )
    with (tmp_path / "params.pkl").open("wb") as file:
        pickle.dump({"params": _params()}, file)
    assert "params.pkl is not an optax checkpoint {'params', 'opt_state'}: its keys are" in (
        refused(capsys, tmp_path / "params.pkl", tmp_path / "a.safetensors")
    )
    adam = optax.adam(0.1)
    _save(tmp_path / "adam.pkl", _params(), adam.init(_params()))
    assert "opt_state must hold exactly one radam_optax ScaleByRAdamState, it holds 0" in (
        refused(capsys, tmp_path / "adam.pkl", tmp_path / "a.safetensors")
    )
    assert not (tmp_path / "a.safetensors").exists()

    tx = radam_optax.radam(0.05)
    params, state = _run(tx, _params(), tx.init(_params()), 1, 2)
    _save(tmp_path / "run.pkl", params, state)
    convert(tmp_path / "run.pkl", tmp_path / "run.safetensors")
    renamed = {"encoder": params["dense"], "head": params["head"]}
    _save(tmp_path / "other.pkl", renamed, tx.init(renamed))
    before = (tmp_path / "other.pkl").read_bytes()
    assert "missing parameters ['encoder/bias', 'encoder/kernel']" in refused(
        capsys, tmp_path / "run.safetensors", tmp_path / "other.pkl"
    )
    assert (tmp_path / "other.pkl").read_bytes() == before
    convert(tmp_path / "run.safetensors", tmp_path / "other.pkl", "--rename", "^dense/", "encoder/")
    with (tmp_path / "other.pkl").open("rb") as file:
        assert int(pickle.load(file)["opt_state"].count) == 2


def test_an_orbax_folder_without_orbax_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("orbax", "orbax.checkpoint"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "radam_cli.convert_orbax", raising=False)
    (tmp_path / "checkpoint").mkdir()
    assert main(["convert", str(tmp_path / "checkpoint"), str(tmp_path / "a.safetensors")]) == 1
    assert capsys.readouterr().err == (
        "radam convert needs orbax-checkpoint for an orbax checkpoint folder: "
        "python -m pip install orbax-checkpoint (or use a pickle file, .pkl)\n"
    )
    assert not (tmp_path / "a.safetensors").exists()
