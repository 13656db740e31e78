"""Keras: radam_keras.RAdam, radam_keras.Ranger and keras.optimizers.Adam on each backend.

They step float32 ``keras.Variable`` s, in one worker process per backend.

Keras reads ``KERAS_BACKEND`` once per process: each backend's implementations run in a
worker whose environment sets it (:mod:`catalogue.workers`), and a builder refuses a
process whose Keras runs on another backend. The configuration maps onto Keras's
arguments: ``learning_rate``, ``beta_1``, ``beta_2``, ``epsilon`` (the configuration's
eps), ``preset``, the core's ``amsgrad``/``nesterov``, and ``weight_decay``, which in Keras
is the base class's decoupled decay ``theta -= lr wd theta`` on every step, before the
update: exactly the torch convention's decoupled mode. Two configurations have no exact
Keras form and are not run (the equivalence report says so): L2 decay, and the authors'
decay on updating steps only. With Lookahead, the RAdam optimizer is wrapped in
``radam_keras.Lookahead(RAdam(...), k=k, alpha=alpha)``, itself a Keras optimizer.

Each backend steps on its compiled path, as ``fit`` runs it:

- tensorflow: ``optimizer.apply(grads, variables)`` in a ``tf.function``, traced once per
  optimizer, compiled with XLA (``jit_compile=True``) where the setup asks for it;
- jax: ``jax.jit`` of ``optimizer.stateless_apply`` with the parameters and the
  optimizer's variables donated, as Keras's JAX trainer runs it;
- torch: eager ``optimizer.apply`` (Keras's torch backend steps eagerly).

Keras places the variables on its backend's default device; a builder refuses to run
when that is not of the setup's device type, and on an accelerator a step returns once
the device has finished it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from catalogue.implementation import RANGER_K, BenchmarkRow, EquivalenceRows, Implementation
from catalogue.presets import preset_kwargs
from catalogue.stepper import Configuration, Setup

BACKENDS = ("tensorflow", "jax", "torch")
COMPILED = {"tensorflow": "jit_compile", "jax": "jit, donated", "torch": "eager"}

MakeOptimizer = Callable[[Setup], Any]


def keras_supports(config: Configuration) -> str | None:
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
    """radam_keras.RAdam's arguments for the configuration ({} without one: its defaults)."""
    if setup.config is None:
        return {}
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


def _keras(backend: str) -> Any:
    """Keras, which must run on ``backend`` in this process.

    Raises:
        RuntimeError: Keras runs on another backend (``KERAS_BACKEND``).
    """
    import keras

    if keras.backend.backend() != backend:
        raise RuntimeError(
            f"Keras runs on {keras.backend.backend()} in this process, not {backend}: "
            f"set KERAS_BACKEND={backend} before Keras is imported"
        )
    return keras


def _placed_on(backend: str, value: Any) -> str:
    """The device type (``"cpu"``, ``"cuda"``, ...) of a variable's value."""
    if backend == "torch":
        return str(value.device.type)
    if backend == "jax":
        (placed,) = {d.platform.replace("gpu", "cuda") for d in value.devices()}
        return str(placed)
    return "cuda" if "GPU" in value.device else "cpu"


class KerasStepper:
    """An optimizer over ``keras.Variable`` s; each backend's subclass steps it.

    Args:
        setup: The initial parameters, the configuration and the device.
        backend: The Keras backend this process runs.
        make: ``make(setup)``: the optimizer; wrapped in ``radam_keras.Lookahead`` when the
            configuration has Lookahead.

    Raises:
        RuntimeError: Keras runs on another backend, or placed the variables on another
            device type than the setup's.
    """

    def __init__(self, setup: Setup, backend: str, make: MakeOptimizer) -> None:
        keras = _keras(backend)
        self._keras = keras
        self.variables = [
            keras.Variable(p, dtype=str(p.dtype), name=f"p{i}")
            for i, p in enumerate(setup.initial_params)
        ]
        self.optimizer: Any = make(setup)
        if setup.lookahead is not None:
            from radam_keras import Lookahead

            self.optimizer = Lookahead(
                self.optimizer, k=setup.lookahead.k, alpha=setup.lookahead.alpha
            )
        self.optimizer.build(self.variables)
        self.grads: list[Any] = []
        wanted = setup.device.split(":")[0]
        placed = _placed_on(backend, self.variables[0].value)
        if placed != wanted:
            raise RuntimeError(
                f"Keras on {backend} placed the variables on {placed}, not {wanted}: "
                f"install {backend} for {wanted}"
            )

    def params(self) -> list[np.ndarray]:
        """The variables' values as NumPy copies."""
        return [np.array(self._keras.ops.convert_to_numpy(v), copy=True) for v in self.variables]

    def set_gradients(self, grads: list[np.ndarray]) -> None:
        """Hold ``grads`` as the backend's tensors."""
        self.grads = [self._keras.ops.convert_to_tensor(g) for g in grads]

    def step(self) -> None:
        """One eager ``optimizer.apply``."""
        self.optimizer.apply(self.grads, self.variables)


