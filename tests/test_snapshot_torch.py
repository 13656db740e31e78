"""radam_torch's export and import of the framework-neutral snapshot (RAdam, and Ranger's slow
weights and k-cycle position), and runs that move between torch and NumPy.

A run resumed in the same framework equals the uninterrupted run bit for bit; one resumed in
the other framework equals it to float64 rounding (the two compute the same formulas in
different orders: 1e-12 relative).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radam_torch import Lookahead, RAdam, Ranger  # noqa: E402

import radam_numpy  # noqa: E402
from radam_core import PRESETS, load_snapshot, save_snapshot  # noqa: E402

STEPS, SPLIT = 20, 8


def _model(dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(), torch.nn.Linear(12, 2)
    ).to(dtype)
    model[0].to(memory_format=torch.channels_last)
    return model


def _grads(params: list[torch.Tensor], t: int) -> list[torch.Tensor]:
    return [torch.sin(p.detach() + 0.1 * t) for p in params]


def _run_torch(
    opt: torch.optim.Optimizer, params: list[torch.Tensor], first: int, last: int
) -> None:
    for t in range(first, last + 1):
        for p, g in zip(params, _grads(params, t), strict=True):
            p.grad = g
        opt.step()


def _run_numpy(opt: radam_numpy.RAdam, first: int, last: int) -> None:
    for t in range(first, last + 1):
        params = [torch.from_numpy(p) for p in opt.params]
        opt.step([g.numpy() for g in _grads(params, t)])


OPTIONS = {"lr": 0.05, "weight_decay": 0.1}
RANGER = {"lr": 0.05, "k": 5, "alpha": 0.6}  # a k-cycle that SPLIT cuts in the middle


@pytest.mark.parametrize("amsgrad", [False, True])
def test_a_torch_run_resumes_exactly_from_the_file(tmp_path: Path, amsgrad: bool) -> None:
    model = _model()
    params = list(model.parameters())
    uninterrupted = copy.deepcopy(model)
    reference = list(uninterrupted.parameters())
    preset = PRESETS["torch"].replace(amsgrad=amsgrad)
    _run_torch(RAdam(reference, preset=preset, **OPTIONS), reference, 1, STEPS)

    opt = RAdam(params, preset=preset, **OPTIONS)
    _run_torch(opt, params, 1, SPLIT)
    save_snapshot(opt.export_state(model.named_parameters()), tmp_path / "s.safetensors")
    resumed = RAdam(params, preset=preset, **OPTIONS)
    resumed.import_state(load_snapshot(tmp_path / "s.safetensors"), model.named_parameters())
    state = resumed.state[model[0].weight]
    assert state["exp_avg"].is_contiguous(memory_format=torch.channels_last)
    assert float(state["step"]) == SPLIT
    _run_torch(resumed, params, SPLIT + 1, STEPS)
    for mine, theirs in zip(params, reference, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_a_run_moves_from_torch_to_numpy_and_back(tmp_path: Path) -> None:
    model = _model()
    names = [name for name, _ in model.named_parameters()]
    reference = copy.deepcopy(model)
    reference_params = list(reference.parameters())
    _run_torch(RAdam(reference_params, **OPTIONS), reference_params, 1, STEPS)

    params = list(model.parameters())
    opt = RAdam(params, **OPTIONS)
    _run_torch(opt, params, 1, SPLIT)
    save_snapshot(opt.export_state(model.named_parameters()), tmp_path / "torch.safetensors")

    arrays = [p.detach().contiguous().numpy().copy() for p in params]
    numpy_opt = radam_numpy.RAdam(arrays, **OPTIONS)
    numpy_opt.import_state(load_snapshot(tmp_path / "torch.safetensors"), names)
    _run_numpy(numpy_opt, SPLIT + 1, 14)
    save_snapshot(numpy_opt.export_state(names), tmp_path / "numpy.safetensors")

    with torch.no_grad():
        for p, a in zip(params, numpy_opt.params, strict=True):
            p.copy_(torch.from_numpy(a))
    back = RAdam(params, **OPTIONS)
    back.import_state(load_snapshot(tmp_path / "numpy.safetensors"), model.named_parameters())
    _run_torch(back, params, 15, STEPS)
    for mine, theirs in zip(params, reference_params, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-14)


def test_bfloat16_and_complex_states_take_the_neutral_form() -> None:
    weight = torch.nn.Parameter(torch.randn(3, 2, dtype=torch.bfloat16))
    phase = torch.nn.Parameter(torch.randn(4, dtype=torch.complex64))
    named = [("weight", weight), ("phase", phase)]
    opt = RAdam([weight, phase], lr=0.01)
    for t in range(3):
        weight.grad = torch.full_like(weight, 0.5 + t)
        phase.grad = torch.full_like(phase, 1 - 2j)
        opt.step()
    snapshot = opt.export_state(named)
    assert snapshot.parameters["weight"].exp_avg.dtype == np.float32
    assert snapshot.parameters["phase"].exp_avg.shape == (4, 2)
    np.testing.assert_array_equal(
        snapshot.parameters["phase"].exp_avg, torch.view_as_real(opt.state[phase]["exp_avg"])
    )
    before = copy.deepcopy(opt.state_dict()["state"])
    other = RAdam([weight, phase], lr=0.01)
    other.import_state(snapshot, named)
    for param in (weight, phase):
        for key in ("exp_avg", "exp_avg_sq"):
            saved, loaded = opt.state[param][key], other.state[param][key]
            assert loaded.dtype == param.dtype
            assert torch.equal(saved, loaded)
    assert float(other.state[weight]["step"]) == 3
    torch.testing.assert_close(opt.state_dict()["state"], before, rtol=0, atol=0)


def test_a_parameter_that_never_stepped_has_count_zero() -> None:
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))
    opt = RAdam([a, b])
    a.grad = torch.ones(2)
    opt.step()
    snapshot = opt.export_state([("a", a), ("b", b)])
    assert snapshot.parameters["a"].count == 1
    assert snapshot.parameters["b"].count == 0
    np.testing.assert_array_equal(snapshot.parameters["b"].exp_avg_sq, np.zeros(3, np.float32))


def test_a_snapshot_that_does_not_fit_changes_nothing() -> None:
    model = _model(torch.float32)
    params = list(model.parameters())
    opt = RAdam(params, **OPTIONS)
    _run_torch(opt, params, 1, 3)
    snapshot = opt.export_state(model.named_parameters())
    target = RAdam([{"params": params[:2]}, {"params": params[2:], "lr": 0.01}], **OPTIONS)
    _run_torch(target, params, 1, 1)
    before = copy.deepcopy(target.state_dict())

    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\]\[0\] .* is not among"):
        target.import_state(snapshot, list(model.named_parameters())[1:])
    renamed = [(f"model.{name}", p) for name, p in model.named_parameters()]
    with pytest.raises(ValueError, match=r"missing parameters \['model.0.weight'"):
        target.import_state(snapshot, renamed)
    wider = _model(torch.float64)
    with pytest.raises(ValueError, match=r"0\.weight/exp_avg has dtype float32, expected float64"):
        RAdam(wider.parameters()).import_state(snapshot, wider.named_parameters())
    mixed = RAdam([{"params": params[:2]}, {"params": params[2:], "preset": "optax"}])
    with pytest.raises(ValueError, match=r"param_groups\[1\] differs from param_groups\[0\]"):
        mixed.import_state(snapshot, model.named_parameters())
    optax_like = RAdam(params, preset="optax")
    with pytest.raises(ValueError, match="convention eps_placement is 'raw' in the snapshot"):
        optax_like.import_state(snapshot, model.named_parameters())
    assert _same(target.state_dict(), before)

    target.import_state(snapshot, model.named_parameters())  # fits: lr may differ by group
    assert target.param_groups[1]["lr"] == 0.01
    assert all(float(target.state[p]["step"]) == 3 for p in params)


def _same(state_dict: dict, before: dict) -> bool:
    """Whether two state dicts hold the same groups and bit-identical state tensors."""
    torch.testing.assert_close(state_dict["state"], before["state"], rtol=0, atol=0)
    return state_dict["param_groups"] == before["param_groups"]


def test_transposed_and_strided_parameters_keep_their_layout_and_values() -> None:
    transposed = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64).t())
    strided = torch.nn.Parameter(torch.randn(5, 6, dtype=torch.float64)[:, ::2])
    named = [("transposed", transposed), ("strided", strided)]
    opt = RAdam([transposed, strided], lr=0.01)
    for t in range(7):
        for p in (transposed, strided):
            p.grad = torch.sin(p.detach() + t)
        opt.step()
    snapshot = opt.export_state(named)
    np.testing.assert_array_equal(
        snapshot.parameters["transposed"].exp_avg, opt.state[transposed]["exp_avg"].numpy()
    )
    other = RAdam([transposed, strided], lr=0.01)
    other.import_state(snapshot, named)
    for param in (transposed, strided):
        for key in ("exp_avg", "exp_avg_sq"):
            loaded = other.state[param][key]
            assert torch.equal(loaded, opt.state[param][key])
            assert loaded.stride() == torch.empty_like(param).stride()


def test_a_complex_torch_state_moves_as_real_pairs_only(tmp_path: Path) -> None:
    torch.manual_seed(1)
    phase = torch.nn.Parameter(torch.randn(3, 2, dtype=torch.complex128))
    reference = torch.nn.Parameter(phase.detach().clone())

    def run(opt: RAdam, param: torch.Tensor, first: int, last: int) -> None:
        for t in range(first, last + 1):
            param.grad = torch.sin(param.detach() + 0.1 * t)
            opt.step()

    run(RAdam([reference], **OPTIONS), reference, 1, STEPS)
    opt = RAdam([phase], **OPTIONS)
    run(opt, phase, 1, SPLIT)
    save_snapshot(opt.export_state([("phase", phase)]), tmp_path / "c.safetensors")
    snapshot = load_snapshot(tmp_path / "c.safetensors")

    # torch's convention is the real view's: a real (3, 2, 2) parameter in NumPy resumes it.
    pairs = torch.view_as_real(phase.detach()).numpy().copy()
    numpy_opt = radam_numpy.RAdam([pairs], **OPTIONS)
    numpy_opt.import_state(snapshot, ["phase"])
    for t in range(SPLIT + 1, STEPS + 1):
        grad = torch.sin(torch.view_as_complex(torch.from_numpy(numpy_opt.params[0])) + 0.1 * t)
        numpy_opt.step([torch.view_as_real(grad).numpy()])
    expected = torch.view_as_real(reference.detach()).numpy()
    np.testing.assert_allclose(numpy_opt.params[0], expected, rtol=1e-12, atol=1e-14)

    # optax's convention (v of |g|^2, radam_numpy on a complex array) is another algorithm.
    complex_opt = radam_numpy.RAdam([phase.detach().numpy().copy()], **OPTIONS)
    with pytest.raises(ValueError, match=r"phase is real \(or complex in torch's convention"):
        complex_opt.import_state(snapshot, ["phase"])
    with pytest.raises(ValueError, match="phase is complex in optax's convention"):
        opt.import_state(complex_opt.export_state(["phase"]), [("phase", phase)])


# Lookahead and Ranger: the slow weights and the position in the k-cycle move too.


def _uninterrupted_ranger(model: torch.nn.Module) -> list[torch.Tensor]:
    reference = copy.deepcopy(model)
    params = list(reference.parameters())
    _run_torch(Ranger(params, **RANGER), params, 1, STEPS)
    return params


def test_a_ranger_run_resumes_exactly_from_the_file(tmp_path: Path) -> None:
    model = _model()
    reference = _uninterrupted_ranger(model)
    params = list(model.parameters())
    opt = Ranger(params, **RANGER)
    _run_torch(opt, params, 1, SPLIT)
    save_snapshot(opt.export_state(model.named_parameters()), tmp_path / "r.safetensors")

    resumed = Ranger(params, **RANGER)
    resumed.import_state(load_snapshot(tmp_path / "r.safetensors"), model.named_parameters())
    assert resumed.lookahead_state["count"] == SPLIT % RANGER["k"]
    slow = resumed.lookahead_state["slow"][model[0].weight]
    assert slow.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(slow, model[0].weight)  # mid-cycle: phi is not theta
    _run_torch(resumed, params, SPLIT + 1, STEPS)
    for mine, theirs in zip(params, reference, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_a_ranger_run_moves_from_torch_to_numpy(tmp_path: Path) -> None:
    model = _model()
    reference = _uninterrupted_ranger(model)
    params = list(model.parameters())
    opt = Ranger(params, **RANGER)
    _run_torch(opt, params, 1, SPLIT)
    save_snapshot(opt.export_state(model.named_parameters()), tmp_path / "r.safetensors")

    names = [name for name, _ in model.named_parameters()]
    arrays = [p.detach().contiguous().numpy().copy() for p in params]
    numpy_opt = radam_numpy.Ranger(arrays, **RANGER)
    numpy_opt.import_state(load_snapshot(tmp_path / "r.safetensors"), names)
    assert numpy_opt.count == SPLIT % RANGER["k"]
    for t in range(SPLIT + 1, STEPS + 1):
        numpy_opt.step([g.numpy() for g in _grads([torch.from_numpy(a) for a in arrays], t)])
    for mine, theirs in zip(numpy_opt.params, reference, strict=True):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_lookahead_snapshot_that_does_not_fit_changes_nothing() -> None:
    model = _model()
    params = list(model.parameters())
    source = Ranger(params, **RANGER)
    _run_torch(source, params, 1, 3)
    snapshot = source.export_state(model.named_parameters())

    target = Ranger(copy.deepcopy(params), **{**RANGER, "k": 4})
    target_params = target.param_groups[0]["params"]
    before = copy.deepcopy(target.state_dict())
    named = [
        (name, p) for (name, _), p in zip(model.named_parameters(), target_params, strict=True)
    ]
    with pytest.raises(ValueError, match="Lookahead's k is 5 in the snapshot, 4 here"):
        target.import_state(snapshot, named)
    with pytest.raises(ValueError, match="holds no Lookahead state"):
        target.import_state(snapshot.inner(), named)
    after = target.state_dict()
    assert after["lookahead"] == before["lookahead"]
    assert after["state"].keys() == before["state"].keys()
    for index, entry in after["state"].items():
        assert entry.keys() == before["state"][index].keys()
        for key, value in entry.items():
            assert torch.equal(value, before["state"][index][key])

    plain = RAdam(copy.deepcopy(params), lr=0.05)
    plain_named = [
        (n, p)
        for (n, _), p in zip(model.named_parameters(), plain.param_groups[0]["params"], strict=True)
    ]
    with pytest.raises(ValueError, match=r"snapshot\.inner\(\)"):
        plain.import_state(snapshot, plain_named)
    assert not plain.state
    plain.import_state(snapshot.inner(), plain_named)
    assert float(plain.state[plain_named[0][1]]["step"]) == 3


def test_only_a_lookahead_around_radam_moves_its_state() -> None:
    model = _model()
    opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=r"radam_torch\.RAdam has a portable state, not around SGD"):
        opt.export_state(model.named_parameters())
