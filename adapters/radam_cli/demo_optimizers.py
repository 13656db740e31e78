"""The five optimizers that ``radam demo`` compares (Liu et al. 2019, sections 3 and 5).

- ``adam``: ``torch.optim.Adam``, no warm-up.
- ``adam-warmup``: ``torch.optim.Adam`` with the linear warm-up multiplier
  ``min(t, T_w) / T_w`` on step ``t`` (``torch.optim.lr_scheduler.LambdaLR``).
- ``radam``: ``radam_torch.RAdam`` (torch's convention: rectified once ``rho_t > 5``).
- ``adam-2k``: [`Adam2k`][radam_cli.demo_optimizers.Adam2k], Adam whose first ``K`` steps
  only update the second moment (the paper's Adam-2k, with ``K = 2000``).
- ``adam-eps``: ``torch.optim.Adam`` with a large ``eps`` (the paper's Adam-eps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from radam_torch import RAdam
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from radam_cli.demo_config import NAMES, OptimizerSettings


class Adam2k(Optimizer):
    """Adam whose first ``v_only_steps`` steps update only the second moment.

    With gradient ``g_t`` on step ``t`` (counted from 1) and ``K = v_only_steps``:

    - every step: ``v_t = beta2 v_{t-1} + (1 - beta2) g_t^2``;
    - ``t <= K``: nothing else changes (no first moment, no parameter update);
    - ``t > K``: ``m_t = beta1 m_{t-1} + (1 - beta1) g_t`` (``m_K = 0``) and
      ``theta -= lr m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m_t / (1 - beta1^(t-K))``
      and ``v_hat = v_t / (1 - beta2^t)``.

    So after ``K`` steps it is Adam whose second moment already averages ``K`` squared
    gradients: the adaptive learning rate starts with a small variance. The state of each
    parameter is ``step`` (t), ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    Args:
        params: Tensors or parameter groups.
        lr: Learning rate.
        betas: ``(beta1, beta2)``.
        eps: Added to ``sqrt(v_hat)``.
        v_only_steps: ``K``, the steps that only update ``v``.

    Raises:
        ValueError: For a negative lr, eps or ``v_only_steps``, or a beta outside [0, 1).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        v_only_steps: int = 2000,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        if v_only_steps < 0:
            raise ValueError(f"Invalid v_only_steps: {v_only_steps}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "v_only_steps": v_only_steps}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Take one step: update ``v``, and past ``K`` steps ``m`` and the parameters.

        Args:
            closure: Reevaluates the model and returns the loss.

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            v_only_steps = group["v_only_steps"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                t, grad = state["step"], param.grad
                state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                if t <= v_only_steps:
                    continue
                state["exp_avg"].lerp_(grad, 1.0 - beta1)
                m_correction = 1.0 - beta1 ** (t - v_only_steps)
                v_correction = 1.0 - beta2**t
                denominator = (state["exp_avg_sq"] / v_correction).sqrt_().add_(group["eps"])
                param.addcdiv_(state["exp_avg"], denominator, value=-group["lr"] / m_correction)
        return loss


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
        ``(optimizer, scheduler)``; the scheduler is None except for ``adam-warmup``.

    Raises:
        ValueError: For an unknown ``name``.
    """
    betas = (settings.beta1, settings.beta2)
    lr = settings.lr
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas), None
    if name == "adam-warmup":
        optimizer = torch.optim.Adam(params, lr=lr, betas=betas)
        # LambdaLR's argument is the number of steps already taken: step t uses factor(t).
        warmup = settings.warmup_steps
        return optimizer, LambdaLR(optimizer, lambda taken: warmup_factor(taken + 1, warmup))
    if name == "radam":
        return RAdam(params, lr=lr, betas=betas), None
    if name == "adam-2k":
        return Adam2k(params, lr=lr, betas=betas, v_only_steps=settings.v_only_steps), None
    if name == "adam-eps":
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=settings.large_eps), None
    raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(NAMES)}")
