"""radam_torch.RAdam on every RAdam configuration PyTorch's own optimizer tests document.

PyTorch's test/test_optim.py runs each optimizer through the configurations of its
OptimizerInfo entry in ``torch.testing._internal.common_optimizers.optim_db`` (shipped in
the torch wheel; importing it needs the ``expecttest`` package): for RAdam, its
``optim_inputs_func`` (default, lr, eps, weight decay L2 and decoupled, maximize). Here
each of them, with ``foreach`` off and on (as torch's test_foreach_matches_forloop), runs
through torch.optim.RAdam and radam_torch.RAdam side by side on torch's small model of
those tests in float64, over 10 steps (the first rectified one is 6) with one step without
gradients, and the parameters and state dicts are compared. ``differentiable`` is left out,
as most of torch's own tests leave it out (pytorch/pytorch#116490); the main suite checks
it against torch separately.

The private import is isolated in :func:`radam_optimizer_info`, and
``test_torch_still_documents_radam_inputs`` fails loudly if torch moves or empties it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest", reason="torch.testing._internal.common_utils imports expecttest")

from radam_torch import RAdam  # noqa: E402

STEPS = 10
RTOL, ATOL = 1e-10, 1e-13


def radam_optimizer_info() -> tuple[Any, list[dict[str, Any]]]:
    """optim_db's RAdam entry and the kwargs of its documented inputs on the CPU.

    The one place this suite touches torch's private test API.
    """
    from torch.testing._internal.common_optimizers import optim_db

    (info,) = [entry for entry in optim_db if entry.optim_cls is torch.optim.RAdam]
    return info, [optim_input.kwargs for optim_input in info.optim_inputs_func(device="cpu")]


def test_torch_still_documents_radam_inputs():
    info, configs = radam_optimizer_info()
    assert info.supports_complex
    assert "foreach" in info.supported_impls
    assert len(configs) >= 6, configs
    for name in ("lr", "eps", "weight_decay", "decoupled_weight_decay", "maximize"):
        assert any(name in config for config in configs), name


def model() -> torch.nn.Module:
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 1), torch.nn.Sigmoid()
    ).to(torch.float64)


def test_every_documented_config_gives_torch_radams_values_and_state_dict():
    _, documented = radam_optimizer_info()
    configs = [{**config, "foreach": foreach} for config in documented for foreach in (False, True)]
    x = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], dtype=torch.float64).reshape(3, 2)
    for config in configs:
        ours_model, theirs_model = model(), model()
        ours = RAdam(ours_model.parameters(), **copy.deepcopy(config))
        theirs = torch.optim.RAdam(theirs_model.parameters(), **copy.deepcopy(config))
        for t in range(STEPS):
            for net, opt in ((ours_model, ours), (theirs_model, theirs)):
                opt.zero_grad()
                if t != 2:  # a step without gradients, as torch's tests take one
                    net(x).sum().backward()
                opt.step()
            for p, q in zip(ours_model.parameters(), theirs_model.parameters(), strict=True):
                torch.testing.assert_close(p, q, rtol=RTOL, atol=ATOL, msg=str(config))
        mine, torchs = ours.state_dict(), theirs.state_dict()
        assert mine["state"].keys() == torchs["state"].keys()
        for index, entry in torchs["state"].items():
            assert mine["state"][index].keys() == entry.keys()
            for name, value in entry.items():
                torch.testing.assert_close(
                    mine["state"][index][name], value, rtol=RTOL, atol=ATOL, msg=str(config)
                )
        for group, torch_group in zip(mine["param_groups"], torchs["param_groups"], strict=True):
            assert {k: group[k] for k in torch_group} == torch_group, config
