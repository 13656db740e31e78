"""torch implementations: radam_torch.RAdam and the peers it is measured against.

All run on float32 tensors on the run's device (``benchmarks.registry.device``): on the CPU
they share memory with the harness's NumPy copies; elsewhere they are copies, and a step
returns once the device has finished it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import radam_torch
import torch

from benchmarks.registry import RANGER_K, Stepper, device, k_cycle, register


def _stepper(
    make: Callable[[list[torch.Tensor]], torch.optim.Optimizer],
    params: list[np.ndarray],
    grads: list[np.ndarray],
) -> Stepper:
    """Wrap the arrays as tensors with gradients on the run's device; step ``make(tensors)``."""
    on = torch.device(device())
    tensors = [torch.from_numpy(p).to(on).requires_grad_() for p in params]
    for tensor, grad in zip(tensors, grads, strict=True):
        tensor.grad = torch.from_numpy(grad).to(on)
    optimizer = make(tensors)

    def step() -> None:
        optimizer.step()
        if on.type != "cpu":
            getattr(torch, on.type).synchronize()

    return Stepper(step=step, params=lambda: [t.detach().cpu().numpy() for t in tensors])


@register("radam_torch.RAdam", "radam_torch.RAdam, default settings")
def radam_torch_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up [`radam_torch.RAdam`][radam_torch.RAdam] with its defaults."""
    return _stepper(radam_torch.RAdam, params, grads)


@register("torch.optim.RAdam(foreach)", "torch's own RAdam, foreach=True (no fused kernel)")
def torch_radam_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up ``torch.optim.RAdam(foreach=True)``."""
    return _stepper(lambda t: torch.optim.RAdam(t, foreach=True), params, grads)


@register("torch.optim.Adam(fused)", "torch's fused Adam: the memory-bound reference")
def torch_fused_adam_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up ``torch.optim.Adam(fused=True)``."""
    return _stepper(lambda t: torch.optim.Adam(t, fused=True), params, grads)


@register(
    "radam_torch.Ranger",
    f"radam_torch.Ranger (k={RANGER_K}): one timed step is a whole k-cycle, "
    f"{RANGER_K} optimizer steps and one sync",
)
def radam_torch_ranger_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up [`radam_torch.Ranger`][radam_torch.Ranger] with its defaults; each step is a k-cycle.

    A timed step runs ``k`` optimizer steps, one of them a Lookahead sync, so that the
    median is the time averaged over a k-cycle (``k`` times a RAdam step plus one sync)
    and the memory measurement covers a sync.
    """
    return k_cycle(_stepper(lambda t: radam_torch.Ranger(t, k=RANGER_K), params, grads))
