"""Baselines that ``radam demo`` compares RAdam with: not RAdam, and not radam_core's math.

The paper's controls (Liu et al. 2019, section 3) are variants of Adam as the authors' code
writes it, which differs from ``torch.optim.Adam`` in two places that matter for them: eps
is added to the raw ``sqrt(v_t)``, not to the bias-corrected one, and the first moment's
bias correction ``1 - beta1^t`` always takes the global step ``t``. No framework ships
these controls, so they are written out here, as one plain ``torch.optim.Optimizer``;
RAdam itself is ``radam_torch.RAdam``, whose math is radam_core's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.optim import Optimizer


class AuthorsAdam(Optimizer):
    """Adam as the paper's authors write it, with the paper's controls as options.

    With gradient ``g_t`` on step ``t`` (counted from 1, over every step taken) and
    ``K = v_only_steps``:

    - every step: ``v_t = beta2 v_{t-1} + (1 - beta2) g_t^2``;
    - ``t <= K``: nothing else changes (``m`` stays 0 and the parameters stay put);
    - ``t > K``: ``m_t = beta1 m_{t-1} + (1 - beta1) g_t`` and
      ``theta -= lr (m_t / c_t) sqrt(1 - beta2^t) / (sqrt(v_t) + eps)``, with
      ``c_t = 1 - beta1^t`` (the global ``t``) or, with ``correct_momentum=False``,
      ``c_t = 1``.

    So ``v_only_steps=K`` is the paper's Adam-2k: since ``m`` restarts from 0 after ``K``
    steps while ``c_t`` is already near 1, its first updates are damped by about
    ``1 - beta1^(t-K)``. A large ``eps`` is the paper's Adam-eps; it sits on the raw
    ``sqrt(v_t)``, which early on is ``sqrt(1 - beta2^t)`` times the bias-corrected one, so
    it weighs ``1 / sqrt(1 - beta2^t)`` times more there than in ``torch.optim.Adam``.
    ``correct_momentum=False`` damps the first updates by ``1 - beta1^t`` without changing
    the second moment: an ablation that separates the damping from the variance. The
    state of each parameter is ``step`` (t), ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    Args:
        params: Tensors or parameter groups.
        lr: Learning rate.
        betas: ``(beta1, beta2)``.
        eps: Added to the raw ``sqrt(v_t)``.
        v_only_steps: ``K``, the first steps that only update ``v``.
        correct_momentum: Whether to divide ``m_t`` by ``1 - beta1^t``.

    Raises:
        ValueError: For a negative lr, eps or ``v_only_steps``, or a beta outside [0, 1).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        v_only_steps: int = 0,
        correct_momentum: bool = True,
    ) -> None:
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for index, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {index}: {beta}")
        if isinstance(v_only_steps, bool) or not isinstance(v_only_steps, int):
            raise TypeError(f"v_only_steps must be an int, got {v_only_steps!r}")
        if v_only_steps < 0:
            raise ValueError(f"Invalid v_only_steps: {v_only_steps}")
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "v_only_steps": v_only_steps,
            "correct_momentum": bool(correct_momentum),
        }
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
                if t <= group["v_only_steps"]:
                    continue
                state["exp_avg"].lerp_(grad, 1.0 - beta1)
                m_correction = 1.0 - beta1**t if group["correct_momentum"] else 1.0
                step_size = group["lr"] * (1.0 - beta2**t) ** 0.5 / m_correction
                denominator = state["exp_avg_sq"].sqrt().add_(group["eps"])
                param.addcdiv_(state["exp_avg"], denominator, value=-step_size)
        return loss
