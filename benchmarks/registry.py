"""The one registry of benchmarked implementations.

An implementation is a setup function registered under a name: it receives its own
copies of a problem's parameters and gradients and returns a ``Stepper``.
Each module in ``MODULES`` registers its implementations when imported:

    @register("radam_numpy.RAdam", "in place, blocked, threaded")
    def radam_numpy_step(params, grads):
        opt = RAdam(params)
        return Stepper(step=lambda: opt.step(grads), params=lambda: opt.params)
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

# Modules that register implementations, imported in this order (the table's order), each
# with the package it needs: a module whose package is not installed is left out.
MODULES: tuple[tuple[str, str], ...] = (
    ("benchmarks.naive", "numpy"),
    ("benchmarks.implementations.numpy_impls", "numpy"),
    ("benchmarks.implementations.torch_impls", "torch"),
    ("benchmarks.implementations.keras_impls", "keras"),
    ("benchmarks.implementations.optax_impls", "optax"),
)


class Stepper(NamedTuple):
    """One implementation, set up on its own arrays.

    Attributes:
        step: Takes one optimizer step with the fixed gradients; returns when the new
            parameters are computed (an asynchronous backend must synchronize).
        params: Returns the current parameters, as arrays ``np.asarray`` accepts.
    """

    step: Callable[[], object]
    params: Callable[[], Sequence[Any]]


Setup = Callable[[list[np.ndarray], list[np.ndarray]], Stepper]

# The torch device the torch and Keras setups place their tensors on (``--device``; the
# harness sets it for its workers): "cpu" when unset.
DEVICE_VARIABLE = "RADAM_BENCHMARK_DEVICE"


def device() -> str:
    """The torch device of this run's torch and Keras setups (``DEVICE_VARIABLE``)."""
    return os.environ.get(DEVICE_VARIABLE, "cpu")


# Lookahead's sync period in the Ranger rows, whose one timed step is a whole k-cycle.
RANGER_K = 6


def k_cycle(stepper: Stepper, k: int = RANGER_K) -> Stepper:
    """A stepper whose one step is ``k`` of ``stepper``'s: for Lookahead, a whole k-cycle.

    Its median is then ``k`` optimizer steps plus one sync, the time "averaged over a
    k-cycle" times ``k``.
    """

    def cycle() -> None:
        for _ in range(k):
            stepper.step()

    return Stepper(step=cycle, params=stepper.params)


@dataclasses.dataclass(frozen=True)
class Implementation:
    """A registered implementation.

    Attributes:
        name: The name shown in the table, the JSON and ``--only``.
        description: What is timed, in a few words.
        setup: Builds a ``Stepper`` from fresh copies of the parameters and
            gradients (which it may update in place).
    """

    name: str
    description: str
    setup: Setup


_REGISTRY: dict[str, Implementation] = {}


def register(name: str, description: str) -> Callable[[Setup], Setup]:
    """Decorator: register a setup function as implementation ``name``.

    Args:
        name: Unique name of the implementation.
        description: What is timed, in a few words.

    Returns:
        A decorator that registers the setup function and returns it unchanged.

    Raises:
        ValueError: ``name`` is already registered.
    """

    def decorate(setup: Setup) -> Setup:
        if name in _REGISTRY:
            raise ValueError(f"implementation {name!r} is registered twice")
        _REGISTRY[name] = Implementation(name, description, setup)
        return setup

    return decorate


def implementations() -> list[Implementation]:
    """Every registered implementation, in registration order.

    Returns:
        The implementations of the ``MODULES`` whose package is installed
        (imported on first call).
    """
    for module, package in MODULES:
        if importlib.util.find_spec(package) is not None:
            importlib.import_module(module)
    return list(_REGISTRY.values())
