"""Time one implementation on one problem in a fresh Python process.

Each implementation runs alone in its own process (``python -m benchmarks.worker``, with
its catalogue worker's environment: ``KERAS_BACKEND`` for Keras), so that no other
implementation's allocations change its conditions: a NumPy step that frees large arrays,
for instance, leaves glibc's heap so that torch's temporaries then come without page faults,
which made ``torch.optim.RAdam(foreach=True)`` twice as fast as in a process of its own. In
that process the worker times the very first step (state allocation included), takes
``WARMUP_STEPS`` untimed steps, times ``repeats`` consecutive steps, and measures the peak
extra memory of one more step: the resident-set high-water mark, reset through
``/proc/self/clear_refs`` (Linux) after the allocator's free memory is returned to the
system (glibc ``malloc_trim``),

    peak extra = VmHWM after the step - VmRSS before it.

Finally every parameter must have changed and be finite.

A time ratio is also measured *paired* (``python -m benchmarks.worker --pair A B ...``):
both implementations of a target set up in one process (same framework) and timed in
rounds of one step each, the rounds alternating which goes first (A B, B A, A B, ...), so
that both see the same bandwidth regime; the harness takes the median of the rounds'
ratios. The host's bandwidth changes between processes (docs/benchmarks.md, Reading these
numbers), which made ratios measured in separate processes flip around their targets.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.problems import PROBLEMS, QUICK_PROBLEMS, SEED, Problem
from benchmarks.registry import Benchmarked, device, environment, implementations
from catalogue.stepper import Setup, Stepper

# Untimed steps after the first: torch's rule rectifies from t = 6, so every timed step is
# rectified, and the first rectified steps (new temporaries, first page touches) are untimed.
WARMUP_STEPS = 10
STATUS = Path("/proc/self/status")


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What one worker measured.

    Attributes:
        first_step_s: The very first step, state allocation included.
        times_s: The timed steps, in seconds.
        peak_extra_bytes: Peak memory above the resident set during one step, or None
            where ``/proc/self/clear_refs`` is unavailable.
    """

    first_step_s: float
    times_s: tuple[float, ...]
    peak_extra_bytes: int | None


def measure(implementation: str, problem: Problem, repeats: int, *, quick: bool) -> Measurement:
    """Run ``run`` for a registered implementation in a fresh process.

    Args:
        implementation: The implementation's name.
        problem: The problem.
        repeats: Timed steps.
        quick: ``problem`` is one of the tiny problems.

    Returns:
        The ``Measurement``.

    Raises:
        RuntimeError: The worker failed (its error output is included).
    """
    arguments = [implementation, problem.name, str(repeats), *(["--quick"] if quick else [])]
    fields = _in_worker(arguments, [implementation], 900, f"{implementation} on {problem.name}")
    return Measurement(fields["first_step_s"], tuple(fields["times_s"]), fields["peak_extra_bytes"])


