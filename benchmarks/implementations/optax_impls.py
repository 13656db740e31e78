"""optax implementations: radam_optax.radam and optax.radam, the one it replaces.

Both run the whole step, ``update`` then ``optax.apply_updates``, as one ``jax.jit``
function with the parameters and the optimizer state donated (their buffers are reused in
place), on float32 arrays copied from the harness's NumPy parameters; each step waits for
the result (``jax.block_until_ready``). JAX is imported by the setup functions only: the
worker process of every other implementation imports this module too, and a process that
has imported JAX runs torch's small-operation steps several times slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.registry import Stepper, register


def _stepper(make: Callable[[], Any], params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Step the optax transformation ``make()`` on JAX copies of ``params``."""
    import jax
    import jax.numpy as jnp
    import optax

    optimizer = make()
    gradients = [jnp.asarray(g) for g in grads]

    def update(values: list[Any], state: Any, gradients: list[Any]) -> tuple[list[Any], Any]:
        updates, state = optimizer.update(gradients, state, values)
        return optax.apply_updates(values, updates), state

    jitted = jax.jit(update, donate_argnums=(0, 1))
    values = [jnp.asarray(p) for p in params]
    current = {"params": values, "state": optimizer.init(values)}

    def step() -> None:
        current["params"], current["state"] = jitted(current["params"], current["state"], gradients)
        jax.block_until_ready(current["params"])

    return Stepper(step=step, params=lambda: [np.asarray(v) for v in current["params"]])


@register("radam_optax.radam", "radam_optax.radam(1e-3), jit, donated")
def radam_optax_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up :func:`radam_optax.radam` (optax's convention, lr 1e-3).

    Args:
        params: This implementation's copies of the parameters.
        grads: This implementation's copies of the gradients.

    Returns:
        The :class:`Stepper`.
    """
    import radam_optax

    return _stepper(lambda: radam_optax.radam(1e-3), params, grads)


@register("optax.radam", "optax's own radam(1e-3), jit, donated")
def optax_radam_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up ``optax.radam(1e-3)``.

    Args:
        params: This implementation's copies of the parameters.
        grads: This implementation's copies of the gradients.

    Returns:
        The :class:`Stepper`.
    """
    import optax

    return _stepper(lambda: optax.radam(1e-3), params, grads)
