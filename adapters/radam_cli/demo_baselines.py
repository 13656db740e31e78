"""Baselines that ``radam demo`` compares RAdam with: not RAdam, and not radam_core's math.

The paper's Adam-2k (Liu et al. 2019, section 3) is Adam with a first phase that only
gathers squared gradients. No framework ships it, so it is written out here, as a plain
``torch.optim.Optimizer``; RAdam itself is ``radam_torch.RAdam``, whose math is radam_core's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer


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
