"""What the harness finds: per configuration, and per report row (JSON round-trippable)."""

from __future__ import annotations

import dataclasses
from typing import Any

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"


@dataclasses.dataclass(frozen=True)
class Violation:
    """The first element that left its bound.

    Attributes:
        step: The step t (from 1) after which it was out of bounds.
        parameter: The parameter's index in the problem's list.
        shape: The parameter's shape.
        element: The element's index in the parameter.
        actual: The implementation's value.
        expected: The oracle's value.
        rel_error: Its relative error (see :mod:`tests.equivalence.compare`).
        bound: The relative bound there.
    """

    step: int
    parameter: int
    shape: tuple[int, ...]
    element: tuple[int, ...]
    actual: float
    expected: float
    rel_error: float
    bound: float

    def describe(self) -> str:
        """One line: where, and by how much."""
        return (
            f"step {self.step}, parameter {self.parameter} (shape {self.shape}) "
            f"element {self.element}: got {self.actual:.17g}, oracle {self.expected:.17g}, "
            f"rel err {self.rel_error:.2e} > bound {self.bound:.2e}"
        )


@dataclasses.dataclass(frozen=True)
class ConfigOutcome:
    """One configuration of one implementation on one problem.

    Attributes:
        config: The configuration's name.
        steps: Steps compared.
        max_rel_error: The largest relative error over the trajectory.
        worst_ratio: The largest error / bound (at most 1 to pass).
        bound_at_worst: The relative bound where that ratio was reached.
        violation: The first element out of bounds, or None.
        error: The exception the run raised, or None.
    """

    config: str
    steps: int
    max_rel_error: float
    worst_ratio: float
    bound_at_worst: float
    violation: Violation | None = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        """No violation and no exception."""
        return self.violation is None and self.error is None


@dataclasses.dataclass(frozen=True)
class RowResult:
    """One report row: an implementation on a problem over a group of configurations.

    Attributes:
        implementation: The implementation's name.
        dtype: ``"float64"`` or ``"float32"``.
        device: ``"cpu"`` or ``"cuda"``.
        problem: The problem's name.
        group: The configuration group.
        status: ``PASS``, ``FAIL`` or ``SKIP``.
        bound: How the row is judged: ``"1e-12"`` or ``"float32 running bound"``.
        outcomes: The configurations that ran.
        not_run: Configurations of the group it does not support, with the reason.
        reason: Why the row is skipped, or what failed first.
        seconds: Wall time of the row.
    """

    implementation: str
    dtype: str
    device: str
    problem: str
    group: str
    status: str
    bound: str
    outcomes: tuple[ConfigOutcome, ...] = ()
    not_run: tuple[tuple[str, str], ...] = ()
    reason: str = ""
    seconds: float = 0.0

    @property
    def key(self) -> str:
        """``implementation|dtype|problem|group``: the row's identity (and test id)."""
        return row_key(self.implementation, self.dtype, self.problem, self.group)

    @property
    def max_rel_error(self) -> float | None:
        """The largest relative error of the configurations that ran."""
        return max((o.max_rel_error for o in self.outcomes), default=None)

    @property
    def worst(self) -> ConfigOutcome | None:
        """The configuration closest to (or furthest past) its bound."""
        return max(self.outcomes, key=lambda o: o.worst_ratio, default=None)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowResult:
        """The inverse of :meth:`to_json`."""
        outcomes = []
        for outcome in data["outcomes"]:
            violation = outcome["violation"]
            if violation is not None:
                violation = Violation(
                    **{
                        **violation,
                        "shape": tuple(violation["shape"]),
                        "element": tuple(violation["element"]),
                    }
                )
            outcomes.append(ConfigOutcome(**{**outcome, "violation": violation}))
        return cls(
            **{
                **data,
                "outcomes": tuple(outcomes),
                "not_run": tuple(tuple(pair) for pair in data["not_run"]),
            }
        )


def row_key(implementation: str, dtype: str, problem: str, group: str) -> str:
    """The identity of a report row."""
    return f"{implementation}|{dtype}|{problem}|{group}"
