"""``radam_numpy.RAdam``: in place over NumPy arrays, block by block.

With Lookahead: ``radam_numpy.Lookahead(RAdam(...), k, alpha)``, in place too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.equivalence.implementations.base import Implementation, Setup


class RadamNumpyStepper:
    """``radam_numpy.RAdam(params, preset=..., **options).step(grads)``, in Lookahead if any."""

    def __init__(self, setup: Setup) -> None:
        from radam_numpy import Lookahead, RAdam

        self._params = [np.array(p, copy=True) for p in setup.initial_params]
        self._optimizer: Any = RAdam(self._params, **setup.core_options)
        lookahead = setup.config.lookahead
        if lookahead is not None:
            self._optimizer = Lookahead(self._optimizer, k=lookahead.k, alpha=lookahead.alpha)

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
