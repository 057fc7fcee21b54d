"""SQLite metadata backend for the embedded server.

Threading model: one writer connection on a dedicated thread runs the mutating calls, so
transactions never interleave; readers use per-thread connections on a small pool, each read in
its own snapshot. WAL mode lets readers run beside the writer and lets several worker processes
share one database file. The one exception: point reads (an object, a bucket, a key) run on
the event loop itself, on a connection that never waits for a lock -- see ``_point_read``.

Group commit: the writer thread takes every call that is waiting when it becomes free and runs
them in ONE ``BEGIN IMMEDIATE .. COMMIT``, each inside its own SAVEPOINT: a call that raises is
rolled back alone and gets its exception; the others commit together, with one WAL fsync
(``synchronous=FULL``) for all of them. No call is acknowledged before that COMMIT returns, so
every acknowledged write survives a crash. Worker processes take an ``flock`` on
``<db>.writelock`` around each transaction: a blocking, immediately woken lock instead of
SQLite's sleeping busy handler (whose back-off reaches 100 ms and made p99 latencies of ~1 s).

Bucket records are read by every request (authorization, then the operation), so each process
keeps them in memory, checked against a generation counter that all processes share in
``<db>.gen`` (mmap): every committed change to a bucket record bumps it after its COMMIT, and a
cached record is used only while the counter still has the value read before it was loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import mmap
import os
import queue
import sqlite3
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.listing import RangeQuery, VersionCursor, list_page
from ninefold.meta.models import (
    NODE_HEALTH,
    NULL_VERSION,
    REPAIR_MISSING_AT_WRITE,
    Bucket,
    ClusterMap,
    DeleteOutcome,
    GcItem,
    ListPage,
    NodeRecord,
    ObjectVersion,
    Part,
    RepairItem,
    Upload,
    VersionPage,
    WriteCondition,
    delete_marker,
    lock_refusal,
    new_version_id,
)
from ninefold.meta.rows import (
    BUCKET_COLS,
    CHUNK_COLS,
    CHUNK_DATA_COLS,
    NODE_COLS,
    OBJ_COLS,
    REPAIR_COLS,
    UPLOAD_COLS,
    bucket_from_row,
    chunk_from_row,
    chunk_values,
    node_from_row,
    node_values,
    object_from_row,
    repair_from_row,
    stores_have_gap,
    upload_from_row,
)
from ninefold.meta.schema import SQLITE_MIGRATIONS

__all__ = ["SqliteMetaStore"]

T = TypeVar("T")


def _connect(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    conn = sqlite3.connect(
        str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    return conn


def _queue_chunks_of(conn: sqlite3.Connection, where: str, arg: int, now: float) -> None:
    """Move the chunks selected by ``where`` (object_id = ? / part_id = ?) onto the GC queue
    (and off the repair queue: there is nothing left to repair)."""
    conn.execute(
        f"DELETE FROM repair_queue WHERE chunk_id IN (SELECT chunk_id FROM chunks WHERE {where})",
        (arg,),
    )
    conn.execute(
        "INSERT INTO gc_queue (chunk_id, size, scheme, block_size, stores, queued_at) "
        f"SELECT chunk_id, size, scheme, block_size, stores, ? FROM chunks WHERE {where} "
        "AND scheme <> 'inline'",
        (now, arg),
    )
    conn.execute(f"DELETE FROM chunks WHERE {where}", (arg,))


def _insert_chunks(
    conn: sqlite3.Connection, owner_col: str, owner_id: int, chunks: tuple[ChunkRecord, ...]
) -> None:
    """Insert the chunks of an object or part; those with a missing fragment go to repair."""
    conn.executemany(
        f"INSERT INTO chunks (chunk_id, {owner_col}, seq, size, scheme, block_size, stores, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        chunk_values(owner_id, chunks),
    )
    _enqueue_repair(
        conn, [c.chunk_id for c in chunks if "" in c.stores], REPAIR_MISSING_AT_WRITE, _now()
    )


def _enqueue_repair(
    conn: sqlite3.Connection, chunk_ids: list[str], reason: str, now: float
) -> None:
    conn.executemany(
        "INSERT INTO repair_queue (chunk_id, reason, queued_at) VALUES (?, ?, ?) "
        "ON CONFLICT (chunk_id) DO NOTHING",
        [(chunk_id, reason, now) for chunk_id in chunk_ids],
    )


def _insert_object(conn: sqlite3.Connection, obj: ObjectVersion) -> int:
    cur = conn.execute(
        "INSERT INTO objects (bucket, key, version_id, is_latest, is_delete_marker, size, etag, "
        "last_modified, content_type, headers, user_meta, checksums, storage_class, part_sizes, "
        "tags, encryption, owner, lock, acl) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            obj.bucket,
            obj.key,
            obj.version_id,
            1,
            int(obj.is_delete_marker),
            obj.size,
            obj.etag,
            obj.last_modified,
            obj.content_type,
            json.dumps(obj.headers),
            json.dumps(obj.user_meta),
            json.dumps(obj.checksums),
            obj.storage_class,
            json.dumps(list(obj.part_sizes)),
            json.dumps(obj.tags),
            json.dumps(obj.encryption),
            obj.owner,
            json.dumps(obj.lock),
            obj.acl,
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def _unlink_null_version(conn: sqlite3.Connection, bucket: str, key: str, now: float) -> bool:
    """Remove the current ``null`` version of a key (chunks to GC); True if one existed."""
    row = conn.execute(
        "SELECT id FROM objects WHERE bucket = ? AND key = ? AND version_id = ?",
        (bucket, key, NULL_VERSION),
    ).fetchone()
    if row is None:
        return False
    _queue_chunks_of(conn, "object_id = ?", row[0], now)
    conn.execute("DELETE FROM objects WHERE id = ?", (row[0],))
    return True


def _versioning(conn: sqlite3.Connection, bucket: str) -> str:
    """The bucket's versioning state ("", "Enabled", "Suspended"); NoSuchBucket if absent."""
    row = conn.execute("SELECT versioning FROM buckets WHERE name = ?", (bucket,)).fetchone()
    if row is None:
        raise errors.NoSuchBucket(BucketName=bucket)
    return str(row[0])


