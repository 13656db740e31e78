"""What every implementation is built from, and the one interface it is stepped through."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np


class Stepper(Protocol):
    """One optimizer instance over one set of parameters.

    The equivalence harness sets new gradients before every step; the benchmark sets its
    fixed gradients once and then times ``step`` alone.
    """

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        """Hold ``grads`` (NumPy, in the parameters' dtype) for the steps that follow."""

    def step(self) -> None:
        """Take one step with the held gradients; return once the new parameters exist.

        An asynchronous device is waited for.
        """

    def params(self) -> list[np.ndarray]:
        """Copies of the current parameters as NumPy arrays, in the parameters' dtype."""


class LookaheadSettings(Protocol):
    """Lookahead's hyperparameters around the RAdam step."""

    @property
    def k(self) -> int:
        """The sync period."""

    @property
    def alpha(self) -> float:
        """The slow step size."""


class Configuration(Protocol):
    """One RAdam configuration, as the equivalence harness describes it.

    ``tests.equivalence.configs.Config`` is one.
    """

    @property
    def name(self) -> str:
        """Its short name."""

    @property
    def preset(self) -> str:
        """Its convention, a preset name of ``radam_core``."""

    @property
    def options(self) -> Mapping[str, Any]:
        """Hyperparameters on top of the preset (the core's names), without ``lr``."""

    @property
    def lookahead(self) -> LookaheadSettings | None:
        """Lookahead around the RAdam step, or None."""

    def option(self, name: str) -> Any:
        """The resolved value of one hyperparameter (learning rate excluded)."""


@dataclasses.dataclass(frozen=True)
class Setup:
    """What an implementation is built from.

    Attributes:
        initial_params: The starting parameters (NumPy, in the dtype to run in); a
            builder copies them.
        config: The configuration to run; None for the implementation's own defaults
            (what the benchmark times).
        hyperparameters: The configuration's full hyperparameters (``lr``, ``betas``,
            ``eps``, ...); empty without a configuration.
        device: Where to run: ``"cpu"``, or a torch device such as ``"cuda"``.
        jit_compile: Compile the step with XLA where the framework leaves it optional
            (TensorFlow's ``tf.function(jit_compile=True)``, what Keras's ``fit`` does
            by default): the benchmark times that path; the equivalence checks the
            graph without XLA, whose float32 rounding is TensorFlow's own kernels'.
    """

    initial_params: list[np.ndarray]
    config: Configuration | None = None
    hyperparameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    device: str = "cpu"
    jit_compile: bool = False

    @property
    def core_options(self) -> dict[str, Any]:
        """``radam_core.step``'s keywords for the configuration, lr included ({} if none)."""
        if self.config is None:
            return {}
        return {
            "preset": self.config.preset,
            "lr": self.hyperparameters["lr"],
            "betas": self.hyperparameters["betas"],
            **self.config.options,
        }

    @property
    def lookahead(self) -> LookaheadSettings | None:
        """The configuration's Lookahead, or None (also without a configuration)."""
        return None if self.config is None else self.config.lookahead
