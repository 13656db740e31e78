"""Declared performance targets: each a ratio measured in the run, checked against a bound.

Targets are data: add one to :data:`TARGETS`. A missed target is reported as FAIL but
never fails the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

METRICS = ("speedup_vs_naive", "bandwidth_fraction")


@dataclasses.dataclass(frozen=True)
class Target:
    """A lower bound on one metric of one implementation on one problem.

    Attributes:
        implementation: A registered implementation's name.
        problem: A problem's name.
        metric: One of :data:`METRICS` (both are ratios, higher is better).
        minimum: The metric must be ``>= minimum`` to pass.
    """

    implementation: str
    problem: str
    metric: str
    minimum: float

    def __post_init__(self) -> None:
        """Reject an unknown metric."""
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A target evaluated on a run.

    Attributes:
        target: The :class:`Target`.
        value: The measured metric, or None when the run did not measure it.
        status: ``"PASS"``, ``"FAIL"`` or ``"NOT RUN"``.
    """

    target: Target
    value: float | None
    status: str


TARGETS: tuple[Target, ...] = (
    Target("radam_numpy.RAdam", "large", "bandwidth_fraction", 0.33),
    Target("radam_numpy.RAdam", "large", "speedup_vs_naive", 4.0),
)


def evaluate(
    targets: Iterable[Target], metrics: Mapping[tuple[str, str], Mapping[str, float]]
) -> list[Outcome]:
    """Check each target against the run's metrics.

    Args:
        targets: The targets to check.
        metrics: The metrics of each ``(implementation, problem)`` that ran.

    Returns:
        One :class:`Outcome` per target, in order.
    """
    outcomes = []
    for target in targets:
        measured = metrics.get((target.implementation, target.problem))
        if measured is None:
            outcomes.append(Outcome(target, None, "NOT RUN"))
            continue
        value = measured[target.metric]
        outcomes.append(Outcome(target, value, "PASS" if value >= target.minimum else "FAIL"))
    return outcomes
