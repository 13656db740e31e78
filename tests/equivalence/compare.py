"""Compare an implementation's trajectory with the oracle's, step by step, element by element.

The error of an element is measured relative to its own magnitude plus the largest
magnitude of any parameter at that step,

    rel_err = |actual - oracle| / (|oracle| + max_j |oracle_j|),

so that an element passing through zero (an MLP bias, a coordinate crossing the origin) is
judged on the scale of the problem, not on its own vanishing value. The bound is either a
fixed relative tolerance (float64: 1e-12) or, for float32, the absolute running bound of
:mod:`tests.equivalence.float32_bound` (``|actual - oracle| <= e_theta``). The first
violation (earliest step, then parameter index, then element in C order) is what a
failure reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from tests.equivalence.results import ConfigOutcome, Violation

FLOAT64_RTOL = 1e-12


@dataclasses.dataclass(frozen=True)
class StepBound:
    """What one step's elements are allowed: a relative tolerance or absolute bounds.

    Attributes:
        rtol: A relative tolerance for every element, or None.
        absolute: Per-parameter arrays of absolute bounds, or None.
    """

    rtol: float | None = None
    absolute: Sequence[np.ndarray] | None = None


def compare_trajectories(
    config: str,
    actual: Sequence[Sequence[np.ndarray]],
    expected: Sequence[Sequence[np.ndarray]],
    bounds: Sequence[StepBound],
) -> ConfigOutcome:
    """Check every element of every step against its bound.

    Args:
        config: The configuration's name (for the outcome).
        actual: ``actual[t - 1][i]``: parameter i after step t (float64 copies).
        expected: The oracle's trajectory, same layout.
        bounds: ``bounds[t - 1]``: the bound of step t (all relative or all absolute).

    Returns:
        The :class:`ConfigOutcome`: the largest relative error, the largest ratio of error
        to bound (at most 1 to pass) with the relative bound there, and the first violation.
    """
    steps = len(actual)
    if steps == 0:
        return ConfigOutcome(config, 0, 0.0, 0.0, 0.0)
    count = len(expected[0])
    # Parameter i over the run: arrays of shape (steps, *shape_i).
    got = [np.stack([step[i] for step in actual]) for i in range(count)]
    want = [np.stack([step[i] for step in expected]) for i in range(count)]
    scale = np.max(
        np.stack([np.abs(w).reshape(steps, -1).max(axis=1, initial=0.0) for w in want]), axis=0
    )
    max_rel, worst_ratio, bound_at_worst = 0.0, 0.0, 0.0
    first: tuple[int, int, tuple[int, ...]] | None = None  # (step index, parameter, element)
    details = {}
    for i in range(count):
        denominator = np.abs(want[i]) + scale.reshape((steps,) + (1,) * (want[i].ndim - 1))
        error = np.where(np.isfinite(got[i]), np.abs(got[i] - want[i]), np.inf)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(error == 0.0, 0.0, error / denominator)
            if bounds[0].rtol is not None:
                rtol = bounds[0].rtol
                allowed = np.full_like(rel, rtol)
                ratio = rel / rtol
            else:
                absolute = np.stack([np.asarray(b.absolute[i]) for b in bounds])  # type: ignore[index]
                allowed = absolute / denominator
                ratio = np.where(error == 0.0, 0.0, error / absolute)
        if rel.size == 0:
            continue
        max_rel = max(max_rel, float(np.max(rel)))
        worst = int(np.argmax(ratio))
        if float(ratio.flat[worst]) > worst_ratio:
            worst_ratio, bound_at_worst = float(ratio.flat[worst]), float(allowed.flat[worst])
        bad = np.flatnonzero(ratio > 1.0)
        if bad.size:
            step_index, *index_in_param = np.unravel_index(bad[0], ratio.shape)
            candidate = (int(step_index), i, tuple(int(k) for k in index_in_param))
            if first is None or candidate[0] < first[0]:
                first = candidate
                details[i] = (got[i], want[i], rel, allowed)
    violation = None
    if first is not None:
        step_index, i, element = first
        values, oracle_values, rel, allowed = details[i]
        where = (step_index, *element)
        violation = Violation(
            step=step_index + 1,
            parameter=i,
            shape=tuple(want[i].shape[1:]),
            element=element,
            actual=float(values[where]),
            expected=float(oracle_values[where]),
            rel_error=float(rel[where]),
            bound=float(allowed[where]),
        )
    return ConfigOutcome(
        config=config,
        steps=steps,
        max_rel_error=max_rel,
        worst_ratio=worst_ratio,
        bound_at_worst=bound_at_worst,
        violation=violation,
    )
