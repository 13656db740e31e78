"""``radam_keras.RAdam``: a Keras 3 optimizer whose math is radam_core, on every backend."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

import radam_core
from radam_keras import namespace as xp
from radam_keras import snapshot

KERAS_EPSILON = 1e-7  # keras.optimizers.Adam's default, on the raw sqrt(v_t) as here


# The Keras names of the core's hyperparameters, for its messages.
ARGUMENT_NAMES = {
    "lr": "learning_rate",
    "betas[0]": "beta_1",
    "betas[1]": "beta_2",
    "eps": "epsilon",
}


@keras.saving.register_keras_serializable(package="radam")
class RAdam(keras.optimizers.Optimizer):
    """RAdam (Liu et al. 2019) for Keras 3: ``model.compile(optimizer=RAdam())``.

    Each variable's update is [`update_leaf`][radam_core.for_adapters.update_leaf] with the
    step's scalars from [`step_coefficients`][radam_core.for_adapters.step_coefficients] (on
    torch all variables at once: [`radam_keras.torch_optimizer`][radam_keras.torch_optimizer]),
    computed from the integer iteration count (a tensor under ``tf.function`` and ``jax.jit``;
    nothing branches on it): with rho_t and r_t from the core, ``theta -= lr r_t m_hat sqrt(bc2)
    / (sqrt(v_t) + epsilon)`` when rho_t > 5, else ``theta -= lr m_hat`` (torch's convention
    with Keras's ``epsilon=1e-7`` on the raw sqrt(v_t), where ``keras.optimizers.Adam`` puts it;
    ``preset`` selects another). Weight decay, clipping, EMA, gradient accumulation and loss
    scaling are the base class's (``weight_decay`` is decoupled: ``theta -= lr wd theta``).

    Args:
        learning_rate: A float, a ``LearningRateSchedule``, or a callable.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the second moment.
        epsilon: Added to the denominator (default: 1e-7, or the preset's if it sets one).
        preset: The convention: a name of [`radam_core.presets`][radam_core.presets] (default
            ``"torch"``) or a [`radam_core.Preset`][radam_core.Preset], e.g.
            ``radam_core.PRESETS["optax"].replace(nesterov=True)``.
        name: The optimizer's name (default: ``"radam"``, made unique as Keras names its
            own optimizers: ``radam``, ``radam_1``, ...).
        **kwargs: The base class's arguments: ``weight_decay``, ``clipnorm``,
            ``clipvalue``, ``global_clipnorm``, ``use_ema``, ``ema_momentum``,
            ``ema_overwrite_frequency``, ``loss_scale_factor``,
            ``gradient_accumulation_steps``; and, deprecated (with a ``DeprecationWarning``),
            the convention fields the old way (``threshold=4.0``).

    Raises:
        ValueError, TypeError: An invalid value, named with its argument, when built.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> RAdam:
        """Build the backend's variant, as Keras does for its own optimizers.

        On torch that is [`radam_keras.torch_optimizer.RAdam`][radam_keras.torch_optimizer.RAdam]
        (all variables in one step); the other backends take this class, whose public
        [`update_step`][radam_keras.RAdam.update_step] updates one variable at a time.
        """
        if cls is RAdam and keras.backend.backend() == "torch":
            from radam_keras import torch_optimizer

            cls = torch_optimizer.RAdam
        return super().__new__(cls)

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float | None = None,
        preset: str | radam_core.Preset = "torch",
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        schedule = callable(learning_rate)  # a LearningRateSchedule is callable too
        if not schedule:
            learning_rate = _float_learning_rate(learning_rate)
        deprecated = {key: kwargs.pop(key) for key in radam_core.CONVENTION_FIELDS if key in kwargs}
        convention = radam_core.for_adapters.with_deprecated_options(
            preset, deprecated, "radam_keras.RAdam"
        )
        if epsilon is None and convention.eps is None:
            epsilon = KERAS_EPSILON
        hyperparameters = radam_core.hyperparameters_for(
            convention,
            argument_names=ARGUMENT_NAMES,
            lr=0.0 if schedule else learning_rate,
            betas=(beta_1, beta_2),
            **({} if epsilon is None else {"eps": epsilon}),
        )
        super().__init__(
            learning_rate=learning_rate,
            name=unique_name("radam") if name is None else name,
            **kwargs,
        )
        self._hyperparameters = hyperparameters
        self.preset = convention.name
        self.beta_1, self.beta_2 = beta_1, beta_2

    @property
    def epsilon(self) -> float:
        """The epsilon in use."""
        return float(self._hyperparameters.eps)

    def build(self, var_list: list[Any]) -> None:
        """Create m and v (and max v with amsgrad) for each variable.

        Complex variables take optax's convention (v from ``|g|^2``, see
        [`update_leaf`][radam_core.for_adapters.update_leaf]) on JAX and torch.

        Args:
            var_list: The model's trainable variables.

        Raises:
            TypeError: A complex variable on TensorFlow (nothing is built).
        """
        if self.built:
            return
        if keras.backend.backend() == "tensorflow":
            for variable in var_list:
                if xp.isdtype(variable.dtype, "complex floating"):
                    raise TypeError(
                        f"{_label(variable)} is "
                        f"{keras.backend.standardize_dtype(variable.dtype)}: "
                        "radam_keras takes complex variables on JAX and torch, not on "
                        "TensorFlow (which does not promote real tensors in complex arithmetic)"
                    )
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        if self._hyperparameters.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def export_state(self, variables: Sequence[Any]) -> radam_core.Snapshot:
        """The state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot].

        Save it with [`radam_core.save_snapshot`][radam_core.snapshot.save_snapshot]; any
        adapter resumes from it ([`radam_keras.snapshot`][radam_keras.snapshot]).

        Args:
            variables: ``model.trainable_variables``: each is named by its path.

        Returns:
            Each variable's count (``iterations``), m and v (host copies).
        """
        return snapshot.export_state(self, variables)

    def import_state(self, state: radam_core.Snapshot, variables: Sequence[Any]) -> None:
        """Resume from a [`Snapshot`][radam_core.snapshot.Snapshot]; all or nothing.

        The count and moments come from the snapshot; the hyperparameters stay this
        optimizer's (the conventions must match).

        Args:
            state: From any adapter's ``export_state`` or
                [`radam_core.load_snapshot`][radam_core.snapshot.load_snapshot].
            variables: ``model.trainable_variables``, named by their paths.

        Raises:
            ValueError: A snapshot that does not fit; nothing changed.
        """
        snapshot.import_state(self, state, variables)

    def apply(self, grads: list[Any], trainable_variables: list[Any] | None = None) -> None:
        """Check the step's inputs, then take the base class's step: all or nothing.

        Sparse gradients (TensorFlow's ``tf.IndexedSlices``, an ``Embedding``'s) are made
        dense first: RAdam's moments decay everywhere, so the step is the dense
        gradient's, as with ``keras.optimizers.Adam``. Before anything changes, the
        gradients must match the variables in number and shape and be floating point,
        and this step's learning rate (a schedule's value, say) must be finite and
        ``>= 0``: checked on the host wherever it is concrete (eager steps, torch outside
        ``torch.compile``), and in a TensorFlow graph by an assertion (which XLA drops:
        see the docs' Contract); under ``jax.jit`` nothing checks it.

        Args:
            grads: One gradient (or None) per variable.
            trainable_variables: The variables (default: those the optimizer was built with).

        Raises:
            ValueError, TypeError: Gradients that do not fit the variables, or a bad
                learning rate; nothing has changed.
        """
        grads = [_dense(g) for g in grads]
        if not grads or (trainable_variables is None and not self.built):
            super().apply(grads, trainable_variables)  # a no-op, or the base class's error
            return
        _check_gradients(
            grads, self._trainable_variables if trainable_variables is None else trainable_variables
        )
        with _learning_rate_checked(self.learning_rate):
            super().apply(grads, trainable_variables)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        """Apply step ``t = iterations + 1`` to one variable, by radam_core.

        The new value and moments come from
        [`update_leaf`][radam_core.for_adapters.update_leaf] and are assigned to the variables.

        Args:
            gradient: The variable's gradient.
            variable: The model variable.
            learning_rate: This step's learning rate (a tensor).
        """
        index = self._get_variable_index(variable)
        hp = self._hyperparameters
        value = ops.convert_to_tensor(variable)
        dtype = radam_core.for_adapters.compute_dtype(
            keras.backend.standardize_dtype(value.dtype), xp
        )
        m, v = self._momentums[index], self._velocities[index]
        max_v = self._velocity_hats[index] if hp.amsgrad else None
        new = radam_core.for_adapters.update_leaf(
            value,
            ops.cast(gradient, value.dtype),
            ops.convert_to_tensor(m),
            ops.convert_to_tensor(v),
            None if max_v is None else ops.convert_to_tensor(max_v),
            self._step_coefficients(learning_rate).cast(dtype, None, xp),
            hp,
            xp,
        )
        self.assign(m, new.exp_avg)
        self.assign(v, new.exp_avg_sq)
        if max_v is not None:
            self.assign(max_v, new.max_exp_avg_sq)
        self.assign(variable, new.param)

    def _step_coefficients(self, learning_rate: Any) -> radam_core.for_adapters.StepCoefficients:
        """The scalars of step t = iterations + 1, from the integer count, on its device.

        They are computed in the count's precision, with no host round trip: float64 on
        TensorFlow (an int64 count) and on JAX with x64, float32 on JAX without it (an int32
        count), where the core's cancellation-free rho_t keeps every scalar within 4e-7 of
        its float64 value (see the Keras tutorial's Under the hood).
        """
        hp = dataclasses.replace(self._hyperparameters, lr=learning_rate)
        return radam_core.for_adapters.step_coefficients(self._count() + 1, hp, xp)

    def _count(self) -> Any:
        """Steps taken so far, t - 1, as an integer tensor that never goes negative.

        JAX and torch count in int32: saturate (Keras's own counter wraps to negative);
        bias corrections and rho_t reached their limits long before 2**31 steps.
        """
        count = ops.convert_to_tensor(self.iterations)
        ceiling = np.iinfo(keras.backend.standardize_dtype(count.dtype)).max - 1
        return ops.where(count < 0, ceiling, ops.minimum(count, ceiling))

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> RAdam:
        """Rebuild from [`get_config`][radam_keras.RAdam.get_config] (its format is unchanged).

        The config's convention fields become the ``preset`` (no warning: a saved file is
        not a call written the old way).
        """
        return super().from_config(preset_folded(config), custom_objects)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, for ``from_config`` and ``model.save``.

        The convention is stored as the preset's name and each of its fields, plain values.
        """
        config = super().get_config()
        hp = self._hyperparameters
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": hp.eps,
                "preset": self.preset,
                **{key: getattr(hp, key) for key in radam_core.CONVENTION_FIELDS},
            }
        )
        return config


def preset_folded(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with its convention fields (``threshold``, ...) folded into ``preset``."""
    fields = {key: config[key] for key in radam_core.CONVENTION_FIELDS if key in config}
    if not fields:
        return config
    rest = {key: value for key, value in config.items() if key not in fields}
    preset = radam_core.for_adapters.preset_of(config.get("preset", "torch"))
    return {**rest, "preset": preset.replace(**fields)}


