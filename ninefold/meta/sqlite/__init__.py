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

Bucket records (with their configuration documents) are read by every request (authorization,
then the operation), so each process keeps them in memory, checked against a generation counter
that all processes share in ``<db>.gen`` (mmap): every committed change to a bucket record bumps
it after its COMMIT, and a cached record is used only while the counter still has the value read
before it was loaded.

Layout: ``writer`` (the engine above), ``tx`` (statements that carry out the plans of
``ninefold.meta.rules``), and one module per responsibility: ``buckets``, ``objects``,
``uploads``, ``queues`` (GC, repair, chunk placement), ``cluster`` (map, job status), ``iam``.
"""

from __future__ import annotations

from pathlib import Path

from ninefold.meta.sqlite.buckets import SqliteBuckets
from ninefold.meta.sqlite.cluster import SqliteCluster
from ninefold.meta.sqlite.iam import SqliteIam
from ninefold.meta.sqlite.objects import SqliteObjects
from ninefold.meta.sqlite.queues import SqliteQueues
from ninefold.meta.sqlite.uploads import SqliteUploads

__all__ = ["SqliteMetaStore"]


class SqliteMetaStore(
    SqliteBuckets, SqliteObjects, SqliteUploads, SqliteQueues, SqliteCluster, SqliteIam
):
    """MetaStore over one SQLite file (see the package docstring for the threading model)."""

    @classmethod
    async def open(cls, path: Path) -> SqliteMetaStore:
        store = cls(path)
        await store._write(store._migrate)
        return store
