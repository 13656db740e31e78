"""radam_torch's in-place kernels; all of them get their math from radam_core.

The two ways a list of tensors takes RAdam step t:

``core_step``: the core's equations run in place on the tensors
([`update_leaf_in_place`][radam_core.for_adapters.update_leaf_in_place], array_api_compat's torch
namespace), with the step's coefficients from radam_core. Any step, any option; the coefficients
may be 0-d tensors, a tensor count's (no host synchronization: capturable, ``torch.compile``).

``fused_adam_step``: a rectified step is an Adam step with the hyperparameters of its Adam form
([`step_scalars`][radam_core.for_adapters.step_scalars]: ``lr * r_t``, ``eps / sqrt(bc2)``), so
PyTorch's maintained fused Adam kernel runs it in one pass over memory. That kernel walks each
tensor as ``numel`` consecutive elements from its data pointer, whatever its strides
(``torch.optim.Adam(fused=True)`` itself is wrong on a transposed gradient and writes between the
elements of a non-dense parameter, torch 2.13), so it gets only the tensors that
[`fits_fused_kernel`][radam_torch.kernels.fits_fused_kernel] accepts; the others take
``core_step`` in their own layout.

And Lookahead's sync, ``sync_slow_weights``:
[`lookahead_leaf`][radam_core.for_adapters.lookahead_leaf] block by block, written into both the
fast and the slow weights.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from operator import itemgetter

import array_api_compat.torch as xp
import torch
from torch.utils._python_dispatch import is_traceable_wrapper_subclass

import radam_core
from radam_core import Hyperparameters
from radam_core.for_adapters import StepCoefficients, StepScalars, compute_dtype

Tensors = list[torch.Tensor]
# params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs (empty without amsgrad)
StepTensors = tuple[Tensors, Tensors, Tensors, Tensors, Tensors]
BLOCK_SIZE = 1 << 16  # elements per block of the core step: 256 KiB of float32
# Elements per block of a Lookahead sync: 1 MiB of float32 (measured in
# docs/benchmarks.md, "Block sizes").
SYNC_BLOCK_SIZE = 1 << 18


def core_step(
    tensors: StepTensors,
    coefficients: StepCoefficients,
    hyperparameters: Hyperparameters,
    *,
    blocked: bool = True,
) -> None:
    """Step t by the core's equations, written back in place.

    Each tensor's update is [`update_leaf_in_place`][radam_core.for_adapters.update_leaf_in_place]
    with step t's coefficients (from [`step_scalars`][radam_core.for_adapters.step_scalars]), which
    writes it into the tensors themselves. With ``blocked`` (the CPU), contiguous tensors are
    updated in flat blocks of ``BLOCK_SIZE`` elements, so temporaries stay cache-sized; without
    it (an accelerator, whose kernel launches must not grow with the elements, and graphs:
    capturable, ``torch.compile``) whole tensors are updated.

    Args:
        tensors: ``(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)``: theta_{t-1},
            m_{t-1}, v_{t-1} and, with amsgrad, max(v_1..v_{t-1}) (else an empty list), all
            updated in place, and the gradients (never modified).
        coefficients: Step t's coefficients: floats, or 0-d tensors (a tensor count's).
        hyperparameters: The group's hyperparameters.
        blocked: Update contiguous tensors block by block.
    """
    params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs = tensors
    hp = hyperparameters
    for index, param in enumerate(params):
        leaf = [param, grads[index], exp_avgs[index], exp_avg_sqs[index]]
        if hp.amsgrad:
            leaf.append(max_exp_avg_sqs[index])
        cast = coefficients.cast(compute_dtype(param.dtype, xp), param.device, xp)
        for param_, grad, exp_avg, exp_avg_sq, *max_sq in _blocks(leaf, blocked):
            radam_core.for_adapters.update_leaf_in_place(
                param_, grad, exp_avg, exp_avg_sq, max_sq[0] if max_sq else None, cast, hp, xp
            )


def sync_slow_weights(fast: Tensors, slow: Tensors, alpha: float) -> None:
    """Lookahead's sync in place: ``phi <- phi + alpha (theta - phi); theta <- phi``.

    The new phi is [`lookahead_leaf`][radam_core.for_adapters.lookahead_leaf]'s, computed in the
    fast weights' memory (``overwrite_fast``), block by block on the CPU and on whole tensors
    elsewhere, and copied into the slow weights. Complex tensors are synced through their real
    views.

    Args:
        fast: theta, the parameters after the inner step (no autograd history recorded:
            call under ``torch.no_grad``), overwritten with the new phi.
        slow: phi, same shapes and dtypes, overwritten with the new phi.
        alpha: The slow step size in ``[0, 1]``.
    """
    for theta, phi in zip(fast, slow, strict=True):
        on_cpu = theta.device.type == "cpu"  # blocks for the CPU's caches, else whole tensors
        for f, s in _blocks([_real(theta), _real(phi)], on_cpu, SYNC_BLOCK_SIZE):
            new = radam_core.for_adapters.lookahead_leaf(f, s, alpha, xp, overwrite_fast=True)
            if new is not s:
                s.copy_(new)
            if new is not f:
                f.copy_(new)


def _real(tensor: torch.Tensor) -> torch.Tensor:
    """A complex tensor's real view, else the tensor."""
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


