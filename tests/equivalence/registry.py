"""Every implementation row, the worker process that runs it, and the planned report rows.

Workers are separate processes: the frameworks' rows run side by side on the machine's
cores, Keras gets its one backend per process (``KERAS_BACKEND``), and no framework's
global state (JAX's x64 mode, torch.compile's caches, thread pools) leaks into another's.
"""

from __future__ import annotations

import dataclasses

from tests.equivalence.configs import GROUPS
from tests.equivalence.implementations import (
    authors,
    core_impls,
    jax_impls,
    keras_impls,
    numpy_impls,
    torch_impls,
)
from tests.equivalence.implementations.base import Implementation
from tests.equivalence.problems import PROBLEMS
from tests.equivalence.results import row_key

IMPLEMENTATIONS: tuple[Implementation, ...] = (
    *core_impls.IMPLEMENTATIONS,
    *numpy_impls.IMPLEMENTATIONS,
    *authors.IMPLEMENTATIONS,
    *torch_impls.IMPLEMENTATIONS,
    *jax_impls.IMPLEMENTATIONS,
    *keras_impls.IMPLEMENTATIONS,
    *core_impls.CUPY_IMPLEMENTATIONS,
)

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
class Worker:
    """A worker process: its name, extra environment, and expected share of the work.

    Attributes:
        name: The name implementations give as their ``worker``.
        env: Environment variables on top of :data:`SINGLE_THREAD_ENV`.
        weight: Its run time in seconds on the 2-core development machine (full CPU
            run), roughly: the longest start first.
    """

    name: str
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    weight: float = 1.0


WORKERS: dict[str, Worker] = {
    worker.name: worker
    for worker in (
        Worker("numpy", weight=65.0),
        Worker("radam_optax", weight=60.0),
        Worker("torch", weight=50.0),
        Worker("torch-compiled", weight=50.0),
        Worker("jax", weight=45.0),
        Worker("keras-jax", {"KERAS_BACKEND": "jax"}, weight=40.0),
        Worker("keras-tensorflow", {"KERAS_BACKEND": "tensorflow"}, weight=30.0),
        Worker("keras-torch", {"KERAS_BACKEND": "torch"}, weight=20.0),
        Worker("cupy", weight=10.0),
    )
}


@dataclasses.dataclass(frozen=True)
class PlannedRow:
    """A report row before it runs.

    Attributes:
        implementation: The implementation.
        problem: The problem's name.
        group: The configuration group.
    """

    implementation: Implementation
    problem: str
    group: str

    @property
    def key(self) -> str:
        """The row's identity (see :func:`tests.equivalence.results.row_key`)."""
        impl = self.implementation
        return row_key(impl.name, impl.dtype, self.problem, self.group)


def selected(implementation: Implementation, only: str | None) -> bool:
    """Whether ``--only TEXT`` keeps the implementation: TEXT is part of its name, or is
    its worker or one of the packages it needs (``--only jax`` keeps radam_optax too)."""
    return (
        only is None
        or only in implementation.name
        or only == implementation.worker
        or only in implementation.requires
    )


def planned_rows(only: str | None = None) -> list[PlannedRow]:
    """Every row of the report, in report order (implementations x problems x groups).

    Args:
        only: Keep the implementations :func:`selected` by this text.
    """
    return [
        PlannedRow(implementation, problem, group)
        for implementation in IMPLEMENTATIONS
        if selected(implementation, only)
        for problem in PROBLEMS
        for group in GROUPS
    ]