def _dense(gradient: Any) -> Any:
    """The gradient as a dense tensor: a ``tf.IndexedSlices`` densified, a list converted."""
    if gradient is not None and not hasattr(gradient, "dtype"):
        return ops.convert_to_tensor(gradient)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)  # duplicate indices are summed
    return gradient


def _check_gradients(grads: list[Any], variables: Any) -> None:
    """Refuse gradients that do not fit the variables (number, shape, kind of dtype)."""
    variables = list(variables)
    if len(grads) != len(variables):
        raise ValueError(f"grads has {len(grads)} tensors, but the variables are {len(variables)}")
    for gradient, variable in zip(grads, variables, strict=True):
        if gradient is None:
            continue
        shape = tuple(gradient.shape)
        if len(shape) != len(variable.shape) or any(
            isinstance(a, int) and isinstance(b, int) and a != b
            for a, b in zip(shape, variable.shape, strict=True)
        ):
            raise ValueError(
                f"the gradient of {_label(variable)} has shape {shape}, "
                f"but the variable's is {tuple(variable.shape)}"
            )
        kind = (
            "complex floating"
            if xp.isdtype(variable.dtype, "complex floating")
            else "real floating"
        )
        dtype = keras.backend.standardize_dtype(gradient.dtype)
        if not xp.isdtype(dtype, kind):
            raise TypeError(
                f"the gradient of {_label(variable)} must be a {kind}-point tensor, "
                f"got dtype {dtype}"
            )


