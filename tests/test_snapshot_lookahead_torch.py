"""radam_torch's Ranger in the framework-neutral snapshot: resumed in torch and in NumPy.

A run saved mid-cycle resumes with the same slow weights and the same position in the
k-cycle: bit for bit in torch, to float64 rounding in NumPy (1e-12 relative).
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from radam_torch import RAdam, Ranger  # noqa: E402
from radam_torch.lookahead import Lookahead  # noqa: E402

import radam_numpy  # noqa: E402
from radam_core import load_snapshot, save_snapshot  # noqa: E402

STEPS, SPLIT, K = 16, 8, 5
OPTIONS = {"lr": 0.05, "k": K, "alpha": 0.6}


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3), torch.nn.Flatten(), torch.nn.Linear(12, 2)
    ).double()
    model[0].to(memory_format=torch.channels_last)
    return model


def _grads(params: list[torch.Tensor], t: int) -> list[torch.Tensor]:
    return [torch.sin(p.detach() + 0.1 * t) for p in params]


def _run(opt: Ranger, params: list[torch.Tensor], first: int, last: int) -> None:
    for t in range(first, last + 1):
        for p, g in zip(params, _grads(params, t), strict=True):
            p.grad = g
        opt.step()


def _uninterrupted(model: torch.nn.Module) -> list[torch.Tensor]:
    reference = copy.deepcopy(model)
    params = list(reference.parameters())
    _run(Ranger(params, **OPTIONS), params, 1, STEPS)
    return params


def test_a_ranger_run_resumes_exactly_from_the_file(tmp_path: Path) -> None:
    model = _model()
    reference = _uninterrupted(model)
    params = list(model.parameters())
    opt = Ranger(params, **OPTIONS)
    _run(opt, params, 1, SPLIT)
    save_snapshot(opt.export_state(model.named_parameters()), tmp_path / "r.safetensors")

    resumed = Ranger(params, **OPTIONS)
    resumed.import_state(load_snapshot(tmp_path / "r.safetensors"), model.named_parameters())
    assert resumed.lookahead_state["count"] == SPLIT % K
    slow = resumed.lookahead_state["slow"][model[0].weight]
    assert slow.is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(slow, model[0].weight)  # mid-cycle: phi is not theta
    _run(resumed, params, SPLIT + 1, STEPS)
    for mine, theirs in zip(params, reference, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0)


def test_a_ranger_run_moves_from_torch_to_numpy(tmp_path: Path) -> None:
    model = _model()
    reference = _uninterrupted(model)
    params = list(model.parameters())
    opt = Ranger(params, **OPTIONS)
    _run(opt, params, 1, SPLIT)
    save_snapshot(opt.export_state(model.named_parameters()), tmp_path / "r.safetensors")

    names = [name for name, _ in model.named_parameters()]
    arrays = [p.detach().contiguous().numpy().copy() for p in params]
    numpy_opt = radam_numpy.Ranger(arrays, **OPTIONS)
    numpy_opt.import_state(load_snapshot(tmp_path / "r.safetensors"), names)
    assert numpy_opt.count == SPLIT % K
    for t in range(SPLIT + 1, STEPS + 1):
        numpy_opt.step([g.numpy() for g in _grads([torch.from_numpy(a) for a in arrays], t)])
    for mine, theirs in zip(numpy_opt.params, reference, strict=True):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_lookahead_snapshot_that_does_not_fit_changes_nothing() -> None:
    model = _model()
    params = list(model.parameters())
    source = Ranger(params, **OPTIONS)
    _run(source, params, 1, 3)
    snapshot = source.export_state(model.named_parameters())

    target = Ranger(copy.deepcopy(params), **{**OPTIONS, "k": 4})
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
