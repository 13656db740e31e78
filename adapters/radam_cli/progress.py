"""Progress of the ``radam`` commands' long computations, on stderr, by tqdm.

On a terminal, a tqdm bar redrawn in place, with the time elapsed and the time left. Where
stderr is a file or a pipe (a log, CI), no carriage returns: a plain line of tqdm's
``tqdm.format_meter`` text each time another tenth of the work is done, so at most ten
lines, the last at 100%.
"""

from __future__ import annotations

import time
from typing import TextIO

from tqdm import tqdm

LINES = 10
"""The most lines written where the stream is not a terminal (one per tenth done)."""


class Progress:
    """Progress through ``total`` units of work, shown on ``stream``.

    A context manager: leaving the ``with`` block closes it (see
    [`close`][radam_cli.progress.Progress.close]).

    Args:
        total: The units (optimizer steps, Gaussian draws) to do; at least 1 is assumed.
        stream: Where to show it: stderr, so that what the command prints on stdout stays
            clean. A tqdm bar if ``stream.isatty()``, else at most
            [`LINES`][radam_cli.progress.LINES] plain lines.
        description: What is being done, the prefix of each line (``"training"``).
        unit: The name of one unit (``"step"``).
        unit_scale: Whether to write large counts with SI prefixes (``4.00M``).
    """

    def __init__(
        self,
        total: int,
        stream: TextIO,
        description: str,
        unit: str = "it",
        unit_scale: bool = False,
    ) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self.description = description
        self.unit = unit
        self.unit_scale = unit_scale
        self._start = time.perf_counter()
        self._tenths_shown = 0
        self._bar: tqdm | None = None
        if stream.isatty():
            self._bar = tqdm(
                total=self.total,
                file=stream,
                desc=description,
                unit=unit,
                unit_scale=unit_scale,
                mininterval=0.1,
                dynamic_ncols=True,
                disable=False,
                leave=True,
            )

    def advance(self, units: int) -> None:
        """Count ``units`` more as done (never past ``total``) and show it if it is time."""
        units = max(0, min(units, self.total - self.done))
        self.done += units
        if self._bar is not None:
            self._bar.update(units)
            return
        tenths = self.done * LINES // self.total
        if tenths > self._tenths_shown:
            self._tenths_shown = tenths
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self) -> str:
        """The state now as one line of tqdm's text, without a bar's carriage returns.

        Returns:
            For example ``training:  40%|####      | 4/10 [00:01<00:02,  2.67step/s]``: the
            fraction done, the time elapsed, the estimate of the time left and the rate.
        """
        return tqdm.format_meter(
            self.done,
            self.total,
            time.perf_counter() - self._start,
            prefix=self.description,
            unit=self.unit,
            unit_scale=self.unit_scale,
            ascii=True,
        )

    def close(self) -> None:
        """End the bar's line on a terminal; elsewhere every line already ends itself."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()
