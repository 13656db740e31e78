"""radam_keras.RAdam on the Keras torch backend: every variable at once, by radam_torch.

Keras runs optimizers eagerly on its torch backend, one operation at a time, so Keras gives
its own optimizers a torch subclass there (``keras.optimizers.Adam`` becomes one that updates
all variables with ``torch._foreach`` kernels). [`radam_keras.RAdam`][radam_keras.RAdam] does
the same: on torch it is built as this module's [`RAdam`][radam_keras.torch_optimizer.RAdam],
which steps all variables at once with
[`radam_torch.functional.radam_unchecked`][radam_torch.functional.radam_unchecked] (radam_torch's
functional step without its checks), whose math is radam_core, and so on radam_torch's device
paths: a rectified step is one call of PyTorch's fused Adam kernel per device and dtype wherever
torch has that kernel (CPU, CUDA, XPU, MPS); other steps, other devices and complex variables
(optax's convention, the core's, as on the other backends) run the core's equations. The count
and the learning rate are read on the host for that (on an accelerator, one wait for the device
per step); inside ``torch.compile`` they stay tensors, so nothing waits for the device.

The one private Keras name the project relies on is here: the hook
``Optimizer._backend_update_step(grads, trainable_variables, learning_rate)``, which Keras's own
torch optimizers override the same way. tests/keras_backends/test_radam_keras.py fails if Keras
renames it or changes its arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import torch
from keras import ops
from radam_torch import functional

import radam_core
from radam_keras import optimizer


class RAdam(optimizer.RAdam):
    """[`radam_keras.RAdam`][radam_keras.RAdam] on the torch backend (built by it there).

    Its arguments, state, config and results are radam_keras.RAdam's; only the update of all
    variables together is torch's:
    [`update_variables`][radam_keras.torch_optimizer.update_variables].
    """

    def _backend_update_step(
        self, grads: list[Any], trainable_variables: list[Any], learning_rate: Any
    ) -> None:
        """Update every variable with one functional step (Keras's hook for its backends)."""
        indices = [self._get_variable_index(v) for v in trainable_variables]
        hats = [self._velocity_hats[i] for i in indices] if self._hyperparameters.amsgrad else []
        update_variables(
            grads,
            trainable_variables,
            [self._momentums[i] for i in indices],
            [self._velocities[i] for i in indices],
            hats,
            self._count(),
            ops.convert_to_tensor(learning_rate),
            self._hyperparameters,
        )


# Saved under radam_keras.RAdam's name (Keras's own torch optimizers keep their class's name),
# which stays registered to radam_keras.RAdam: a model saved on any backend loads on any other
# as that backend's variant.
keras.saving.register_keras_serializable(package="radam", name="RAdam")(RAdam)
keras.saving.register_keras_serializable(package="radam", name="RAdam")(optimizer.RAdam)


def update_variables(
    grads: Sequence[Any],
    variables: Sequence[Any],
    momentums: Sequence[Any],
    velocities: Sequence[Any],
    velocity_hats: Sequence[Any],
    count: torch.Tensor,
    learning_rate: torch.Tensor,
    hyperparameters: radam_core.Hyperparameters,
) -> None:
    """Apply step ``count + 1`` to Keras variables in place.

    Args:
        grads: One gradient per variable (cast to the variable's dtype here).
        variables: theta_{t-1}: Keras variables whose ``.value`` is a torch tensor.
        momentums: m_{t-1} of each variable.
        velocities: v_{t-1} of each variable.
        velocity_hats: max(v_1..v_{t-1}) of each variable with amsgrad, else empty.
        count: Steps taken so far, a 0-d integer tensor.
        learning_rate: This step's learning rate, a 0-d tensor.
        hyperparameters: The optimizer's hyperparameters (their ``lr`` is replaced).
    """
    params = [v.value for v in variables]
    tensors: functional.StepTensors = (
        params,
        [torch.as_tensor(g).to(p.dtype) for g, p in zip(grads, params, strict=True)],
        [m.value for m in momentums],
        [v.value for v in velocities],
        [v.value for v in velocity_hats],
    )
    # The variables and their moments fit by construction (the optimizer built the moments;
    # ``RAdam.apply`` checked the gradients): the step skips radam's checks.
    with torch.no_grad():
        if torch.compiler.is_compiling():
            hp = hyperparameters.with_lr(learning_rate)
            functional.radam_unchecked(tensors, count, hp)
        else:
            hp = hyperparameters.with_lr(float(learning_rate))
            functional.radam_unchecked(tensors, int(count), hp)
