"""The optimizer state: the step count and the moment estimates of every parameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from radam_core.namespace import Array, Namespace, namespace_of


class RAdamState(NamedTuple):
    """RAdam's state after ``count`` steps (a pytree: jax traces it as is).

    Attributes:
        count: Steps taken so far, ``t - 1`` before step t: a Python int, or a 0-d
            integer array (e.g. a traced count under ``jax.jit``).
        exp_avg: m, the first-moment EMA of each parameter (its shape and dtype).
        exp_avg_sq: v, the second-moment EMA of each parameter.
        max_exp_avg_sq: max(v_1, ..., v_t) of each parameter with amsgrad, else ``()``.
    """

    count: Any
    exp_avg: tuple[Array, ...]
    exp_avg_sq: tuple[Array, ...]
    max_exp_avg_sq: tuple[Array, ...] = ()


def init_state(
    params: Sequence[Array], xp: Namespace | None = None, *, amsgrad: bool = False
) -> RAdamState:
    """Zero moments shaped like ``params`` and a count of 0: ``m_0 = v_0 = 0``.

    Args:
        params: The parameters, arrays of one namespace.
        xp: Their namespace; inferred when omitted.
        amsgrad: Also allocate ``max_exp_avg_sq``.

    Returns:
        The initial [`RAdamState`][radam_core.RAdamState].
    """
    params = tuple(params)
    if not params:
        return RAdamState(0, (), (), ())
    xp = namespace_of(*params, xp=xp)

    def zeros() -> tuple[Array, ...]:
        return tuple(xp.zeros_like(p) for p in params)

    return RAdamState(0, zeros(), zeros(), zeros() if amsgrad else ())
