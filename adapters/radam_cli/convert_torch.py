"""``radam convert``'s torch checkpoints: an optimizer's ``state_dict``, alone or in a dict.

The file is what ``torch.save`` wrote: ``optimizer.state_dict()`` itself, or a dict holding
it under ``"optimizer"``, ``"optimizer_state_dict"`` or, as PyTorch Lightning saves it,
``"optimizer_states"`` (the first optimizer's). It is read with
``torch.load(weights_only=True)``, which runs no code from the file. The state is RAdam's
(radam_torch's or ``torch.optim.RAdam``'s), or Lookahead's around it
([`radam_torch.Ranger`][radam_torch.Ranger], or
[`radam_torch.Lookahead`][radam_torch.Lookahead] around either RAdam): its
``state_dict`` has a ``"lookahead"`` entry (count, k, alpha) and each parameter's slow
weights (``"lookahead_slow"``), which move too. The state of ``torch.optim.Adam``,
``AdamW`` or ``NAdam``, whose slots are named as RAdam's, is refused (its groups have an
option that ``torch.optim.RAdam``'s lack, and not radam_torch's own ``threshold``).

Parameters are named by the ``param_names`` that torch (>= 2.6) saves in each group when the
optimizer was built from ``model.named_parameters()``, else by their positions in the groups:
``"0"``, ``"1"``, ... The state goes through [`radam_torch.RAdam`][radam_torch.RAdam]'s
``load_state_dict`` and [`export_state`][radam_torch.RAdam.export_state] (and back through
[`import_state`][radam_torch.RAdam.import_state] and ``state_dict``), wrapped in
[`radam_torch.Lookahead`][radam_torch.Lookahead] for a Lookahead state, over stand-in
tensors of the state's shapes: the model is not needed. A parameter that has no state yet
(it never stepped, and no slow weights) has no shape in the file, so a checkpoint holding
one is refused.

Written without ``--into``, a snapshot becomes the ``state_dict`` of a
``radam_torch.RAdam`` (a ``radam_torch.Ranger`` for one with Lookahead's state, its k and
alpha the snapshot's). Written ``--into`` a checkpoint, the snapshot must be of the same
kind as its optimizer: Lookahead's state (of the same k) into a Lookahead's checkpoint,
RAdam's alone into RAdam's; the checkpoint keeps its alpha and its groups' options.

A file written here holds each state in C order, since the parameters' layouts are not in a
snapshot: ``load_state_dict`` keeps that order, so the state of a ``channels_last`` (or
transposed) parameter steps on radam_torch's unfused path, equal to the fused one's to float
rounding rather than bit for bit. A complex parameter's state is its real view, shape
``(*shape, 2)``, in a snapshot (torch's convention; a snapshot in optax's, from optax, Keras
or NumPy, is refused). Written ``--into`` a checkpoint whose state gives the parameter's
shape and dtype (one that has stepped, or any Lookahead's, whose slow weights are there from
the start), it goes back in the complex form; elsewhere it stays a real view, which
``load_state_dict`` refuses for the complex parameter.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from radam_torch import Lookahead, RAdam
from radam_torch.lookahead import LOOKAHEAD_KEY, SLOW_KEY

from radam_cli.convert_files import convention_of, first_line, replacing
from radam_core import Snapshot

KEYS = ("optimizer", "optimizer_state_dict", "optimizer_states")
"""Where a checkpoint dict may hold the optimizer's ``state_dict`` (a list under the last)."""
RADAM_TORCH_OPTION = "threshold"
"""An option that radam_torch's groups have and torch's optimizers' do not."""


