"""radam_torch under torch.amp.GradScaler: the scale handed to the step, as to fused Adam.

radam_torch.RAdam declares ``_step_supports_amp_scaling``, so GradScaler does not unscale the
gradients and skip inf steps itself: it sets ``grad_scale`` and ``found_inf`` on the optimizer
for the call, and the fused kernel divides by the scale as it reads the gradients. The
reference is the same optimizer through GradScaler's own path (unscale_, then skip or step).
"""

from __future__ import annotations

import copy
import math

import pytest

torch = pytest.importorskip("torch")

from radam_torch import RAdam  # noqa: E402

from tests.conventions import preset_kwargs  # noqa: E402


class GenericPathRAdam(RAdam):
    """radam_torch.RAdam with GradScaler unscaling and skipping in its own path."""

    _step_supports_amp_scaling = False  # type: ignore[assignment]


def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def train(net, optimizer, steps: int, inf_steps: set[int]) -> torch.amp.GradScaler:
    """``steps`` GradScaler steps on seeded data; an inf gradient at the ``inf_steps``."""
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=3)
    generator = torch.Generator().manual_seed(1)
    for step in range(1, steps + 1):
        x = torch.randn(32, 6, generator=generator)
        loss = (net(x) - x.sum(dim=1, keepdim=True)).pow(2).mean()
        if step in inf_steps:
            loss = loss * math.inf
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    return scaler


@pytest.mark.parametrize(
    "options",
    [{}, {"decoupled_weight_decay": True, "weight_decay": 0.1}, {"nesterov": True}],
    ids=["fused", "fused-adamw", "core"],
)
def test_grad_scaler_steps_equal_its_own_path(options):
    ours, reference = model(), model()
    scaler = train(ours, RAdam(ours.parameters(), lr=0.01, **preset_kwargs(options)), 14, {3, 9})
    reference_scaler = train(
        reference,
        GenericPathRAdam(reference.parameters(), lr=0.01, **preset_kwargs(options)),
        14,
        {3, 9},
    )
    assert scaler.get_scale() == reference_scaler.get_scale()
    for mine, theirs in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-6, atol=1e-7)


def test_the_fused_kernel_gets_the_scale(monkeypatch):
    scales = []
    kernel = torch._fused_adam_

    def recorded(*args, **kwargs):
        scales.append(kwargs["grad_scale"])
        return kernel(*args, **kwargs)

    monkeypatch.setattr(torch, "_fused_adam_", recorded)
    net = model()
    train(net, RAdam(net.parameters(), lr=0.01), 8, set())
    assert len(scales) == 3  # the rectified steps: 6, 7 and 8
    assert all(scale is not None and float(scale) > 1 for scale in scales)


def test_a_step_with_an_inf_gradient_changes_nothing():
    net = model()
    optimizer = RAdam(net.parameters(), lr=0.01)
    train(net, optimizer, 7, set())
    params = copy.deepcopy(list(net.parameters()))
    state = copy.deepcopy(optimizer.state_dict())
    train(net, optimizer, 1, {1})
    for before, after in zip(params, net.parameters(), strict=True):
        torch.testing.assert_close(after, before, rtol=0, atol=0)
    torch.testing.assert_close(optimizer.state_dict()["state"], state["state"], rtol=0, atol=0)


def test_capturable_groups_leave_the_scaling_to_grad_scaler():
    net = model()
    assert RAdam(net.parameters())._step_supports_amp_scaling
    assert not RAdam(net.parameters(), capturable=True)._step_supports_amp_scaling
    assert not RAdam(net.parameters(), differentiable=True)._step_supports_amp_scaling
