"""NumPy implementations: the pure core step and the in-place ``radam_numpy.RAdam``."""

from __future__ import annotations

import numpy as np

import radam_core
import radam_numpy
from benchmarks.registry import RANGER_K, Stepper, k_cycle, register


@register("radam_core.step[numpy]", "pure radam_core.step on whole arrays (allocating)")
def core_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up [`radam_core.step`][radam_core.step.step] (torch preset) on ``params``.

    Each step replaces the parameters and the state.
    """
    current = tuple(params)
    state = radam_core.init_state(current)

    def step() -> None:
        nonlocal current, state
        current, state = radam_core.step(current, grads, state)

    return Stepper(step=step, params=lambda: current)


@register("radam_numpy.RAdam", "in place, blocked, threaded (default settings)")
def radam_numpy_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up [`radam_numpy.RAdam`][radam_numpy.RAdam] with its defaults on ``params``."""
    opt = radam_numpy.RAdam(params)
    return Stepper(step=lambda: opt.step(grads), params=lambda: opt.params)


@register(
    "radam_numpy.Ranger",
    f"radam_numpy.Ranger (k={RANGER_K}): one timed step is a whole k-cycle, "
    f"{RANGER_K} optimizer steps and one sync",
)
def radam_numpy_ranger_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up [`radam_numpy.Ranger`][radam_numpy.Ranger] with its defaults; each step is a k-cycle.

    A timed step runs ``k`` optimizer steps, one a sync.
    """
    opt = radam_numpy.Ranger(params, k=RANGER_K)
    return k_cycle(Stepper(step=lambda: opt.step(grads), params=lambda: opt.params))