def measure_pair(
    implementation: str, reference: str, problem: Problem, repeats: int, *, quick: bool
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Run ``run_pair`` for two registered implementations in a fresh process.

    Args:
        implementation: The first implementation's name.
        reference: The second's.
        problem: The problem.
        repeats: Timed steps of each.
        quick: ``problem`` is one of the tiny problems.

    Returns:
        The timed steps of ``implementation`` and of ``reference``, in seconds.

    Raises:
        RuntimeError: The worker failed (its error output is included).
    """
    arguments = ["--pair", implementation, reference, problem.name, str(repeats)]
    arguments += ["--quick"] if quick else []
    what = f"{implementation} with {reference} on {problem.name}"
    fields = _in_worker(arguments, [implementation, reference], 1800, what)
    return tuple(fields["times_s"]), tuple(fields["reference_times_s"])


def _in_worker(arguments: list[str], names: list[str], timeout: float, what: str) -> dict[str, Any]:
    """Run ``python -m benchmarks.worker ARGUMENTS`` in its implementations' environment.

    Returns:
        The JSON document it printed.

    Raises:
        RuntimeError: The worker failed (its error output is included).
    """
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **environment(*names)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stderr}")
    fields: dict[str, Any] = json.loads(done.stdout)
    return fields


@contextlib.contextmanager
def started(
    implementation: Benchmarked, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]
) -> Iterator[tuple[Callable[[], None], Stepper]]:
    """Build ``implementation`` on ``params`` (it copies them), its gradients fixed to ``grads``.

    Builds without a configuration (the implementation's defaults), on the run's device
    (``benchmarks.registry.device``), inside the implementation's context.

    Yields:
        ``(timed_step, stepper)``: ``timed_step`` takes the row's ``steps_per_timing``
        optimizer steps (a whole k-cycle for Lookahead).
    """
    entry = implementation.implementation
    dtype = str(params[0].dtype)
    with entry.context(dtype):
        stepper = entry.build(Setup(list(params), device=device(), jit_compile=True))
        stepper.set_gradients(list(grads))
        steps = implementation.row.steps_per_timing

        def timed_step() -> None:
            for _ in range(steps):
                stepper.step()

        yield (stepper.step if steps == 1 else timed_step), stepper


def run_pair(
    implementation: Benchmarked, reference: Benchmarked, problem: Problem, repeats: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Set up both on fresh arrays of ``problem``, warm both up, then time them in rounds.

    Args:
        implementation: The first implementation.
        reference: The second.
        problem: The problem.
        repeats: Timed steps of each.

    Returns:
        The timed steps of each, in seconds, round by round.

    Raises:
        RuntimeError: A parameter did not change or is not finite.
    """
    params, grads = problem.arrays(SEED)
    with (
        started(implementation, params, grads) as first,
        started(reference, params, grads) as second,
    ):
        steps = (first[0], second[0])
        for step in steps:
            for _ in range(1 + WARMUP_STEPS):
                step()
        times: tuple[list[float], list[float]] = ([], [])
        for round_ in range(repeats):
            # Rounds alternate which one goes first (a, b, b, a, a, b, ...): neither always
            # runs in the cache state that the other leaves behind.
            order = (0, 1) if round_ % 2 == 0 else (1, 0)
            for index in order:
                start = time.perf_counter()
                steps[index]()
                times[index].append(time.perf_counter() - start)
        for _, stepper in (first, second):
            _verify(params, stepper.params())
    return tuple(times[0]), tuple(times[1])


def run(implementation: Benchmarked, problem: Problem, repeats: int) -> Measurement:
    """Set up on fresh arrays of ``problem``, then time and measure (see the module).

    Args:
        implementation: The implementation.
        problem: The problem.
        repeats: Timed steps.

    Returns:
        The ``Measurement``.

    Raises:
        RuntimeError: A parameter did not change or is not finite.
    """
    params, grads = problem.arrays(SEED)
    with started(implementation, params, grads) as (step, stepper):
        start = time.perf_counter()
        step()
        first = time.perf_counter() - start
        for _ in range(WARMUP_STEPS):
            step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        peak = _peak_extra_bytes(step)
        _verify(params, stepper.params())
    return Measurement(first, tuple(times), peak)


def _peak_extra_bytes(step: Callable[[], None]) -> int | None:
    if not STATUS.exists():
        return None
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    Path("/proc/self/clear_refs").write_text("5")
    before = _kib("VmRSS")
    step()
    return max(0, _kib("VmHWM") - before) * 1024


def _kib(field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", STATUS.read_text(), re.M)
    if match is None:
        raise RuntimeError(f"no {field} in {STATUS}")
    return int(match.group(1))


def _verify(before: Sequence[np.ndarray], after: Sequence[Any]) -> None:
    if len(after) != len(before):
        raise RuntimeError(f"{len(after)} parameters came back, expected {len(before)}")
    for index, (old, current) in enumerate(zip(before, after, strict=True)):
        new = np.asarray(current)
        if new.shape != old.shape or not np.isfinite(new).all():
            raise RuntimeError(f"params[{index}] has a wrong shape or is not finite")
        if np.array_equal(new, old):
            raise RuntimeError(f"params[{index}] did not change")


def _implementation(name: str) -> Benchmarked:
    (chosen,) = [impl for impl in implementations() if impl.name == name]
    return chosen


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[0] == "--pair":
        name, reference_name, problem_name, repeats_text, *flags = arguments[1:]
        catalogue = QUICK_PROBLEMS if "--quick" in flags else PROBLEMS
        pair = run_pair(
            _implementation(name),
            _implementation(reference_name),
            catalogue[problem_name],
            int(repeats_text),
        )
        print(json.dumps({"times_s": pair[0], "reference_times_s": pair[1]}))
    else:
        name, problem_name, repeats_text, *flags = arguments
        catalogue = QUICK_PROBLEMS if "--quick" in flags else PROBLEMS
        result = run(_implementation(name), catalogue[problem_name], int(repeats_text))
        print(json.dumps(dataclasses.asdict(result)))
