"""``Lookahead`` around any ``torch.optim.Optimizer``, and ``Ranger`` = Lookahead(RAdam).

The math is [`radam_core.lookahead`][radam_core.lookahead] (Zhang et al. 2019), applied with
array_api_compat's torch namespace and copied back in place: after every inner step
``c <- (c + 1) mod k``; when ``c == 0``, ``phi <- phi + alpha (theta - phi)`` and
``theta <- phi``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim.optimizer import Optimizer, ParamsT

from radam_core import Snapshot
from radam_core.for_adapters import advance_lookahead, check_lookahead
from radam_torch import snapshot
from radam_torch.kernels import sync_slow_weights
from radam_torch.optimizer import RAdam

SLOW_KEY = "lookahead_slow"  # each parameter's phi in state_dict()["state"][index]
LOOKAHEAD_KEY = "lookahead"  # state_dict()["lookahead"]: count, k, alpha
_SHARED = ("param_groups", "state", "defaults")  # the inner optimizer's, through properties


class Lookahead(Optimizer):
    """Lookahead (Zhang et al. 2019) around any ``torch.optim.Optimizer``.

    The inner optimizer updates the parameters (the fast weights theta) on every step; the
    wrapper keeps slow weights phi (``phi_0 = theta_0``, one parameter-sized tensor per
    parameter, created here) and after every inner step applies
    [`radam_core.lookahead_step`][radam_core.lookahead_step]'s rule:

        c <- (c + 1) mod k;   if c == 0:  phi <- phi + alpha (theta - phi);  theta <- phi

    ``param_groups``, ``state``, ``defaults`` and ``zero_grad`` are the inner optimizer's
    (an ``lr_scheduler`` drives it through the wrapper); the slow weights and the count
    live in ``lookahead_state``. [`state_dict`][radam_torch.lookahead.Lookahead.state_dict] is the
    inner optimizer's with each parameter's phi added to its state entry (``"lookahead_slow"``) and
    a ``"lookahead"`` entry (``count``, the step within the k-cycle, ``k`` and ``alpha``), so a
    checkpoint taken in the middle of a k-cycle resumes exactly.

    The wrapper is set up by ``torch.optim.Optimizer.__init__``, as any torch optimizer is, and
    leaves the inner optimizer as it was: its parameter groups (the same dicts), its state (an
    optimizer that has already stepped keeps its moments), its defaults and its hooks. Step
    hooks registered on the wrapper (``register_step_pre_hook``, ``register_step_post_hook``)
    are its own and run around the whole step, the inner step and the sync; the inner
    optimizer's run around the inner step. ``state_dict`` and ``load_state_dict`` are
    Lookahead's own, which call the inner optimizer's (and so its hooks), not the wrapper's
    hooks.

    Example:
        >>> model = torch.nn.Linear(4, 1)
        >>> opt = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), k=5, alpha=0.5)

    Args:
        optimizer: The inner optimizer.
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, in ``[0, 1]``.

    Attributes:
        optimizer: The inner optimizer.
        k: The sync period.
        alpha: The slow step size.
        lookahead_state: ``{"count": int, "slow": {param: phi}}``.

    Raises:
        TypeError, ValueError: Invalid ``k`` or ``alpha`` (named with its value), or an
            ``optimizer`` that is not a ``torch.optim.Optimizer``.
    """

    def __init__(self, optimizer: Optimizer, k: int = 6, alpha: float = 0.5) -> None:
        check_lookahead(k, alpha)
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.k, self.alpha = int(k), float(alpha)
        self.lookahead_state: dict[str, Any] = {"count": 0, "slow": {}}
        # torch's base class sets itself up (hooks, profiling names, ...). It runs before the
        # inner optimizer is attached, so the param_groups, state and defaults it assigns are
        # the wrapper's own until then (see _get_shared), and are dropped once it is: the
        # inner optimizer's are left as they were.
        super().__init__(optimizer.param_groups, optimizer.defaults)
        for name in _SHARED:
            self.__dict__.pop(name, None)
        self.optimizer = optimizer
        self._add_slow()

    # The inner optimizer's attributes, shared (never copied: its load_state_dict rebinds them).
    # Before the inner optimizer is attached, while Optimizer.__init__ runs, they are the
    # wrapper's own, in its __dict__.
    def _get_shared(self, name: str) -> Any:
        inner = self.__dict__.get("optimizer")
        return self.__dict__[name] if inner is None else getattr(inner, name)

    def _set_shared(self, name: str, value: Any) -> None:
        inner = self.__dict__.get("optimizer")
        if inner is None:
            self.__dict__[name] = value
        else:
            setattr(inner, name, value)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The inner optimizer's parameter groups."""
        return self._get_shared("param_groups")

    @param_groups.setter
    def param_groups(self, value: list[dict[str, Any]]) -> None:
        self._set_shared("param_groups", value)

    @property
    def state(self) -> Any:
        """The inner optimizer's per-parameter state."""
        return self._get_shared("state")

    @state.setter
    def state(self, value: Any) -> None:
        self._set_shared("state", value)

    @property
    def defaults(self) -> dict[str, Any]:
        """The inner optimizer's defaults."""
        return self._get_shared("defaults")

    @defaults.setter
    def defaults(self, value: dict[str, Any]) -> None:
        self._set_shared("defaults", value)

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and deepcopy: everything but a patched ``step`` (an lr_scheduler's)."""
        state = dict(self.__dict__)
        state.pop("step", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle (or deepcopy), by ``torch.optim.Optimizer.__setstate__``."""
        super().__setstate__(state)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(k={self.k}, alpha={self.alpha}, optimizer={self.optimizer!r})"
        )

    def _add_slow(self) -> None:
        """Create phi = theta for every parameter that has none yet."""
        slow = self.lookahead_state["slow"]
        with torch.no_grad():
            for group in self.optimizer.param_groups:
                for param in group["params"]:
                    if param not in slow:
                        slow[param] = param.detach().clone()

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the inner optimizer; its parameters' phi start as their values.

        Args:
            param_group: ``params`` and the inner optimizer's options.
        """
        if "optimizer" not in self.__dict__:
            # From Optimizer.__init__: one of the inner optimizer's groups, which it has
            # already added and checked; the wrapper lists it as it is, until it is attached.
            self.param_groups.append(param_group)
            return
        self.optimizer.add_param_group(param_group)
        self._add_slow()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The inner optimizer's ``zero_grad``."""
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One inner step, then Lookahead's count and, every k steps, a sync.

        Args:
            closure: Reevaluates the model and returns the loss (passed to the inner step).

        Returns:
            The inner step's result (the closure's loss, or None).
        """
        loss = self.optimizer.step() if closure is None else self.optimizer.step(closure)
        count, sync = advance_lookahead(self.lookahead_state["count"], self.k)
        self.lookahead_state["count"] = count
        if sync:
            self._sync()
        return loss

    @torch.no_grad()
    def _sync(self) -> None:
        """Sync: ``phi <- phi + alpha (theta - phi); theta <- phi`` by the core, in blocks."""
        slow = self.lookahead_state["slow"]
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        sync_slow_weights([p.detach() for p in params], [slow[p] for p in params], self.alpha)

    def state_dict(self) -> dict[str, Any]:
        """The inner optimizer's state dict, with Lookahead's phi, count, k and alpha.

        Returns:
            ``{"state": {index: {..., "lookahead_slow": phi}}, "param_groups": [...],
            "lookahead": {"count": c, "k": k, "alpha": alpha}}``, with the inner
            optimizer's indices.
        """
        inner = self.optimizer.state_dict()
        slow = self.lookahead_state["slow"]
        states = dict(inner["state"])
        for saved, group in zip(inner["param_groups"], self.optimizer.param_groups, strict=True):
            for index, param in zip(saved["params"], group["params"], strict=True):
                states[index] = {**states.get(index, {}), SLOW_KEY: slow[param]}
        return {
            **inner,
            "state": states,
            LOOKAHEAD_KEY: {
                "count": self.lookahead_state["count"],
                "k": self.k,
                "alpha": self.alpha,
            },
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a [`state_dict`][radam_torch.lookahead.Lookahead.state_dict].

        phi, the count, k and alpha are restored too.

        A state dict of the inner optimizer alone (no ``"lookahead"`` entry) is loaded into
        it and phi restarts from the current parameters, at count 0.

        Raises:
            ValueError: Missing or mismatched slow weights, or an invalid count, k or
                alpha; nothing has changed then.
        """
        saved_lookahead = state_dict.get(LOOKAHEAD_KEY)
        slow: dict[torch.Tensor, torch.Tensor] = {}
        inner_states = {}
        for index, entry in state_dict["state"].items():
            rest = {name: value for name, value in entry.items() if name != SLOW_KEY}
            if rest:
                inner_states[index] = rest
        if saved_lookahead is not None:
            k, alpha = saved_lookahead.get("k", self.k), saved_lookahead.get("alpha", self.alpha)
            check_lookahead(k, alpha)
            count = saved_lookahead["count"]
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"lookahead count must be an int >= 0, got {count!r}")
            groups = zip(state_dict["param_groups"], self.optimizer.param_groups, strict=False)
            for saved, group in groups:
                for index, param in zip(saved["params"], group["params"], strict=False):
                    value = state_dict["state"].get(index, {}).get(SLOW_KEY)
                    if not isinstance(value, torch.Tensor) or value.shape != param.shape:
                        got = getattr(value, "shape", value)
                        raise ValueError(
                            f"loaded state of parameter {index} has no {SLOW_KEY!r} of shape "
                            f"{tuple(param.shape)}, got {got}"
                        )
                    slow[param] = value.to(device=param.device, dtype=param.dtype, copy=True)
        inner = {name: value for name, value in state_dict.items() if name != LOOKAHEAD_KEY}
        self.optimizer.load_state_dict({**inner, "state": inner_states})
        if saved_lookahead is None:
            self.lookahead_state = {"count": 0, "slow": {}}
        else:
            self.k, self.alpha = int(k), float(alpha)
            self.lookahead_state = {"count": count, "slow": slow}
        self._add_slow()

    def export_state(self, named_parameters: Iterable[tuple[str, torch.Tensor]]) -> Snapshot:
        """The state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot].

        The inner [`RAdam`][radam_torch.RAdam]'s snapshot, with each parameter's phi and
        Lookahead's k, alpha and count; any adapter's Lookahead resumes from it.

        Args:
            named_parameters: ``model.named_parameters()``: a name for every parameter.

        Returns:
            The snapshot (host copies).

        Raises:
            TypeError: The inner optimizer is not a radam_torch ``RAdam``.
        """
        inner = self._radam()
        hyperparameters = inner.group_hyperparameters()[0]
        return snapshot.export_state(inner, named_parameters, hyperparameters, lookahead=self)

    def import_state(
        self, state: Snapshot, named_parameters: Iterable[tuple[str, torch.Tensor]]
    ) -> None:
        """Resume from a Lookahead [`Snapshot`][radam_core.snapshot.Snapshot]; all or nothing.

        The inner optimizer's state, phi and the count come from the snapshot; k must be this
        optimizer's, and alpha and the groups' hyperparameters stay this optimizer's.

        Args:
            state: From any adapter's Lookahead (or Ranger) ``export_state``.
            named_parameters: ``model.named_parameters()``, as when it was exported.

        Raises:
            TypeError: The inner optimizer is not a radam_torch ``RAdam``.
            ValueError: A snapshot that does not fit (as
                [`RAdam.import_state`][radam_torch.RAdam.import_state], or without Lookahead's
                state, or of another k); nothing changed.
        """
        inner = self._radam()
        hyperparameters = inner.group_hyperparameters()
        snapshot.import_state(inner, state, named_parameters, hyperparameters, lookahead=self)

    def _radam(self) -> RAdam:
        """The inner optimizer, which must be a radam_torch ``RAdam`` to move its state."""
        if not isinstance(self.optimizer, RAdam):
            raise TypeError(
                "only a Lookahead around radam_torch.RAdam has a portable state, not around "
                f"{type(self.optimizer).__name__}"
            )
        return self.optimizer


class Ranger(Lookahead):
    """Ranger: ``Lookahead(radam_torch.RAdam(params, lr, **radam_kwargs), k, alpha)``.

    Each step is a RAdam step ([`radam_core.step`][radam_core.step.step], torch's convention unless
    a ``preset`` says otherwise), and every ``k`` steps
    ``phi <- phi + alpha (theta - phi); theta <- phi``.

    Args:
        params: Tensors, named parameters, or parameter groups.
        lr: Learning rate.
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, in ``[0, 1]``.
        **radam_kwargs: [`radam_torch.RAdam`][radam_torch.RAdam]'s other arguments.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float | torch.Tensor = 1e-3,
        k: int = 6,
        alpha: float = 0.5,
        **radam_kwargs: Any,
    ) -> None:
        check_lookahead(k, alpha)
        super().__init__(RAdam(params, lr=lr, **radam_kwargs), k, alpha)


__all__ = ["Lookahead", "Ranger"]
