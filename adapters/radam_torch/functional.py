"""radam_torch's functional API: a RAdam step on lists of tensors, in place, on any device.

As ``torch.optim``'s functional ``radam``, it keeps no state of its own: the caller holds the
parameters, gradients and moments, and the step count. [`radam`][radam_torch.functional.radam]
checks the lists, then takes the step as [`radam_unchecked`][radam_torch.functional.radam_unchecked]
does, which [`radam_torch.RAdam`][radam_torch.RAdam] and radam_keras on Keras's torch backend call
directly (they have checked their tensors already). It picks the path for each device and dtype:

- a rectified step, on a device in torch's list of fused-kernel devices
  ([`fused_kernel_devices`][radam_torch.functional.fused_kernel_devices]: CPU, CUDA, XPU, MPS),
  is one call of PyTorch's fused Adam kernel with the hyperparameters of its Adam form
  ([`step_scalars`][radam_core.for_adapters.step_scalars])
  ([`radam_torch.kernels.fused_adam_step`][radam_torch.kernels.fused_adam_step]);
- any other step is the core's equations in place
  ([`radam_torch.kernels.core_step`][radam_torch.kernels.core_step]): in cache-sized blocks
  on the CPU, on whole tensors elsewhere (the kernels a step launches do not grow with the
  number of elements), and with a tensor count (a graph: ``capturable``, ``torch.compile``)
  on whole tensors with nothing read on the host.
"""

from __future__ import annotations

import array_api_compat.torch as xp
import torch
from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

import radam_core
from radam_core import Hyperparameters
from radam_torch.kernels import StepTensors, Tensors, core_step, fused_adam_step, unscale_


def radam(
    params: Tensors,
    grads: Tensors,
    exp_avgs: Tensors,
    exp_avg_sqs: Tensors,
    max_exp_avg_sqs: Tensors,
    count: int | torch.Tensor,
    hyperparameters: Hyperparameters,
    *,
    fused: bool = True,
    grad_scale: torch.Tensor | None = None,
) -> None:
    """Take RAdam step ``t = count + 1`` on every tensor, in place (see the module).

    The lists are checked to fit together first (each failure a ``TypeError`` or
    ``ValueError`` naming the entry, raised before anything is written).

    With ``rho_t``, ``r_t`` and the threshold decision from radam_core: ``theta -= lr r_t
    m_hat sqrt(bc2) / (sqrt(v_t) + eps)`` when rectified, else ``theta -= lr m_hat`` (in the
    hyperparameters' convention). Complex tensors take the core's convention (optax's: v
    from ``|g|^2``); pass their real views for torch's.

    Args:
        params: theta_{t-1}, updated in place.
        grads: Their gradients (never modified, unless ``grad_scale`` unscales them).
        exp_avgs: m_{t-1}, updated in place.
        exp_avg_sqs: v_{t-1}, updated in place.
        max_exp_avg_sqs: max(v_1..v_{t-1}) with amsgrad (updated in place), else empty.
        count: Steps taken so far: an int, or a 0-d integer tensor (never read on the host).
        hyperparameters: The step's validated hyperparameters; ``lr`` may be a 0-d tensor
            (never read on the host; copied to each device).
        fused: Use PyTorch's fused Adam kernel for a rectified step where the device has it.
        grad_scale: ``torch.amp.GradScaler``'s scale, by which the gradients are divided
            (by the fused kernel as it reads them, else in place first), or None.
    """
    moments = (tuple(exp_avgs), tuple(exp_avg_sqs), tuple(max_exp_avg_sqs))
    state = radam_core.RAdamState(count, *moments)
    radam_core.for_adapters.check_step_inputs(params, grads, state, hyperparameters, xp)
    radam_unchecked(
        (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs),
        count,
        hyperparameters,
        fused=fused,
        grad_scale=grad_scale,
    )


def radam_unchecked(
    tensors: StepTensors,
    count: int | torch.Tensor,
    hyperparameters: Hyperparameters,
    *,
    fused: bool = True,
    grad_scale: torch.Tensor | None = None,
) -> None:
    """[`radam`][radam_torch.functional.radam] on lists already checked to fit together.

    For a caller that has checked them itself: [`radam_torch.RAdam`][radam_torch.RAdam] checks
    every group before it writes into any.

    Args:
        tensors: ``(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)``, as ``radam``
            takes them.
        count: Steps taken so far: an int, or a 0-d integer tensor (never read on the host).
        hyperparameters: The step's validated hyperparameters (``lr`` may be a 0-d tensor).
        fused: Use PyTorch's fused Adam kernel for a rectified step where the device has it.
        grad_scale: ``torch.amp.GradScaler``'s scale, or None.
    """
    params, grads = tensors[0], tensors[1]
    if isinstance(count, torch.Tensor):
        unscale_(grads, grad_scale)
        coefficients = radam_core.for_adapters.step_scalars(count + 1, hyperparameters).coefficients
        core_step(tensors, coefficients, hyperparameters, blocked=False)
        return
    fused_devices = fused_kernel_devices() if fused else ()
    batches: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for index, param in enumerate(params):
        batches.setdefault((param.device, param.dtype), []).append(index)
    for (device, dtype), indices in batches.items():
        batch = tensors if len(batches) == 1 else _select(tensors, indices)
        hp = _lr_on(device, hyperparameters)
        scalars = radam_core.for_adapters.step_scalars(count + 1, hp)
        kernel = device.type in fused_devices and not dtype.is_complex
        if kernel and scalars.adam_form is not None:
            fused_adam_step(batch, count + 1, scalars, hp, grad_scale)
        else:
            unscale_(batch[1], grad_scale)
            core_step(batch, scalars.coefficients, hp, blocked=device.type == "cpu")


def fused_kernel_devices() -> list[str]:
    """The device types that have PyTorch's fused Adam kernel, by torch's own list.

    torch.optim.Adam(fused=True) checks its parameters against this list; it is private to
    torch (``torch.utils._foreach_utils``), so radam_torch reads it here only, and
    tests/test_radam_torch_fused_devices.py fails if torch moves or changes it.
    """
    return _get_fused_kernels_supported_devices()


def _lr_on(device: torch.device, hp: Hyperparameters) -> Hyperparameters:
    """``hp`` with a tensor lr copied to ``device``, as torch.optim.Adam(fused=True) does.

    A copy to an accelerator does not wait for it (``non_blocking``); one to the CPU does.
    """
    if not isinstance(hp.lr, torch.Tensor) or hp.lr.device == device:
        return hp
    return hp.with_lr(hp.lr.to(device, non_blocking=device.type != "cpu"))


def _select(tensors: StepTensors, indices: list[int]) -> StepTensors:
    """Each list's entries at ``indices`` (an empty list, amsgrad's when off, stays empty)."""
    params, grads, exp_avgs, exp_avg_sqs, max_sqs = (
        [items[i] for i in indices] if items else [] for items in tensors
    )
    return params, grads, exp_avgs, exp_avg_sqs, max_sqs


__all__ = ["fused_kernel_devices", "radam", "radam_unchecked"]
