"""The Keras torch backend's update: every variable at once, by radam_torch's functional API.

Keras runs optimizers eagerly on its torch backend, one operation at a time, so
``keras.optimizers.Adam`` updates all variables there with ``torch._foreach`` kernels.
radam_keras steps them all at once with
[`radam_torch.functional.radam_unchecked`][radam_torch.functional.radam_unchecked] (radam_torch's
functional step without its checks), whose math is radam_core, and
so on radam_torch's device paths: a rectified step is one call
of PyTorch's fused Adam kernel per device and dtype wherever torch has that kernel (CPU, CUDA,
XPU, MPS); other steps, other devices and complex variables (optax's convention, the core's, as
on the other backends) run the core's equations. The count and the learning rate are read on
the host for that (on an accelerator, one wait for the device per step); inside
``torch.compile`` they stay tensors, so nothing waits for the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from radam_torch import functional

import radam_core


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
    tensors: functional.StepTensors = (
        params,
        [torch.as_tensor(g).to(p.dtype) for g, p in zip(grads, params, strict=True)],
        [m.value for m in momentums],
        [v.value for v in velocities],
        [v.value for v in velocity_hats],
    )
    # The variables and their moments fit by construction (the optimizer built the moments;
    # ``RAdam.apply`` checked the gradients): the step skips radam's checks.
    with torch.no_grad():
        if torch.compiler.is_compiling():
            hp = hyperparameters.with_lr(learning_rate)
            functional.radam_unchecked(tensors, count, hp)
        else:
            hp = hyperparameters.with_lr(float(learning_rate))
            functional.radam_unchecked(tensors, int(count), hp)
