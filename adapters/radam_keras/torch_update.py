"""The Keras torch backend's update: every variable at once, by radam_torch's kernels.

Keras runs optimizers eagerly on its torch backend, one operation at a time, so
``keras.optimizers.Adam`` updates all variables there with ``torch._foreach`` kernels.
radam_keras does the same with radam_torch's two kernels, whose math is radam_core, and with
radam_torch's choice of device path:

- the count and the learning rate are read on the host (on an accelerator, one wait for the
  device per step, as the fused kernel's hyperparameters need them);
- on every device type with PyTorch's fused Adam kernel
  ([`radam_torch.optimizer.fused_kernel_devices`][radam_torch.optimizer.fused_kernel_devices]:
  the CPU, CUDA, XPU, MPS), a rectified step is one pass of that kernel per device and dtype,
  with the hyperparameters of [`radam_core.adam_form`][radam_core.adam_form.adam_form]
  (``lr * r_t``, ``eps / sqrt(1 - beta2^t)``);
- other steps, other devices and complex variables (optax's convention, the core's, as on the
  other backends) run the core's equations
  ([`radam_torch.kernels.core_step`][radam_torch.kernels.core_step]): block by block on the
  CPU, on whole tensors elsewhere;
- inside ``torch.compile`` the count and the learning rate stay tensors, so nothing waits
  for the device: the core's equations on whole tensors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import radam_torch.optimizer
import torch
from radam_torch.kernels import core_step, fused_adam_step

import radam_core

# params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs (empty without amsgrad)
StepTensors = tuple[list[Any], list[Any], list[Any], list[Any], list[Any]]


def update_variables(
    grads: Sequence[Any],
    variables: Sequence[Any],
    momentums: Sequence[Any],
    velocities: Sequence[Any],
    velocity_hats: Sequence[Any],
    count: torch.Tensor,
    learning_rate: torch.Tensor,
    hyperparameters: radam_core.Hyperparameters,
) -> None:
    """Apply step ``count + 1`` to Keras variables in place.

    Args:
        grads: One gradient per variable (cast to the variable's dtype here).
        variables: theta_{t-1}: Keras variables whose ``.value`` is a torch tensor.
        momentums: m_{t-1} of each variable.
        velocities: v_{t-1} of each variable.
        velocity_hats: max(v_1..v_{t-1}) of each variable with amsgrad, else empty.
        count: Steps taken so far, a 0-d integer tensor.
        learning_rate: This step's learning rate, a 0-d tensor.
        hyperparameters: The optimizer's hyperparameters (their ``lr`` is replaced).
    """
    params = [v.value for v in variables]
    tensors: StepTensors = (
        params,
        [torch.as_tensor(g).to(p.dtype) for g, p in zip(grads, params, strict=True)],
        [m.value for m in momentums],
        [v.value for v in velocities],
        [v.value for v in velocity_hats],
    )
    with torch.no_grad():
        if torch.compiler.is_compiling():
            hp = dataclasses.replace(hyperparameters, lr=learning_rate)
            core_step(*tensors, count, hp, blocked=False)
            return
        t = int(count) + 1
        hp = dataclasses.replace(hyperparameters, lr=float(learning_rate))
        form = radam_core.adam_form(t, hp)
        fused_devices = radam_torch.optimizer.fused_kernel_devices()
        batches: dict[tuple[torch.device, torch.dtype], list[int]] = {}
        for index, param in enumerate(params):
            batches.setdefault((param.device, param.dtype), []).append(index)
        for (device, dtype), indices in batches.items():
            batch = _select(tensors, indices)
            if form is not None and device.type in fused_devices and not dtype.is_complex:
                fused_adam_step(*batch, t - 1, form, hp)
            else:
                core_step(*batch, t - 1, hp, blocked=device.type == "cpu")


def _select(tensors: StepTensors, indices: list[int]) -> StepTensors:
    """The lists' entries at ``indices`` (an empty list, amsgrad's when off, stays empty)."""

    def pick(items: list[Any]) -> list[Any]:
        return [items[i] for i in indices] if items else []

    params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs = tensors
    return pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs), pick(max_exp_avg_sqs)
