"""Background work: every job is a Worker with a bounded ``run_once``; a runner schedules it.

Leader election keeps two processes from doing the same job: in the embedded server a file lock
(``fcntl.flock``) in the data directory; the distributed mode brings PostgreSQL advisory locks.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

__all__ = ["FileLeaderLock", "LeaderLock", "Worker", "run_forever"]

log = logging.getLogger("ninefold.workers")


class Worker(Protocol):
    name: str

    async def run_once(self) -> int:
        """Do one bounded round of work; returns how many items it handled."""
        ...


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


class FileLeaderLock:
    """Held by at most one process at a time; released when the holder exits or crashes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


async def run_forever(worker: Worker, lock: LeaderLock, interval_s: float) -> None:
    """Run ``worker`` every ``interval_s`` while this process holds ``lock``; never raises."""
    try:
        while True:
            if lock.try_acquire():
                try:
                    handled = await worker.run_once()
                    if handled:
                        log.info("%s: handled %d items", worker.name, handled)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s: round failed; retrying later", worker.name)
            await asyncio.sleep(interval_s)
    finally:
        lock.release()
