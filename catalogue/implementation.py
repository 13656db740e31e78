"""What a catalogue entry is: how to build it, what it needs, and which harness runs it."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
from collections.abc import Callable, Iterator

from catalogue.stepper import Configuration, Setup, Stepper

Supports = Callable[[Configuration], "str | None"]

# Lookahead's sync period in the benchmark's Ranger rows, whose one timed step is a whole
# k-cycle.
RANGER_K = 6


def supports_all(config: Configuration) -> str | None:
    """Every configuration is supported."""
    return None


def available_everywhere(device: str) -> str | None:
    """The implementation can run on any device it lists."""
    return None


@contextlib.contextmanager
def no_context(dtype: str) -> Iterator[None]:
    """Nothing to set up around a run in ``dtype``."""
    yield


@dataclasses.dataclass(frozen=True)
class BenchmarkRow:
    """An implementation's row in the benchmark (``python -m benchmarks``).

    Attributes:
        name: The name in the table, the JSON and ``--only``.
        description: What is timed, in a few words.
        steps_per_timing: Optimizer steps in one timed step: a Lookahead implementation
            times a whole k-cycle, ``k`` steps and one sync.
    """

    name: str
    description: str
    steps_per_timing: int = 1


@dataclasses.dataclass(frozen=True)
class EquivalenceRows:
    """An implementation's rows in the equivalence report (``python -m tests.equivalence``).

    Attributes:
        name: The name in the report, e.g. ``"radam_torch.RAdam fast"``.
        dtypes: The dtypes it runs in (``"float64"``, ``"float32"``), a row family each.
        peer: A reference implementation from outside the project (a golden).
        supports: ``supports(config)``: None, or why the configuration does not map.
    """

    name: str
    dtypes: tuple[str, ...]
    peer: bool = False
    supports: Supports = supports_all


@dataclasses.dataclass(frozen=True)
class Implementation:
    """One implementation of the catalogue, defined once for both harnesses.

    Attributes:
        build: ``build(setup)``: a fresh [`Stepper`][catalogue.stepper.Stepper].
        worker: The worker process it runs in (a key of
            [`WORKERS`][catalogue.workers.WORKERS]).
        requires: Modules it imports; a missing one leaves it out of the benchmark and
            makes its equivalence rows SKIP.
        devices: Devices the equivalence runs it on (``"cpu"``, ``"cuda"``).
        device_check: ``device_check(device)``: None, or why it cannot run there now.
        context: ``context(dtype)``: entered around every run in ``dtype`` (e.g. JAX's
            x64 mode).
        benchmark: Its benchmark row, or None: not benchmarked.
        equivalence: Its equivalence rows, or None: not checked there.
    """

    build: Callable[[Setup], Stepper]
    worker: str
    requires: tuple[str, ...] = ()
    devices: tuple[str, ...] = ("cpu",)
    device_check: Callable[[str], str | None] = available_everywhere
    context: Callable[[str], contextlib.AbstractContextManager[None]] = no_context
    benchmark: BenchmarkRow | None = None
    equivalence: EquivalenceRows | None = None

    def missing_requirement(self) -> str | None:
        """The first required module that cannot be imported here, or None."""
        for module in self.requires:
            if not is_installed(module):
                return module
        return None


def is_installed(module: str) -> bool:
    """Whether ``module`` can be imported (a bare namespace directory does not count).

    ``tests/keras`` on ``sys.path`` (pytest's rootdir insertion) would otherwise pass for
    an installed ``keras``.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin not in (None, "namespace")


def only(*names: str, reason: str) -> Supports:
    """A ``supports`` that accepts the named configurations and gives ``reason`` otherwise."""

    def supports(config: Configuration) -> str | None:
        return None if config.name in names else reason

    return supports


def without_lookahead(reason: str, supports: Supports = supports_all) -> Supports:
    """A ``supports`` that gives ``reason`` for Lookahead configurations, else ``supports``'s."""

    def supports_without_lookahead(config: Configuration) -> str | None:
        return reason if config.lookahead is not None else supports(config)

    return supports_without_lookahead