def _make_room(conn: sqlite3.Connection, bucket: str, key: str, versioning: str, now: float) -> str:
    """Prepare ``key`` for a new current version; returns the version id it gets. Versioning
    on: the current version stays as a noncurrent one. Otherwise the new version is "null" and
    replaces the null version (its chunks to GC)."""
    if versioning != "Enabled":
        _unlink_null_version(conn, bucket, key, now)
    conn.execute(
        "UPDATE objects SET is_latest = 0 WHERE bucket = ? AND key = ? AND is_latest = 1",
        (bucket, key),
    )
    return new_version_id() if versioning == "Enabled" else NULL_VERSION


def _promote_newest(conn: sqlite3.Connection, bucket: str, key: str) -> None:
    """After the current version was removed, the newest remaining one becomes current."""
    conn.execute(
        "UPDATE objects SET is_latest = 1 WHERE id = (SELECT max(id) FROM objects "
        "WHERE bucket = ? AND key = ?)",
        (bucket, key),
    )


#: most calls committed by one transaction
MAX_GROUP_COMMIT = 256
#: the shared bucket-record generation (``<db>.gen``)
_GEN = struct.Struct("<Q")


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


class SqliteMetaStore:
    """MetaStore over one SQLite file (see module docstring for the threading model)."""

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
        self._buckets: dict[str, tuple[int, Bucket | None]] = {}
        self._writer_thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._reader_pool = ThreadPoolExecutor(readers, thread_name_prefix="meta-r")
        self._local = threading.local()
        self._writer: sqlite3.Connection | None = None
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @classmethod
    async def open(cls, path: Path) -> SqliteMetaStore:
        store = cls(path)
        await store._write(store._migrate)
        return store

    # -- plumbing -----------------------------------------------------------------------------

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

    # -- buckets ------------------------------------------------------------------------------

    async def create_bucket(self, bucket: Bucket) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT owner FROM buckets WHERE name = ?", (bucket.name,)
            ).fetchone()
            if row is not None:
                if row[0] == bucket.owner:
                    raise errors.BucketAlreadyOwnedByYou(BucketName=bucket.name)
                raise errors.BucketAlreadyExists(BucketName=bucket.name)
            conn.execute(
                "INSERT INTO buckets (name, created_at, owner, region, versioning, object_lock, "
                "policy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    bucket.name,
                    bucket.created_at,
                    bucket.owner,
                    bucket.region,
                    bucket.versioning,
                    int(bucket.object_lock),
                    bucket.policy,
                ),
            )
            conn.executemany(
                "INSERT INTO bucket_config (bucket, name, value) VALUES (?, ?, ?)",
                [(bucket.name, name, value) for name, value in bucket.configs.items()],
            )

        await self._write(fn, bucket_change=True)

    async def get_bucket(self, name: str) -> Bucket | None:
        gen = self._bucket_gen()
        cached = self._buckets.get(name)
        if cached is not None and cached[0] == gen:
            return cached[1]

        def fn(conn: sqlite3.Connection) -> Bucket | None:
            row = conn.execute(
                f"SELECT {BUCKET_COLS} FROM buckets WHERE name = ?",
                (name,),
            ).fetchone()
            if row is None:
                return None
            configs = conn.execute(
                "SELECT name, value FROM bucket_config WHERE bucket = ?", (name,)
            ).fetchall()
            return bucket_from_row(row, dict(configs))

        bucket = await self._point_read(fn)
        if len(self._buckets) > 10_000:
            self._buckets.clear()
        self._buckets[name] = (gen, bucket)
        return bucket

    async def list_buckets(self) -> list[Bucket]:
        def fn(conn: sqlite3.Connection) -> list[Bucket]:
            rows = conn.execute(f"SELECT {BUCKET_COLS} FROM buckets ORDER BY name").fetchall()
            return [bucket_from_row(r) for r in rows]

        return await self._read(fn)

    async def delete_bucket(self, name: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is None:
                raise errors.NoSuchBucket(BucketName=name)
            if (
                conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone()
                is not None
            ):
                raise errors.BucketNotEmpty(BucketName=name)
            now = _now()
            for (upload_id,) in conn.execute(
                "SELECT upload_id FROM uploads WHERE bucket = ?", (name,)
            ).fetchall():
                _drop_upload(conn, upload_id, now)
            conn.execute("DELETE FROM bucket_config WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))

        await self._write(fn, bucket_change=True)

    async def get_bucket_config(self, bucket: str, name: str) -> str | None:
        def fn(conn: sqlite3.Connection) -> str | None:
            _require_bucket(conn, bucket)
            row = conn.execute(
                "SELECT value FROM bucket_config WHERE bucket = ? AND name = ?", (bucket, name)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._point_read(fn)

    async def put_bucket_config(self, bucket: str, name: str, value: str | None) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            _require_bucket(conn, bucket)
            if value is None:
                conn.execute(
                    "DELETE FROM bucket_config WHERE bucket = ? AND name = ?", (bucket, name)
                )
            else:
                conn.execute(
                    "INSERT INTO bucket_config (bucket, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (bucket, name) DO UPDATE SET value = excluded.value",
                    (bucket, name, value),
                )

        await self._write(fn, bucket_change=True)  # the documents are part of the record

    # -- objects ------------------------------------------------------------------------------

    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        def fn(conn: sqlite3.Connection) -> ObjectVersion | None:
            row = conn.execute(
                f"SELECT {OBJ_COLS} FROM objects WHERE bucket = ? AND key = ? AND is_latest = 1",
                (bucket, key),
            ).fetchone()
            if row is None or row[5]:
                return None
            chunks = tuple(
                chunk_from_row(r)
                for r in conn.execute(
                    f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE object_id = ? ORDER BY seq",
                    (row[0],),
                )
            )
            return object_from_row(row, chunks)

        return await self._point_read(fn)

    async def put_object(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> str | None:
        def fn(conn: sqlite3.Connection) -> str | None:
            versioning = _versioning(conn, obj.bucket)
            if condition is not None:
                condition.check(_current_etag(conn, obj.bucket, obj.key))
            version_id = _make_room(conn, obj.bucket, obj.key, versioning, _now())
            object_id = _insert_object(conn, replace(obj, version_id=version_id))
            _insert_chunks(conn, "object_id", object_id, obj.chunks)
            return version_id if versioning else None

        return await self._write(fn)

    async def put_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            _require_bucket(conn, bucket)
            cur = conn.execute(
                "UPDATE objects SET tags = ? WHERE bucket = ? AND key = ? AND is_latest = 1 "
                "AND is_delete_marker = 0",
                (json.dumps(tags), bucket, key),
            )
            return cur.rowcount == 1

        return await self._write(fn)

    async def delete_object(self, bucket: str, key: str) -> bool:
        return (await self.delete_version(bucket, key, None)).existed

    async def delete_version(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        *,
        owner: str = "",
        bypass_governance: bool = False,
    ) -> DeleteOutcome:
        def fn(conn: sqlite3.Connection) -> DeleteOutcome:
            versioning = _versioning(conn, bucket)
            now = _now()
            if version_id is None:
                if not versioning:
                    return DeleteOutcome(None, False, _unlink_null_version(conn, bucket, key, now))
                marker_id = _make_room(conn, bucket, key, versioning, now)
                _insert_object(conn, delete_marker(bucket, key, marker_id, now, owner))
                return DeleteOutcome(marker_id, True, True)
            row = conn.execute(
                "SELECT id, is_latest, is_delete_marker, lock FROM objects "
                "WHERE bucket = ? AND key = ? AND version_id = ?",
                (bucket, key, version_id),
            ).fetchone()
            if row is None:
                return DeleteOutcome(version_id, False, False)
            refusal = lock_refusal(json.loads(row[3]), now, bypass_governance)
            if refusal is not None:
                raise errors.AccessDenied(f"Access Denied because {refusal}.")
            _queue_chunks_of(conn, "object_id = ?", row[0], now)
            conn.execute("DELETE FROM objects WHERE id = ?", (row[0],))
            if row[1]:
                _promote_newest(conn, bucket, key)
            return DeleteOutcome(version_id, bool(row[2]), True)

        return await self._write(fn)

    async def set_object_acl(self, bucket: str, key: str, version_id: str | None, acl: str) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            _versioning(conn, bucket)
            where, args = "is_latest = 1 AND is_delete_marker = 0", [bucket, key]
            if version_id is not None:
                where, args = "version_id = ? AND is_delete_marker = 0", [bucket, key, version_id]
            cur = conn.execute(
                f"UPDATE objects SET acl = ? WHERE bucket = ? AND key = ? AND {where}",
                [acl, *args],
            )
            return cur.rowcount == 1

        return await self._write(fn)

    async def set_object_lock(
        self, bucket: str, key: str, version_id: str | None, lock: dict[str, str]
    ) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            _versioning(conn, bucket)
            where, args = "is_latest = 1 AND is_delete_marker = 0", [bucket, key]
            if version_id is not None:
                where, args = "version_id = ? AND is_delete_marker = 0", [bucket, key, version_id]
            cur = conn.execute(
                f"UPDATE objects SET lock = ? WHERE bucket = ? AND key = ? AND {where}",
                [json.dumps(lock), *args],
            )
            return cur.rowcount == 1

        return await self._write(fn)

    async def get_object_version(
        self, bucket: str, key: str, version_id: str | None
    ) -> ObjectVersion | None:
        def fn(conn: sqlite3.Connection) -> ObjectVersion | None:
            args: tuple[str, ...] = (bucket, key)
            where = "is_latest = 1"
            if version_id is not None:
                where, args = "version_id = ?", (bucket, key, version_id)
            row = conn.execute(
                f"SELECT {OBJ_COLS} FROM objects WHERE bucket = ? AND key = ? AND {where}", args
            ).fetchone()
            if row is None:
                return None
            chunks = tuple(
                chunk_from_row(r)
                for r in conn.execute(
                    f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE object_id = ? ORDER BY seq",
                    (row[0],),
                )
            )
            return object_from_row(row, chunks)

        return await self._point_read(fn)

    async def set_bucket_policy(self, bucket: str, policy: str | None) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            _versioning(conn, bucket)
            conn.execute("UPDATE buckets SET policy = ? WHERE name = ?", (policy or "", bucket))

        await self._write(fn, bucket_change=True)

    async def set_bucket_versioning(self, bucket: str, status: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            _versioning(conn, bucket)
            conn.execute("UPDATE buckets SET versioning = ? WHERE name = ?", (status, bucket))

        await self._write(fn, bucket_change=True)

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
    ) -> VersionPage:
        def fn(conn: sqlite3.Connection) -> VersionPage:
            _versioning(conn, bucket)
            marker_id = None
            if version_id_marker:
                row = conn.execute(
                    "SELECT id FROM objects WHERE bucket = ? AND key = ? AND version_id = ?",
                    (bucket, key_marker, version_id_marker),
                ).fetchone()
                if row is None:
                    raise errors.InvalidArgument(
                        "Invalid version id specified", ArgumentName="version-id-marker"
                    )
                marker_id = int(row[0])
            cursor = VersionCursor(
                prefix=prefix,
                delimiter=delimiter,
                key_marker=key_marker,
                marker_id=marker_id,
                max_keys=max_keys,
            )
            while (query := cursor.next_query()) is not None:
                sql = (
                    "SELECT key, id, version_id, is_latest, is_delete_marker, size, etag, "
                    "last_modified, storage_class, owner FROM objects WHERE bucket = ? "
                    "AND (key > ? OR (key = ? AND id < ?))"
                )
                args: list[Any] = [bucket, query.lower, query.lower, query.below_id]
                if query.upper is not None:
                    sql += " AND key < ?"
                    args.append(query.upper)
                sql += " ORDER BY key, id DESC LIMIT ?"
                args.append(query.limit)
                cursor.feed(conn.execute(sql, args).fetchall())
            return cursor.page()

        return await self._read(fn)

    async def list_objects(
        self, bucket: str, *, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> ListPage:
        def fn(conn: sqlite3.Connection) -> ListPage:
            def fetch(query: RangeQuery) -> list[Any]:
                sql = (
                    "SELECT key, size, etag, last_modified, storage_class, owner, checksums "
                    "FROM objects WHERE bucket = ? AND is_latest = 1 AND is_delete_marker = 0 "
                    f"AND key {'>=' if query.inclusive else '>'} ?"
                )
                args: list[Any] = [bucket, query.lower]
                if query.upper is not None:
                    sql += " AND key < ?"
                    args.append(query.upper)
                sql += " ORDER BY key LIMIT ?"
                args.append(query.limit)
                return conn.execute(sql, args).fetchall()

            return list_page(
                fetch, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
            )

        return await self._read(fn)

    # -- multipart ----------------------------------------------------------------------------

    async def create_upload(self, upload: Upload) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            _require_bucket(conn, upload.bucket)
            conn.execute(
                f"INSERT INTO uploads ({UPLOAD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    upload.upload_id,
                    upload.bucket,
                    upload.key,
                    upload.created_at,
                    upload.owner,
                    upload.content_type,
                    json.dumps(upload.headers),
                    json.dumps(upload.user_meta),
                    upload.checksum_algorithm,
                    upload.storage_class,
                ),
            )

        await self._write(fn)

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload | None:
        def fn(conn: sqlite3.Connection) -> Upload | None:
            row = conn.execute(
                f"SELECT {UPLOAD_COLS} FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?",
                (upload_id, bucket, key),
            ).fetchone()
            return None if row is None else upload_from_row(row)

        return await self._read(fn)

    async def put_part(self, part: Part) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            if (
                conn.execute(
                    "SELECT 1 FROM uploads WHERE upload_id = ?", (part.upload_id,)
                ).fetchone()
                is None
            ):
                raise errors.NoSuchUpload(UploadId=part.upload_id)
            old = conn.execute(
                "SELECT id FROM parts WHERE upload_id = ? AND part_number = ?",
                (part.upload_id, part.part_number),
            ).fetchone()
            if old is not None:
                _queue_chunks_of(conn, "part_id = ?", old[0], _now())
                conn.execute("DELETE FROM parts WHERE id = ?", (old[0],))
            cur = conn.execute(
                "INSERT INTO parts (upload_id, part_number, size, etag, last_modified, checksums) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    part.upload_id,
                    part.part_number,
                    part.size,
                    part.etag,
                    part.last_modified,
                    json.dumps(part.checksums),
                ),
            )
            assert cur.lastrowid is not None
            _insert_chunks(conn, "part_id", cur.lastrowid, part.chunks)

        await self._write(fn)

    async def list_parts(self, upload_id: str, *, after: int, max_parts: int) -> list[Part]:
        def fn(conn: sqlite3.Connection) -> list[Part]:
            rows = conn.execute(
                "SELECT id, part_number, size, etag, last_modified, checksums FROM parts "
                "WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
                (upload_id, after, max_parts),
            ).fetchall()
            parts = []
            for part_id, number, size, etag, lm, checksums in rows:
                chunks = tuple(
                    chunk_from_row(r)
                    for r in conn.execute(
                        f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE part_id = ? ORDER BY seq",
                        (part_id,),
                    )
                )
                parts.append(Part(upload_id, number, size, etag, lm, json.loads(checksums), chunks))
            return parts

        return await self._read(fn)

    async def list_uploads(
        self, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str, max_uploads: int
    ) -> list[Upload]:
        def fn(conn: sqlite3.Connection) -> list[Upload]:
            rows = conn.execute(
                f"SELECT {UPLOAD_COLS} FROM uploads WHERE bucket = ? AND key >= ? "
                "AND (key > ? OR upload_id > ?) AND substr(key, 1, ?) = ? "
                "ORDER BY key, upload_id LIMIT ?",
                (
                    bucket,
                    key_marker,
                    key_marker,
                    upload_id_marker,
                    len(prefix),
                    prefix,
                    max_uploads,
                ),
            ).fetchall()
            return [upload_from_row(r) for r in rows]

        return await self._read(fn)

    async def complete_upload(
        self,
        upload: Upload,
        obj: ObjectVersion,
        parts: list[int],
        condition: WriteCondition | None = None,
    ) -> str | None:
        def fn(conn: sqlite3.Connection) -> str | None:
            if (
                conn.execute(
                    "SELECT 1 FROM uploads WHERE upload_id = ?", (upload.upload_id,)
                ).fetchone()
                is None
            ):
                raise errors.NoSuchUpload(UploadId=upload.upload_id)
            versioning = _versioning(conn, obj.bucket)
            if condition is not None:
                condition.check(_current_etag(conn, obj.bucket, obj.key))
            now = _now()
            version_id = _make_room(conn, obj.bucket, obj.key, versioning, now)
            object_id = _insert_object(conn, replace(obj, version_id=version_id))
            seq = 0
            incomplete = []
            for number in parts:
                part_id = conn.execute(
                    "SELECT id FROM parts WHERE upload_id = ? AND part_number = ?",
                    (upload.upload_id, number),
                ).fetchone()[0]
                for chunk_id, stores in conn.execute(
                    "SELECT chunk_id, stores FROM chunks WHERE part_id = ? ORDER BY seq", (part_id,)
                ).fetchall():
                    conn.execute(
                        "UPDATE chunks SET object_id = ?, part_id = NULL, seq = ? "
                        "WHERE chunk_id = ?",
                        (object_id, seq, chunk_id),
                    )
                    seq += 1
                    if stores_have_gap(stores):
                        incomplete.append(chunk_id)
            # queued by put_part already, unless repaired meanwhile; this catches the rest
            _enqueue_repair(conn, incomplete, REPAIR_MISSING_AT_WRITE, now)
            _drop_upload(conn, upload.upload_id, now)
            return version_id if versioning else None

        return await self._write(fn)

    async def abort_upload(self, upload_id: str) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            if (
                conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
                is None
            ):
                return False
            _drop_upload(conn, upload_id, _now())
            return True

        return await self._write(fn)

    # -- cluster map --------------------------------------------------------------------------

    @staticmethod
    def _map(conn: sqlite3.Connection) -> ClusterMap:
        version = conn.execute("SELECT version FROM cluster_version WHERE id = 1").fetchone()[0]
        rows = conn.execute(f"SELECT {NODE_COLS} FROM cluster_nodes ORDER BY node_id").fetchall()
        return ClusterMap(version, tuple(node_from_row(r) for r in rows))

    async def get_cluster_map(self) -> ClusterMap:
        return await self._read(self._map)

    async def put_node(self, node: NodeRecord) -> ClusterMap:
        def fn(conn: sqlite3.Connection) -> ClusterMap:
            # an existing node keeps its health and last_seen: those are the monitor's
            conn.execute(
                f"INSERT INTO cluster_nodes ({NODE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET url = excluded.url, zone = excluded.zone, "
                "drives = excluded.drives, weight = excluded.weight, state = excluded.state",
                node_values(node),
            )
            conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")
            return self._map(conn)

        return await self._write(fn)

    async def set_node_health(self, node_id: str, health: str, last_seen: float) -> ClusterMap:
        if health not in NODE_HEALTH:
            raise ValueError(f"node health must be one of {NODE_HEALTH}, not {health!r}")

        def fn(conn: sqlite3.Connection) -> ClusterMap:
            row = conn.execute(
                "SELECT health FROM cluster_nodes WHERE node_id = ?", (node_id,)
            ).fetchone()
            if row is None:
                raise KeyError(node_id)
            conn.execute(
                "UPDATE cluster_nodes SET health = ?, last_seen = ? WHERE node_id = ?",
                (health, last_seen, node_id),
            )
            if row[0] != health:
                conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")
            return self._map(conn)

        return await self._write(fn)

    async def remove_node(self, node_id: str) -> ClusterMap:
        def fn(conn: sqlite3.Connection) -> ClusterMap:
            if (
                conn.execute("DELETE FROM cluster_nodes WHERE node_id = ?", (node_id,)).rowcount
                == 0
            ):
                raise KeyError(node_id)
            conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")
            return self._map(conn)

        return await self._write(fn)

    # -- garbage collection -------------------------------------------------------------------

    async def gc_queue_chunks(self, chunks: list[ChunkRecord]) -> None:
        chunks = [c for c in chunks if c.data is None]  # inline bytes go with their row

        def fn(conn: sqlite3.Connection) -> None:
            now = _now()
            conn.executemany(
                "INSERT INTO gc_queue (chunk_id, size, scheme, block_size, stores, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (c.chunk_id, c.size, c.scheme, c.block_size, json.dumps(list(c.stores)), now)
                    for c in chunks
                ],
            )

        if chunks:
            await self._write(fn)

    async def gc_pending(self, older_than: float, limit: int) -> list[GcItem]:
        def fn(conn: sqlite3.Connection) -> list[GcItem]:
            rows = conn.execute(
                "SELECT id, chunk_id, size, scheme, block_size, stores, queued_at FROM gc_queue "
                "WHERE queued_at < ? ORDER BY id LIMIT ?",
                (older_than, limit),
            ).fetchall()
            return [GcItem(r[0], chunk_from_row(r[1:6]), r[6]) for r in rows]

        return await self._read(fn)

    async def gc_done(self, gc_ids: list[int]) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM gc_queue WHERE id = ?", [(i,) for i in gc_ids])

        if gc_ids:
            await self._write(fn)

    async def gc_retry_later(self, gc_ids: list[int], queued_at: float) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE gc_queue SET queued_at = ? WHERE id = ?", [(queued_at, i) for i in gc_ids]
            )

        if gc_ids:
            await self._write(fn)

    # -- repair queue -------------------------------------------------------------------------

    async def repair_enqueue(self, chunk_ids: list[str], reason: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            _enqueue_repair(conn, chunk_ids, reason, _now())

        if chunk_ids:
            await self._write(fn)

    async def repair_pending(self, limit: int) -> list[RepairItem]:
        def fn(conn: sqlite3.Connection) -> list[RepairItem]:
            rows = conn.execute(
                f"SELECT {REPAIR_COLS} FROM repair_queue r "
                "LEFT JOIN chunks c ON c.chunk_id = r.chunk_id ORDER BY r.id LIMIT ?",
                (limit,),
            ).fetchall()
            return [repair_from_row(r) for r in rows]

        return await self._read(fn)

    async def repair_done(self, repair_ids: list[int]) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM repair_queue WHERE id = ?", [(i,) for i in repair_ids])

        if repair_ids:
            await self._write(fn)

    # -- chunk placement (repair, rebalance, scrub) ---------------------------------------

    async def update_chunk_stores(
        self, chunk_id: str, expected: tuple[str, ...], stores: tuple[str, ...]
    ) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE chunks SET stores = ? WHERE chunk_id = ? AND stores = ?",
                (json.dumps(list(stores)), chunk_id, json.dumps(list(expected))),
            )
            return cur.rowcount == 1

        return await self._write(fn)

    async def chunk_owner(self, chunk_id: str) -> tuple[str, str] | None:
        def fn(conn: sqlite3.Connection) -> tuple[str, str] | None:
            row = conn.execute(
                "SELECT o.bucket, o.key FROM chunks c JOIN objects o ON o.id = c.object_id "
                "WHERE c.chunk_id = ?",
                (chunk_id,),
            ).fetchone()
            return (row[0], row[1]) if row else None

        return await self._read(fn)

    async def list_chunks(self, after: str, limit: int) -> list[ChunkRecord]:
        def fn(conn: sqlite3.Connection) -> list[ChunkRecord]:
            rows = conn.execute(
                f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id > ? AND scheme <> 'inline' "
                "ORDER BY chunk_id LIMIT ?",
                (after, limit),
            ).fetchall()
            return [chunk_from_row(r) for r in rows]

        return await self._read(fn)

    async def live_chunks(self, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
        def fn(conn: sqlite3.Connection) -> dict[str, ChunkRecord]:
            live: dict[str, ChunkRecord] = {}
            for start in range(0, len(chunk_ids), 500):
                batch = chunk_ids[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = conn.execute(
                    f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id IN ({marks})", batch
                )
                live.update((r[0], chunk_from_row(r)) for r in rows)
            return live

        return await self._read(fn) if chunk_ids else {}

    async def chunks_known(self, chunk_ids: list[str]) -> set[str]:
        def fn(conn: sqlite3.Connection) -> set[str]:
            known: set[str] = set()
            for start in range(0, len(chunk_ids), 500):
                batch = chunk_ids[start : start + 500]
                marks = ",".join("?" * len(batch))
                for table in ("chunks", "gc_queue"):
                    rows = conn.execute(
                        f"SELECT chunk_id FROM {table} WHERE chunk_id IN ({marks})", batch
                    )
                    known.update(r[0] for r in rows)
            return known

        return await self._read(fn) if chunk_ids else set()

    async def repair_count(self) -> int:
        def fn(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM repair_queue").fetchone()[0])

        return await self._read(fn)

    # -- identities ---------------------------------------------------------------------------

    async def iam_get(self, kind: str, name: str) -> dict[str, Any] | None:
        def fn(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute(
                "SELECT doc FROM iam WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            return None if row is None else dict(json.loads(row[0]))

        return await self._point_read(fn)

    async def iam_put(self, kind: str, name: str, doc: dict[str, Any] | None) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            if doc is None:
                conn.execute("DELETE FROM iam WHERE kind = ? AND name = ?", (kind, name))
            else:
                conn.execute(
                    "INSERT INTO iam (kind, name, doc) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc",
                    (kind, name, json.dumps(doc)),
                )

        await self._write(fn)

    async def iam_list(self, kind: str) -> dict[str, dict[str, Any]]:
        def fn(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            rows = conn.execute(
                "SELECT name, doc FROM iam WHERE kind = ? ORDER BY name", (kind,)
            ).fetchall()
            return {r[0]: dict(json.loads(r[1])) for r in rows}

        return await self._read(fn)

    # -- job status ---------------------------------------------------------------------------

    async def put_job_status(self, job: str, status: dict[str, Any]) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO job_status (job, status, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (job) DO UPDATE SET status = excluded.status, "
                "updated_at = excluded.updated_at",
                (job, json.dumps(status), _now()),
            )

        await self._write(fn)

    async def get_job_status(self) -> dict[str, tuple[dict[str, Any], float]]:
        def fn(conn: sqlite3.Connection) -> dict[str, tuple[dict[str, Any], float]]:
            rows = conn.execute("SELECT job, status, updated_at FROM job_status").fetchall()
            return {r[0]: (json.loads(r[1]), r[2]) for r in rows}

        return await self._read(fn)


def _now() -> float:
    return time.time()


def _current_etag(conn: sqlite3.Connection, bucket: str, key: str) -> str | None:
    row = conn.execute(
        "SELECT etag FROM objects WHERE bucket = ? AND key = ? AND is_latest = 1 "
        "AND is_delete_marker = 0",
        (bucket, key),
    ).fetchone()
    return str(row[0]) if row else None


def _require_bucket(conn: sqlite3.Connection, bucket: str) -> None:
    if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (bucket,)).fetchone() is None:
        raise errors.NoSuchBucket(BucketName=bucket)


def _drop_upload(conn: sqlite3.Connection, upload_id: str, now: float) -> None:
    for (part_id,) in conn.execute(
        "SELECT id FROM parts WHERE upload_id = ?", (upload_id,)
    ).fetchall():
        _queue_chunks_of(conn, "part_id = ?", part_id, now)
    conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
