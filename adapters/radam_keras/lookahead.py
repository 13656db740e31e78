"""``Lookahead`` around any Keras 3 optimizer, and ``Ranger`` = Lookahead(RAdam).

The math is [`radam_core.lookahead`][radam_core.lookahead] (Zhang et al. 2019) through
[`radam_keras.namespace`][radam_keras.namespace]: after every inner step ``c <- (c + 1) mod k``;
when ``c == 0``, ``phi <- phi + alpha (theta - phi)`` and ``theta <- phi``. The count is an
integer optimizer variable (under ``tf.function`` and ``jax.jit`` the sync is selected with
``where``; on torch, where Keras steps eagerly, the count is read to the host and the sync
is a Python branch), and the slow weights phi are optimizer variables: ``model.save`` and
``keras.saving.load_model`` keep them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops

import radam_core
from radam_keras import namespace as xp
from radam_keras import snapshot
from radam_keras.optimizer import RAdam, preset_folded, unique_name


@keras.saving.register_keras_serializable(package="radam")
class Lookahead(keras.optimizers.Optimizer):
    """Lookahead (Zhang et al. 2019) around a Keras optimizer: ``Lookahead(inner, k, alpha)``.

    ``build`` creates the slow weights phi (one variable per model variable, initialized
    to its value: ``phi_0 = theta_0``) and a count, and builds the inner optimizer;
    ``apply`` runs the inner optimizer's ``apply``, then, if it updated the variables (its
    ``iterations`` moved: gradient accumulation and loss scaling skip calls),
    [`radam_core.lookahead`][radam_core.lookahead]'s rule:

        c <- (c + 1) mod k;   if c == 0:  phi <- phi + alpha (theta - phi);  theta <- phi

    ``learning_rate`` and ``iterations`` are the inner optimizer's. Base-class options
    (weight decay, clipping, EMA, gradient accumulation, loss scaling) belong on the inner
    optimizer.

    Args:
        inner_optimizer: The wrapped ``keras.optimizers.Optimizer``.
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, in ``[0, 1]``.
        name: The optimizer's name (default: ``"lookahead"``, made unique as Keras
            names its own optimizers).
        **kwargs: Refused (set base-class options on the inner optimizer).

    Raises:
        TypeError, ValueError: Invalid ``k`` or ``alpha`` (named with its value), an inner
            optimizer that is not a Keras optimizer, base-class options, or on JAX a
            ``LossScaleOptimizer`` inside (it belongs outside there).
    """

    def __init__(
        self,
        inner_optimizer: Any,
        k: int = 6,
        alpha: float = 0.5,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        radam_core.for_adapters.check_lookahead(k, alpha)
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise TypeError(
                "inner_optimizer must be a keras.optimizers.Optimizer, "
                f"got {type(inner_optimizer).__name__}"
            )
        if kwargs:
            raise ValueError(
                f"Lookahead does not take {', '.join(sorted(kwargs))}: set them on the "
                "inner optimizer"
            )
        if keras.backend.backend() == "jax" and isinstance(
            inner_optimizer, keras.optimizers.LossScaleOptimizer
        ):
            raise ValueError(
                "on the JAX backend a LossScaleOptimizer applies only through its own "
                "stateless_apply: wrap it around Lookahead, not inside "
                "(LossScaleOptimizer(Lookahead(...)), as mixed-precision compile() does)"
            )
        super().__init__(learning_rate=0.0, name=unique_name("lookahead") if name is None else name)
        self.inner_optimizer = inner_optimizer
        self.k, self.alpha = int(k), float(alpha)

    def build(self, var_list: list[Any]) -> None:
        """Build the inner optimizer; create phi (= each variable's value) and the count.

        Args:
            var_list: The model's trainable variables.
        """
        if self.built:
            return
        self.inner_optimizer.build(var_list)  # first: if it refuses a variable, nothing is built
        super().build(var_list)
        self.lookahead_count = self.add_variable(
            shape=(), dtype="int32", initializer="zeros", name="lookahead_count"
        )
        self._slow_weights = [
            self.add_variable_from_reference(variable, "slow", initializer=_value_of(variable))
            for variable in var_list
        ]

    @property
    def variables(self) -> list[Any]:
        """This optimizer's variables (count, phi, ...) and then the inner optimizer's."""
        return self._variables + self.inner_optimizer.variables

    @property
    def learning_rate(self) -> Any:
        """The inner optimizer's learning rate."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: Any) -> None:
        # The base class's __init__ sets a placeholder 0.0 before the inner optimizer exists.
        if "inner_optimizer" in self.__dict__:
            self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self) -> Any:
        """The inner optimizer's step count."""
        return self.inner_optimizer.iterations

    @property
    def loss_scale_factor(self) -> Any:
        """The inner optimizer's (``scale_loss`` and ``LossScaleOptimizer`` read it here)."""
        return self.inner_optimizer.loss_scale_factor

    @loss_scale_factor.setter
    def loss_scale_factor(self, factor: Any) -> None:
        # The base class's __init__ sets None before the inner optimizer exists.
        if "inner_optimizer" in self.__dict__:
            self.inner_optimizer.loss_scale_factor = factor

    def exclude_from_weight_decay(
        self, var_list: list[Any] | None = None, var_names: list[str] | None = None
    ) -> None:
        """The inner optimizer's, which decays the weights."""
        self.inner_optimizer.exclude_from_weight_decay(var_list=var_list, var_names=var_names)

    def set_weights(self, weights: list[Any]) -> None:
        """Set [`variables`][radam_keras.lookahead.Lookahead.variables] in order.

        This optimizer's, then the inner optimizer's.
        """
        own = len(self._variables)
        super().set_weights(weights[:own])
        self.inner_optimizer.set_weights(weights[own:])

    def apply(self, grads: list[Any], trainable_variables: list[Any] | None = None) -> None:
        """The inner optimizer's step, then Lookahead's count and, every k steps, a sync.

        Args:
            grads: The gradients.
            trainable_variables: The variables (default: those the optimizer was built with).
        """
        if not self.built:
            if trainable_variables is None:
                raise ValueError("the first apply needs trainable_variables, to build")
            with keras.name_scope(self.name, caller=self):
                self.build(trainable_variables)
        variables = (
            self._trainable_variables if trainable_variables is None else trainable_variables
        )
        slows = [self._slow_weights[self._get_variable_index(v)] for v in variables]
        if keras.backend.backend() == "torch":
            self._apply_eagerly(grads, trainable_variables, variables, slows)
            return
        updates_before = ops.copy(ops.convert_to_tensor(self.inner_optimizer.iterations))
        self.inner_optimizer.apply(grads, trainable_variables)
        # Count the inner optimizer's updates, not apply() calls: with its gradient
        # accumulation (iterations = calls // steps) or a LossScaleOptimizer that skips a
        # non-finite step, an apply() that changed nothing is no fast step.
        updated = ops.not_equal(
            ops.convert_to_tensor(self.inner_optimizer.iterations), updates_before
        )
        count = ops.convert_to_tensor(self.lookahead_count)
        next_count, due = radam_core.for_adapters.advance_lookahead(count, self.k)
        new_count = ops.where(updated, next_count, count)
        sync = ops.logical_and(updated, due)
        # Selects: theta's first, from the synced value, then phi's from the selected
        # theta (the same value on a sync). XLA then fuses theta's select into the inner
        # update and writes it straight into the variable (no temporary), and both update
        # in place; selecting both from the synced value makes XLA's CPU backend copy every
        # variable and phi on every step (a Ranger k-cycle of 8.5-9.3 RAdam steps on
        # TensorFlow in the benchmark, 6.5-6.6 this way; a ``cond`` per variable: 7.4-9.3).
        for variable, slow in zip(variables, slows, strict=True):
            theta, phi = ops.convert_to_tensor(variable), ops.convert_to_tensor(slow)
            synced = radam_core.for_adapters.lookahead_leaf(theta, phi, self.alpha, xp)
            new_theta = xp.where(sync, synced, theta)
            self.assign(variable, new_theta)
            self.assign(slow, xp.where(sync, new_theta, phi))
        self.assign(self.lookahead_count, ops.cast(new_count, "int32"))

    def _apply_eagerly(
        self, grads: list[Any], trainable_variables: Any, variables: list[Any], slows: list[Any]
    ) -> None:
        """[`apply`][radam_keras.lookahead.Lookahead.apply] on torch, where Keras steps eagerly.

        The count is on the host: the same rule with Python ints (the update test, the count and
        the branch), and radam_torch's in-place sync (block by block) on a sync.
        """
        import torch
        from radam_torch.kernels import sync_slow_weights

        updates_before = int(self.inner_optimizer.iterations)
        self.inner_optimizer.apply(grads, trainable_variables)
        if int(self.inner_optimizer.iterations) == updates_before:  # no fast step
            return
        count, sync = radam_core.for_adapters.advance_lookahead(int(self.lookahead_count), self.k)
        if sync:
            with torch.no_grad():
                sync_slow_weights(
                    [v.value for v in variables], [s.value for s in slows], self.alpha
                )
        self.lookahead_count.assign(count)

    def export_state(self, variables: Sequence[Any]) -> radam_core.Snapshot:
        """The state as a framework-neutral [`Snapshot`][radam_core.snapshot.Snapshot].

        The inner [`RAdam`][radam_keras.RAdam]'s snapshot, with each variable's phi and
        Lookahead's k, alpha and count; any adapter's Lookahead resumes from it.

        Args:
            variables: ``model.trainable_variables``: each is named by its path.

        Returns:
            The snapshot (host copies).

        Raises:
            TypeError: The inner optimizer is not a radam_keras ``RAdam``.
        """
        return snapshot.export_state(self._radam(), variables, lookahead=self)

    def import_state(self, state: radam_core.Snapshot, variables: Sequence[Any]) -> None:
        """Resume from a Lookahead [`Snapshot`][radam_core.snapshot.Snapshot]; all or nothing.

        The inner optimizer's count and moments, phi and Lookahead's count come from the
        snapshot; k must be this optimizer's, and alpha and the hyperparameters stay its own.

        Args:
            state: From any adapter's Lookahead (or Ranger) ``export_state``.
            variables: ``model.trainable_variables``, named by their paths.

        Raises:
            TypeError: The inner optimizer is not a radam_keras ``RAdam``.
            ValueError: A snapshot that does not fit; nothing changed.
        """
        snapshot.import_state(self._radam(), state, variables, lookahead=self)

    def _radam(self) -> RAdam:
        """The inner optimizer, which must be a radam_keras ``RAdam`` to move its state."""
        if not isinstance(self.inner_optimizer, RAdam):
            raise TypeError(
                "only a Lookahead around radam_keras.RAdam has a portable state, not around "
                f"{type(self.inner_optimizer).__name__}"
            )
        return self.inner_optimizer

    def finalize_variable_values(self, var_list: list[Any]) -> None:
        """The inner optimizer's (EMA weights, say)."""
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self) -> dict[str, Any]:
        """The inner optimizer's serialized config, ``k``, ``alpha`` and the name."""
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "k": self.k,
            "alpha": self.alpha,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Lookahead:
        """Rebuild from [`get_config`][radam_keras.lookahead.Lookahead.get_config].

        The inner optimizer is deserialized first.
        """
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)


