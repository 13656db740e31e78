"""Blocks of arrays shared among a cached pool of threads (NumPy releases the GIL in its loops).

Which thread runs a block depends on its size:

- Blocks of at least ``SHARED_BYTES`` per array are shared among the pool's threads,
  even when there is one: the caller's thread allocates its temporaries from glibc's main
  arena, which hands freed memory back to the system after each block, so that the next
  block page-faults it in again (a pool thread's arena keeps it).
- Smaller blocks run in the caller's thread: their arithmetic is shorter than a handoff of
  the GIL, so more threads only take turns.

The measurements behind both rules are in docs/benchmarks.md (Threads).
"""

from __future__ import annotations

import functools
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait

import numpy as np

Block = tuple[np.ndarray, ...]
Work = Callable[[list[Block]], None]
Inbox = queue.SimpleQueue[tuple[Work, list[Block], "Future[None]"]]

SHARED_BYTES = 1 << 18  # 256 KiB per array: 2^16 float32 elements


def share(work: Work, blocks: list[Block], threads: int) -> None:
    """Run ``work`` on every block once, and wait: large blocks on ``threads`` pool threads.

    The large blocks (``SHARED_BYTES`` or more in their first array) go in ``threads``
    round-robin shares, ``large[j::threads]``, so that neighbouring blocks (those of one
    array) run on different threads; share ``j`` runs on the pool's thread ``j``. Then the
    small blocks run in the caller's thread.

    Args:
        work: Called once per share with a list of blocks; its exceptions propagate
            once every share has finished.
        blocks: The blocks: tuples of arrays, sized by their first.
        threads: Threads to share the large blocks among, ``>= 1``.
    """
    large: list[Block] = []
    small: list[Block] = []
    for block in blocks:
        (large if block[0].nbytes >= SHARED_BYTES else small).append(block)
    threads = min(threads, len(large))
    if threads:
        inboxes = _pool(threads, os.getpid())
        done: list[Future[None]] = []
        for j, inbox in enumerate(inboxes):
            done.append(Future())
            inbox.put((work, large[j::threads], done[-1]))
        wait(done)  # every share has finished before any error is raised
        for future in done:
            future.result()
    if small:
        work(small)


@functools.cache
def _pool(threads: int, pid: int) -> list[Inbox]:
    """``threads`` daemon threads, each serving its own inbox; new ones in a forked child."""
    del pid  # a key only: a forked child has none of its parent's threads
    inboxes: list[Inbox] = []
    for j in range(threads):
        inboxes.append(queue.SimpleQueue())
        threading.Thread(
            target=_serve, args=(inboxes[-1],), name=f"radam_numpy-{j}", daemon=True
        ).start()
    return inboxes


def _serve(inbox: Inbox) -> None:
    while True:
        work, blocks, done = inbox.get()
        try:
            work(blocks)
        except BaseException as error:  # handed to the caller, which re-raises it
            done.set_exception(error)
        else:
            done.set_result(None)
