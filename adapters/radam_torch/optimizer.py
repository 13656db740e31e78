"""``radam_torch.RAdam``: a drop-in ``torch.optim.RAdam`` whose math is radam_core."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import torch
from torch.optim.optimizer import Optimizer, ParamsT, _use_grad_for_differentiable

import radam_core
from radam_core import Hyperparameters, Snapshot
from radam_torch import functional, snapshot
from radam_torch.kernels import Tensors


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

    Each step is [`radam_core.step`][radam_core.step.step]: with ``rho_t`` and ``r_t`` from the
    core, ``theta -= lr r_t m_hat sqrt(bc2) / (sqrt(v_t) + eps)`` when ``rho_t > 5``, else
    ``theta -= lr m_hat`` (torch's convention; ``preset`` selects another). Rectified steps
    run in PyTorch's fused Adam kernel on every device torch has it for
    ([`fused_kernel_devices`][radam_torch.functional.fused_kernel_devices]), one call per device
    and dtype, fed the Adam form of the step that
    [`step_scalars`][radam_core.for_adapters.step_scalars] gives; other steps, and every step
    with ``differentiable``, ``capturable`` or under ``torch.compile``, run the core's step on
    the tensors themselves (block by block on the CPU, whole tensors elsewhere).

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
        fused: None: rectified steps in the fused Adam kernel where the device has one;
            True: the same, and a device without it raises (as torch.optim.Adam); False:
            every step by the core's reference step.
        preset: The convention: a name of [`radam_core.presets`][radam_core.presets] (default
            ``"torch"``) or a [`radam_core.Preset`][radam_core.Preset], e.g.
            ``radam_core.PRESETS["optax"].replace(nesterov=True)``. Its fields become each
            group's options (``threshold``, ``nesterov``, ...), which ``add_param_group`` can
            set per group.
        **deprecated_options: The convention fields as keyword arguments (``threshold=4.0``),
            the old way: deprecated, each still applied, with a ``DeprecationWarning``.

    Every step, [`add_param_group`][radam_torch.RAdam.add_param_group] and ``load_state_dict`` check
    every group and every tensor before they change anything: when they raise, the parameters, the
    state (step counts included) and ``param_groups`` are as they were.

    Raises:
        ValueError: torch's messages for an invalid lr, eps, beta or weight_decay; the
            core's for its options.
        RuntimeError: At a step, torch's, for ``fused=True`` with a parameter on a device
            that has no fused kernel (as ``torch.optim.Adam``).
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
        preset: str | radam_core.Preset = "torch",
        **deprecated_options: Any,
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
        convention = radam_core.for_adapters.with_deprecated_options(
            preset, deprecated_options, "radam_torch.RAdam"
        )
        options: dict[str, Any] = {"eps": eps, "decoupled_weight_decay": decoupled_weight_decay}
        resolved = radam_core.hyperparameters_for(
            convention,
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
            "preset": convention.name,
            **{name: getattr(resolved, name) for name in radam_core.CONVENTION_FIELDS},
        }
        self._validated: dict[int, tuple[dict[str, Any], tuple[Any, ...], Hyperparameters]] = {}
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, deepcopy or ``load_state_dict``: complete the groups, check a load.

        Groups saved without the core's options (torch.optim.RAdam's) get the defaults,
        and a step saved as a number becomes torch's tensor. ``load_state_dict`` passes
        the loaded state and groups alone (no ``"defaults"``), already cast to the
        parameters: they are checked here, before anything of this optimizer changes.

        Raises:
            TypeError, ValueError: A loaded group or tensor state that cannot step (as
                [`step`][radam_torch.RAdam.step] would raise), named with its value.
        """
        defaults = state.get("defaults", getattr(self, "defaults", {}))
        _complete(state["param_groups"], state["state"], defaults)
        if "defaults" not in state:
            for index, group in enumerate(state["param_groups"]):
                _check_group(index, group)
                for position, param in enumerate(group["params"]):
                    entry = state["state"].get(param)
                    if isinstance(entry, Mapping):
                        where = _where(index, position)
                        _check_state(where, param, entry, group["amsgrad"], read_step=True)
        super().__setstate__(state)
        self._validated = {}  # new groups: each is validated again at its next step

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group; a ``preset`` of its own sets the options the group does not give.

        Args:
            param_group: ``params`` and any option of the constructor, ``preset`` (a name or a
                [`radam_core.Preset`][radam_core.Preset]) included.

        Raises:
            TypeError, ValueError: An invalid option, named with the group's index and its
                value (``param_groups`` is unchanged then).
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
            # The group keeps plain values (torch.load's weights_only): the fields, and the name.
            param_group["preset"] = radam_core.for_adapters.preset_of(preset).name
        super().add_param_group(param_group)
        try:
            _check_group(len(self.param_groups) - 1, self.param_groups[-1])
        except (TypeError, ValueError):
            self.param_groups.pop()
            raise

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
        # Set by torch.amp.GradScaler for this call (see _step_supports_amp_scaling).
        grad_scale: torch.Tensor | None = getattr(self, "grad_scale", None)
        found_inf: torch.Tensor | None = getattr(self, "found_inf", None)
        # Everything is checked before anything is written: a raise changes nothing.
        checked = [self._check_step(index, group) for index, group in enumerate(self.param_groups)]
        if found_inf is not None and found_inf.item():
            return loss  # an inf or NaN gradient: no step, as GradScaler's own path
        for group, hp in zip(self.param_groups, checked, strict=True):
            self._step_group(group, hp, grad_scale)
        return loss

    def export_state(self, named_parameters: Iterable[tuple[str, torch.Tensor]]) -> Snapshot:
        """The state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot].

        Save it with [`radam_core.save_snapshot`][radam_core.snapshot.save_snapshot]; any
        adapter resumes from it (see [`radam_torch.snapshot`][radam_torch.snapshot] for
        bfloat16, complex and channels_last states).

        Args:
            named_parameters: ``model.named_parameters()``: a name for every parameter.

        Returns:
            Each parameter's count, m and v (host copies), and the first group's
            hyperparameters.
        """
        return snapshot.export_state(
            self, named_parameters, self._group_hyperparameters(0, self.param_groups[0])
        )

    def import_state(
        self, state: Snapshot, named_parameters: Iterable[tuple[str, torch.Tensor]]
    ) -> None:
        """Resume from a [`Snapshot`][radam_core.snapshot.Snapshot]; all or nothing.

        The counts and moments come from the snapshot; the groups keep their own lr, betas,
        eps and weight decay (their conventions must match the snapshot's).

        Args:
            state: From any adapter's ``export_state`` or
                [`radam_core.load_snapshot`][radam_core.snapshot.load_snapshot].
            named_parameters: ``model.named_parameters()``, as when it was exported.

        Raises:
            ValueError: A snapshot that does not fit; nothing changed.
        """
        snapshot.import_state(self, state, named_parameters, self.group_hyperparameters())

    def group_hyperparameters(self) -> list[Hyperparameters]:
        """Each parameter group's hyperparameters, in radam_core's form.

        Returns:
            One [`Hyperparameters`][radam_core.Hyperparameters] per group, in order.
        """
        return [self._group_hyperparameters(i, g) for i, g in enumerate(self.param_groups)]

    @property
    def _step_supports_amp_scaling(self) -> bool:
        """Whether torch.amp.GradScaler hands the step its scale rather than unscaling itself.

        When True (no group is ``capturable`` or ``differentiable``), GradScaler sets
        ``grad_scale`` and ``found_inf`` on the optimizer for the call, as for
        ``torch.optim.Adam(fused=True)``: the fused kernel divides the gradients by the scale
        as it reads them (one pass over memory fewer), other steps unscale them in place as
        GradScaler's ``unscale_`` would, and a step with ``found_inf`` set changes nothing.
        """
        return not any(g["capturable"] or g["differentiable"] for g in self.param_groups)

    def _check_step(self, index: int, group: dict[str, Any]) -> Hyperparameters:
        """Raise unless group ``index`` can step; its hyperparameters.

        With ``capturable`` the step counts' values are not read (that would synchronize
        with the device). Under ``torch.compile`` the state is not checked, only the
        groups and gradients: Dynamo runs ``_init_group`` eagerly and then traces the
        step again, which must take the same path through the state both times.
        """
        hp = self._group_hyperparameters(index, group)
        check_state = not torch.compiler.is_compiling()
        fused_devices = functional.fused_kernel_devices() if group["fused"] else []
        amsgrad, read_step = group["amsgrad"], not group["capturable"]  # capturable: no sync
        for position, param in enumerate(group["params"]):
            grad = param.grad
            if grad is None:
                continue
            if grad.is_sparse:
                raise RuntimeError("RAdam does not support sparse gradients")
            if group["fused"]:
                _check_fused_device(param, fused_devices)
            like = (param.shape, param.dtype, param.device)
            if (grad.shape, grad.dtype, grad.device) != like:
                _check_like(_where(index, position), "grad", grad, param)
            entry = self.state.get(param) if check_state else None
            if entry is None or _state_fits(entry, like, amsgrad, read_step):
                continue
            where = _where(index, position)
            if not isinstance(entry, Mapping):
                raise TypeError(f"{where}: its state must be a dict, got {entry!r}")
            _check_state(where, param, entry, amsgrad, read_step)
        return hp

    def _group_hyperparameters(self, index: int, group: dict[str, Any]) -> Hyperparameters:
        """Group ``index``'s hyperparameters, validated in full only when an option changed.

        They are kept with the group's options (every option but ``lr``); a step whose
        group holds other values (written by the user, or after ``add_param_group`` or
        ``load_state_dict``, whose groups are new) validates them again. ``lr``, which
        schedulers change every step, is checked alone
        ([`Hyperparameters.with_lr`][radam_core.Hyperparameters.with_lr]).

        Raises:
            TypeError, ValueError: An invalid option, named with ``param_groups[index]``.
        """
        if torch.compiler.is_compiling():
            return _check_group(index, group)
        options = (tuple(group["betas"]), *_group_options(group))
        kept = self._validated.get(id(group))
        if kept is None or kept[0] is not group or kept[1] != options:
            hp = _check_group(index, group)
            self._validated[id(group)] = (group, options, hp)
            return hp
        hp = kept[2]
        try:
            lr = _group_lr(group)
            if lr is hp.lr or (isinstance(lr, float) and lr == hp.lr):
                return hp
            return hp.with_lr(lr)
        except (TypeError, ValueError) as error:
            raise type(error)(f"param_groups[{index}]: {error}") from None

    def _step_group(
        self, group: dict[str, Any], hp: Hyperparameters, grad_scale: torch.Tensor | None
    ) -> None:
        tensors = GroupTensors([], [], [], [], [], [])
        has_complex = self._init_group(group, *tensors)
        if not tensors.params:
            return
        real = tensors.real_views() if has_complex else tensors
        if group["capturable"] or group["differentiable"] or torch.compiler.is_compiling():
            # Counts stay tensors: no host synchronization, nothing to recompile on.
            for index, step in enumerate(tensors.steps):
                step_count = step.to(torch.int64)
                step.add_(1)
                functional.radam_unchecked(
                    real.select([index]).moments(), step_count, hp, grad_scale=grad_scale
                )
            return
        # One call per step count (each then batched by device and dtype, as torch's fused
        # Adam groups its tensors).
        counts: dict[int, list[int]] = {}
        for index, step in enumerate(tensors.steps):
            counts.setdefault(int(step.item()), []).append(index)
        torch._foreach_add_(tensors.steps, 1)
        for count, indices in counts.items():
            chosen = real if len(counts) == 1 else real.select(indices)
            functional.radam_unchecked(
                chosen.moments(),
                count,
                hp,
                fused=group["fused"] is not False,
                grad_scale=grad_scale,
            )

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
            state = self.state[param]
            if "step" not in state:
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


