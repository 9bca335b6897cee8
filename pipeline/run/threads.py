"""Worker threads that stop at once when the run does (signal, error, consumer gone)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def worker_pool(workers: int, name: str) -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    try:
        yield pool
    except BaseException:
        # Queued work is dropped; work in progress is abandoned, never saved: only the
        # calling thread writes, so nothing half-done reaches the database.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
