"""Background work: every job is a Worker with a bounded ``run_once``; a runner schedules it.

Leader election keeps two processes from doing the same job: in the embedded server (and over a
SQLite file) a file lock (``fcntl.flock``) next to the metadata; over PostgreSQL a session-level
advisory lock per job, held on a connection of its own. Either is released by the holder's
death (process exit, closed connection), so a crashed leader never blocks its successor. Being
leader is re-checked before every round: a leader that lost its lock (PostgreSQL restarted,
connection cut) stops working until it wins the lock again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import asyncpg

__all__ = ["FileLeaderLock", "LeaderLock", "PgAdvisoryLeaderLock", "Worker", "run_forever"]

log = logging.getLogger("ninefold.workers")

#: the first key of every leader lock: PostgreSQL's two-int advisory lock space, which never
#: overlaps the one-bigint space of the metadata store's migration and per-key locks
_LEADER_LOCK_CLASS = 0x4E46574B  # "NFWK"


class Worker(Protocol):
    name: str

    async def run_once(self) -> int:
        """Do one bounded round of work; returns how many items it handled."""
        ...


class LeaderLock(Protocol):
    async def try_acquire(self) -> bool:
        """True while this process holds the lock (taking it if it is free); never raises."""
        ...

    async def release(self) -> None: ...


class FileLeaderLock:
    """Held by at most one process at a time; released when the holder exits or crashes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    async def try_acquire(self) -> bool:
        # flock with LOCK_NB never blocks: fine on the event loop
        if self._fd is not None:
            return True
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            log.warning("leader lock %s: %s", self._path, exc)
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PgAdvisoryLeaderLock:
    """A session-level ``pg_try_advisory_lock`` on ``name``, on a dedicated connection.

    The lock lives exactly as long as that connection: ``release`` closes it, and so does the
    server when this process dies. While held, every ``try_acquire`` checks the connection
    with one round trip; if it is gone, so is the lock, and the next call tries to win it anew.
    """

    def __init__(self, dsn: str, name: str, *, timeout_s: float = 5.0) -> None:
        self._dsn = dsn
        self.name = name
        self._timeout_s = timeout_s
        self._conn: Any = None  # asyncpg.Connection while held
        self._failing = False

    async def try_acquire(self) -> bool:
        try:
            if self._conn is not None:
                await self._conn.fetchval("SELECT 1", timeout=self._timeout_s)
                return True
            conn = await asyncpg.connect(
                self._dsn,
                timeout=self._timeout_s,
                server_settings={"application_name": f"ninefold leader {self.name}"[:63]},
            )
            try:
                won = await conn.fetchval(
                    "SELECT pg_try_advisory_lock($1::int4, hashtext($2))",
                    _LEADER_LOCK_CLASS,
                    self.name,
                    timeout=self._timeout_s,
                )
            except BaseException:
                await _close(conn)
                raise
            if not won:
                await _close(conn)
                self._failing = False
                return False
            self._conn = conn
            self._failing = False
            return True
        except Exception as exc:  # unreachable, restarted, cut: not leading, try again later
            if not self._failing:  # once per outage, not once per round
                log.warning("leader lock %s: %r; not leading while this lasts", self.name, exc)
            self._failing = True
            await self.release()
            return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await _close(conn)


async def _close(conn: Any) -> None:
    """Close a connection (which ends its session and its advisory locks), or cut it."""
    try:
        await asyncio.wait_for(conn.close(), 2.0)
    except Exception:
        conn.terminate()


async def run_forever(worker: Worker, lock: LeaderLock, interval_s: float) -> None:
    """Run ``worker`` every ``interval_s`` (start to start) while this process holds ``lock``;
    never raises but CancelledError, and gives the lock back when cancelled."""
    loop = asyncio.get_running_loop()
    leading = False
    try:
        while True:
            started = loop.time()
            try:
                if await lock.try_acquire():
                    if not leading:
                        log.info("%s: leader now", worker.name)
                        leading = True
                    handled = await worker.run_once()
                    if handled:
                        log.info("%s: handled %d items", worker.name, handled)
                elif leading:
                    log.warning("%s: lost the leader lock", worker.name)
                    leading = False
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: round failed; retrying later", worker.name)
            await asyncio.sleep(max(0.0, interval_s - (loop.time() - started)))
    finally:
        # shielded: a second cancellation must not leave a PostgreSQL lock behind
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(lock.release())