# A group's options that its hyperparameters depend on, besides lr and betas (a list, which
# may change in place: kept as a tuple).
_OPTION_NAMES = (
    "eps",
    "weight_decay",
    "decoupled_weight_decay",
    "maximize",
    "capturable",
    "differentiable",
    *radam_core.CONVENTION_FIELDS,
)
_group_options = operator.itemgetter(*_OPTION_NAMES)


def _group_lr(group: dict[str, Any]) -> Any:
    """A group's lr for the core: a number, or a 0-d tensor.

    A tensor lr is read on the host (and so checked) where that costs nothing: on the CPU,
    without ``capturable`` or ``differentiable``. Otherwise it stays a 0-d tensor, never
    read: reading it would wait for its device, or cut autograd's graph.
    """
    lr = group["lr"]
    if isinstance(lr, torch.Tensor):
        if lr.numel() != 1:
            raise ValueError(f"Tensor lr must be 1-element, got {lr!r}")
        on_host = lr.device.type == "cpu" and not (group["capturable"] or group["differentiable"])
        return lr.item() if on_host else lr.reshape(())
    return lr


def _hyperparameters(group: dict[str, Any]) -> Hyperparameters:
    """The core's hyperparameters of a parameter group (validated when built)."""
    return Hyperparameters(
        lr=_group_lr(group),
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


_STATE_KEYS = ("step", "exp_avg", "exp_avg_sq")
_MOMENT_KEYS = {False: ("exp_avg", "exp_avg_sq"), True: ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}
_STATE_LABELS = {name: f"state[{name!r}]" for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")}


def _where(index: int, position: int) -> str:
    return f"param_groups[{index}]['params'][{position}]"


def _check_group(index: int, group: dict[str, Any]) -> Hyperparameters:
    """The core's hyperparameters of group ``index``; raise if it cannot step.

    Raises:
        TypeError, ValueError: An invalid option, named with ``param_groups[index]``.
    """
    try:
        return _hyperparameters(group)
    except (TypeError, ValueError) as error:
        raise type(error)(f"param_groups[{index}]: {error}") from None


def _check_fused_device(param: torch.Tensor, devices: list[str]) -> None:
    """torch.optim.Adam's check for ``fused=True`` (complex too: it steps as its real view).

    At the step, as torch.optim.Adam: its test_fused_error_on_params_on_meta builds the
    optimizer on meta parameters and expects the step to raise.

    Args:
        param: A parameter of a group with ``fused=True``.
        devices: [`fused_kernel_devices`][radam_torch.functional.fused_kernel_devices].
    """
    if param.device.type not in devices or not (param.is_floating_point() or param.is_complex()):
        raise RuntimeError(
            "`fused=True` requires all the params to be floating point Tensors of "
            f"supported devices: {devices} but {param.dtype} and {param.device.type}"
        )


def _state_fits(
    state: Any, like: tuple[torch.Size, torch.dtype, torch.device], amsgrad: bool, read_step: bool
) -> bool:
    """Whether ``state`` is a dict holding all of RAdam's entries, each fitting.

    The fast check of every step; where it says no, ``_check_state`` decides (and names
    the fault): empty state is fine, for one.

    Args:
        state: A parameter's state.
        like: The parameter's shape, dtype and device.
        amsgrad: Whether its group uses ``max_exp_avg_sq`` (checked when present).
        read_step: Check the value of ``step`` too (where it is on the CPU).
    """
    if type(state) is not dict:
        return False
    step = state.get("step")
    if not (isinstance(step, torch.Tensor) and step.numel() == 1 and step.is_floating_point()):
        return False
    for name in _MOMENT_KEYS[amsgrad and "max_exp_avg_sq" in state]:
        tensor = state.get(name)
        if (
            not isinstance(tensor, torch.Tensor)
            or (tensor.shape, tensor.dtype, tensor.device) != like
        ):
            return False
    return not (read_step and step.is_cpu) or _is_count(step.item())


def _is_count(value: float) -> bool:
    """Whether a step count read from ``state['step']`` is a whole number >= 0."""
    return value >= 0 and value.is_integer()


def _check_state(
    where: str, param: torch.Tensor, state: Mapping[str, Any], amsgrad: bool, read_step: bool
) -> None:
    """Raise unless ``state`` is empty of RAdam's entries or holds all of them, fitting.

    Args:
        where: The parameter's place, for the messages.
        param: The parameter.
        state: Its state.
        amsgrad: Whether its group uses ``max_exp_avg_sq`` (checked when present).
        read_step: Check the value of ``step`` too (where it is on the CPU).
    """
    if "step" not in state and "exp_avg" not in state and "exp_avg_sq" not in state:
        return
    missing = [name for name in _STATE_KEYS if name not in state]
    if missing:
        raise ValueError(f"{where}: its state lacks {', '.join(missing)}")
    step = state["step"]
    if not isinstance(step, torch.Tensor) or step.numel() != 1 or not step.is_floating_point():
        raise TypeError(
            f"{where}: state['step'] must be a 1-element floating-point tensor (torch's "
            f"format), got {step!r}"
        )
    if read_step and step.is_cpu:
        value = step.item()
        if not _is_count(value):
            raise ValueError(f"{where}: state['step'] must be a whole number >= 0, got {value}")
    names = ["exp_avg", "exp_avg_sq"]
    if amsgrad and "max_exp_avg_sq" in state:
        names.append("max_exp_avg_sq")
    for name in names:
        _check_like(where, _STATE_LABELS[name], state[name], param)


def _check_like(where: str, name: str, tensor: Any, param: torch.Tensor) -> None:
    """Raise unless ``tensor`` is a tensor of the parameter's shape, dtype and device."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(
            f"{where}: {name} must be a tensor, got {type(tensor).__name__}: {tensor!r}"
        )
    if (tensor.shape, tensor.dtype, tensor.device) == (param.shape, param.dtype, param.device):
        return
    for attribute in ("shape", "dtype", "device"):
        value, expected = getattr(tensor, attribute), getattr(param, attribute)
        if value != expected:
            raise ValueError(f"{where}: {name} has {attribute} {value}, expected {expected}")


def _complete(
    groups: list[dict[str, Any]], states: Mapping[Any, Any], defaults: dict[str, Any]
) -> None:
    """Complete loaded groups and states: the core's options, and ``step`` as a tensor.

    Groups saved by torch.optim.RAdam lack the core's options (the defaults fill them);
    older torch checkpoints store ``step`` as a plain number (torch's tensor form then).
    Other values, a user's or a wrapper's, are kept as they are, as torch keeps them.
    """
    for group in groups:
        for name, value in defaults.items():
            group.setdefault(name, value)
    for state in states.values():
        if isinstance(state, dict) and isinstance(state.get("step"), (int, float)):
            state["step"] = torch.tensor(float(state["step"]), dtype=torch.float32)


__all__ = ["RAdam"]
