"""``RAdam`` for NumPy: updates a list of arrays in place, block by block.

The math is :func:`radam_core.update_leaf_in_place`, applied to cache-sized slices of
each parameter and its state, so that no step allocates a parameter-sized temporary;
the blocks are shared among threads by :func:`radam_numpy.threads.share`.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Iterable, Sequence
from typing import Any

import array_api_compat.numpy as xp
import numpy as np

from radam_core import (
    RAdamState,
    StepCoefficients,
    check_params,
    check_step_inputs,
    hyperparameters_for,
    init_state,
    step_coefficients,
    update_leaf_in_place,
)
from radam_numpy.threads import Block, share

# Elements per block: 1 MiB of float32 per array. The 21M-parameter benchmark, 2 threads, in
# two bandwidth regimes: 2^16 24-35 ms, 2^17 18-24 ms, 2^18 18-19 ms, 2^19 18-20 ms, 2^20
# 21 ms; smaller blocks wait more on the GIL, larger ones fall out of the cache.
BLOCK_SIZE = 1 << 18


class RAdam:
    """RAdam over NumPy arrays, updated in place: ``opt.step(grads)``.

    Each step is :func:`radam_core.step` (rectification: rho_t, r_t and the threshold
    decision; then ``theta -= lr r_t m_hat sqrt(bc2) / (sqrt(v_t) + eps)`` or, below the
    threshold, ``theta -= lr m_hat``), computed on blocks of ``block_size`` elements.
    In float64 it equals ``radam_core.step`` on the whole arrays to rounding.

    Example:
        >>> import numpy as np
        >>> x = np.array([1.0, -2.0])
        >>> opt = RAdam([x], lr=0.1)
        >>> for _ in range(100):
        ...     opt.step([2 * x])  # gradient of sum(x**2)

    Args:
        params: The arrays to optimize: writeable, C-contiguous, real floating point.
        preset: A convention of :mod:`radam_core.presets` (default ``"torch"``).
        block_size: Elements per block, ``>= 1``.
        threads: Threads that share the large blocks, ``>= 1``; default: the CPU count.
            Blocks under 256 KiB run in the caller's thread
            (:func:`radam_numpy.threads.share` says why).
        **hyperparameters: Fields of :class:`radam_core.Hyperparameters` (``lr``,
            ``betas``, ``eps``, ``weight_decay``, ...).

    Attributes:
        params: The arrays, updated in place by :meth:`step`.
        hyperparameters: The validated :class:`radam_core.Hyperparameters`.
        state: The :class:`radam_core.RAdamState`; its arrays are updated in place.
    """

    def __init__(
        self,
        params: Iterable[np.ndarray],
        preset: str = "torch",
        *,
        block_size: int = BLOCK_SIZE,
        threads: int | None = None,
        **hyperparameters: Any,
    ) -> None:
        self.hyperparameters = hyperparameters_for(preset, **hyperparameters)
        self.params = _checked_params(params)
        self.block_size = _positive_int("block_size", block_size)
        self.threads = _positive_int(
            "threads", (os.cpu_count() or 1) if threads is None else threads
        )
        self.state: RAdamState = init_state(self.params, xp, amsgrad=self.hyperparameters.amsgrad)

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{field.name}={getattr(self.hyperparameters, field.name)!r}"
            for field in dataclasses.fields(self.hyperparameters)
        )
        return f"RAdam({len(self.params)} arrays, step={self.state.count}, {fields})"

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Take one step with ``grads`` (one per parameter); ``params`` change in place.

        Raises:
            TypeError, ValueError: Mismatched gradients; nothing has changed then.
        """
        grads = [np.asarray(g) for g in grads]
        hp = self.hyperparameters
        check_step_inputs(self.params, grads, self.state, hp, xp)
        t = self.state.count + 1
        blocks = list(self._blocks(grads))
        if blocks:
            self._run(blocks, step_coefficients(t, hp))
        self.state = self.state._replace(count=t)

    def state_dict(self) -> dict[str, Any]:
        """A copy of the state, ready for pickle or ``np.savez``.

        Returns:
            ``count`` and lists of ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq`` arrays.
        """
        return {
            "count": self.state.count,
            "exp_avg": [a.copy() for a in self.state.exp_avg],
            "exp_avg_sq": [a.copy() for a in self.state.exp_avg_sq],
            "max_exp_avg_sq": [a.copy() for a in self.state.max_exp_avg_sq],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; on any mismatch raise and change nothing."""
        candidate = RAdamState(
            count=state_dict["count"],
            exp_avg=tuple(np.array(a) for a in state_dict["exp_avg"]),
            exp_avg_sq=tuple(np.array(a) for a in state_dict["exp_avg_sq"]),
            max_exp_avg_sq=tuple(np.array(a) for a in state_dict.get("max_exp_avg_sq", ())),
        )
        check_step_inputs(self.params, self.params, candidate, self.hyperparameters, xp)
        self.state = candidate

    def _blocks(self, grads: list[np.ndarray]) -> Iterable[Block]:
        """Aligned flat slices of every array of every parameter, ``block_size`` long."""
        state = self.state
        for index, param in enumerate(self.params):
            arrays = [param, grads[index], state.exp_avg[index], state.exp_avg_sq[index]]
            if self.hyperparameters.amsgrad:
                arrays.append(state.max_exp_avg_sq[index])
            flat = [np.ravel(a) for a in arrays]  # views; only a strided grad is copied
            for start in range(0, max(param.size, 1), self.block_size):
                yield tuple(a[start : start + self.block_size] for a in flat)

    def _run(self, blocks: list[Block], coefficients: StepCoefficients) -> None:
        hp = self.hyperparameters

        def update(part: list[Block]) -> None:
            for param, grad, exp_avg, exp_avg_sq, *max_sq in part:
                max_exp_avg_sq = max_sq[0] if max_sq else None
                update_leaf_in_place(
                    param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, coefficients, hp, xp
                )

        share(update, blocks, self.threads)


def _checked_params(params: Iterable[np.ndarray]) -> list[np.ndarray]:
    if isinstance(params, np.ndarray):
        raise TypeError("params must be an iterable of arrays, got a single ndarray; wrap it: [x]")
    params = list(params)
    for index, param in enumerate(params):
        if not isinstance(param, np.ndarray):
            raise TypeError(f"params[{index}] must be a numpy.ndarray, got {type(param).__name__}")
        if not (param.flags.c_contiguous and param.flags.writeable):
            raise ValueError(
                f"params[{index}] must be writeable and C-contiguous to be updated in place "
                "(use np.ascontiguousarray)"
            )
    check_params(params, xp)
    spans = sorted(
        (p.__array_interface__["data"][0], p.nbytes, index) for index, p in enumerate(params)
    )
    for (start, size, first), (next_start, _, second) in itertools.pairwise(spans):
        if next_start < start + size:
            raise ValueError(f"params[{first}] and params[{second}] share memory; pass each once")
    return params


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return value
