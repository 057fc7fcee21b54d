"""The SQLite engine: connections, the group-committing writer thread, reads on the reader pool
and point reads on the event loop, and the bucket-record generation shared by processes.

Every ``SqliteMetaStore`` method is a function of one connection run by ``_write`` (one
SAVEPOINT inside a group-committed transaction on the writer thread), ``_read`` (a snapshot on
a reader thread) or ``_point_read`` (a snapshot on the loop); see the package docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import mmap
import os
import queue
import sqlite3
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ninefold.meta.models import Bucket
from ninefold.meta.schema import SQLITE_MIGRATIONS

__all__ = ["MAX_GROUP_COMMIT", "SqliteEngine"]

T = TypeVar("T")

#: most calls committed by one transaction
MAX_GROUP_COMMIT = 256
#: the shared bucket-record generation (``<db>.gen``)
_GEN = struct.Struct("<Q")


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn


@dataclass(slots=True)
class _Job:
    """A call waiting for the writer thread, and who waits for it."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    bucket_change: bool = False


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds a lock this one needs."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _drain(jobs: queue.SimpleQueue[_Job | None], most: int) -> tuple[list[_Job], bool]:
    """Block for one job, then take those already waiting (up to ``most``); (jobs, stop)."""
    first = jobs.get()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < most:
        try:
            more = jobs.get_nowait()
        except queue.Empty:
            break
        if more is None:
            return batch, True
        batch.append(more)
    return batch, False


def _hand_back(batch: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    """Wake each waiting loop once with the outcomes of its calls."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, bool, Any]]] = {}
    for job, (ok, value) in zip(batch, outcomes, strict=True):
        by_loop.setdefault(job.loop, []).append((job, ok, value))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, settled)


def _settle(settled: list[tuple[_Job, bool, Any]]) -> None:
    """On the caller's loop: hand each waiting call its result or exception."""
    for job, ok, value in settled:
        if job.future.done():  # the caller was cancelled meanwhile
            continue
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


class SqliteEngine:
    """The plumbing under ``SqliteMetaStore``: how a function of a connection gets run."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0, readers: int = 4) -> None:
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._loop_conn: sqlite3.Connection | None = None
        gen_path = Path(f"{path}.gen")
        gen_fd = os.open(gen_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(gen_fd).st_size < _GEN.size:
                os.ftruncate(gen_fd, _GEN.size)
            self._gen = mmap.mmap(gen_fd, _GEN.size)
        finally:
            os.close(gen_fd)
        #: bucket name -> (the generation read before loading it, the record or None)
        self._buckets: dict[str, tuple[int, Bucket | None]] = {}
        self._writer_thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="meta-r")
        self._local = threading.local()
        self._writer: sqlite3.Connection | None = None
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self._path, self._busy_timeout_s)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        def job() -> T:
            conn = self._conn()
            conn.execute("BEGIN")
            try:
                return fn(conn, *args)
            finally:
                conn.execute("COMMIT")

        return await asyncio.get_running_loop().run_in_executor(self._reader_pool, job)

    async def _point_read(self, fn: Callable[..., T], *args: Any) -> T:
        """A small read (one object, bucket, key by its primary key or index): run right here
        on the event loop, on a connection of its own that never waits for a lock (busy
        timeout 0). Such a read takes ~6 µs of CPU on a warm database; any hand-off to a thread
        cost more than the read itself (pool: ~43 µs, a batching thread: ~7 µs plus the wait
        for the GIL, ~15 % of the GET rate). If SQLite ever answers busy (WAL recovery, another
        process holding the database), the read goes to the reader pool, whose connections
        wait for the lock. Big reads (listings) always run on the pool."""
        try:
            conn = self._loop_conn
            if conn is None:
                conn = _connect(self._path, 0.0)
                with self._lock:
                    self._all.append(conn)
                self._loop_conn = conn
            conn.execute("BEGIN")
            try:
                return fn(conn, *args)
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        return await self._read(fn, *args)  # on the pool, which waits for the lock

    def _bucket_gen(self) -> int:
        return int(_GEN.unpack_from(self._gen)[0])

    async def _write(self, fn: Callable[..., T], *args: Any, bucket_change: bool = False) -> T:
        """Run ``fn(conn, *args)`` in a write transaction (group-committed, see module doc);
        ``bucket_change``: it may change a bucket record (cached records are then stale)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._writer_thread is None:
            self._lock_fd = os.open(f"{self._path}.writelock", os.O_RDWR | os.O_CREAT, 0o600)
            self._writer_thread = threading.Thread(
                target=self._write_loop, name="meta-w", daemon=True
            )
            self._writer_thread.start()
        self._jobs.put(_Job(fn, args, loop, future, bucket_change))
        return await future

    def _write_loop(self) -> None:
        while True:
            batch, stop = _drain(self._jobs, MAX_GROUP_COMMIT)
            if batch:
                self._run_batch(batch)
            if stop:
                return

    def _run_batch(self, batch: list[_Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        assert self._lock_fd is not None
        try:
            conn = self._conn()
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for job in batch:
                        conn.execute("SAVEPOINT job")
                        try:
                            result = job.fn(conn, *job.args)
                        except BaseException as exc:  # this call alone fails
                            conn.execute("ROLLBACK TO job")
                            conn.execute("RELEASE job")
                            outcomes.append((False, exc))
                        else:
                            conn.execute("RELEASE job")
                            outcomes.append((True, result))
                    conn.execute("COMMIT")
                    if any(job.bucket_change for job in batch):  # under the lock: no lost bump
                        _GEN.pack_into(self._gen, 0, self._bucket_gen() + 1)
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        except BaseException as exc:  # the transaction itself failed: nothing of it committed
            outcomes = [(False, exc)] * len(batch)
        _hand_back(batch, outcomes)

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        done = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(SQLITE_MIGRATIONS[done:], start=done + 1):
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")

    async def close(self) -> None:
        if self._writer_thread is not None:
            self._jobs.put(None)
            await asyncio.get_running_loop().run_in_executor(None, self._writer_thread.join)
            self._writer_thread = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._reader_pool.shutdown(wait=True)
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
