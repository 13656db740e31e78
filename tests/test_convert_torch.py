"""``radam convert`` with torch checkpoints: to the snapshot and back, resumed.

A run saved in a torch checkpoint, converted to a snapshot and back to a torch checkpoint,
resumes to exactly the uninterrupted run, with radam_torch and with torch.optim.RAdam, and
with Ranger (Lookahead's slow weights and count, mid-cycle); one moved to radam_numpy (or
started there) equals it to float64 rounding (1e-12 relative, as in test_snapshot_torch).
The other frameworks' conversions are in tests/keras_backends, where every framework is
installed.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radam_torch import RAdam, Ranger  # noqa: E402

import radam_numpy  # noqa: E402
from radam_core import PRESETS, LookaheadPosition, load_snapshot, save_snapshot  # noqa: E402
from tests.convert_cli import convert, refused  # noqa: E402

STEPS, SPLIT = 16, 7
OPTIONS = {"lr": 0.05, "weight_decay": 0.1}
K, ALPHA = 5, 0.6  # Ranger's: SPLIT is 2 fast steps into its second cycle


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(), torch.nn.Linear(12, 2)
    ).to(torch.float64)
    return model  # in C order: convert writes the states so (see radam_cli.convert_torch)


def _run(opt: torch.optim.Optimizer, params: list[torch.Tensor], first: int, last: int) -> None:
    for t in range(first, last + 1):
        for p in params:
            p.grad = torch.sin(p.detach() + 0.1 * t)
        opt.step()


def _checkpoint(layout: str, state_dict: dict[str, Any], model: torch.nn.Module) -> Any:
    """A checkpoint holding ``state_dict`` as people save one."""
    if layout == "bare":
        return state_dict
    if layout == "lightning":
        return {"state_dict": model.state_dict(), "optimizer_states": [state_dict], "epoch": 1}
    return {"model": model.state_dict(), layout: state_dict}


@pytest.mark.parametrize(
    ("layout", "amsgrad"),
    [("bare", False), ("optimizer", True), ("optimizer_state_dict", False), ("lightning", False)],
)
def test_a_torch_checkpoint_goes_to_a_snapshot_and_back_and_resumes_exactly(
    tmp_path: Path, layout: str, amsgrad: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    preset = PRESETS["torch"].replace(amsgrad=amsgrad)
    model = _model()
    reference = copy.deepcopy(model)
    _run(
        RAdam(reference.parameters(), preset=preset, **OPTIONS),
        list(reference.parameters()),
        1,
        STEPS,
    )

    params = list(model.parameters())
    opt = RAdam(model.named_parameters(), preset=preset, **OPTIONS)
    _run(opt, params, 1, SPLIT)
    torch.save(_checkpoint(layout, opt.state_dict(), model), tmp_path / "run.ckpt")

    convert(tmp_path / "run.ckpt", tmp_path / "run.safetensors")
    assert f"wrote {tmp_path / 'run.safetensors'} (snapshot): 4 parameters at step {SPLIT}" in (
        capsys.readouterr().out
    )
    snapshot = load_snapshot(tmp_path / "run.safetensors")
    exported = opt.export_state(model.named_parameters())
    assert list(snapshot.parameters) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert snapshot.hyperparameters == exported.hyperparameters
    for name, state in exported.parameters.items():
        for slot, array in state.slots().items():
            np.testing.assert_array_equal(snapshot.parameters[name].slots()[slot], array)

    convert(tmp_path / "run.safetensors", tmp_path / "resume.pt")
    resumed = RAdam(model.named_parameters(), preset=preset)
    resumed.load_state_dict(torch.load(tmp_path / "resume.pt", weights_only=True))
    assert resumed.param_groups[0]["lr"] == OPTIONS["lr"]  # the snapshot's hyperparameters
    _run(resumed, params, SPLIT + 1, STEPS)
    for mine, theirs in zip(params, reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_torch_optim_radam_checkpoints_convert_both_ways_by_position(tmp_path: Path) -> None:
    options = {"lr": 0.02, "weight_decay": 0.05, "decoupled_weight_decay": True}
    model = _model()
    reference = copy.deepcopy(model)
    _run(
        torch.optim.RAdam(reference.parameters(), **options), list(reference.parameters()), 1, STEPS
    )

    params = list(model.parameters())
    opt = torch.optim.RAdam(params, **options)  # no names: positions
    _run(opt, params, 1, SPLIT)
    torch.save({"optimizer_states": [opt.state_dict()]}, tmp_path / "peer.ckpt")
    convert(tmp_path / "peer.ckpt", tmp_path / "peer.safetensors")
    snapshot = load_snapshot(tmp_path / "peer.safetensors")
    assert list(snapshot.parameters) == ["0", "1", "2", "3"]
    assert snapshot.hyperparameters.decoupled_weight_decay

    convert(tmp_path / "peer.safetensors", tmp_path / "back.pth")
    resumed = torch.optim.RAdam(params)
    resumed.load_state_dict(torch.load(tmp_path / "back.pth", weights_only=True))
    _run(resumed, params, SPLIT + 1, STEPS)
    for mine, theirs in zip(params, reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def _groups(model: torch.nn.Module) -> list[dict[str, Any]]:
    named = list(model.named_parameters())
    return [{"params": named[:2]}, {"params": named[2:], "lr": 0.01}]


def test_into_keeps_the_checkpoint_and_its_groups_and_places_parameters_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model()
    reference = copy.deepcopy(model)
    _run(RAdam(_groups(reference), **OPTIONS), list(reference.parameters()), 1, STEPS)

    params = list(model.parameters())
    opt = RAdam(_groups(model), **OPTIONS)
    _run(opt, params, 1, SPLIT)
    torch.save({"optimizer": opt.state_dict()}, tmp_path / "run.pt")
    convert(tmp_path / "run.pt", tmp_path / "run.safetensors")
    # The parameters in another order in the file: they are placed by name, not position.
    snapshot = load_snapshot(tmp_path / "run.safetensors")
    reversed_snapshot = type(snapshot)(
        snapshot.hyperparameters, dict(reversed(snapshot.parameters.items()))
    )
    save_snapshot(reversed_snapshot, tmp_path / "reversed.safetensors")

    fresh = RAdam(_groups(model), **OPTIONS)
    target = {"model": model.state_dict(), "optimizer": fresh.state_dict(), "epoch": SPLIT}
    torch.save(target, tmp_path / "target.pt")
    convert(
        tmp_path / "reversed.safetensors", tmp_path / "resume.pt", "--into", tmp_path / "target.pt"
    )
    written = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert written["epoch"] == SPLIT
    assert written["optimizer"]["param_groups"] == fresh.state_dict()["param_groups"]
    resumed = RAdam(_groups(model), **OPTIONS)
    resumed.load_state_dict(written["optimizer"])
    assert resumed.param_groups[1]["lr"] == 0.01
    _run(resumed, params, SPLIT + 1, STEPS)
    for mine, theirs in zip(params, reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_a_run_moves_between_torch_and_numpy_through_the_file(tmp_path: Path) -> None:
    model = _model()
    names = [name for name, _ in model.named_parameters()]
    reference = copy.deepcopy(model)
    _run(RAdam(reference.parameters(), **OPTIONS), list(reference.parameters()), 1, STEPS)

    params = list(model.parameters())
    opt = RAdam(model.named_parameters(), **OPTIONS)
    _run(opt, params, 1, SPLIT)
    torch.save(opt.state_dict(), tmp_path / "torch.pt")
    convert(tmp_path / "torch.pt", tmp_path / "torch.safetensors")
    arrays = [p.detach().contiguous().numpy().copy() for p in params]
    numpy_opt = radam_numpy.RAdam(arrays, **OPTIONS)
    numpy_opt.import_state(load_snapshot(tmp_path / "torch.safetensors"), names)
    for t in range(SPLIT + 1, 12):
        numpy_opt.step([np.sin(a + 0.1 * t) for a in numpy_opt.params])

    # The numpy run, started again from the neutral file, goes to torch.
    save_snapshot(numpy_opt.export_state(names), tmp_path / "numpy.safetensors")
    convert(tmp_path / "numpy.safetensors", tmp_path / "numpy.pt")
    with torch.no_grad():
        for p, a in zip(params, numpy_opt.params, strict=True):
            p.copy_(torch.from_numpy(a))
    back = RAdam(model.named_parameters())
    back.load_state_dict(torch.load(tmp_path / "numpy.pt", weights_only=True))
    _run(back, params, 12, STEPS)
    for mine, theirs in zip(params, reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-14)


def _stepped(tmp_path: Path) -> Path:
    model = _model()
    opt = RAdam(model.named_parameters(), **OPTIONS)
    _run(opt, list(model.parameters()), 1, 2)
    torch.save(opt.state_dict(), tmp_path / "run.pt")
    convert(tmp_path / "run.pt", tmp_path / "run.safetensors")
    return tmp_path / "run.safetensors"


@pytest.mark.parametrize("into", [False, True], ids=["fresh", "into"])
def test_a_ranger_checkpoint_goes_to_a_snapshot_and_back_and_resumes_exactly(
    tmp_path: Path, into: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model()
    reference = copy.deepcopy(model)
    ranger = Ranger(reference.parameters(), k=K, alpha=ALPHA, **OPTIONS)
    _run(ranger, list(reference.parameters()), 1, STEPS)

    params = list(model.parameters())
    opt = Ranger(model.named_parameters(), k=K, alpha=ALPHA, **OPTIONS)
    _run(opt, params, 1, SPLIT)
    torch.save({"optimizer": opt.state_dict(), "epoch": 1}, tmp_path / "run.pt")
    convert(tmp_path / "run.pt", tmp_path / "run.safetensors")
    assert capsys.readouterr().out.endswith(
        f"; Lookahead k {K}, alpha {ALPHA}, {SPLIT % K} fast steps since its last sync\n"
    )
    snapshot = load_snapshot(tmp_path / "run.safetensors")
    exported = opt.export_state(model.named_parameters())
    assert snapshot.lookahead == exported.lookahead == LookaheadPosition(K, ALPHA, SPLIT % K)
    for name, state in exported.parameters.items():
        assert state.slow is not None
        np.testing.assert_array_equal(snapshot.parameters[name].slow, state.slow)

    argv = []
    if into:  # a fresh Ranger's checkpoint: its slow weights are those of the start
        fresh = Ranger(_model().named_parameters(), k=K, alpha=ALPHA, **OPTIONS)
        torch.save({"optimizer": fresh.state_dict(), "epoch": 1}, tmp_path / "fresh.pt")
        argv = ["--into", tmp_path / "fresh.pt"]
    convert(tmp_path / "run.safetensors", tmp_path / "resume.pt", *argv)
    written = torch.load(tmp_path / "resume.pt", weights_only=True)
    resumed = Ranger(model.named_parameters(), k=K, alpha=ALPHA)
    resumed.load_state_dict(written["optimizer"] if into else written)
    assert resumed.lookahead_state["count"] == SPLIT % K
    _run(resumed, params, SPLIT + 1, STEPS)
    for mine, theirs in zip(params, reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_lookahead_and_plain_states_go_only_into_their_own_kind_of_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _model()
    opt = Ranger(model.named_parameters(), k=K, **OPTIONS)
    _run(opt, list(model.parameters()), 1, 2)
    torch.save(opt.state_dict(), tmp_path / "ranger.pt")
    convert(tmp_path / "ranger.pt", tmp_path / "ranger.safetensors")
    plain = _stepped(tmp_path)
    torch.save(RAdam(model.named_parameters()).state_dict(), tmp_path / "radam.pt")
    torch.save(Ranger(model.named_parameters(), k=K).state_dict(), tmp_path / "k5.pt")
    torch.save(Ranger(model.named_parameters(), k=K + 1).state_dict(), tmp_path / "k6.pt")
    before = {path: path.read_bytes() for path in tmp_path.iterdir()}

    out = tmp_path / "out.pt"
    assert (
        f"the snapshot holds Lookahead's state (k={K}), but the optimizer is not a Lookahead"
    ) in refused(capsys, tmp_path / "ranger.safetensors", out, "--into", tmp_path / "radam.pt")
    assert (
        f"the optimizer is a Lookahead (k={K}), but the snapshot holds no Lookahead state"
    ) in refused(capsys, plain, out, "--into", tmp_path / "k5.pt")
    assert f"Lookahead's k is {K} in the snapshot, {K + 1} here" in refused(
        capsys, tmp_path / "ranger.safetensors", out, "--into", tmp_path / "k6.pt"
    )
    assert {path: path.read_bytes() for path in tmp_path.iterdir()} == before

    torch.save({**opt.state_dict(), "lookahead": torch.ones(3)}, tmp_path / "tensor.pt")
    assert "tensor.pt: its 'lookahead' entry is a Tensor, not Lookahead's" in refused(
        capsys, tmp_path / "tensor.pt", tmp_path / "a.safetensors"
    )
    lookahead = {"count": 0, "k": 0, "alpha": ALPHA}
    torch.save({**opt.state_dict(), "lookahead": lookahead}, tmp_path / "k0.pt")
    assert "k0.pt: its 'lookahead' entry is not Lookahead's: k must be" in refused(
        capsys, plain, out, "--into", tmp_path / "k0.pt"
    )
    assert not out.exists()
    assert not (tmp_path / "a.safetensors").exists()


def test_a_complex_state_goes_back_complex_into_a_checkpoint_that_gives_its_dtype(
    tmp_path: Path,
) -> None:
    def run(opt: torch.optim.Optimizer, z: torch.Tensor, first: int, last: int) -> None:
        for t in range(first, last + 1):
            z.grad = torch.sin(z.detach() + 0.1 * t) + 1j * torch.cos(z.detach())
            opt.step()

    start = torch.randn(3, 2, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    reference = torch.nn.Parameter(start.clone())
    run(Ranger([reference], k=K, alpha=ALPHA, **OPTIONS), reference, 1, STEPS)
    z = torch.nn.Parameter(start.clone())
    opt = Ranger([("z", z)], k=K, alpha=ALPHA, **OPTIONS)
    run(opt, z, 1, SPLIT)
    torch.save(opt.state_dict(), tmp_path / "run.pt")
    convert(tmp_path / "run.pt", tmp_path / "run.safetensors")
    assert load_snapshot(tmp_path / "run.safetensors").parameters["z"].exp_avg.shape == (3, 2, 2)

    # A fresh Ranger's checkpoint holds each parameter's slow weights: complex, of its shape.
    fresh = Ranger([("z", torch.nn.Parameter(start.clone()))], k=K, alpha=ALPHA, **OPTIONS)
    torch.save(fresh.state_dict(), tmp_path / "fresh.pt")
    convert(tmp_path / "run.safetensors", tmp_path / "resume.pt", "--into", tmp_path / "fresh.pt")
    resumed = Ranger([("z", z)], k=K, alpha=ALPHA, **OPTIONS)
    resumed.load_state_dict(torch.load(tmp_path / "resume.pt", weights_only=True))
    run(resumed, z, SPLIT + 1, STEPS)
    torch.testing.assert_close(z, reference, rtol=0, atol=0)


def test_a_state_in_optax_s_complex_convention_is_refused_for_torch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    opt = radam_numpy.RAdam([np.ones(3, np.complex64)], lr=0.1)
    opt.step([np.full(3, 0.5 + 0.5j, np.complex64)])
    save_snapshot(opt.export_state(["z"]), tmp_path / "optax.safetensors")
    assert "z is complex in optax's convention (v of |g|^2) in the snapshot, real" in refused(
        capsys, tmp_path / "optax.safetensors", tmp_path / "out.pt"
    )
    assert not (tmp_path / "out.pt").exists()


def test_files_that_are_not_torch_checkpoints_of_an_optimizer_stop_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "text.pt").write_text("not a checkpoint")
    assert "text.pt is not a torch checkpoint that torch.load(weights_only=True) reads" in refused(
        capsys, tmp_path / "text.pt", tmp_path / "a.safetensors"
    )
    torch.save({"model": _model().state_dict(), "epoch": 3}, tmp_path / "model.pt")
    assert (
        "model.pt holds no optimizer state_dict at the top level or under 'optimizer', "
        "'optimizer_state_dict' or 'optimizer_states'[0]: its keys are ['epoch', 'model']"
    ) in refused(capsys, tmp_path / "model.pt", tmp_path / "a.safetensors")

    model = _model()
    opt = RAdam(model.named_parameters())
    model[0].weight.grad = torch.ones_like(model[0].weight)
    opt.step()  # only the first parameter has a state
    torch.save(opt.state_dict(), tmp_path / "partial.pt")
    assert "parameter '0.bias' has no state (it never stepped), so its shape is unknown" in (
        refused(capsys, tmp_path / "partial.pt", tmp_path / "a.safetensors")
    )
    assert not (tmp_path / "a.safetensors").exists()


def test_the_states_of_adam_adamw_and_nadam_are_not_taken_for_radam_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Their states have RAdam's exp_avg and exp_avg_sq, but another algorithm made them."""
    snapshot = _stepped(tmp_path)
    model = _model()
    for kind, option in [("Adam", "amsgrad"), ("AdamW", "amsgrad"), ("NAdam", "momentum_decay")]:
        opt = getattr(torch.optim, kind)(model.parameters())
        _run(opt, list(model.parameters()), 1, 2)
        torch.save({"optimizer": opt.state_dict()}, tmp_path / "other.pt")
        message = (
            f"other.pt: its optimizer state_dict is not RAdam's but, by the option {option!r} "
            "of param_groups[0], torch.optim."
        )
        assert message in refused(capsys, tmp_path / "other.pt", tmp_path / "a.safetensors")
        assert message in refused(
            capsys, snapshot, tmp_path / "a.pt", "--into", tmp_path / "other.pt"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.pt", "run.pt", "run.safetensors"]


def test_a_snapshot_that_does_not_fit_the_target_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = _stepped(tmp_path)
    model = _model()
    unnamed = {"optimizer": RAdam(model.parameters()).state_dict()}
    torch.save(unnamed, tmp_path / "unnamed.pt")
    before = (tmp_path / "unnamed.pt").read_bytes()
    # DST exists: it is the checkpoint to write into, and it stays as it was.
    assert "missing parameters ['0', '1', '2', '3']" in refused(
        capsys, snapshot, tmp_path / "unnamed.pt"
    )
    assert (tmp_path / "unnamed.pt").read_bytes() == before
    optax_convention = RAdam(model.named_parameters(), preset="optax").state_dict()
    torch.save(optax_convention, tmp_path / "optax.pt")
    assert "convention eps_placement is 'raw' in the snapshot, 'corrected' here" in refused(
        capsys, snapshot, tmp_path / "out.pt", "--into", tmp_path / "optax.pt"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "optax.pt",
        "run.pt",
        "run.safetensors",
        "unnamed.pt",
    ]


def test_rename_maps_the_names_of_a_positional_checkpoint(tmp_path: Path) -> None:
    model = _model()
    opt = RAdam(model.parameters(), **OPTIONS)
    _run(opt, list(model.parameters()), 1, 3)
    torch.save(opt.state_dict(), tmp_path / "unnamed.pt")
    names = [name for name, _ in model.named_parameters()]
    renames = [arg for i, name in enumerate(names) for arg in ("--rename", f"^{i}$", name)]
    convert(tmp_path / "unnamed.pt", tmp_path / "named.safetensors", *renames)
    assert list(load_snapshot(tmp_path / "named.safetensors").parameters) == names
