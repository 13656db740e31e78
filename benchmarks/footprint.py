"""Per-implementation costs a timing table hides: the first step, and peak extra memory.

Each measurement runs in a fresh Python process (``python -m benchmarks.footprint``), so
that nothing allocated before counts. The peak is the process's resident-set high-water
mark, reset through ``/proc/self/clear_refs`` (Linux) just before the measured step:

    peak extra = VmHWM after the step - VmRSS before it

Free memory the allocator kept from earlier steps is returned to the system first
(glibc ``malloc_trim``), so it includes every temporary the step allocates.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.problems import PROBLEMS, QUICK_PROBLEMS, SEED
from benchmarks.registry import implementations

WARMUP_STEPS = 10
LATER_STEPS = 5
STATUS = Path("/proc/self/status")


@dataclasses.dataclass(frozen=True)
class Footprint:
    """The first-step and memory costs of one implementation on one problem.

    Attributes:
        implementation: The implementation's name.
        problem: The problem's name.
        first_step_s: The very first step, state allocation included.
        later_step_s: The median of later steps.
        first_step_excess_s: ``first_step_s - later_step_s``.
        peak_extra_bytes: Peak memory above the resident set during one later step.
        param_bytes: The parameters' size in bytes.
        memory_fraction: ``peak_extra_bytes / param_bytes``.
    """

    implementation: str
    problem: str
    first_step_s: float
    later_step_s: float
    first_step_excess_s: float
    peak_extra_bytes: int
    param_bytes: int
    memory_fraction: float


def measure(implementation: str, problem: str, *, quick: bool) -> Footprint | None:
    """Measure ``implementation`` on ``problem`` in a fresh process.

    Args:
        implementation: A registered implementation's name.
        problem: A problem's name.
        quick: Use the tiny problems.

    Returns:
        The :class:`Footprint`, or None where ``/proc/self/clear_refs`` is unavailable.
    """
    if not STATUS.exists():
        return None
    command = [sys.executable, "-m", "benchmarks.footprint", implementation, problem]
    done = subprocess.run(
        [*command, "--quick"] if quick else command,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return Footprint(**json.loads(done.stdout))


def _release_free_memory() -> None:
    """Return the allocator's free memory to the system (glibc ``malloc_trim``).

    Temporaries a step reuses from an earlier step then count again; a no-op elsewhere.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", STATUS.read_text(), re.M).group(1))  # type: ignore[union-attr]


def _child(implementation: str, problem_name: str, quick: bool) -> Footprint:
    """Set up, time the first step, warm up, then measure one step's peak memory."""
    problem = (QUICK_PROBLEMS if quick else PROBLEMS)[problem_name]
    (setup,) = [impl.setup for impl in implementations() if impl.name == implementation]
    params, grads = problem.arrays(SEED)
    stepper = setup(params, grads)
    start = time.perf_counter()
    stepper.step()
    first = time.perf_counter() - start
    for _ in range(WARMUP_STEPS):
        stepper.step()
    later = []
    for _ in range(LATER_STEPS):
        start = time.perf_counter()
        stepper.step()
        later.append(time.perf_counter() - start)
    _release_free_memory()
    Path("/proc/self/clear_refs").write_text("5")
    before = _kib("VmRSS")
    stepper.step()
    extra = max(0, _kib("VmHWM") - before) * 1024
    param_bytes = sum(p.nbytes for p in params)
    median = statistics.median(later)
    return Footprint(
        implementation,
        problem_name,
        first,
        median,
        first - median,
        extra,
        param_bytes,
        extra / param_bytes,
    )


if __name__ == "__main__":
    name, problem_name, *flags = sys.argv[1:]
    print(json.dumps(dataclasses.asdict(_child(name, problem_name, "--quick" in flags))))
