"""Keras implementations: radam_keras.RAdam and keras.optimizers.Adam on each backend.

Each runs on its backend's compiled path: TensorFlow ``tf.function(jit_compile=True)``
around ``optimizer.apply``; JAX ``jax.jit`` of ``optimizer.stateless_apply`` with the
parameters and the optimizer's variables donated, as Keras's JAX trainer runs it; torch
``optimizer.apply`` (Keras's torch backend steps eagerly). Keras reads ``KERAS_BACKEND``
once per process; the worker runs
each implementation in a fresh process, where the setup below sets it before importing
Keras, so this module itself never imports Keras. Keras places the variables on its backend's
default device; a setup refuses to run when that is not of the run's device type
(``benchmarks.registry.device``: the CPU unless ``--device`` says otherwise), and on an
accelerator a step returns once the device has finished it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.registry import RANGER_K, Stepper, device, k_cycle, register

# Each backend and the package it needs.
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def _keras(backend: str) -> Any:
    """Keras on ``backend``, imported here for the first time in this process."""
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
        raise RuntimeError(f"Keras is already imported on another backend than {backend}")
    os.environ["KERAS_BACKEND"] = backend
    import keras

    return keras


def _stepper(
    backend: str, make: Callable[[], Any], params: list[np.ndarray], grads: list[np.ndarray]
) -> Stepper:
    """Step the optimizer ``make()`` on Keras variables holding ``params``."""
    keras = _keras(backend)
    variables = [keras.Variable(p) for p in params]
    gradients = [keras.ops.convert_to_tensor(g) for g in grads]
    optimizer = make()
    optimizer.build(variables)
    _check_device(backend, variables[0].value)

    if backend == "tensorflow":
        import tensorflow as tf

        apply = tf.function(lambda: optimizer.apply(gradients, variables), jit_compile=True)
        return Stepper(step=apply, params=lambda: [v.numpy() for v in variables])
    if backend == "jax":
        import jax

        # As Keras's JAX trainer does: the state goes in and comes back in the same
        # structure, donated, so each output reuses its own input's buffer.
        def apply(state: Any, grads: Any) -> Any:
            trainable, optimizer_values = state
            return optimizer.stateless_apply(optimizer_values, grads, trainable)

        jitted = jax.jit(apply, donate_argnums=0)
        state = {"now": ([v.value for v in variables], [v.value for v in optimizer.variables])}

        def step() -> None:
            state["now"] = jitted(state["now"], gradients)
            jax.block_until_ready(state["now"])

        return Stepper(step=step, params=lambda: [np.asarray(v) for v in state["now"][0]])
    import torch

    kind = variables[0].value.device.type

    def torch_step() -> None:
        optimizer.apply(gradients, variables)
        if kind != "cpu":
            getattr(torch, kind).synchronize()

    return Stepper(
        step=torch_step, params=lambda: [keras.ops.convert_to_numpy(v) for v in variables]
    )


def _check_device(backend: str, value: Any) -> None:
    """Refuse a variable that Keras placed on another device type than the run's.

    Raises:
        RuntimeError: The variable's device type is not the run's.
    """
    wanted = device().split(":")[0]
    if backend == "torch":
        placed = value.device.type
    elif backend == "jax":
        (placed,) = {d.platform.replace("gpu", "cuda") for d in value.devices()}
    else:
        placed = "cuda" if "GPU" in value.device else "cpu"
    if placed != wanted:
        raise RuntimeError(
            f"Keras on {backend} placed the variables on {placed}, not {wanted}: "
            f"install {backend} for {wanted}"
        )


def _register(backend: str) -> None:
    compiled = {"tensorflow": "jit_compile", "jax": "jit, donated", "torch": "eager"}[backend]

    @register(f"radam_keras.RAdam[{backend}]", f"radam_keras on Keras's {backend} ({compiled})")
    def radam_keras_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
        def make() -> Any:
            from radam_keras import RAdam  # imports Keras: only once _keras chose the backend

            return RAdam()

        return _stepper(backend, make, params, grads)

    @register(f"keras.optimizers.Adam[{backend}]", f"Keras's Adam on {backend} ({compiled})")
    def keras_adam_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
        return _stepper(backend, lambda: _keras(backend).optimizers.Adam(), params, grads)

    @register(
        f"radam_keras.Ranger[{backend}]",
        f"radam_keras.Ranger(k={RANGER_K}) on Keras's {backend} ({compiled}): one timed "
        f"step is a whole k-cycle, {RANGER_K} updates and one sync",
    )
    def radam_keras_ranger_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
        def make() -> Any:
            from radam_keras import Ranger

            return Ranger(k=RANGER_K)

        return k_cycle(_stepper(backend, make, params, grads))


for _backend, _package in BACKENDS.items():
    if importlib.util.find_spec(_package) is not None:
        _register(_backend)
