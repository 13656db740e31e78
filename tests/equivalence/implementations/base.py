"""What an implementation row is: how to build it, what it needs, what it supports."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from tests.equivalence.configs import Config


class Stepper(Protocol):
    """One optimizer instance over one problem's parameters."""

    def params(self) -> list[np.ndarray]:
        """The current parameters as NumPy arrays (in the implementation's dtype)."""

    def step(self, grads: list[np.ndarray]) -> None:
        """Take one step with ``grads`` (NumPy arrays already in the implementation's dtype)."""


@dataclasses.dataclass(frozen=True)
class Setup:
    """What an implementation is built from.

    Attributes:
        initial_params: The starting parameters in the implementation's dtype (NumPy).
        config: The configuration.
        hyperparameters: Its full hyperparameter dict at the problem's learning rate
            (``tests.oracle.resolve`` names: ``lr``, ``betas``, ``eps``, ...).
        device: ``"cpu"`` or ``"cuda"``.
    """

    initial_params: list[np.ndarray]
    config: Config
    hyperparameters: dict[str, Any]
    device: str

    @property
    def core_options(self) -> dict[str, Any]:
        """``preset=`` and the config's options, as ``radam_core.step`` takes them (with lr)."""
        return {
            "preset": self.config.preset,
            "lr": self.hyperparameters["lr"],
            "betas": self.hyperparameters["betas"],
            **self.config.options,
        }


def supports_all(config: Config) -> str | None:
    """Every configuration is supported."""
    return None


def available_everywhere(device: str) -> str | None:
    """The implementation can run on any device it lists."""
    return None


@contextlib.contextmanager
def no_context() -> Iterator[None]:
    """Nothing to set up around a run."""
    yield


@dataclasses.dataclass(frozen=True)
class Implementation:
    """One row family of the report: an optimizer implementation in one dtype.

    Attributes:
        name: The name in the report, e.g. ``"radam_torch.RAdam fast"``.
        worker: The worker process that runs it (see :mod:`tests.equivalence.registry`).
        dtype: ``"float64"`` or ``"float32"``: parameters, gradients and state.
        build: ``build(setup)``: a fresh :class:`Stepper`.
        requires: Modules it imports; a missing one makes its rows SKIP.
        devices: Devices it runs on (``"cpu"``, ``"cuda"``).
        peer: A reference implementation from outside the project (a golden).
        supports: ``supports(config)``: None, or why the configuration does not map.
        device_check: ``device_check(device)``: None, or why it cannot run there now.
        context: Entered around each configuration's run (e.g. JAX's x64 mode).
    """

    name: str
    worker: str
    dtype: str
    build: Callable[[Setup], Stepper]
    requires: tuple[str, ...] = ()
    devices: tuple[str, ...] = ("cpu",)
    peer: bool = False
    supports: Callable[[Config], str | None] = supports_all
    device_check: Callable[[str], str | None] = available_everywhere
    context: Callable[[], contextlib.AbstractContextManager[Any]] = no_context

    def missing_requirement(self) -> str | None:
        """The first required module that cannot be imported here, or None."""
        for module in self.requires:
            if not is_installed(module):
                return module
        return None


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported (a bare namespace directory does not count).

    ``tests/keras`` on ``sys.path`` (pytest's rootdir insertion) would otherwise pass for
    an installed ``keras``.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "namespace")


def only(*names: str, reason: str) -> Callable[[Config], str | None]:
    """A ``supports`` that accepts the named configurations and gives ``reason`` otherwise."""

    def supports(config: Config) -> str | None:
        return None if config.name in names else reason

    return supports


def without_lookahead(
    reason: str, supports: Callable[[Config], str | None] = supports_all
) -> Callable[[Config], str | None]:
    """A ``supports`` that gives ``reason`` for Lookahead configurations, else ``supports``'s."""

    def supports_without_lookahead(config: Config) -> str | None:
        return reason if config.lookahead is not None else supports(config)

    return supports_without_lookahead
