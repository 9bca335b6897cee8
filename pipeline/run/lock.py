"""One writer at a time: a lock file holding the running process's PID, and clean stops.

The lock is an flock on <data-dir>/podinsights.lock: the kernel drops it when the
process dies, even by SIGKILL, so a stale lock left by a crash is simply taken over.
"""

from __future__ import annotations

import fcntl
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from pipeline.errors import PipelineError

LOCK_NAME = "podinsights.lock"


class AlreadyRunning(PipelineError):
    pass


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived. A BaseException, so no `except Exception` swallows it
    and every open transaction rolls back on the way out."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.exit_code = 128 + signum  # 130 for SIGINT, 143 for SIGTERM


@contextmanager
def run_lock(data_dir: Path, what: str) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyRunning(
            f"Another podinsights run is in progress ({holder}, lock {path}); "
            "this one stops without doing anything."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}: {what}")
    handle.flush()
    try:
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into Stopped, raised in the main thread."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
