"""optax implementations: radam_optax.radam, optax.radam and both Lookaheads around them.

radam_optax.radam and optax.radam (the one it replaces) time one step; radam_optax.ranger
and optax.lookahead(optax.radam) a whole k-cycle. All run the whole step, ``update`` then
``optax.apply_updates``, as one ``jax.jit`` function with the parameters and the
optimizer state donated (their buffers are reused in place), on float32 arrays copied
from the harness's NumPy parameters; each step waits for the result
(``jax.block_until_ready``). JAX is imported by the setup functions only: the worker
process of every other implementation imports this module too, and a process that has
imported JAX runs torch's small-operation steps several times slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.registry import RANGER_K, Stepper, k_cycle, register


def _stepper(
    make: Callable[[], Any],
    params: list[np.ndarray],
    grads: list[np.ndarray],
    lookahead_params: bool = False,
) -> Stepper:
    """Step the optax transformation ``make()`` on JAX copies of ``params``.

    With ``lookahead_params``, the parameters are ``optax.LookaheadParams(fast, slow)``, as
    ``optax.lookahead`` needs (the gradients are the fast weights').
    """
    import jax
    import jax.numpy as jnp
    import optax

    optimizer = make()
    gradients = [jnp.asarray(g) for g in grads]

    def update(values: Any, state: Any, gradients: list[Any]) -> tuple[Any, Any]:
        updates, state = optimizer.update(gradients, state, values)
        return optax.apply_updates(values, updates), state

    jitted = jax.jit(update, donate_argnums=(0, 1))
    values: Any = [jnp.asarray(p) for p in params]
    if lookahead_params:  # two buffers: donating one array twice is an error
        values = optax.LookaheadParams(values, [jnp.asarray(p) for p in params])
    current = {"params": values, "state": optimizer.init(values)}

    def fast() -> list[np.ndarray]:
        values = current["params"].fast if lookahead_params else current["params"]
        return [np.asarray(v) for v in values]

    def step() -> None:
        current["params"], current["state"] = jitted(current["params"], current["state"], gradients)
        jax.block_until_ready(current["params"])

    return Stepper(step=step, params=fast)


@register("radam_optax.radam", "radam_optax.radam(1e-3), jit, donated")
def radam_optax_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up [`radam_optax.radam`][radam_optax.radam] (optax's convention, lr 1e-3)."""
    import radam_optax

    return _stepper(lambda: radam_optax.radam(1e-3), params, grads)


@register("optax.radam", "optax's own radam(1e-3), jit, donated")
def optax_radam_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up ``optax.radam(1e-3)``."""
    import optax

    return _stepper(lambda: optax.radam(1e-3), params, grads)


@register(
    "radam_optax.ranger",
    f"radam_optax.ranger(1e-3, sync_period={RANGER_K}), jit, donated: one timed step is a "
    f"whole k-cycle, {RANGER_K} updates and one sync",
)
def radam_optax_ranger_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up [`radam_optax.ranger`][radam_optax.ranger]; a step is a k-cycle.

    The optimizer is Lookahead around radam_optax.radam.
    """
    import radam_optax

    stepper = _stepper(lambda: radam_optax.ranger(1e-3, sync_period=RANGER_K), params, grads)
    return k_cycle(stepper)


@register(
    "optax.lookahead",
    f"optax's own lookahead(optax.radam(1e-3), sync_period={RANGER_K}) on LookaheadParams, "
    "jit, donated: one timed step is a whole k-cycle",
)
def optax_lookahead_step(params: list[np.ndarray], grads: list[np.ndarray]) -> Stepper:
    """Set up ``optax.lookahead(optax.radam(1e-3), 6, 0.5)``; a step is a k-cycle."""
    import optax

    def make() -> Any:
        return optax.lookahead(optax.radam(1e-3), sync_period=RANGER_K, slow_step_size=0.5)

    return k_cycle(_stepper(make, params, grads, lookahead_params=True))
