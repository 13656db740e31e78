"""The RAdam configurations every implementation runs, in the groups the report shows.

Each configuration is a preset of ``tests/oracle.py`` (the conventions written out from the
peers' sources and the paper) plus options, in the core's (torch's) hyperparameter names.
They use ``betas = (0.9, 0.999)``, the peers' default: rho_5 = 4.996 and rho_6 = 5.994, so
the threshold is crossed at step 5 (the paper's "> 4") or 6 (the others) of every run, the
steps before it take each preset's below-threshold branch, and rho_t sits where float32
arithmetic gets it visibly wrong (the textbook formula's cancellation). The amsgrad
configuration uses ``beta2 = 0.99`` instead, whose v_t forgets within ~100 steps, so that
max(v) departs from v_t during the run (rho_6 = 5.94: still crossed at step 6). The
learning rate is the problem's (:mod:`tests.equivalence.problems`).

The lookahead configurations wrap the RAdam step in Lookahead (Zhang et al. 2019), each
implementation through its framework's wrapper: after every step ``c <- (c + 1) mod k``,
and when ``c == 0``, ``phi <- phi + alpha (theta - phi); theta <- phi`` (``phi_0 =
theta_0``). Their syncs fall before, at and after the threshold: with torch's preset
(first rectified step 6) and k = 5 at steps 5 (the last SGD-momentum step) and 10; with
optax's (also 6) and k = 3 at steps 3, 6 (the first rectified step) and 9. Neither
alpha (0.6, 0.8) is a power of two, so that its float32 rounding and the rounding of
``alpha (theta - phi)`` show (with 0.5 both would be exact; it would also leave the
Rosenbrock parameters short of moving 0.2 in 300 steps).

=============  ==================================================================
group          configurations
=============  ==================================================================
presets        torch, paper, authors, optax, tfa (each preset's own defaults)
weight decay   l2 (torch, g += wd theta), decoupled (torch, theta *= 1 - lr wd on
               every step), authors-decay (decoupled, only on steps that update)
amsgrad        amsgrad (torch + amsgrad, beta2 = 0.99)
nesterov       nesterov (optax + optax's Nesterov momentum)
lookahead      ranger-torch (torch + Lookahead k = 5, alpha = 0.6), ranger-optax
               (optax + Lookahead k = 3, alpha = 0.8)
=============  ==================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tests import oracle

BETAS = (0.9, 0.999)
AMSGRAD_BETAS = (0.9, 0.99)
WEIGHT_DECAY = 0.05

GROUPS: tuple[str, ...] = ("presets", "weight decay", "amsgrad", "nesterov", "lookahead")


@dataclasses.dataclass(frozen=True)
class Lookahead:
    """Lookahead's hyperparameters around the RAdam step.

    Attributes:
        k: The sync period.
        alpha: The slow step size.
    """

    k: int
    alpha: float


@dataclasses.dataclass(frozen=True)
class Config:
    """One RAdam configuration.

    Attributes:
        name: Short name used in the report.
        group: The report group it belongs to (one of :data:`GROUPS`).
        preset: The convention, a key of ``tests.oracle.PRESETS``.
        options: Hyperparameters on top of the preset (core names), without ``lr``.
        lookahead: Lookahead around the RAdam step, or None (RAdam alone).
    """

    name: str
    group: str
    preset: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    lookahead: Lookahead | None = None

    def hyperparameters(self, lr: float) -> dict[str, Any]:
        """Every hyperparameter of this configuration at learning rate ``lr``.

        Returns:
            The oracle's full dict (``lr``, ``betas``, ``eps``, ``weight_decay``, ...).
        """
        return oracle.resolve(self.preset, **{"lr": lr, "betas": BETAS, **self.options})

    def option(self, name: str) -> Any:
        """The resolved value of one hyperparameter (learning rate excluded)."""
        return self.hyperparameters(1.0)[name]


CONFIGS: tuple[Config, ...] = (
    Config("torch", "presets", "torch"),
    Config("paper", "presets", "paper"),
    Config("authors", "presets", "authors"),
    Config("optax", "presets", "optax"),
    Config("tfa", "presets", "tfa"),
    Config("l2", "weight decay", "torch", {"weight_decay": WEIGHT_DECAY}),
    Config(
        "decoupled",
        "weight decay",
        "torch",
        {"weight_decay": WEIGHT_DECAY, "decoupled_weight_decay": True},
    ),
    Config("authors-decay", "weight decay", "authors", {"weight_decay": WEIGHT_DECAY}),
    Config("amsgrad", "amsgrad", "torch", {"amsgrad": True, "betas": AMSGRAD_BETAS}),
    Config("nesterov", "nesterov", "optax", {"nesterov": True}),
    Config("ranger-torch", "lookahead", "torch", lookahead=Lookahead(k=5, alpha=0.6)),
    Config("ranger-optax", "lookahead", "optax", lookahead=Lookahead(k=3, alpha=0.8)),
)

CONFIGS_BY_NAME: dict[str, Config] = {config.name: config for config in CONFIGS}


def configs_in(group: str) -> tuple[Config, ...]:
    """The configurations of one report group, in order."""
    return tuple(config for config in CONFIGS if config.group == group)
