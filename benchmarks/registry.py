"""The benchmarked implementations: the catalogue's entries with a benchmark row.

Every implementation is defined once in :mod:`catalogue`; one with a
[`BenchmarkRow`][catalogue.implementation.BenchmarkRow] is timed here, in the catalogue's
order, when its packages are installed. The benchmark builds it without a configuration
(the implementation's defaults), on the run's device, and sets its fixed gradients once.
"""

from __future__ import annotations

import dataclasses
import os

from catalogue import IMPLEMENTATIONS
from catalogue.implementation import BenchmarkRow, Implementation
from catalogue.workers import WORKERS

# The torch device the torch and Keras implementations are built on (``--device``; the
# harness sets it for its workers): "cpu" when unset.
DEVICE_VARIABLE = "RADAM_BENCHMARK_DEVICE"


def device() -> str:
    """The device of this run's implementations (``DEVICE_VARIABLE``)."""
    return os.environ.get(DEVICE_VARIABLE, "cpu")


@dataclasses.dataclass(frozen=True)
class Benchmarked:
    """A catalogue implementation as the benchmark times it.

    Attributes:
        implementation: The catalogue's entry.
        row: Its benchmark row: name, description, optimizer steps per timed step.
    """

    implementation: Implementation
    row: BenchmarkRow

    @property
    def name(self) -> str:
        """The name shown in the table, the JSON and ``--only``."""
        return self.row.name


def implementations() -> list[Benchmarked]:
    """Every benchmarked implementation whose packages are installed, in catalogue order."""
    return [
        Benchmarked(implementation, implementation.benchmark)
        for implementation in IMPLEMENTATIONS
        if implementation.benchmark is not None and implementation.missing_requirement() is None
    ]


def environment(*names: str) -> dict[str, str]:
    """The environment the worker processes of the named implementations need.

    Args:
        names: Benchmark names; one that is not installed adds nothing.

    Returns:
        The variables of their workers (``KERAS_BACKEND`` for Keras).

    Raises:
        ValueError: Two of them need different values of one variable.
    """
    env: dict[str, str] = {}
    for entry in implementations():
        if entry.name in names:
            for variable, value in WORKERS[entry.implementation.worker].env.items():
                if env.setdefault(variable, value) != value:
                    raise ValueError(f"{', '.join(names)} need different {variable}")
    return env
