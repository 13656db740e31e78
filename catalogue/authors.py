"""The authors' published RAdam algorithm (Liu et al.'s ``RAdam`` class), as a peer golden.

Written here from the algorithm's formulas in NumPy float64 (the paper's Algorithm 2 and
the authors' published class), not from
radam_core, as the authors' class computes each step:

    v = b2 v + (1 - b2) g^2;   m = b1 m + (1 - b1) g;   t += 1
    N_sma_max = 2 / (1 - b2) - 1;   N_sma = N_sma_max - 2 t b2^t / (1 - b2^t)
    N_sma >= 5:  step_size = sqrt((1 - b2^t) (N_sma - 4) / (N_sma_max - 4)
                                  (N_sma - 2) / N_sma  N_sma_max / (N_sma_max - 2)) / (1 - b1^t)
                 p = p - wd lr p                                (weight decay, if any)
                 p = p - step_size lr m / (sqrt(v) + eps)
    otherwise:   no parameter change (degenerated_to_sgd=False, the authors' default);
                 with degenerated_to_sgd, step_size = 1 / (1 - b1^t) and
                 p = p - wd lr p;  p = p - step_size lr m

Weight decay is decoupled and applied only on the steps that update the parameters. Only
the "authors" convention maps onto it (the presets group's ``authors`` and the weight
decay group's ``authors-decay``); the class has no Lookahead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from catalogue.implementation import EquivalenceRows, Implementation, only, without_lookahead
from catalogue.numpy_impls import NumpyOptimizerStepper
from catalogue.stepper import Setup


class AuthorsRAdam:
    """The authors' RAdam over float64 NumPy arrays.

    Args:
        params: The initial parameters (copied, as float64).
        hyperparameters: The configuration's ``lr``, ``betas``, ``eps`` and
            ``weight_decay``.
        degenerated_to_sgd: Take SGD-with-momentum steps below N_sma = 5 (the authors'
            option; their default is False, no update).

    Attributes:
        params: The current parameters (replaced by new arrays on each update).
    """

    def __init__(
        self,
        params: list[np.ndarray],
        hyperparameters: Mapping[str, Any],
        degenerated_to_sgd: bool = False,
    ) -> None:
        hp = hyperparameters
        self.lr, (self.beta1, self.beta2) = float(hp["lr"]), hp["betas"]
        self.eps, self.weight_decay = float(hp["eps"]), float(hp["weight_decay"])
        self.degenerated_to_sgd = degenerated_to_sgd
        self.params = [np.array(p, dtype=np.float64) for p in params]
        self._exp_avg = [np.zeros_like(p) for p in self.params]
        self._exp_avg_sq = [np.zeros_like(p) for p in self.params]
        self._step = 0

    def step(self, grads: list[np.ndarray]) -> None:
        """One step of the authors' algorithm."""
        beta1, beta2, lr = self.beta1, self.beta2, self.lr
        for i, grad in enumerate(grads):
            self._exp_avg_sq[i] = beta2 * self._exp_avg_sq[i] + (1 - beta2) * grad * grad
            self._exp_avg[i] = beta1 * self._exp_avg[i] + (1 - beta1) * grad
        self._step += 1
        t = self._step
        beta2_t = beta2**t
        n_sma_max = 2 / (1 - beta2) - 1
        n_sma = n_sma_max - 2 * t * beta2_t / (1 - beta2_t)
        if n_sma >= 5:
            step_size = math.sqrt(
                (1 - beta2_t)
                * (n_sma - 4)
                / (n_sma_max - 4)
                * (n_sma - 2)
                / n_sma
                * n_sma_max
                / (n_sma_max - 2)
            ) / (1 - beta1**t)
        elif self.degenerated_to_sgd:
            step_size = 1.0 / (1 - beta1**t)
        else:
            return
        for i, p in enumerate(self.params):
            if self.weight_decay != 0:
                p = p + p * (-self.weight_decay * lr)
            if n_sma >= 5:
                p = p - step_size * lr * self._exp_avg[i] / (
                    np.sqrt(self._exp_avg_sq[i]) + self.eps
                )
            else:
                p = p - step_size * lr * self._exp_avg[i]
            self.params[i] = p


def authors_stepper(setup: Setup) -> NumpyOptimizerStepper:
    """The authors' RAdam with the configuration's hyperparameters."""
    return NumpyOptimizerStepper(setup, lambda params, s: AuthorsRAdam(params, s.hyperparameters))


AUTHORS = Implementation(
    authors_stepper,
    "numpy",
    equivalence=EquivalenceRows(
        "peer: authors' RAdam (NumPy)",
        ("float64",),
        peer=True,
        supports=without_lookahead(
            "the authors' RAdam class has no Lookahead",
            only(
                "authors",
                "authors-decay",
                reason="the authors' class has one convention: rectify when N_sma >= 5, "
                "else no update; decoupled decay on updating steps",
            ),
        ),
    ),
)
