"""``radam_core.step`` on an Array API namespace: NumPy, array_api_strict, torch, JAX, CuPy.

The core is pure: each step returns new parameters and a new state; with Lookahead,
``radam_core.lookahead_step`` follows each step (its count a Python int). The namespaces that
need a framework (torch, JAX, CuPy) build their arrays through the converters given here
and are registered in their framework's module, so that each runs in that framework's
worker process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.equivalence.implementations.base import Implementation, Setup

ToArray = Callable[[np.ndarray], Any]
ToNumpy = Callable[[Any], np.ndarray]


class CoreStepper:
    """``radam_core.step`` over arrays made by ``to_array``, then ``lookahead_step`` if any.

    Args:
        setup: The initial parameters and the configuration.
        to_array: A NumPy array as the namespace's array (on the setup's device).
        to_numpy: The namespace's array as a NumPy copy.
    """

    def __init__(self, setup: Setup, to_array: ToArray, to_numpy: ToNumpy) -> None:
        import radam_core

        self._core = radam_core
        self._to_array, self._to_numpy = to_array, to_numpy
        self._params = tuple(to_array(p) for p in setup.initial_params)
        self._state = radam_core.init_state(self._params, amsgrad=setup.config.option("amsgrad"))
        self._options = setup.core_options
        self._lookahead = setup.config.lookahead
        if self._lookahead is not None:
            self._slow = radam_core.init_lookahead(self._params)

    def params(self) -> list[np.ndarray]:
        """The current parameters as NumPy copies."""
        return [self._to_numpy(p) for p in self._params]

    def step(self, grads: list[np.ndarray]) -> None:
        """One pure step (and Lookahead's); the new parameters and state replace the old."""
        arrays = tuple(self._to_array(g) for g in grads)
        self._params, self._state = self._core.step(
            self._params, arrays, self._state, **self._options
        )
        if self._lookahead is not None:
            self._params, self._slow = self._core.lookahead_step(
                self._params, self._slow, self._lookahead.k, self._lookahead.alpha
            )


def _numpy_stepper(setup: Setup) -> CoreStepper:
    return CoreStepper(setup, lambda a: np.array(a, copy=True), lambda a: np.array(a, copy=True))


def _strict_stepper(setup: Setup) -> CoreStepper:
    import array_api_strict

    cpu = array_api_strict.Device("CPU_DEVICE")
    return CoreStepper(
        setup,
        lambda a: array_api_strict.asarray(a, copy=True),
        lambda a: np.array(np.from_dlpack(a.to_device(cpu)), copy=True),
    )


IMPLEMENTATIONS: tuple[Implementation, ...] = (
    Implementation("radam_core.step numpy", "numpy", "float64", _numpy_stepper),
    Implementation("radam_core.step numpy", "numpy", "float32", _numpy_stepper),
    Implementation(
        "radam_core.step array_api_strict",
        "numpy",
        "float64",
        _strict_stepper,
        requires=("array_api_strict",),
    ),
)


def _cupy_stepper(setup: Setup) -> CoreStepper:
    import cupy

    return CoreStepper(setup, cupy.asarray, cupy.asnumpy)


def cupy_device_check(device: str) -> str | None:
    """None where CuPy sees a CUDA device, else why not."""
    import cupy

    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as error:
        return f"CuPy finds no CUDA device ({error})"
    return None if count else "CuPy finds no CUDA device"


CUPY_IMPLEMENTATIONS: tuple[Implementation, ...] = (
    Implementation(
        "radam_core.step cupy",
        "cupy",
        "float64",
        _cupy_stepper,
        requires=("cupy",),
        devices=("cuda",),
        device_check=cupy_device_check,
    ),
)
