"""radam_torch's state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot], and back.

Parameters are named as ``model.named_parameters()`` names them. Each parameter's count is its
``state["step"]`` (0 for one that has not stepped), its arrays ``exp_avg``, ``exp_avg_sq`` (and
``max_exp_avg_sq``) on the host. Two of torch's layouts are written in the neutral form: a
bfloat16 state as float32 (exactly: every bfloat16 is a float32), read back as bfloat16; a
complex state as its real view, shape ``(*shape, 2)`` (torch's convention for complex
parameters). A state in channels_last (or any) layout is written in C order and read back into
the parameter's layout. Around [`Lookahead`][radam_torch.Lookahead] (Ranger), each parameter's slow
weights are written in the same forms, with Lookahead's k, alpha and count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

import radam_core
from radam_core import Hyperparameters, LookaheadPosition, ParameterState, Snapshot

if TYPE_CHECKING:
    from radam_torch.lookahead import Lookahead


def export_state(
    optimizer: torch.optim.Optimizer,
    named_parameters: Iterable[tuple[str, torch.Tensor]],
    hyperparameters: Hyperparameters,
    lookahead: Lookahead | None = None,
) -> Snapshot:
    """The optimizer's state as a snapshot keyed by the parameters' names (host copies).

    Args:
        optimizer: A radam_torch optimizer.
        named_parameters: ``(name, parameter)`` pairs, e.g. ``model.named_parameters()``;
            every parameter of the optimizer must be among them (others are ignored).
        hyperparameters: The hyperparameters to record (the first group's).
        lookahead: The Lookahead around ``optimizer``, whose slow weights and position the
            snapshot then holds too.

    Returns:
        The [`Snapshot`][radam_core.snapshot.Snapshot], parameters in the groups' order.

    Raises:
        ValueError: A parameter of the optimizer without a name.
    """
    names = _names(optimizer, named_parameters)
    parameters = {}
    for param, name in names.items():
        state = optimizer.state.get(param, {})
        if "step" not in state:
            zeros = _neutral(torch.zeros_like(param))
            parameters[name] = ParameterState(
                0, zeros, zeros.copy(), zeros.copy() if hyperparameters.amsgrad else None
            )
            continue
        max_v = state.get("max_exp_avg_sq")
        parameters[name] = ParameterState(
            int(state["step"].item()),
            _neutral(state["exp_avg"]),
            _neutral(state["exp_avg_sq"]),
            None if max_v is None else _neutral(max_v),
        )
    snapshot = Snapshot(_hosted(hyperparameters), parameters)
    if lookahead is None:
        return snapshot
    slow = lookahead.lookahead_state["slow"]
    position = LookaheadPosition(lookahead.k, lookahead.alpha, lookahead.lookahead_state["count"])
    return snapshot.with_lookahead(
        position, {name: _neutral(slow[param]) for param, name in names.items()}
    )


def import_state(
    optimizer: torch.optim.Optimizer,
    snapshot: Snapshot,
    named_parameters: Iterable[tuple[str, torch.Tensor]],
    group_hyperparameters: list[Hyperparameters],
    lookahead: Lookahead | None = None,
) -> None:
    """Replace the optimizer's state with the snapshot's; all or nothing.

    Args:
        optimizer: A radam_torch optimizer.
        snapshot: The snapshot.
        named_parameters: As for [`export_state`][radam_torch.snapshot.export_state].
        group_hyperparameters: Each group's hyperparameters; their conventions must agree
            with each other and with the snapshot's.
        lookahead: The Lookahead around ``optimizer``: its slow weights and count are
            replaced too (its k must be the snapshot's; alpha stays its own).

    Raises:
        ValueError: A parameter without a name, groups of different conventions, or a
            snapshot that does not fit (names, shapes, dtypes, conventions, Lookahead's
            state); nothing changed.
    """
    names = _names(optimizer, named_parameters)
    first, *others = group_hyperparameters
    for index, hp in enumerate(others, 1):
        differing = [f for f in radam_core.CONVENTION_FIELDS if getattr(hp, f) != getattr(first, f)]
        if differing:
            raise ValueError(
                f"param_groups[{index}] differs from param_groups[0] in {differing}; a "
                "snapshot holds one convention"
            )
    k = None if lookahead is None else lookahead.k
    snapshot.check({name: _neutral_form(param) for param, name in names.items()}, first, k=k)
    states, slow = {}, {}
    for group in optimizer.param_groups:
        for param in group["params"]:
            saved = snapshot.parameters[names[param]]
            state: dict[str, Any] = {
                "step": torch.tensor(
                    float(saved.count),
                    dtype=torch.float32,
                    device=param.device if group["capturable"] else None,
                )
            }
            for slot, array in saved.slots().items():
                tensor = torch.empty_like(param, memory_format=torch.preserve_format)
                view = torch.view_as_real(tensor) if tensor.is_complex() else tensor
                view.copy_(torch.from_numpy(array))
                state[slot] = tensor
            if "slow" in state:
                slow[param] = state.pop("slow")
            states[param] = state
    for param, state in states.items():
        optimizer.state[param] = state
    if lookahead is not None and snapshot.lookahead is not None:
        lookahead.lookahead_state = {"count": snapshot.lookahead.count, "slow": slow}


def _names(
    optimizer: torch.optim.Optimizer, named_parameters: Iterable[tuple[str, torch.Tensor]]
) -> dict[torch.Tensor, str]:
    """Each of the optimizer's parameters with its name, in the groups' order."""
    by_id = {id(param): name for name, param in named_parameters}
    names = {}
    for index, group in enumerate(optimizer.param_groups):
        for position, param in enumerate(group["params"]):
            if id(param) not in by_id:
                raise ValueError(
                    f"param_groups[{index}]['params'][{position}] (shape "
                    f"{tuple(param.shape)}) is not among named_parameters"
                )
            names[param] = by_id[id(param)]
    return names


def _neutral(tensor: torch.Tensor) -> np.ndarray:
    """A host NumPy copy of a state tensor: bfloat16 as float32, complex as its real view."""
    tensor = tensor.detach()
    if tensor.is_complex():
        tensor = torch.view_as_real(tensor)
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.cpu().contiguous().numpy().copy()


def _neutral_form(param: torch.Tensor) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype of a parameter's state in a snapshot (see the module)."""
    dtype = param.dtype.to_real()  # complex: its real view's
    dtype = torch.float32 if dtype == torch.bfloat16 else dtype
    shape = (*param.shape, 2) if param.is_complex() else tuple(param.shape)
    return shape, np.dtype(str(dtype).removeprefix("torch."))


def _hosted(hyperparameters: Hyperparameters) -> Hyperparameters:
    """The hyperparameters with a tensor lr as the float it holds."""
    lr = hyperparameters.lr
    if isinstance(lr, torch.Tensor):
        return dataclasses.replace(hyperparameters, lr=float(lr.item()))
    return hyperparameters
