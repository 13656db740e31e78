"""``radam_core.step`` on an Array API namespace: NumPy, array_api_strict, torch, JAX, CuPy.

The core is pure: each step returns new parameters and a new state; with Lookahead,
``radam_core.lookahead_step`` follows each step (its count a Python int). The namespaces
that need a framework (torch, JAX, CuPy) build their arrays through the converters given
here; torch's and JAX's are catalogued in their framework's module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from catalogue.implementation import BenchmarkRow, EquivalenceRows, Implementation
from catalogue.stepper import Setup

ToArray = Callable[[np.ndarray], Any]
ToNumpy = Callable[[Any], np.ndarray]


def amsgrad(setup: Setup) -> bool:
    """Whether the setup's configuration keeps max(v) (False without one)."""
    return False if setup.config is None else bool(setup.config.option("amsgrad"))


class CoreStepper:
    """``radam_core.step`` over arrays made by ``to_array``, then ``lookahead_step`` if any.

    Args:
        setup: The initial parameters and the configuration (the core's defaults if none).
        to_array: A NumPy array as the namespace's array (on the setup's device).
        to_numpy: The namespace's array as a NumPy copy.
    """

    def __init__(self, setup: Setup, to_array: ToArray, to_numpy: ToNumpy) -> None:
        import radam_core

        self._core = radam_core
        self._to_array, self._to_numpy = to_array, to_numpy
        self._params = tuple(to_array(p) for p in setup.initial_params)
        self._grads: tuple[Any, ...] = ()
        self._state = radam_core.init_state(self._params, amsgrad=amsgrad(setup))
        self._options = setup.core_options
        self._lookahead = setup.lookahead
        if self._lookahead is not None:
            self._slow = radam_core.init_lookahead(self._params)

    def params(self) -> list[np.ndarray]:
        """The current parameters as NumPy copies."""
        return [self._to_numpy(p) for p in self._params]

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        """Hold ``grads`` as the namespace's arrays."""
        self._grads = tuple(self._to_array(g) for g in grads)

    def step(self) -> None:
        """One pure step (and Lookahead's); the new parameters and state replace the old."""
        self._params, self._state = self._core.step(
            self._params, self._grads, self._state, **self._options
        )
        if self._lookahead is not None:
            self._params, self._slow = self._core.lookahead_step(
                self._params, self._slow, self._lookahead.k, self._lookahead.alpha
            )


def _numpy_copy(array: Any) -> np.ndarray:
    return np.array(array, copy=True)


def numpy_stepper(setup: Setup) -> CoreStepper:
    """radam_core.step on NumPy arrays."""
    return CoreStepper(setup, _numpy_copy, _numpy_copy)


def strict_stepper(setup: Setup) -> CoreStepper:
    """radam_core.step on array_api_strict arrays."""
    import array_api_strict

    cpu = array_api_strict.Device("CPU_DEVICE")
    return CoreStepper(
        setup,
        lambda a: array_api_strict.asarray(a, copy=True),
        lambda a: np.array(np.from_dlpack(a.to_device(cpu)), copy=True),
    )


def cupy_stepper(setup: Setup) -> CoreStepper:
    """radam_core.step on CuPy arrays (on the current CUDA device)."""
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


NUMPY_CORE = Implementation(
    numpy_stepper,
    "numpy",
    benchmark=BenchmarkRow(
        "radam_core.step[numpy]", "pure radam_core.step on whole arrays (allocating)"
    ),
    equivalence=EquivalenceRows("radam_core.step numpy", ("float64", "float32")),
)

STRICT_CORE = Implementation(
    strict_stepper,
    "numpy",
    requires=("array_api_strict",),
    equivalence=EquivalenceRows("radam_core.step array_api_strict", ("float64",)),
)

CUPY_CORE = Implementation(
    cupy_stepper,
    "cupy",
    requires=("cupy",),
    devices=("cuda",),
    device_check=cupy_device_check,
    equivalence=EquivalenceRows("radam_core.step cupy", ("float64",)),
)
