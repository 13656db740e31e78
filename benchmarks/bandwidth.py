"""The machine's memory bandwidth, measured with a multithreaded triad ``a = b + s c``.

NumPy has no single-pass triad (``b + s * c`` makes two passes), so torch's
``torch.add(b, c, alpha=s, out=a)`` (multithreaded) is used when torch is importable;
otherwise ``np.add(b, c, out=a)`` on equal slices shared by a pool of ``os.cpu_count()``
threads, which moves the same three streams. Bytes are counted as STREAM does: 12 per
fp32 element (read b and c, write a), without the write-allocate read.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

import numpy as np

BYTES_PER_ELEMENT = 12  # fp32: read b, read c, write a
METHODS = ("auto", "torch", "numpy")
_B, _C, _S = 1.0, 2.0, 3.0  # the inputs and the scalar: a = b + s c = 7 (numpy: b + c = 3)


@dataclasses.dataclass(frozen=True)
class Bandwidth:
    """A triad measurement: the median of several runs (steps are timed by median too).

    Attributes:
        method: What was run, e.g. ``"torch.add(b, c, alpha=s, out=a), torch 2.13.0"``.
        threads: Threads it ran on.
        elements: fp32 elements per array.
        runs: Timed runs.
        median_seconds: The median run.
        bytes_per_second: ``BYTES_PER_ELEMENT * elements / median_seconds``: the bandwidth.
        best_bytes_per_second: The same from the fastest run, for information (on a
            shared host the bandwidth can vary severalfold within seconds).
        times_s: Every run, in seconds.
    """

    method: str
    threads: int
    elements: int
    runs: int
    median_seconds: float
    bytes_per_second: float
    best_bytes_per_second: float
    times_s: tuple[float, ...]


class Triad:
    """Three fp32 arrays and a triad over them on all cores, timed on each ``run``.

    Use it as a context manager (the NumPy method holds a thread pool). It runs once,
    untimed, on creation, so that no timed run pays for first touches or thread start-up.

    Args:
        elements: Elements per array; make ``4 * elements`` bytes much larger than the
            last-level cache to measure memory rather than cache.
        method: ``"torch"``, ``"numpy"``, or ``"auto"``: torch when importable.

    Attributes:
        method: What runs, with torch's version.
        threads: Threads it runs on (torch: its intra-op threads, one per core by default).
        elements: Elements per array.
        times: The seconds of every ``run`` so far.

    Raises:
        ValueError: Unknown method.
    """

    def __init__(self, elements: int, method: str = "auto") -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        if method == "auto":
            method = "torch" if importlib.util.find_spec("torch") is not None else "numpy"
        self.elements = elements
        self.times: list[float] = []
        self._pool: ThreadPoolExecutor | None = None
        self._once: Callable[[], object]
        if method == "torch":
            import torch

            self.threads = torch.get_num_threads()
            self.method = f"torch.add(b, c, alpha=s, out=a), torch {torch.__version__}"
            a, b, c = (
                torch.zeros(elements),
                torch.full((elements,), _B),
                torch.full((elements,), _C),
            )
            self._expected = _B + _S * _C
            self._last: Any = a
            self._once = lambda: torch.add(b, c, alpha=_S, out=a)
        else:
            self.threads = os.cpu_count() or 1
            self.method = "np.add(b, c, out=a) split over a thread pool (3 streams, no scalar)"
            arrays = [np.full(elements, value, np.float32) for value in (0.0, _B, _C)]
            bounds = np.linspace(0, elements, self.threads + 1).astype(int).tolist()
            parts = [
                tuple(array[start:stop] for array in arrays)
                for start, stop in itertools.pairwise(bounds)
            ]
            self._expected = _B + _C
            self._last = arrays[0]
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="triad")
            pool = self._pool
            self._once = lambda: list(pool.map(lambda p: np.add(p[1], p[2], out=p[0]), parts))
        self._once()

    def __enter__(self) -> Triad:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the thread pool, if any."""
        if self._pool is not None:
            self._pool.shutdown()

    def run(self) -> None:
        """Run the triad once and record its time in ``times``."""
        start = time.perf_counter()
        self._once()
        self.times.append(time.perf_counter() - start)

    def bandwidth(self) -> Bandwidth:
        """The median of the runs so far, after checking that they computed ``b + s c``.

        Returns:
            The ``Bandwidth``.

        Raises:
            RuntimeError: No run yet, or the triad computed a wrong value.
        """
        if not self.times:
            raise RuntimeError("the triad has not run")
        last = float(self._last[-1])
        if last != self._expected:
            raise RuntimeError(f"the triad computed {last}, expected {self._expected}")
        median = statistics.median(self.times)
        return Bandwidth(
            method=self.method,
            threads=self.threads,
            elements=self.elements,
            runs=len(self.times),
            median_seconds=median,
            bytes_per_second=BYTES_PER_ELEMENT * self.elements / median,
            best_bytes_per_second=BYTES_PER_ELEMENT * self.elements / min(self.times),
            times_s=tuple(self.times),
        )
