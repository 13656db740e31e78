"""Work shared among a cached pool of threads (NumPy releases the GIL inside its loops)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")


def share(work: Callable[[list[Item]], None], items: list[Item], threads: int) -> None:
    """Run ``work`` on ``threads`` round-robin shares of ``items`` at once, and wait.

    Share ``j`` is ``items[j::threads]``, so that neighbouring items (the blocks of one
    array) run on different threads. One thread, or one item, runs in the caller's thread.

    Args:
        work: Called once per share; its exceptions propagate.
        items: The items, in order.
        threads: Threads to use, ``>= 1``.
    """
    threads = min(threads, len(items))
    if threads <= 1:
        work(items)
        return
    list(_pool(threads).map(work, [items[j::threads] for j in range(threads)]))


@functools.cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="radam_numpy")
