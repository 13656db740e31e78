"""Every row family of the report (each catalogue implementation checked here, in each of its
dtypes), the environment of the worker processes, and the planned report rows.

Workers are separate processes (:mod:`catalogue.workers`): the frameworks' rows run side by
side on the machine's cores, Keras gets its one backend per process (``KERAS_BACKEND``),
and no framework's global state (JAX's x64 mode, torch.compile's caches, thread pools)
leaks into another's.
"""

from __future__ import annotations

import dataclasses

from catalogue import IMPLEMENTATIONS
from catalogue.implementation import EquivalenceRows, Implementation
from tests.equivalence.configs import GROUPS
from tests.equivalence.problems import PROBLEMS
from tests.equivalence.results import row_key

# One thread per worker process: the workers share the machine's cores between them.
SINGLE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
}


@dataclasses.dataclass(frozen=True)
class RowFamily:
    """A catalogue implementation in one dtype: its rows, one per problem and group.

    Attributes:
        implementation: The implementation (its ``equivalence`` is set).
        dtype: ``"float64"`` or ``"float32"``: parameters, gradients and state.
    """

    implementation: Implementation
    dtype: str

    @property
    def rows(self) -> EquivalenceRows:
        """What the implementation's rows are: name, peer, supported configurations."""
        rows = self.implementation.equivalence
        if rows is None:
            raise ValueError(f"{self.implementation} has no equivalence rows")
        return rows

    @property
    def name(self) -> str:
        """The name in the report."""
        return self.rows.name

    @property
    def worker(self) -> str:
        """The worker process that runs it."""
        return self.implementation.worker


FAMILIES: tuple[RowFamily, ...] = tuple(
    RowFamily(implementation, dtype)
    for implementation in IMPLEMENTATIONS
    if implementation.equivalence is not None
    for dtype in implementation.equivalence.dtypes
)


@dataclasses.dataclass(frozen=True)
class PlannedRow:
    """A report row before it runs.

    Attributes:
        family: The implementation in its dtype.
        problem: The problem's name.
        group: The configuration group.
    """

    family: RowFamily
    problem: str
    group: str

    @property
    def key(self) -> str:
        """The row's identity (see :func:`tests.equivalence.results.row_key`)."""
        return row_key(self.family.name, self.family.dtype, self.problem, self.group)


def selected(family: RowFamily, only: str | None) -> bool:
    """Whether ``--only TEXT`` keeps the row family: TEXT is part of its name, or is its
    worker or one of the packages it needs (``--only jax`` keeps radam_optax too)."""
    return (
        only is None
        or only in family.name
        or only == family.worker
        or only in family.implementation.requires
    )


def planned_rows(only: str | None = None) -> list[PlannedRow]:
    """Every row of the report, in report order (row families x problems x groups).

    Args:
        only: Keep the row families :func:`selected` by this text.
    """
    return [
        PlannedRow(family, problem, group)
        for family in FAMILIES
        if selected(family, only)
        for problem in PROBLEMS
        for group in GROUPS
    ]