def _label(variable: Any) -> str:
    """A variable's path (a Keras variable) or name (a native tf.Variable, say)."""
    return str(getattr(variable, "path", None) or variable.name)


def _learning_rate_checked(learning_rate: Any) -> Any:
    """A context for the step that refuses a non-finite or negative learning rate first.

    A concrete value is read on the host and raises here. In a TensorFlow graph the step
    runs under a control dependency on a ``tf.debugging.Assert`` (XLA compiles asserts
    away: see the docs' Contract). In a JAX trace and under ``torch.compile`` nothing reads
    the value: it is not on the host there. On torch on an accelerator, reading it waits for
    the device once per step, as the step itself reads the rate and the count for the fused
    kernel (see [`radam_keras.torch_optimizer`][radam_keras.torch_optimizer]).

    Raises:
        ValueError: A concrete learning rate that is not finite and ``>= 0``.
    """
    value = ops.convert_to_tensor(learning_rate)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            valid = tf.logical_and(tf.math.is_finite(value), value >= 0)
            message = ["learning_rate must be finite and >= 0, got", value]
            return tf.control_dependencies([tf.debugging.Assert(valid, message)])
    elif backend == "jax":
        import jax

        if isinstance(value, jax.core.Tracer):
            return contextlib.nullcontext()
    elif _torch_compiling():
        return contextlib.nullcontext()
    number = float(value)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"learning_rate must be finite and >= 0, got {number!r}")
    return contextlib.nullcontext()


def _torch_compiling() -> bool:
    import torch

    return bool(torch.compiler.is_compiling())


def unique_name(prefix: str) -> str:
    """``prefix``, then ``prefix_1``, ``prefix_2``, ...: Keras's own optimizer names.

    Keras names an optimizer from its class (``adam``, ``adam_1``); the class name
    ``RAdam`` would give ``r_adam``. This counts with Keras's public
    ``keras.backend.get_uid``, which shares the counter Keras names objects with.
    """
    uid = keras.backend.get_uid(prefix)
    return prefix if uid == 1 else f"{prefix}_{uid - 1}"


def _float_learning_rate(value: Any) -> float:
    """A constant learning rate as the Python float Keras takes (range checked by the core).

    Python and NumPy real numbers are accepted alike; Keras's base class takes only
    ``float``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            "learning_rate must be a real number, a LearningRateSchedule or a callable, "
            f"got {value!r}"
        )
    return float(value)
