"""``radam_torch.RAdam``: a drop-in ``torch.optim.RAdam`` whose math is radam_core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch.optim.optimizer import Optimizer, ParamsT, _use_grad_for_differentiable

import radam_core
from radam_core import Hyperparameters
from radam_torch.kernels import Tensors, core_step, fused_adam_step


class GroupTensors(NamedTuple):
    """The tensors of a group's parameters that have gradients, in step order.

    Attributes:
        params: The parameters.
        grads: Their gradients.
        exp_avgs: m of each.
        exp_avg_sqs: v of each.
        max_exp_avg_sqs: max(v_1..v_t) of each with amsgrad, else empty.
        steps: Their step counts (torch's 0-d float tensors).
    """

    params: list[torch.Tensor]
    grads: list[torch.Tensor]
    exp_avgs: list[torch.Tensor]
    exp_avg_sqs: list[torch.Tensor]
    max_exp_avg_sqs: list[torch.Tensor]
    steps: list[torch.Tensor]

    def real_views(self) -> GroupTensors:
        """Complex tensors as their real views (torch's convention); steps unchanged."""
        params, grads, exp_avgs, exp_avg_sqs, max_sqs = (
            [_real(t) for t in tensors] for tensors in self.moments()
        )
        return GroupTensors(params, grads, exp_avgs, exp_avg_sqs, max_sqs, self.steps)

    def select(self, indices: list[int]) -> GroupTensors:
        """The tensors at ``indices`` (an empty list stays empty)."""
        picked = [[tensors[i] for i in indices] if tensors else [] for tensors in self]
        return GroupTensors(*picked)

    def moments(self) -> tuple[Tensors, Tensors, Tensors, Tensors, Tensors]:
        """``(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)``."""
        return self.params, self.grads, self.exp_avgs, self.exp_avg_sqs, self.max_exp_avg_sqs


class RAdam(Optimizer):
    """RAdam (Liu et al. 2019) with ``torch.optim.RAdam``'s interface, state and results.

    Each step is :func:`radam_core.step`: with ``rho_t`` and ``r_t`` from the core,
    ``theta -= lr r_t m_hat sqrt(bc2) / (sqrt(v_t) + eps)`` when ``rho_t > 5``, else
    ``theta -= lr m_hat`` (torch's convention; ``preset`` selects another). Rectified steps
    run in PyTorch's fused Adam kernel, fed the Adam form of the step that
    :func:`radam_core.adam_form` computes; other steps, and every step with
    ``differentiable``, ``capturable`` or under ``torch.compile``, run the core's step on
    the tensors themselves.

    Args:
        params: Tensors, named parameters, or parameter groups (dicts).
        lr: Learning rate, a float or a 1-element tensor.
        betas: ``(beta1, beta2)``.
        eps: Added to the denominator (default: the preset's, 1e-8 for torch).
        weight_decay: Weight decay coefficient.
        decoupled_weight_decay: AdamW-style decay ``theta *= 1 - lr wd`` instead of L2
            (default: the preset's).
        foreach: Accepted for compatibility; the kernels are chosen as described above.
        maximize: Maximize the objective.
        capturable: Keep the step count on the parameters' device and never synchronize
            with the host (CUDA graphs).
        differentiable: Let autograd differentiate through the step.
        fused: None or True: rectified steps in the fused Adam kernel where the device has
            one; False: every step by the core's reference step.
        preset: A convention of :mod:`radam_core.presets` (default ``"torch"``).
        threshold: Rectify when rho_t exceeds it (None: the preset's).
        threshold_inclusive: Rectify when rho_t equals it too (None: the preset's).
        below_threshold: ``"sgd"`` or ``"skip"`` below the threshold (None: the preset's).
        eps_placement: ``"raw"`` or ``"corrected"`` sqrt(v_t) (None: the preset's).
        eps_root: Added to v_t inside the square root (None: the preset's).
        amsgrad: Use max(v_1..v_t) in the denominator (None: the preset's).
        nesterov: optax's Nesterov momentum (None: the preset's).

    Raises:
        ValueError: torch's messages for an invalid lr, eps, beta or weight_decay; the
            core's for its options.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float | None = None,
        weight_decay: float = 0,
        decoupled_weight_decay: bool | None = None,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        preset: str = "torch",
        threshold: float | None = None,
        threshold_inclusive: bool | None = None,
        below_threshold: str | None = None,
        eps_placement: str | None = None,
        eps_root: float | None = None,
        amsgrad: bool | None = None,
        nesterov: bool | None = None,
    ) -> None:
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps is not None and not eps >= 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not weight_decay >= 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        options = {
            "eps": eps,
            "decoupled_weight_decay": decoupled_weight_decay,
            "threshold": threshold,
            "threshold_inclusive": threshold_inclusive,
            "below_threshold": below_threshold,
            "eps_placement": eps_placement,
            "eps_root": eps_root,
            "amsgrad": amsgrad,
            "nesterov": nesterov,
        }
        resolved = radam_core.hyperparameters_for(
            preset,
            betas=betas,
            weight_decay=weight_decay,
            maximize=maximize,
            **{name: value for name, value in options.items() if value is not None},
        )
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": resolved.eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": resolved.decoupled_weight_decay,
            "differentiable": differentiable,
            "fused": fused,
            "preset": preset,
            **{name: getattr(resolved, name) for name in radam_core.CONVENTION_FIELDS},
        }
        super().__init__(params, defaults)
        self._register_load_hooks()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle (or deepcopy): fill groups saved without the core's options, hook again."""
        super().__setstate__(state)
        _complete_loaded_state(self)
        self._register_load_hooks()

    def _register_load_hooks(self) -> None:
        self.register_load_state_dict_pre_hook(_check_loaded_state)
        self.register_load_state_dict_post_hook(_complete_loaded_state)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; a ``preset`` of its own sets the options the group does not give.

        Args:
            param_group: ``params`` and any option of the constructor, ``preset`` included.
        """
        preset = param_group.get("preset")
        if preset is not None and preset != self.defaults["preset"]:
            given = {
                name: param_group[name]
                for name in ("eps", "decoupled_weight_decay", *radam_core.CONVENTION_FIELDS)
                if name in param_group
            }
            resolved = radam_core.hyperparameters_for(preset, **given)
            for name in ("eps", "decoupled_weight_decay", *radam_core.CONVENTION_FIELDS):
                param_group[name] = getattr(resolved, name)
        super().add_param_group(param_group)

    @_use_grad_for_differentiable
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Take one optimization step.

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
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        tensors = GroupTensors([], [], [], [], [], [])
        self._init_group(group, *tensors)
        if not tensors.params:
            return
        hp = _hyperparameters(group)
        real = tensors.real_views()
        if group["capturable"] or group["differentiable"] or torch.compiler.is_compiling():
            # Counts stay tensors: no host synchronization, nothing to recompile on.
            for index, step in enumerate(tensors.steps):
                step_count = step.to(torch.int64)
                step.add_(1)
                core_step(*real.select([index]).moments(), step_count, hp, blocked=False)
            return
        by_count: dict[int, list[int]] = {}
        for index, step in enumerate(tensors.steps):
            by_count.setdefault(int(step.item()), []).append(index)
        torch._foreach_add_(tensors.steps, 1)
        for count, indices in by_count.items():
            chosen = real.select(indices)
            fusable = group["fused"] is not False and chosen.params[0].device.type == "cpu"
            form = radam_core.adam_form(count + 1, hp) if fusable else None
            if form is None:
                core_step(*chosen.moments(), count, hp)
            else:
                fused_adam_step(*chosen.moments(), chosen.steps, form, hp)

    def _init_group(
        self,
        group: dict[str, Any],
        params: list[torch.Tensor],
        grads: list[torch.Tensor],
        exp_avgs: list[torch.Tensor],
        exp_avg_sqs: list[torch.Tensor],
        max_exp_avg_sqs: list[torch.Tensor],
        steps: list[torch.Tensor],
    ) -> bool:
        """Append the group's tensors that have gradients, creating state lazily.

        torch's signature and contract (lists filled in place, a constant returned), which
        ``torch.compile`` relies on to run it eagerly.

        Returns:
            Whether any parameter is complex.
        """
        has_complex = False
        for param in group["params"]:
            if param.grad is None:
                continue
            if param.grad.is_sparse:
                raise RuntimeError("RAdam does not support sparse gradients")
            state = self.state[param]
            if len(state) == 0:
                state["step"] = (
                    torch.zeros((), dtype=torch.float32, device=param.device)
                    if group["capturable"]
                    else torch.tensor(0.0, dtype=torch.float32)
                )
                state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            if group["amsgrad"] and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = torch.zeros_like(
                    param, memory_format=torch.preserve_format
                )
            has_complex |= param.is_complex()
            params.append(param)
            grads.append(param.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            if group["amsgrad"]:
                max_exp_avg_sqs.append(state["max_exp_avg_sq"])
            steps.append(state["step"])
        return has_complex


def _hyperparameters(group: dict[str, Any]) -> Hyperparameters:
    """The core's hyperparameters of a parameter group (lr may be a tensor)."""
    lr = group["lr"]
    if isinstance(lr, torch.Tensor):
        lr = lr.reshape(()) if group["capturable"] or group["differentiable"] else lr.item()
    return Hyperparameters(
        lr=lr,
        betas=tuple(group["betas"]),
        eps=group["eps"],
        weight_decay=group["weight_decay"],
        decoupled_weight_decay=group["decoupled_weight_decay"],
        maximize=group["maximize"],
        **{name: group[name] for name in radam_core.CONVENTION_FIELDS},
    )


def _real(tensor: torch.Tensor) -> torch.Tensor:
    """A complex tensor's real view (torch's convention), else the tensor."""
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


def _check_loaded_state(optimizer: Optimizer, state_dict: dict[str, Any]) -> None:
    """Refuse a state whose tensors do not fit the parameters, before anything changes."""
    groups = state_dict["param_groups"]
    if len(groups) != len(optimizer.param_groups):
        raise ValueError("loaded state dict has a different number of parameter groups")
    for group, saved in zip(optimizer.param_groups, groups, strict=True):
        if len(group["params"]) != len(saved["params"]):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size "
                "of optimizer's group"
            )
        for param, key in zip(group["params"], saved["params"], strict=True):
            entry = state_dict["state"].get(key, {})
            required = ("step", "exp_avg", "exp_avg_sq") if entry else ()
            missing = [name for name in required if name not in entry]
            if missing:
                raise ValueError(f"loaded state of parameter {key} lacks {', '.join(missing)}")
            for name, value in entry.items():
                if (
                    name != "step"
                    and isinstance(value, torch.Tensor)
                    and value.shape != param.shape
                ):
                    raise ValueError(
                        f"loaded state {name!r} of parameter {key} has shape "
                        f"{tuple(value.shape)}, expected {tuple(param.shape)}"
                    )


def _complete_loaded_state(optimizer: Optimizer) -> None:
    """Complete a loaded state: the core's options, and ``step`` as a tensor.

    Groups saved by torch.optim.RAdam lack the core's options (the defaults fill them);
    older torch checkpoints store ``step`` as a plain number (torch's tensor form then).
    """
    for group in optimizer.param_groups:
        for name, value in optimizer.defaults.items():
            group.setdefault(name, value)
    for state in optimizer.state.values():
        if "step" in state and not isinstance(state["step"], torch.Tensor):
            state["step"] = torch.tensor(float(state["step"]), dtype=torch.float32)


__all__ = ["RAdam"]
