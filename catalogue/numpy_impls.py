"""NumPy optimizers: ``radam_numpy.RAdam`` (in place, block by block) and ``radam_numpy.Ranger``.

With Lookahead: ``radam_numpy.Lookahead(RAdam(...), k, alpha)``, in place too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from catalogue.implementation import RANGER_K, BenchmarkRow, EquivalenceRows, Implementation
from catalogue.stepper import Setup


class NumpyOptimizerStepper:
    """An optimizer over NumPy arrays: ``.params``, and ``.step(grads)`` with the held grads.

    Args:
        setup: The initial parameters (copied) and the configuration.
        make: ``make(params, setup)``: the optimizer over ``params``.
    """

    def __init__(self, setup: Setup, make: Callable[[list[np.ndarray], Setup], Any]) -> None:
        self._optimizer = make([np.array(p, copy=True) for p in setup.initial_params], setup)
        self._grads: list[np.ndarray] = []

    def params(self) -> list[np.ndarray]:
        """Copies of the optimizer's parameters."""
        return [np.array(p, copy=True) for p in self._optimizer.params]

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        """Hold ``grads``."""
        self._grads = grads

    def step(self) -> None:
        """One step of the optimizer."""
        self._optimizer.step(self._grads)


def _radam_numpy(params: list[np.ndarray], setup: Setup) -> Any:
    """``radam_numpy.RAdam`` with the configuration's options, in its Lookahead if any."""
    from radam_numpy import Lookahead, RAdam

    optimizer: Any = RAdam(params, **setup.core_options)
    if setup.lookahead is not None:
        optimizer = Lookahead(optimizer, k=setup.lookahead.k, alpha=setup.lookahead.alpha)
    return optimizer


def _radam_numpy_ranger(params: list[np.ndarray], setup: Setup) -> Any:
    from radam_numpy import Ranger

    return Ranger(params, k=RANGER_K)


RADAM_NUMPY = Implementation(
    lambda setup: NumpyOptimizerStepper(setup, _radam_numpy),
    "numpy",
    requires=("radam_numpy",),
    benchmark=BenchmarkRow("radam_numpy.RAdam", "in place, blocked, threaded (default settings)"),
    equivalence=EquivalenceRows("radam_numpy.RAdam", ("float64",)),
)

RADAM_NUMPY_RANGER = Implementation(
    lambda setup: NumpyOptimizerStepper(setup, _radam_numpy_ranger),
    "numpy",
    requires=("radam_numpy",),
    benchmark=BenchmarkRow(
        "radam_numpy.Ranger",
        f"radam_numpy.Ranger (k={RANGER_K}): one timed step is a whole k-cycle, "
        f"{RANGER_K} optimizer steps and one sync",
        steps_per_timing=RANGER_K,
    ),
)