@keras.saving.register_keras_serializable(package="radam")
class Ranger(Lookahead):
    """Ranger: ``Lookahead(radam_keras.RAdam(learning_rate, **radam_kwargs), k, alpha)``.

    Each step is a RAdam step ([`update_leaf`][radam_core.for_adapters.update_leaf], torch's
    convention with Keras's ``epsilon = 1e-7`` unless a ``preset`` says otherwise), and every ``k``
    steps ``phi <- phi + alpha (theta - phi); theta <- phi``.

    Args:
        learning_rate: A float, a ``LearningRateSchedule``, or a callable.
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, in ``[0, 1]``.
        name: The optimizer's name (default: ``"ranger"``, made unique as Keras names
            its own optimizers).
        **radam_kwargs: [`radam_keras.RAdam`][radam_keras.RAdam]'s other arguments (``beta_1``,
            ``preset``, ``weight_decay``, ...).
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        k: int = 6,
        alpha: float = 0.5,
        name: str | None = None,
        **radam_kwargs: Any,
    ) -> None:
        radam_core.for_adapters.check_lookahead(k, alpha)
        super().__init__(
            RAdam(learning_rate=learning_rate, **radam_kwargs),
            k,
            alpha,
            name=unique_name("ranger") if name is None else name,
        )

    def get_config(self) -> dict[str, Any]:
        """RAdam's config with ``k``, ``alpha`` and this optimizer's name."""
        config = self.inner_optimizer.get_config()
        config.update({"name": self.name, "k": self.k, "alpha": self.alpha})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Ranger:
        """Rebuild from [`get_config`][radam_keras.lookahead.Ranger.get_config].

        A serialized schedule is deserialized first.
        """
        config = preset_folded(dict(config))
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = keras.saving.deserialize_keras_object(
                config["learning_rate"], custom_objects=custom_objects
            )
        return cls(**config)


def _value_of(variable: Any) -> Any:
    """An initializer that gives ``variable``'s current value."""

    def initializer(shape: Any, dtype: Any = None) -> Any:
        return ops.cast(ops.copy(ops.convert_to_tensor(variable)), dtype or variable.dtype)

    return initializer


__all__ = ["Lookahead", "Ranger"]
