"""``lookahead`` and ``ranger``: Lookahead (Zhang et al. 2019) as a plain optax transformation.

The math is radam_core's ([`advance_lookahead`][radam_core.for_adapters.advance_lookahead] and
[`lookahead_leaf`][radam_core.for_adapters.lookahead_leaf]) on jax.numpy: after every inner update,
with theta the parameters the inner update leads to, ``c <- (c + 1) mod k``; when ``c == 0``,
``phi <- phi + alpha (theta - phi)`` and ``theta <- phi``. The count is a 0-d int32 array
(traced under ``jax.jit``): the update is selected with ``jnp.where`` and the slow weights
are replaced in a ``jax.lax.cond``; nothing branches on the count in Python.

How it differs from ``optax.lookahead``. optax's wrapper works on
``optax.LookaheadParams(fast, slow)``: the caller keeps both copies in the parameters, the
inner optimizer's updates are applied to the fast ones only, and the slow ones are the
weights to evaluate. Here the parameters are the ordinary pytree and the slow weights live
in the transformation's state ([`LookaheadTransformState`][radam_optax.LookaheadTransformState]), as
in the paper and in torch's Ranger: on a sync the returned update moves the parameters to the new
slow weights. The update is the inner update itself on other steps (so ``apply_updates`` gives
exactly what the inner transformation alone gives), and ``phi_new - theta_{t-1}`` on a sync.
``apply_updates`` then gives phi_new to within one rounding of the parameter (exactly where
``theta_{t-1}`` and phi_new are within a factor 2 of each other, by Sterbenz's lemma; with
``slow_step_size = 1`` the update is the inner update, and phi_new = theta exactly), and
the slow weights kept are those new parameters, so that after a sync theta = phi bit for
bit (with ``slow_step_size = 0`` the slow weights stay theta_0 bit for bit).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

import radam_core
from radam_optax.transform import radam


class LookaheadTransformState(NamedTuple):
    """The state of [`lookahead`][radam_optax.lookahead.lookahead], a pytree.

    [`ranger`][radam_optax.ranger] keeps the same state.

    Attributes:
        inner_state: The inner transformation's state.
        count: Inner updates since the last sync, in ``[0, sync_period)``: a 0-d int32 array.
        slow: phi, the slow weights, shaped like the parameters.
    """

    inner_state: Any
    count: Any
    slow: Any


def lookahead(
    inner: optax.GradientTransformation, sync_period: int = 6, slow_step_size: float = 0.5
) -> optax.GradientTransformationExtraArgs:
    """Lookahead around ``inner``: every ``sync_period`` updates, pull slow weights and restart.

    With ``k = sync_period``, ``alpha = slow_step_size`` and ``phi_0 = theta_0`` (the
    params given to ``init``), after each inner update (theta = params + inner update):

        c <- (c + 1) mod k
        c == 0:  update = phi + alpha (theta - phi) - params;   phi <- params + update
        else:    update = the inner update

    ``update`` needs ``params``. See [`radam_optax.lookahead`][radam_optax.lookahead] for how this
    differs from ``optax.lookahead``.

    Args:
        inner: The inner transformation (``radam(...)`` for Ranger); extra arguments are
            passed on to it.
        sync_period: ``k``, an int ``>= 1``.
        slow_step_size: ``alpha``, in ``[0, 1]``.

    Returns:
        An ``optax.GradientTransformationExtraArgs`` with state
        [`LookaheadTransformState`][radam_optax.LookaheadTransformState].

    Raises:
        TypeError, ValueError: An invalid ``sync_period`` or ``slow_step_size`` (named with
            its value), when called; ``update`` without ``params``.
    """
    radam_core.for_adapters.check_lookahead(
        sync_period, slow_step_size, argument_names=("sync_period", "slow_step_size")
    )
    k, alpha = int(sync_period), float(slow_step_size)
    wrapped = optax.with_extra_args_support(inner)

    def init_fn(params: Any) -> LookaheadTransformState:
        return LookaheadTransformState(
            inner_state=wrapped.init(params),
            count=jnp.zeros([], jnp.int32),
            slow=jax.tree.map(lambda p: jnp.array(p, copy=True), params),
        )

    def update_fn(
        updates: Any, state: LookaheadTransformState, params: Any = None, **extra_args: Any
    ) -> tuple[Any, LookaheadTransformState]:
        if params is None:
            raise ValueError(
                "radam_optax.lookahead needs params: call update(updates, state, params)"
            )
        inner_updates, inner_state = wrapped.update(
            updates, state.inner_state, params, **extra_args
        )
        count, sync = radam_core.for_adapters.advance_lookahead(state.count, k)
        fast = optax.apply_updates(params, inner_updates)
        fast_leaves, structure = jax.tree.flatten(fast)
        treedef: Any = structure  # jaxlib's PyTreeDef, whose methods mypy does not see
        param_leaves = treedef.flatten_up_to(params)
        inner_leaves = treedef.flatten_up_to(inner_updates)
        slow_leaves = treedef.flatten_up_to(state.slow)
        if alpha == 1.0:  # phi_new = theta: the inner update leads there exactly
            new_updates = list(inner_leaves)
        else:
            new_updates = [
                jnp.where(
                    sync,
                    (radam_core.for_adapters.lookahead_leaf(f, s, alpha, jnp) - p).astype(u.dtype),
                    u,
                )
                for f, s, p, u in zip(
                    fast_leaves, slow_leaves, param_leaves, inner_leaves, strict=True
                )
            ]
        if alpha == 0.0:  # phi_new = phi: the slow weights stay as they are, bit for bit
            new_slow = list(slow_leaves)
        else:
            # theta <- phi, phi <- theta: after a sync phi is the new parameters, computed
            # by the same expression as the caller's apply_updates. Under one jax.jit XLA
            # then computes them once, straight into the parameters' buffers, and copies
            # them into phi in a cond, on a sync only. Computing phi from the inner update
            # instead would keep the update as a parameter-sized temporary, which XLA's
            # CPU backend maps and page-faults afresh on every step (2.5x the time of a
            # radam step), and a select would read and write phi on every step.
            new_params = treedef.flatten_up_to(
                optax.apply_updates(params, treedef.unflatten(new_updates))
            )
            new_slow = [
                jax.lax.cond(sync, lambda theta, phi: theta, lambda theta, phi: phi, theta, phi)
                for theta, phi in zip(new_params, slow_leaves, strict=True)
            ]
        new_state = LookaheadTransformState(
            inner_state=inner_state,
            count=count,
            slow=treedef.unflatten(new_slow),
        )
        return treedef.unflatten(new_updates), new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def ranger(
    learning_rate: Any,
    b1: Any = 0.9,
    b2: Any = 0.999,
    eps: Any = 1e-8,
    eps_root: Any = 0.0,
    threshold: Any = 5.0,
    *,
    sync_period: int = 6,
    slow_step_size: float = 0.5,
    **radam_options: Any,
) -> optax.GradientTransformationExtraArgs:
    """Ranger: ``lookahead(radam(learning_rate, ...), sync_period, slow_step_size)``.

    Each update is [`radam_optax.radam`][radam_optax.radam]'s (optax's convention unless ``preset``
    says otherwise; rectified when ``rho_t >= threshold``:
    ``u = -lr r_t m_hat / (sqrt(v_hat + eps_root) + eps)``, else ``u = -lr m_hat``), and
    every ``sync_period`` updates ``phi <- phi + slow_step_size (theta - phi)`` and the
    parameters move to phi.

    Args:
        learning_rate: A number, a 0-d array or an optax schedule.
        b1: Decay rate of the first moment, in ``[0, 1)``.
        b2: Decay rate of the second moment, in ``[0, 1)``.
        eps: Added to the square root in the denominator.
        eps_root: Added to the (bias-corrected) ``v_t`` inside the square root.
        threshold: Rectify when rho_t reaches it; at least 4.
        sync_period: ``k``, an int ``>= 1``.
        slow_step_size: ``alpha``, in ``[0, 1]``.
        **radam_options: [`radam_optax.radam`][radam_optax.radam]'s keyword arguments (``preset``,
            ``nesterov``, ``weight_decay``, ...).

    Returns:
        An ``optax.GradientTransformationExtraArgs`` with state
        [`LookaheadTransformState`][radam_optax.LookaheadTransformState].
    """
    return lookahead(
        radam(learning_rate, b1, b2, eps, eps_root, threshold, **radam_options),
        sync_period,
        slow_step_size,
    )
