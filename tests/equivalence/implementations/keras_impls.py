"""radam_keras.RAdam on each Keras backend (float32 Keras variables), one worker per backend.

Keras reads ``KERAS_BACKEND`` once per process, so each backend's rows run in a worker
process of their own. The configuration maps onto Keras's arguments: ``learning_rate``,
``beta_1``, ``beta_2``, ``epsilon`` (the configuration's eps), ``preset``, the core's
``amsgrad``/``nesterov``, and ``weight_decay``, which in Keras is the base class's
decoupled decay ``theta -= lr wd theta`` on every step, before the update: exactly the
torch convention's decoupled mode. Two configurations have no exact Keras form and are
not run (the report says so): L2 decay, and the authors' decay on updating steps only.
With Lookahead, the RAdam optimizer is wrapped in ``radam_keras.Lookahead(RAdam(...),
k=k, alpha=alpha)``, itself a Keras optimizer that steps as below.

How each backend steps, ``optimizer.apply(grads, variables)`` throughout:

- tensorflow: inside a ``tf.function`` (one trace per configuration), as ``fit`` runs it;
- jax: ``jax.jit(optimizer.stateless_apply)``, what ``fit`` runs on JAX (eager ``apply``
  takes ~4 ms a step, too slow for 1000-step runs of every configuration);
- torch: eager ``apply``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.conventions import preset_kwargs
from tests.equivalence.configs import Config
from tests.equivalence.implementations.base import Implementation, Setup

BACKENDS = ("tensorflow", "jax", "torch")


def keras_supports(config: Config) -> str | None:
    """None where the configuration maps exactly onto Keras's arguments."""
    if config.option("weight_decay") and not config.option("decoupled_weight_decay"):
        return "Keras's weight_decay is decoupled only (no L2 mode)"
    if config.option("weight_decay") and config.option("below_threshold") == "skip":
        return (
            "Keras's base class decays on every step; the authors' convention only on "
            "steps that update"
        )
    return None


def keras_arguments(setup: Setup) -> dict[str, Any]:
    """radam_keras.RAdam's arguments for the configuration."""
    hp = setup.hyperparameters
    beta_1, beta_2 = hp["betas"]
    arguments: dict[str, Any] = {
        "learning_rate": hp["lr"],
        "beta_1": beta_1,
        "beta_2": beta_2,
        "epsilon": hp["eps"],
        "preset": setup.config.preset,
    }
    for option in ("amsgrad", "nesterov"):
        if option in setup.config.options:
            arguments[option] = setup.config.options[option]
    if hp["weight_decay"]:
        arguments["weight_decay"] = hp["weight_decay"]
    return preset_kwargs(arguments)


class KerasStepper:
    """radam_keras.RAdam over float32 ``keras.Variable`` s; the backend's subclass steps.

    With Lookahead the optimizer is ``radam_keras.Lookahead(RAdam(...), k, alpha)``.
    """

    def __init__(self, setup: Setup) -> None:
        import keras
        from radam_keras import Lookahead, RAdam

        self.variables = [
            keras.Variable(p, dtype="float32", name=f"p{i}")
            for i, p in enumerate(setup.initial_params)
        ]
        self.optimizer: Any = RAdam(**keras_arguments(setup))
        lookahead = setup.config.lookahead
        if lookahead is not None:
            self.optimizer = Lookahead(self.optimizer, k=lookahead.k, alpha=lookahead.alpha)
        self.optimizer.build(self.variables)

    def params(self) -> list[np.ndarray]:
        """The variables' values as float32 NumPy copies."""
        return [np.array(v.numpy(), copy=True) for v in self.variables]

    def step(self, grads: list[np.ndarray]) -> None:
        """One ``apply`` (eager)."""
        import keras

        self.optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads], self.variables)


class TensorflowKerasStepper(KerasStepper):
    """``optimizer.apply`` inside a ``tf.function``, traced once per configuration."""

    def __init__(self, setup: Setup) -> None:
        import tensorflow as tf

        super().__init__(setup)
        optimizer, variables = self.optimizer, self.variables

        @tf.function
        def apply(grads: list[Any]) -> None:
            optimizer.apply(grads, variables)

        self._apply = apply
        self._constant = tf.constant

    def step(self, grads: list[np.ndarray]) -> None:
        """One traced ``apply``."""
        self._apply([self._constant(g) for g in grads])


class JaxKerasStepper(KerasStepper):
    """``jax.jit(optimizer.stateless_apply)``: the values live outside the variables."""

    def __init__(self, setup: Setup) -> None:
        import jax

        super().__init__(setup)
        self._stateless_apply = jax.jit(self.optimizer.stateless_apply)
        self._asarray = jax.numpy.asarray
        self._values = [v.value for v in self.variables]
        self._optimizer_values = [v.value for v in self.optimizer.variables]

    def params(self) -> list[np.ndarray]:
        """The current values as float32 NumPy copies."""
        return [np.array(value, copy=True) for value in self._values]

    def step(self, grads: list[np.ndarray]) -> None:
        """One jitted stateless ``apply``."""
        arrays = [self._asarray(g) for g in grads]
        self._values, self._optimizer_values = self._stateless_apply(
            self._optimizer_values, arrays, self._values
        )


class TorchKerasStepper(KerasStepper):
    """Eager ``optimizer.apply`` on torch tensors."""

    def params(self) -> list[np.ndarray]:
        """The variables' tensors as float32 NumPy copies."""
        return [v.value.detach().cpu().numpy().copy() for v in self.variables]


STEPPERS = {
    "tensorflow": TensorflowKerasStepper,
    "jax": JaxKerasStepper,
    "torch": TorchKerasStepper,
}


def keras_device_check(device: str) -> str | None:
    """None where the current Keras backend sees a GPU (for ``cuda``), else why not."""
    if device != "cuda":
        return None
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return None if tf.config.list_physical_devices("GPU") else "TensorFlow sees no GPU"
    if backend == "jax":
        import jax

        try:
            jax.devices("gpu")
        except RuntimeError:
            return "JAX has no GPU backend here"
        return None
    import torch

    return None if torch.cuda.is_available() else "torch sees no CUDA device"


IMPLEMENTATIONS: tuple[Implementation, ...] = tuple(
    Implementation(
        f"radam_keras.RAdam {backend}",
        f"keras-{backend}",
        "float32",
        STEPPERS[backend],
        requires=("keras", "radam_keras", backend),
        devices=("cpu", "cuda"),
        supports=keras_supports,
        device_check=keras_device_check,
    )
    for backend in BACKENDS
)