class TensorflowKerasStepper(KerasStepper):
    """``optimizer.apply`` inside a ``tf.function``, traced once (with XLA if the setup asks)."""

    def __init__(self, setup: Setup, make: MakeOptimizer) -> None:
        import tensorflow as tf

        super().__init__(setup, "tensorflow", make)
        optimizer, variables = self.optimizer, self.variables

        @tf.function(jit_compile=setup.jit_compile)
        def apply(grads: list[Any]) -> None:
            optimizer.apply(grads, variables)

        self._apply = apply

    def step(self) -> None:
        """One traced ``apply``."""
        self._apply(self.grads)


class JaxKerasStepper(KerasStepper):
    """``jax.jit(optimizer.stateless_apply)``, its state donated.

    The values live outside the variables.
    """

    def __init__(self, setup: Setup, make: MakeOptimizer) -> None:
        import jax

        super().__init__(setup, "jax", make)
        optimizer = self.optimizer
        self._block_until_ready = jax.block_until_ready

        # As Keras's JAX trainer does: the state goes in and comes back in the same
        # structure, donated, so each output reuses its own input's buffer.
        def apply(state: Any, grads: Any) -> Any:
            trainable, optimizer_values = state
            return optimizer.stateless_apply(optimizer_values, grads, trainable)

        self._apply = jax.jit(apply, donate_argnums=0)
        self._state = ([v.value for v in self.variables], [v.value for v in optimizer.variables])

    def params(self) -> list[np.ndarray]:
        """The current values as NumPy copies."""
        return [np.array(value, copy=True) for value in self._state[0]]

    def step(self) -> None:
        """One jitted stateless ``apply``, waited for."""
        self._state = self._apply(self._state, self.grads)
        self._block_until_ready(self._state)


class TorchKerasStepper(KerasStepper):
    """Eager ``optimizer.apply`` on torch tensors, waited for on an accelerator."""

    def __init__(self, setup: Setup, make: MakeOptimizer) -> None:
        import torch

        super().__init__(setup, "torch", make)
        kind = self.variables[0].value.device.type
        self._synchronize = None if kind == "cpu" else getattr(torch, kind).synchronize

    def params(self) -> list[np.ndarray]:
        """The variables' tensors as NumPy copies."""
        return [v.value.detach().cpu().numpy().copy() for v in self.variables]

    def step(self) -> None:
        """One eager ``apply``."""
        super().step()
        if self._synchronize is not None:
            self._synchronize()


STEPPERS: dict[str, Callable[[Setup, MakeOptimizer], KerasStepper]] = {
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


def _radam_keras(setup: Setup) -> Any:
    from radam_keras import RAdam

    return RAdam(**keras_arguments(setup))


def _keras_adam(setup: Setup) -> Any:
    import keras

    return keras.optimizers.Adam()


def _radam_keras_ranger(setup: Setup) -> Any:
    from radam_keras import Ranger

    return Ranger(k=RANGER_K)


def _on(
    backend: str, make: MakeOptimizer, needs_radam_keras: bool = True, **fields: Any
) -> Implementation:
    """An implementation stepping ``make(setup)`` on Keras's ``backend``."""
    radam_keras = ("radam_keras",) if needs_radam_keras else ()
    return Implementation(
        lambda setup: STEPPERS[backend](setup, make),
        f"keras-{backend}",
        requires=("keras", *radam_keras, backend),
        devices=("cpu", "cuda"),
        device_check=keras_device_check,
        **fields,
    )


def _on_backend(backend: str) -> tuple[Implementation, ...]:
    compiled = COMPILED[backend]
    return (
        _on(
            backend,
            _radam_keras,
            benchmark=BenchmarkRow(
                f"radam_keras.RAdam[{backend}]", f"radam_keras on Keras's {backend} ({compiled})"
            ),
            equivalence=EquivalenceRows(
                f"radam_keras.RAdam {backend}", ("float32",), supports=keras_supports
            ),
        ),
        _on(
            backend,
            _keras_adam,
            needs_radam_keras=False,
            benchmark=BenchmarkRow(
                f"keras.optimizers.Adam[{backend}]", f"Keras's Adam on {backend} ({compiled})"
            ),
        ),
        _on(
            backend,
            _radam_keras_ranger,
            benchmark=BenchmarkRow(
                f"radam_keras.Ranger[{backend}]",
                f"radam_keras.Ranger(k={RANGER_K}) on Keras's {backend} ({compiled}): one "
                f"timed step is a whole k-cycle, {RANGER_K} updates and one sync",
                steps_per_timing=RANGER_K,
            ),
        ),
    )


IMPLEMENTATIONS: tuple[Implementation, ...] = tuple(
    implementation for backend in BACKENDS for implementation in _on_backend(backend)
)
