"""Lookahead (Zhang et al. 2019, arXiv:1907.08610): slow weights that follow the fast ones.

An inner optimizer (RAdam, for Ranger) updates the *fast* weights theta on every step.
Lookahead keeps a second copy, the *slow* weights phi (``phi_0 = theta_0``), and every
``k`` steps pulls them a fraction ``alpha`` towards the fast weights, then restarts the fast
weights from them:

    after each inner step:  c <- (c + 1) mod k
    if c == 0:              phi   <- phi + alpha (theta - phi)
                            theta <- phi

``alpha = 1`` makes Lookahead the inner optimizer itself (phi just follows theta);
``alpha = 0`` returns the fast weights to the initial ones at every sync.

Like [`radam_core.step`][radam_core.step.step], [`lookahead_step`][radam_core.lookahead_step] is
pure and runs on any Array API namespace. The count ``c`` (the fast steps since the last sync, in
``[0, k)``) is a Python int, for which the sync is decided on the host (steps without a sync then
cost nothing), or a 0-d integer array (a traced count under ``jax.jit``), for which nothing branches
in Python: both outcomes are selected with ``xp.where``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from radam_core.namespace import Array, Namespace, is_host_count, namespace_of
from radam_core.step import check_count, check_params
from radam_core.update import compute_dtype

DEFAULT_K = 6
DEFAULT_ALPHA = 0.5


class LookaheadState(NamedTuple):
    """Lookahead's state (a pytree: jax traces it as is).

    Attributes:
        count: Fast steps taken since the last sync (or the start), in ``[0, k)``: a Python
            int, or a 0-d integer array (e.g. a traced count under ``jax.jit``).
        slow: phi, the slow weights, one array per parameter (its shape and dtype).
    """

    count: Any
    slow: tuple[Array, ...]


def check_lookahead(
    k: Any, alpha: Any, *, argument_names: tuple[str, str] = ("k", "alpha")
) -> None:
    """Validate Lookahead's hyperparameters.

    Args:
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, a real number in ``[0, 1]``.
        argument_names: The caller's names of ``k`` and ``alpha``, for the messages (optax's
            are ``("sync_period", "slow_step_size")``).

    Raises:
        TypeError: ``k`` is not an int (bools included), or ``alpha`` is not a real number.
        ValueError: ``k < 1``, or ``alpha`` outside ``[0, 1]`` (NaN included).
    """
    k_name, alpha_name = argument_names
    if not is_host_count(k) or isinstance(k, bool):
        raise TypeError(f"{k_name} must be an int, got {k!r}")
    if int(k) < 1:
        raise ValueError(f"{k_name} must be >= 1, got {k!r}")
    real = isinstance(alpha, (int, float, np.integer, np.floating))
    if not real or isinstance(alpha, (bool, np.bool_)):
        raise TypeError(f"{alpha_name} must be a real number, got {alpha!r}")
    if not 0.0 <= float(alpha) <= 1.0:  # NaN fails too
        raise ValueError(f"{alpha_name} must be in [0, 1], got {alpha!r}")


def init_lookahead(params: Sequence[Array], xp: Namespace | None = None) -> LookaheadState:
    """Slow weights equal to the initial parameters, ``phi_0 = theta_0``, and a count of 0.

    Args:
        params: The initial parameters, real floating-point arrays of one namespace.
        xp: Their namespace; inferred when omitted.

    Returns:
        The initial [`LookaheadState`][radam_core.LookaheadState]; ``slow`` holds copies of
        ``params``.
    """
    params = tuple(params)
    if not params:
        return LookaheadState(0, ())
    xp = namespace_of(*params, xp=xp)
    check_params(params, xp)
    return LookaheadState(0, tuple(xp.asarray(p, copy=True) for p in params))


def advance_lookahead(count: Any, k: int) -> tuple[Any, Any]:
    """Advance Lookahead's count by one fast step and say whether this step syncs.

    ``c <- (c + 1) mod k``; the step syncs when the new ``c`` is 0.

    Args:
        count: Fast steps since the last sync: an int, or a 0-d integer array.
        k: The sync period (validated by [`check_lookahead`][radam_core.lookahead.check_lookahead]).

    Returns:
        ``(new_count, sync)``: ints and a bool for an int count; a 0-d integer array and
        a 0-d boolean array (never read) for an array count.
    """
    if is_host_count(count):
        new_count = (int(count) + 1) % k
        return new_count, new_count == 0
    new_count = (count + 1) % k
    return new_count, new_count == 0


def lookahead_sync(count: Any, k: int) -> tuple[Any, Any]:
    """Deprecated name of [`advance_lookahead`][radam_core.lookahead.advance_lookahead].

    It syncs nothing: it advances the count.

    Warns with a ``DeprecationWarning``; removed in a later release.
    """
    warnings.warn(
        "radam_core.lookahead_sync is deprecated: it only advances the count; "
        "use radam_core.for_adapters.advance_lookahead",
        DeprecationWarning,
        stacklevel=2,
    )
    return advance_lookahead(count, k)


def lookahead_leaf(
    fast: Array, slow: Array, alpha: float, xp: Namespace, *, overwrite_fast: bool = False
) -> Array:
    """One parameter's new slow weights at a sync: ``phi + alpha (theta - phi)``.

    Arithmetic runs in at least float32 (``radam_core.update.compute_dtype``); the
    result has ``slow``'s dtype. At the ends of the range the formula's exact value is
    returned: ``alpha = 1`` gives theta and ``alpha = 0`` gives phi, bit for bit (in
    floating point ``phi + (theta - phi)`` can miss theta by a rounding), so that Lookahead
    with ``k = 1, alpha = 1`` is the inner optimizer and ``alpha = 0`` restores phi exactly.

    Args:
        fast: theta, the fast weights after the inner step.
        slow: phi, the slow weights, same shape and dtype.
        alpha: The slow step size in ``[0, 1]``, a host number.
        xp: The arrays' namespace.
        overwrite_fast: Let the computation use ``fast``'s memory (an adapter that is about
            to overwrite theta with the new phi anyway saves a temporary and a pass); the
            result is bit for bit the same. Only where ``fast`` already has the compute
            dtype and the namespace writes in place; otherwise ``fast`` is left alone.

    Returns:
        The new phi: a new array, ``fast`` itself when it was overwritten, or
        ``fast``/``slow`` itself at ``alpha`` 1 or 0.
    """
    if alpha == 1:
        return fast
    if alpha == 0:
        return slow
    dtype = compute_dtype(slow.dtype, xp)
    phi = xp.astype(slow, dtype, copy=False)
    theta = xp.astype(fast, dtype, copy=False)
    # phi + alpha (theta - phi), in one temporary of our own or in theta's memory (the
    # in-place operators only write there; where a namespace has none, such as JAX, they
    # make new arrays). The reordered operands give the same result bit for bit: + and *
    # are commutative in IEEE.
    if overwrite_fast and theta is fast:
        new = theta
        new -= phi
    else:
        new = theta - phi
    new *= float(alpha)
    new += phi
    return new if new.dtype == slow.dtype else xp.astype(new, slow.dtype)


def lookahead_step(
    fast_params: Sequence[Array],
    state: LookaheadState,
    k: int = DEFAULT_K,
    alpha: float = DEFAULT_ALPHA,
    xp: Namespace | None = None,
) -> tuple[tuple[Array, ...], LookaheadState]:
    """Lookahead after one inner step; pure: inputs are never written.

    With ``c = state.count`` and theta the fast weights the inner optimizer just
    produced:

        c <- (c + 1) mod k
        c == 0:  phi <- phi + alpha (theta - phi);  theta <- phi
        else:    phi and theta unchanged

    Args:
        fast_params: theta after the inner optimizer's step, one array per parameter.
        state: From [`init_lookahead`][radam_core.init_lookahead] or the previous call.
        k: The sync period, an int ``>= 1``.
        alpha: The slow step size, a real number in ``[0, 1]``.
        xp: The arrays' namespace; inferred when omitted.

    Returns:
        ``(params, new_state)``: the parameters to continue from (the fast weights, or the
        new slow weights after a sync) and the new state. With an int count the arrays
        of a step without a sync are the inputs themselves.

    Raises:
        TypeError, ValueError: Invalid ``k`` or ``alpha``, a state that is not a
            ``LookaheadState``, or slow weights that do not match the parameters.
    """
    check_lookahead(k, alpha)
    fast_params = tuple(fast_params)
    xp = namespace_of(*fast_params, xp=xp) if fast_params else xp
    _check_state(fast_params, state, xp)
    count, sync = advance_lookahead(state.count, int(k))
    if xp is None:  # no parameters
        return fast_params, LookaheadState(count, state.slow)
    if isinstance(sync, bool):
        if not sync:
            return fast_params, LookaheadState(count, state.slow)
        slow = tuple(
            lookahead_leaf(f, s, alpha, xp) for f, s in zip(fast_params, state.slow, strict=True)
        )
        return slow, LookaheadState(count, slow)
    new_params, new_slow = [], []
    for fast, slow in zip(fast_params, state.slow, strict=True):
        # phi's select reads the selected theta (the synced value on a sync), not the
        # synced value itself: theta's select can then fuse into the computation of the
        # fast weights, and each new array reads only its own old array and ones computed
        # before it, so that a compiler (XLA) can update both in place.
        theta = xp.where(sync, lookahead_leaf(fast, slow, alpha, xp), fast)
        new_params.append(theta)
        new_slow.append(xp.where(sync, theta, slow))
    return tuple(new_params), LookaheadState(count, tuple(new_slow))


def _check_state(params: tuple[Array, ...], state: LookaheadState, xp: Namespace) -> None:
    """Raise unless ``state`` is a LookaheadState whose slow weights match ``params``."""
    if not isinstance(state, LookaheadState):
        raise TypeError(
            f"state must be a LookaheadState (from init_lookahead), got {type(state).__name__}"
        )
    if params:
        check_params(params, xp)
    check_count(state.count)
    if len(state.slow) != len(params):
        raise ValueError(f"state.slow has {len(state.slow)} arrays, but params has {len(params)}")
    for index, (param, slow) in enumerate(zip(params, state.slow, strict=True)):
        if tuple(slow.shape) != tuple(param.shape):
            raise ValueError(
                f"state.slow[{index}] has shape {tuple(slow.shape)}, expected {tuple(param.shape)}"
            )
        if slow.dtype != param.dtype:
            raise ValueError(f"state.slow[{index}] has dtype {slow.dtype}, expected {param.dtype}")


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_K",
    "LookaheadState",
    "advance_lookahead",
    "check_lookahead",
    "init_lookahead",
    "lookahead_leaf",
    "lookahead_step",
    "lookahead_sync",
]