def read(path: Path) -> Snapshot:
    """The RAdam (or Lookahead) state of the torch checkpoint ``path``.

    Raises:
        ValueError: Not a torch checkpoint, no optimizer ``state_dict`` in it, a parameter
            without state, or a state radam_torch cannot load.
    """
    state_dict = _locate(_load(path), path)[0]
    names = _names(state_dict)
    stand_ins = []
    for name, index in zip(names, _indices(state_dict), strict=True):
        stand_in = _stand_in_of_state(state_dict, index)
        if stand_in is None:
            raise ValueError(
                f"{path}: parameter {name!r} has no state (it never stepped), so its shape "
                "is unknown without the model; export it in Python with "
                "radam_torch.RAdam.export_state(model.named_parameters())"
            )
        stand_ins.append(stand_in)
    optimizer = _optimizer(state_dict, stand_ins, path)
    _load_into(optimizer, state_dict, path)
    return optimizer.export_state(zip(names, stand_ins, strict=True))


def write(snapshot: Snapshot, path: Path, into: Path | None) -> None:
    """Write ``snapshot`` to ``path`` as a torch checkpoint.

    Without ``into``: ``optimizer.state_dict()`` of a radam_torch optimizer with one group
    holding every parameter in the snapshot's order, named by ``param_names``, with the
    snapshot's hyperparameters: a ``RAdam``, or for a snapshot with Lookahead's state a
    ``Lookahead`` around it (``Ranger``'s ``state_dict``) of the snapshot's k and alpha.
    With ``into`` (a checkpoint of the optimizer that will resume): a copy of it whose
    optimizer state is the snapshot's, each parameter placed by its name (``param_names``)
    or else its position; the groups, Lookahead's alpha and the rest of the file are kept.

    Raises:
        ValueError: ``into`` is not a torch checkpoint with an optimizer ``state_dict``, or
            the snapshot does not fit its optimizer (names, shapes, conventions, Lookahead's
            state where it has none or none where it has one, another k).
    """
    if into is None:
        checkpoint: Any = _fresh_state_dict(snapshot)
    else:
        checkpoint = _load(into)
        target, key = _locate(checkpoint, into)
        checkpoint = _placed(checkpoint, key, _imported(snapshot, target, into))
    with replacing(path) as temporary:
        torch.save(checkpoint, temporary)


def _fresh_state_dict(snapshot: Snapshot) -> dict[str, Any]:
    """A radam_torch state_dict of one group holding the snapshot's parameters."""
    hp = snapshot.hyperparameters
    named = [(name, _stand_in(snapshot, name)) for name in snapshot.parameters]
    optimizer: RAdam | Lookahead = RAdam(
        named,
        lr=float(hp.lr),
        betas=(float(hp.betas[0]), float(hp.betas[1])),
        eps=float(hp.eps),
        weight_decay=float(hp.weight_decay),
        decoupled_weight_decay=hp.decoupled_weight_decay,
        maximize=hp.maximize,
        preset=convention_of(hp),
    )
    if snapshot.lookahead is not None:
        optimizer = Lookahead(optimizer, snapshot.lookahead.k, snapshot.lookahead.alpha)
    optimizer.import_state(snapshot, named)
    return optimizer.state_dict()


def _imported(snapshot: Snapshot, target: dict[str, Any], where: Path) -> dict[str, Any]:
    """The state_dict ``target`` with its state (and Lookahead's) replaced by the snapshot's."""
    names = _names(target)
    stand_ins = []
    for name, index in zip(names, _indices(target), strict=True):
        stand_in = _stand_in_of_state(target, index)
        stand_ins.append(_stand_in(snapshot, name) if stand_in is None else stand_in)
    lookahead = _lookahead_entry(target, where)
    inner = {key: value for key, value in target.items() if key != LOOKAHEAD_KEY}
    optimizer = _optimizer(target, stand_ins, where)
    _load_into(optimizer, {**inner, "state": {}}, where)  # the groups' options only
    optimizer.import_state(snapshot, zip(names, stand_ins, strict=True))
    ours = optimizer.state_dict()  # its state keyed by position
    indices = _indices(target)
    state = {indices[position]: entry for position, entry in ours["state"].items()}
    if lookahead is None:
        return {**target, "state": state}
    return {**target, "state": state, LOOKAHEAD_KEY: ours[LOOKAHEAD_KEY]}


