"""The rectification schedule as a table: rho_t, r_t and the decision for steps 1..N."""

from __future__ import annotations

from typing import Any, NamedTuple

from radam_core.presets import hyperparameters_for
from radam_core.rectification import rectify


class ScheduleRow(NamedTuple):
    """One step of the rectification schedule.

    Attributes:
        t: The step number, from 1.
        rho_t: Length of the approximated SMA.
        r_t: The rectification term (0 where rho_t <= 4).
        rectified: Whether the step takes the rectified adaptive update.
        warmup: The linear warm-up multiplier ``min(t, T_w) / T_w`` that r_t resembles,
            with ``T_w = 2 / (1 - beta2)`` (the rule of thumb of Ma and Yarats, 2019).
    """

    t: int
    rho_t: float
    r_t: float
    rectified: bool
    warmup: float


def schedule(steps: int, preset: str = "torch", **hyperparameters: Any) -> list[ScheduleRow]:
    """rho_t, r_t and the threshold decision for steps ``1..steps``, with no update run.

    Args:
        steps: How many steps, ``>= 1``.
        preset: The convention whose threshold applies (see
            [`radam_core.presets`][radam_core.presets]).
        **hyperparameters: Overrides such as ``betas=(0.9, 0.99)`` or ``threshold=4.0``.

    Returns:
        One [`ScheduleRow`][radam_core.ScheduleRow] per step.

    Raises:
        ValueError: ``steps < 1`` or an invalid preset or hyperparameter.
        TypeError: ``steps`` not an int.
    """
    if not isinstance(steps, int) or isinstance(steps, bool):
        raise TypeError(f"steps must be an int, got {steps!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    hp = hyperparameters_for(preset, **hyperparameters)
    beta2 = hp.betas[1]
    warmup_steps = 2.0 / (1.0 - beta2)
    rows = []
    for t in range(1, steps + 1):
        rho_t, r_t, rectified = rectify(t, beta2, hp.threshold, hp.threshold_inclusive)
        rows.append(ScheduleRow(t, rho_t, r_t, rectified, min(t, warmup_steps) / warmup_steps))
    return rows


def first_rectified_step(
    preset: str = "torch", *, max_steps: int = 10**6, **hyperparameters: Any
) -> int | None:
    """The first step that is rectified under ``preset``, or None within ``max_steps``.

    rho_t increases with t, so this is where rectification starts for good.
    """
    hp = hyperparameters_for(preset, **hyperparameters)
    low, high = 1, max_steps
    beta2 = hp.betas[1]
    if not rectify(high, beta2, hp.threshold, hp.threshold_inclusive).rectified:
        return None
    while low < high:
        middle = (low + high) // 2
        if rectify(middle, beta2, hp.threshold, hp.threshold_inclusive).rectified:
            high = middle
        else:
            low = middle + 1
    return low
