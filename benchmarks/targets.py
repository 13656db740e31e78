"""Declared performance targets: each a ratio measured in the run, checked against a bound.

Targets are data: add one to ``TARGETS``. A missed target is reported as FAIL but
never fails the run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

# Ratios where higher is better: the target is a minimum.
AT_LEAST = ("speedup_vs_naive", "bandwidth_fraction")
# median step time / the reference implementation's: the target is a maximum. Measured
# paired (both in one process, timed in rounds; benchmarks.worker) where the run did so.
TIME_RATIO = "time_ratio"
# From benchmarks.footprint, measured in a process of their own: the target is a maximum.
FOOTPRINT = ("memory_fraction", "first_step_excess_s")
METRICS = (*AT_LEAST, TIME_RATIO, *FOOTPRINT)


@dataclasses.dataclass(frozen=True)
class Target:
    """A bound on one ratio of one implementation on one problem.

    Attributes:
        implementation: A registered implementation's name.
        problem: A problem's name.
        metric: One of ``METRICS``.
        bound: ``metric >= bound`` passes for ``AT_LEAST`` metrics,
            ``metric <= bound`` for the others.
        reference: For ``time_ratio``: the implementation whose median time divides.
    """

    implementation: str
    problem: str
    metric: str
    bound: float
    reference: str | None = None

    def __post_init__(self) -> None:
        """Reject an unknown metric, or a time ratio without a reference."""
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if (self.metric == TIME_RATIO) != (self.reference is not None):
            raise ValueError("a reference implementation goes with metric 'time_ratio' only")

    def describe(self) -> str:
        """The target in words, e.g. ``time / torch.optim.Adam(fused) <= 1.2``."""
        if self.metric == TIME_RATIO:
            return f"time / {self.reference} <= {self.bound}"
        return f"{self.metric} {'>=' if self.metric in AT_LEAST else '<='} {self.bound}"

    def passes(self, value: float) -> bool:
        """Whether a measured ``value`` meets the bound."""
        return value >= self.bound if self.metric in AT_LEAST else value <= self.bound


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A target evaluated on a run.

    Attributes:
        target: The ``Target``.
        value: The measured ratio, or None when the run did not measure it.
        status: ``"PASS"``, ``"FAIL"`` or ``"NOT RUN"``.
        paired: A time ratio from the paired measurement (else from separate processes).
    """

    target: Target
    value: float | None
    status: str
    paired: bool = False


def _on_each_keras_backend(implementation: str, bound: float, reference: str) -> list[Target]:
    """A time-ratio target on the large problem for each Keras backend (``name[backend]``)."""
    return [
        Target(f"{implementation}[{b}]", "large", TIME_RATIO, bound, f"{reference}[{b}]")
        for b in ("tensorflow", "jax", "torch")
    ]


TARGETS: tuple[Target, ...] = (
    Target("radam_numpy.RAdam", "large", "bandwidth_fraction", 0.33),
    Target("radam_numpy.RAdam", "large", "speedup_vs_naive", 4.0),
    Target("radam_torch.RAdam", "large", TIME_RATIO, 1.2, "torch.optim.Adam(fused)"),
    Target("radam_torch.RAdam", "large", TIME_RATIO, 0.25, "torch.optim.RAdam(foreach)"),
    Target("radam_torch.RAdam", "many-small", TIME_RATIO, 1.0, "torch.optim.RAdam(foreach)"),
    Target("radam_torch.RAdam", "large", "memory_fraction", 1.0),
    Target("radam_torch.RAdam", "large", "first_step_excess_s", 1.0),
    *_on_each_keras_backend("radam_keras.RAdam", 1.1, "keras.optimizers.Adam"),
    Target("radam_optax.radam", "large", TIME_RATIO, 1.0, "optax.radam"),
    # Ranger = Lookahead(RAdam), k = 6. A timed "step" of a Ranger implementation is a whole
    # k-cycle (6 RAdam steps and one sync; see the implementations), so "time averaged over
    # a k-cycle <= 1.2 RAdam steps" is a cycle <= 6 * 1.2 = 7.2 RAdam steps.
    Target("radam_torch.Ranger", "large", TIME_RATIO, 7.2, "radam_torch.RAdam"),
    Target("radam_numpy.Ranger", "large", TIME_RATIO, 7.2, "radam_numpy.RAdam"),
    *_on_each_keras_backend("radam_keras.Ranger", 7.2, "radam_keras.RAdam"),
    Target("radam_optax.ranger", "large", TIME_RATIO, 7.2, "radam_optax.radam"),
    # And no slower than optax's own Lookahead around optax.radam (both k-cycles).
    Target("radam_optax.ranger", "large", TIME_RATIO, 1.0, "optax.lookahead"),
    # Lookahead's persistent extra memory, one parameter-sized buffer (phi), is allocated when
    # the optimizer is built, before the footprint is measured, so memory_fraction (the peak
    # above the resident set during one timed step, here a k-cycle with its sync) cannot show
    # it as a difference from RAdam's; it bounds the transient memory of the cycle instead.
    Target("radam_torch.Ranger", "large", "memory_fraction", 1.0),
    Target("radam_numpy.Ranger", "large", "memory_fraction", 1.0),
    *(
        Target(f"radam_keras.Ranger[{backend}]", "large", "memory_fraction", 1.0)
        for backend in ("tensorflow", "jax", "torch")
    ),
    Target("radam_optax.ranger", "large", "memory_fraction", 1.0),
)


def evaluate(
    targets: Iterable[Target],
    metrics: Mapping[tuple[str, str], Mapping[str, float]],
    paired: Mapping[tuple[str, str, str], float] | None = None,
) -> list[Outcome]:
    """Check each target against the run's metrics.

    Args:
        targets: The targets to check.
        metrics: For each ``(implementation, problem)`` that ran: its
            ``AT_LEAST`` ratios, ``median_s`` and any ``FOOTPRINT`` measured.
        paired: Paired time ratios by ``(implementation, reference, problem)``; a time
            ratio without one is the ratio of the separate processes' medians.

    Returns:
        One ``Outcome`` per target, in order.
    """
    paired = paired or {}
    outcomes = []
    for target in targets:
        measured = metrics.get((target.implementation, target.problem))
        reference = metrics.get((target.reference or target.implementation, target.problem))
        if measured is None or reference is None:
            outcomes.append(Outcome(target, None, "NOT RUN"))
            continue
        key = (target.implementation, target.reference or "", target.problem)
        if target.metric == TIME_RATIO and key in paired:
            value = paired[key]
            status = "PASS" if target.passes(value) else "FAIL"
            outcomes.append(Outcome(target, value, status, paired=True))
            continue
        if target.metric == TIME_RATIO:
            value = measured["median_s"] / reference["median_s"]
        elif target.metric in measured:
            value = measured[target.metric]
        else:
            outcomes.append(Outcome(target, None, "NOT RUN"))
            continue
        outcomes.append(Outcome(target, value, "PASS" if target.passes(value) else "FAIL"))
    return outcomes