def _optimizer(
    state_dict: Mapping[str, Any], stand_ins: list[torch.Tensor], where: Path
) -> RAdam | Lookahead:
    """A RAdam over ``stand_ins`` grouped as in ``state_dict``; in a Lookahead for its state.

    The Lookahead takes the k and alpha of the ``state_dict``'s ``"lookahead"`` entry.

    Raises:
        ValueError: The ``state_dict`` is another optimizer's (see ``_check_is_radam``), or
            its ``"lookahead"`` entry is not Lookahead's.
    """
    _check_is_radam(state_dict, where)
    optimizer = RAdam(_grouped(state_dict, stand_ins))
    lookahead = _lookahead_entry(state_dict, where)
    if lookahead is None:
        return optimizer
    try:
        return Lookahead(optimizer, lookahead.get("k", 6), lookahead.get("alpha", 0.5))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: its {LOOKAHEAD_KEY!r} entry is not Lookahead's: {first_line(error)}"
        ) from None


def _check_is_radam(state_dict: Mapping[str, Any], where: Path) -> None:
    """Raise unless the groups are radam_torch's or ``torch.optim.RAdam``'s.

    Adam's, AdamW's and NAdam's states have RAdam's slots (``exp_avg``, ``exp_avg_sq``),
    which radam_torch would load as RAdam's; their groups have options that
    ``torch.optim.RAdam``'s lack (``amsgrad``, ``fused``, ``momentum_decay``) and not
    radam_torch's own (``threshold``).
    """
    foreign = _options_not_radam_s()
    for index, group in enumerate(state_dict["param_groups"]):
        if RADAM_TORCH_OPTION in group:
            continue
        for option in group:
            if option in foreign:
                raise ValueError(
                    f"{where}: its optimizer state_dict is not RAdam's but, by the option "
                    f"{option!r} of param_groups[{index}], torch.optim.{foreign[option]}'s "
                    "(convert moves RAdam's state, and Lookahead's around RAdam)"
                )


@functools.cache
def _options_not_radam_s() -> dict[str, str]:
    """The options of Adam, AdamW and NAdam that ``torch.optim.RAdam`` lacks, with the class."""
    stand_in = [torch.zeros(1)]
    radam = set(torch.optim.RAdam(stand_in).defaults)
    options: dict[str, str] = {}
    for kind in (torch.optim.Adam, torch.optim.AdamW, torch.optim.NAdam):
        for option in kind(stand_in).defaults:
            if option not in radam:
                options.setdefault(option, kind.__name__)
    return options


def _lookahead_entry(state_dict: Mapping[str, Any], where: Path) -> Mapping[str, Any] | None:
    """The ``state_dict``'s ``"lookahead"`` entry (count, k, alpha), or None without one."""
    entry = state_dict.get(LOOKAHEAD_KEY)
    if entry is not None and not isinstance(entry, Mapping):
        raise ValueError(
            f"{where}: its {LOOKAHEAD_KEY!r} entry is a {type(entry).__name__}, not "
            "Lookahead's {'count', 'k', 'alpha'}"
        )
    return entry


def _stand_in_of_state(state_dict: Mapping[str, Any], index: Any) -> torch.Tensor | None:
    """A tensor of the parameter's shape and dtype, from its state entry; None without one.

    Its ``exp_avg`` gives them, or its slow weights (a Lookahead's, there from the start).
    """
    entry = state_dict["state"].get(index)
    if not isinstance(entry, Mapping):
        return None
    for key in ("exp_avg", SLOW_KEY):
        if isinstance(entry.get(key), torch.Tensor):
            return torch.zeros_like(entry[key])
    return None


