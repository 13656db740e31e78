"""The optimizers that ``radam demo`` compares (Liu et al. 2019, sections 3 and 5).

- ``adam``: ``torch.optim.Adam``, no warm-up.
- ``adam-warmup-short`` and ``adam-warmup``: ``torch.optim.Adam`` with the linear warm-up
  multiplier ``min(t, T_w) / T_w`` on step ``t`` (``torch.optim.lr_scheduler.LambdaLR``),
  ``T_w`` short (the paper's 100 of 2000) or ``2/(1 - beta2)``.
- ``radam``: ``radam_torch.RAdam`` (torch's convention: rectified once ``rho_t > 5``).
- ``adam-2k``, ``adam-eps`` and ``adam-no-m-correction``: the paper's controls and an
  ablation, [`AuthorsAdam`][radam_cli.demo_baselines.AuthorsAdam] (a baseline, in
  [`radam_cli.demo_baselines`][radam_cli.demo_baselines]) with ``K`` v-only steps, with a
  large eps on the raw ``sqrt(v)``, or without the first moment's bias correction.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from radam_torch import RAdam
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from radam_cli.demo_baselines import AuthorsAdam
from radam_cli.demo_config import NAMES, OptimizerSettings


def warmup_factor(step: int, warmup_steps: int) -> float:
    """The linear warm-up multiplier ``min(t, T_w) / T_w`` of optimizer step ``t``.

    Args:
        step: The step about to be taken, counted from 1.
        warmup_steps: ``T_w`` (0 means no warm-up).

    Returns:
        The factor on the peak learning rate.
    """
    if warmup_steps <= 0:
        return 1.0
    return min(step, warmup_steps) / warmup_steps


def make_optimizer(
    name: str, params: Iterable[torch.Tensor], settings: OptimizerSettings
) -> tuple[Optimizer, LRScheduler | None]:
    """The optimizer called ``name`` over ``params``, and its scheduler if it has one.

    Call the scheduler's ``step()`` after each ``optimizer.step()``, as usual in torch.

    Args:
        name: One of `radam_cli.demo_config.NAMES`.
        params: The parameters to train.
        settings: The learning rate and the variants' settings.

    Returns:
        ``(optimizer, scheduler)``; the scheduler is None except for the warm-ups.

    Raises:
        ValueError: For an unknown ``name``.
    """
    betas = (settings.beta1, settings.beta2)
    lr = settings.lr
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas), None
    if name in ("adam-warmup", "adam-warmup-short"):
        optimizer = torch.optim.Adam(params, lr=lr, betas=betas)
        warmup = settings.warmup_steps if name == "adam-warmup" else settings.short_warmup_steps
        # LambdaLR's argument is the number of steps already taken: step t uses factor(t).
        return optimizer, LambdaLR(optimizer, lambda taken: warmup_factor(taken + 1, warmup))
    if name == "radam":
        return RAdam(params, lr=lr, betas=betas), None
    if name == "adam-2k":
        return AuthorsAdam(params, lr=lr, betas=betas, v_only_steps=settings.v_only_steps), None
    if name == "adam-eps":
        return AuthorsAdam(params, lr=lr, betas=betas, eps=settings.large_eps), None
    if name == "adam-no-m-correction":
        return AuthorsAdam(params, lr=lr, betas=betas, correct_momentum=False), None
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(NAMES)}")