def _blocks(tensors: Tensors, blocked: bool, block_size: int = BLOCK_SIZE) -> Iterator[Tensors]:
    """Aligned flat blocks of same-shaped plain tensors, or the tensors whole.

    Tensor subclasses (a sharded DTensor, say) are never flattened. Whole 0-d plain tensors
    come as 1-element views: ``torch.compile`` (2.13, aot_eager and inductor) drops an
    in-place write into a 0-d tensor's state, but not one through a view.
    """
    plain = not any(map(is_traceable_wrapper_subclass, tensors))
    if not blocked or not (plain and all(map(torch.Tensor.is_contiguous, tensors))):
        yield [t.view(1) for t in tensors] if plain and tensors[0].ndim == 0 else tensors
        return
    flat = [t.view(-1) for t in tensors]
    for start in range(0, max(flat[0].numel(), 1), block_size):
        yield [t[start : start + block_size] for t in flat]


def fits_fused_kernel(tensors: Tensors) -> bool:
    """Whether PyTorch's fused Adam kernel updates one parameter's tensors correctly.

    The kernel pairs the i-th element in memory of each tensor, for i below ``numel``. That
    is the i-th element of the tensor itself when every tensor fills its memory exactly
    (non-overlapping and dense) and all lay their elements out in the same order (equal
    strides): all contiguous, but also all transposed or all channels_last alike.

    Args:
        tensors: A parameter and its gradient and state tensors, of one shape.
    """
    if all(t.is_contiguous() for t in tensors):
        return True
    strides = tensors[0].stride()
    return all(t.stride() == strides for t in tensors) and _is_dense(tensors[0])


def _is_dense(tensor: torch.Tensor) -> bool:
    """Whether the tensor's elements fill ``numel`` consecutive memory slots, no gaps."""
    expected = 1
    for size, stride in sorted(zip(tensor.shape, tensor.stride(), strict=True), key=itemgetter(1)):
        if size != 1:
            if stride != expected:
                return False
            expected *= size
    return True


def fused_adam_step(
    tensors: StepTensors,
    t: int,
    scalars: StepScalars,
    hyperparameters: Hyperparameters,
    grad_scale: torch.Tensor | None = None,
) -> None:
    """A rectified step t as one fused Adam(W) step with the hyperparameters of its Adam form.

    The tensors are on one device (torch.optim.Adam also gives the kernel one dtype at a time
    off the CPU). The kernel reads t from a step tensor on that device, made here (one
    host-to-device copy, no synchronization). A parameter whose tensors the kernel cannot walk
    ([`fits_fused_kernel`][radam_torch.kernels.fits_fused_kernel]: a transposed gradient, a
    non-dense parameter, state in another layout) takes the same step t by
    [`core_step`][radam_torch.kernels.core_step] instead, in its own layout.

    Args:
        tensors: As [`core_step`][radam_torch.kernels.core_step]'s.
        t: The step number.
        scalars: Step t's [`StepScalars`][radam_core.for_adapters.StepScalars], with an Adam form.
        hyperparameters: The group's hyperparameters.
        grad_scale: torch.amp.GradScaler's scale, by which the gradients are divided (the
            kernel's own ``grad_scale``; the others are unscaled in place), or None.
    """
    params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs = tensors
    form = scalars.adam_form
    if form is None:
        raise ValueError(f"step {t} has no Adam form; take it by core_step")
    moments = [params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs]
    if not all(map(torch.Tensor.is_contiguous, itertools.chain.from_iterable(moments))):
        fits = [fits_fused_kernel([ts[i] for ts in moments if ts]) for i in range(len(params))]
        for index, fit in enumerate(fits):
            if not fit:
                unscale_([grads[index]], grad_scale)
                core_step(
                    (
                        [params[index]],
                        [grads[index]],
                        [exp_avgs[index]],
                        [exp_avg_sqs[index]],
                        [max_exp_avg_sqs[index]] if max_exp_avg_sqs else [],
                    ),
                    scalars.coefficients,
                    hyperparameters,
                    blocked=params[index].device.type == "cpu",
                )
        params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs = (_kept(ts, fits) for ts in moments)
        if not params:
            return
    step = torch.full((), t, dtype=torch.float32, device=params[0].device)
    kernel = torch._fused_adamw_ if hyperparameters.decoupled_weight_decay else torch._fused_adam_
    beta1, beta2 = hyperparameters.betas
    kernel(
        params,
        grads,
        exp_avgs,
        exp_avg_sqs,
        max_exp_avg_sqs,
        [step] * len(params),
        amsgrad=hyperparameters.amsgrad,
        lr=form.lr,
        beta1=beta1,
        beta2=beta2,
        weight_decay=form.weight_decay,
        eps=form.eps,
        maximize=hyperparameters.maximize,
        grad_scale=None if grad_scale is None else grad_scale.to(step.device),
        found_inf=None,
    )


def unscale_(grads: Tensors, grad_scale: torch.Tensor | None) -> None:
    """Divide gradients by torch.amp.GradScaler's scale in place, as its ``unscale_`` does.

    Each is multiplied by the float32 reciprocal of the scale, computed in float64: one
    multi-tensor multiplication per device, with the reciprocal copied there once. Nothing is
    done for ``grad_scale=None``.
    """
    if grad_scale is None:
        return
    inverse = grad_scale.double().reciprocal().float()
    by_device: dict[torch.device, Tensors] = {}
    for grad in grads:
        by_device.setdefault(grad.device, []).append(grad)
    for device, on_device in by_device.items():
        torch._foreach_mul_(on_device, inverse.to(device))


def _kept(tensors: Tensors, keep: list[bool]) -> Tensors:
    """The tensors whose ``keep`` is True (an empty list stays empty)."""
    return [t for t, kept in zip(tensors, keep, strict=True) if kept] if tensors else []