def _stand_in(snapshot: Snapshot, name: str) -> torch.Tensor:
    """A tensor of the shape and dtype of the parameter ``name`` in the snapshot.

    A scalar for a name the snapshot lacks: ``import_state`` then names it as missing.
    """
    state = snapshot.parameters.get(name)
    if state is None:
        return torch.zeros(())
    return torch.zeros(state.exp_avg.shape, dtype=torch.from_numpy(state.exp_avg).dtype)


def _grouped(state_dict: Mapping[str, Any], tensors: list[torch.Tensor]) -> list[dict[str, Any]]:
    """``tensors`` cut into the state_dict's parameter groups (``[{"params": ...}, ...]``)."""
    groups, start = [], 0
    for group in state_dict["param_groups"]:
        groups.append({"params": tensors[start : start + len(group["params"])]})
        start += len(group["params"])
    return groups


def _indices(state_dict: Mapping[str, Any]) -> list[Any]:
    """The keys of ``state_dict["state"]`` of its parameters, in the groups' order."""
    return [index for group in state_dict["param_groups"] for index in group["params"]]


def _names(state_dict: Mapping[str, Any]) -> list[str]:
    """Each parameter's name: the groups' ``param_names``, else its position."""
    groups = state_dict["param_groups"]
    if groups and all("param_names" in group for group in groups):
        return [str(name) for group in groups for name in group["param_names"]]
    return [str(position) for position in range(len(_indices(state_dict)))]


def _load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        raise ValueError(
            f"{path} is not a torch checkpoint that torch.load(weights_only=True) reads: "
            f"{_reason(error)}"
        ) from None


def _reason(error: BaseException) -> str:
    """torch.load's reason in one line: the weights-only unpickler's own, where it gave one."""
    _, marker, after = str(error).partition("WeightsUnpickler error:")
    lines = [line.strip() for line in after.splitlines() if line.strip()]
    return lines[0] if marker and lines else first_line(error)


def _locate(checkpoint: Any, path: Path) -> tuple[dict[str, Any], str | None]:
    """The optimizer's state_dict in ``checkpoint``, and its key (None: the top level)."""
    if _is_state_dict(checkpoint):
        return checkpoint, None
    if isinstance(checkpoint, Mapping):
        for key in KEYS:
            found: Any = checkpoint.get(key)
            if key == "optimizer_states" and isinstance(found, list) and found:
                found = found[0]
            if _is_state_dict(found):
                return found, key
    held = (
        f"its keys are {sorted(map(str, checkpoint))}"
        if isinstance(checkpoint, Mapping)
        else f"it holds a {type(checkpoint).__name__}"
    )
    raise ValueError(
        f"{path} holds no optimizer state_dict at the top level or under 'optimizer', "
        f"'optimizer_state_dict' or 'optimizer_states'[0]: {held}"
    )


def _placed(checkpoint: Any, key: str | None, state_dict: dict[str, Any]) -> Any:
    """A copy of ``checkpoint`` with ``state_dict`` where ``_locate`` found the old one."""
    if key is None:
        return state_dict
    if key == "optimizer_states":
        return {**checkpoint, key: [state_dict, *checkpoint[key][1:]]}
    return {**checkpoint, key: state_dict}


def _is_state_dict(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("state"), Mapping)
        and isinstance(value.get("param_groups"), list)
        and all(
            isinstance(group, Mapping) and isinstance(group.get("params"), list)
            for group in value["param_groups"]
        )
    )


def _load_into(optimizer: RAdam | Lookahead, state_dict: Mapping[str, Any], path: Path) -> None:
    kind = (
        "radam_torch.Lookahead(RAdam)" if isinstance(optimizer, Lookahead) else "radam_torch.RAdam"
    )
    try:
        optimizer.load_state_dict(dict(state_dict))
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise ValueError(
            f"{path}: its optimizer state_dict is not one {kind} loads: {first_line(error)}"
        ) from None
