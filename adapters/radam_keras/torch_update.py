"""The Keras torch backend's update: every variable at once, by radam_torch's kernels.

Keras runs optimizers eagerly on its torch backend, one operation at a time, so
``keras.optimizers.Adam`` updates all variables there with ``torch._foreach`` kernels.
radam_keras does the same with radam_torch's two kernels, whose math is radam_core:

- on the CPU, with the count on the host, a rectified step is one pass of PyTorch's
  fused Adam kernel with the hyperparameters of
  [`radam_core.adam_form`][radam_core.adam_form.adam_form] (``lr * r_t``,
  ``eps / sqrt(1 - beta2^t)``); other steps, and complex variables (optax's convention, the core's,
  as on the other backends), run the core's equations block by block
  ([`radam_torch.kernels.core_step`][radam_torch.kernels.core_step]);
- elsewhere (a GPU, or inside ``torch.compile``) the count and the learning rate stay
  tensors, so nothing waits for the device: the core's equations on whole tensors.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

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
    on_host = not torch.compiler.is_compiling() and all(p.device.type == "cpu" for p in params)
    with torch.no_grad():
        if not on_host:
            hp = dataclasses.replace(hyperparameters, lr=learning_rate)
            core_step(*tensors, count, hp, blocked=False)
            return
        t = int(count) + 1
        hp = dataclasses.replace(hyperparameters, lr=float(learning_rate))
        form = radam_core.adam_form(t, hp)
        if form is None:
            core_step(*tensors, t - 1, hp)
            return
        real = [i for i, p in enumerate(params) if not p.is_complex()]
        if len(real) < len(params):  # optax's convention, as on TensorFlow and JAX: the core
            complex_ = [i for i, p in enumerate(params) if p.is_complex()]
            core_step(*_select(tensors, complex_), t - 1, hp)
            tensors = _select(tensors, real)
        if real:
            fused_adam_step(*tensors, t - 1, form, hp)


def _select(tensors: StepTensors, indices: list[int]) -> StepTensors:
    """The lists' entries at ``indices`` (an empty list, amsgrad's when off, stays empty)."""

    def pick(items: list[Any]) -> list[Any]:
        return [items[i] for i in indices] if items else []

    params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs = tensors
    return pick(params), pick(grads), pick(exp_avgs), pick(exp_avg_sqs), pick(max_exp_avg_sqs)
