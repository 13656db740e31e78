"""``radam_numpy.RAdam``: in place over NumPy arrays, block by block."""

from __future__ import annotations

import numpy as np

from tests.equivalence.implementations.base import Implementation, Setup


class RadamNumpyStepper:
    """``radam_numpy.RAdam(params, preset=..., **options).step(grads)``."""

    def __init__(self, setup: Setup) -> None:
        from radam_numpy import RAdam

        self._params = [np.array(p, copy=True) for p in setup.initial_params]
        self._optimizer = RAdam(self._params, **setup.core_options)

    def params(self) -> list[np.ndarray]:
        """Copies of the arrays the optimizer updates in place."""
        return [p.copy() for p in self._params]

    def step(self, grads: list[np.ndarray]) -> None:
        """One in-place step."""
        self._optimizer.step(grads)


IMPLEMENTATIONS: tuple[Implementation, ...] = (
    Implementation(
        "radam_numpy.RAdam", "numpy", "float64", RadamNumpyStepper, requires=("radam_numpy",)
    ),
)
