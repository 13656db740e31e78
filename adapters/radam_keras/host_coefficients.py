"""A step's scalars computed on the host, in float64, from inside a JAX trace.

JAX without x64 has no float64: a traced int32 count would give rho_t, r_t and the
threshold decision in float32 only. ``jax.pure_callback`` hands the count (and the
learning rate) to the host, where [`radam_core.step_coefficients`][radam_core.step_coefficients]
takes the Python int path (float64, exact for every count); the results come back rounded once to
float32, the best a float32 update can use.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import radam_core
from radam_core import StepCoefficients


def host_step_coefficients(count: Any, hyperparameters: radam_core.Hyperparameters) -> Any:
    """[`step_coefficients`][radam_core.step_coefficients] of step ``count + 1``, on the host.

    Args:
        count: Steps taken so far: a 0-d integer array, traced or not.
        hyperparameters: The step's hyperparameters; ``lr`` may be a 0-d array.

    Returns:
        The [`radam_core.StepCoefficients`][radam_core.StepCoefficients], each a float32 0-d array.

    Raises:
        ValueError: (from the host, wrapped by JAX) A learning rate that is not finite
            and ``>= 0``.
    """

    def compute(count: np.ndarray, lr: np.ndarray) -> np.ndarray:
        if not (np.isfinite(lr) and lr >= 0):  # JAX raises it from the traced step
            raise ValueError(f"learning_rate must be finite and >= 0, got {float(lr)!r}")
        hp = dataclasses.replace(hyperparameters, lr=float(lr))
        return np.asarray(radam_core.step_coefficients(int(count) + 1, hp), dtype=np.float32)

    shape = jax.ShapeDtypeStruct((len(StepCoefficients._fields),), jnp.float32)
    values = jax.pure_callback(
        compute, shape, count, jnp.asarray(hyperparameters.lr), vmap_method="sequential"
    )
    return StepCoefficients(*(values[i] for i in range(len(StepCoefficients._fields))))
