"""PostgreSQL metadata backend (production layout), behind the same MetaStore protocol.

asyncpg with a connection pool; every mutating call is one transaction. Writers of the same key
are serialized by a transaction-scoped advisory lock on (bucket, key), the equivalent of
SQLite's single writer, so "replace the current version" never races; bucket rows are locked
``FOR SHARE`` by object writers and ``FOR UPDATE`` by DeleteBucket. Migrations run once, under
an advisory lock, recorded in ``schema_migrations``. Key columns use the "C" collation: index
order is byte order, which S3 listing requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import asyncpg

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.listing import ListCursor, VersionCursor
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
from ninefold.meta.schema import POSTGRES_MIGRATIONS

__all__ = ["MetadataUnavailable", "PostgresMetaStore"]

log = logging.getLogger("ninefold.meta")

_MIGRATION_LOCK = 0x4E494E45  # "NINE"
Conn = Any  # asyncpg.Connection (or a pool proxy of one)


class MetadataUnavailable(errors.StorageError):
    """PostgreSQL is unreachable, restarting, or dropped the connection mid-call; the API
    answers 503. A write that raised this did not commit, except in one case, logged as
    "outcome unknown": its COMMIT lost the connection and PostgreSQL then stayed unreachable
    for ``commit_outcome_timeout_s`` (see ``PostgresMetaStore._write``)."""


#: failures of PostgreSQL itself rather than of a query; nothing a retry later cannot fix
_UNAVAILABLE = (
    OSError,  # connection refused or reset, connect timeout (TimeoutError is an OSError)
    asyncpg.exceptions.PostgresConnectionError,  # 08xxx: connection lost, rejected, failed
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: shutting down, starting up, crashed
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections, disk full
    # a connection killed between two messages leaves its protocol mid-operation ("cannot
    # switch to state ..."): seen on COMMIT when the server was shut down (fast mode)
    asyncpg.exceptions.InternalClientError,
)


def _connection_lost(exc: BaseException, conn: Conn | None = None) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):  # "connection is closed", or a bug
        return "closed" in str(exc) or (conn is not None and conn.is_closed())
    return False


class _Pool:
    """The asyncpg pool, with every failure of PostgreSQL itself raised as MetadataUnavailable
    (query errors and S3 errors pass unchanged). A connection the server closed is replaced by
    asyncpg on its next acquire, so the store recovers by itself once PostgreSQL is back."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.raw = pool

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Conn]:
        try:
            conn = await self.raw.acquire()
        except Exception as exc:
            if _connection_lost(exc):
                raise MetadataUnavailable(f"metadata store unavailable: {exc!r}") from exc
            raise
        try:
            yield conn
        except Exception as exc:
            if _connection_lost(exc, conn):
                raise MetadataUnavailable(f"metadata store unavailable: {exc!r}") from exc
            raise
        finally:
            # Release resets the connection and terminates it if that fails (server gone).
            # Whatever the body did stands: a COMMIT that went through must not turn into an
            # error here, or the caller would discard a committed write's chunks.
            try:
                await self.raw.release(conn)
            except Exception as exc:
                log.info("connection dropped on release: %r", exc)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        async with self.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as conn:
            return str(await conn.execute(query, *args))

    async def executemany(self, query: str, args: Sequence[Sequence[Any]]) -> None:
        async with self.acquire() as conn:
            await conn.executemany(query, args)

    async def close(self) -> None:
        await self.raw.close()


async def _key_lock(conn: Conn, bucket: str, key: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{bucket}/{key}")


async def _current_etag(conn: Conn, bucket: str, key: str) -> str | None:
    """The current version's ETag (None: no object or a delete marker); the caller holds the
    key's advisory lock, so no other writer of the key can commit in between."""
    etag = await conn.fetchval(
        "SELECT etag FROM objects WHERE bucket = $1 AND key = $2 AND is_latest "
        "AND NOT is_delete_marker",
        bucket,
        key,
    )
    return None if etag is None else str(etag)


async def _require_bucket(conn: Conn, bucket: str, *, exclusive: bool = False) -> None:
    mode = "UPDATE" if exclusive else "SHARE"
    if await conn.fetchval(f"SELECT 1 FROM buckets WHERE name = $1 FOR {mode}", bucket) is None:
        raise errors.NoSuchBucket(BucketName=bucket)


async def _queue_chunks_of(conn: Conn, column: str, owner_id: int, now: float) -> None:
    """Move an object's or part's chunks onto the GC queue (and off the repair queue)."""
    await conn.execute(
        "DELETE FROM repair_queue WHERE chunk_id IN "
        f"(SELECT chunk_id FROM chunks WHERE {column} = $1)",
        owner_id,
    )
    await conn.execute(
        "INSERT INTO gc_queue (chunk_id, size, scheme, block_size, stores, queued_at) "
        f"SELECT chunk_id, size, scheme, block_size, stores, $2 FROM chunks WHERE {column} = $1 "
        "AND scheme <> 'inline'",
        owner_id,
        now,
    )
    await conn.execute(f"DELETE FROM chunks WHERE {column} = $1", owner_id)


async def _insert_chunks(
    conn: Conn, column: str, owner_id: int, chunks: Sequence[ChunkRecord]
) -> None:
    if chunks:
        await conn.executemany(
            f"INSERT INTO chunks (chunk_id, {column}, seq, size, scheme, block_size, stores, data) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            chunk_values(owner_id, chunks),
        )
        await _enqueue_repair(
            conn, [c.chunk_id for c in chunks if "" in c.stores], REPAIR_MISSING_AT_WRITE
        )


async def _enqueue_repair(conn: Conn, chunk_ids: list[str], reason: str) -> None:
    if chunk_ids:
        await conn.execute(
            "INSERT INTO repair_queue (chunk_id, reason, queued_at) "
            "SELECT unnest($1::text[]), $2, $3 ON CONFLICT (chunk_id) DO NOTHING",
            chunk_ids,
            reason,
            time.time(),
        )


async def _insert_object(conn: Conn, obj: ObjectVersion) -> int:
    object_id: int = await conn.fetchval(
        "INSERT INTO objects (bucket, key, version_id, is_latest, is_delete_marker, size, etag, "
        "last_modified, content_type, headers, user_meta, checksums, storage_class, part_sizes, "
        "tags, encryption, owner, lock, acl) VALUES ($1,$2,$3,TRUE,$4,$5,$6,$7,$8,$9,$10,$11,$12,"
        "$13,$14,$15,$16,$17,$18) RETURNING id",
        obj.bucket,
        obj.key,
        obj.version_id,
        obj.is_delete_marker,
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
    )
    return object_id


async def _unlink_null_version(conn: Conn, bucket: str, key: str, now: float) -> bool:
    object_id = await conn.fetchval(
        "SELECT id FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3",
        bucket,
        key,
        NULL_VERSION,
    )
    if object_id is None:
        return False
    await _queue_chunks_of(conn, "object_id", object_id, now)
    await conn.execute("DELETE FROM objects WHERE id = $1", object_id)
    return True


async def _versioning(conn: Conn, bucket: str) -> str:
    """The bucket's versioning state, its row locked FOR SHARE (NoSuchBucket if absent)."""
    state = await conn.fetchval("SELECT versioning FROM buckets WHERE name = $1 FOR SHARE", bucket)
    if state is None:
        raise errors.NoSuchBucket(BucketName=bucket)
    return str(state)


async def _make_room(conn: Conn, bucket: str, key: str, versioning: str, now: float) -> str:
    """Prepare ``key`` for a new current version (see the SQLite twin); its version id."""
    if versioning != "Enabled":
        await _unlink_null_version(conn, bucket, key, now)
    await conn.execute(
        "UPDATE objects SET is_latest = FALSE WHERE bucket = $1 AND key = $2 AND is_latest",
        bucket,
        key,
    )
    return new_version_id() if versioning == "Enabled" else NULL_VERSION


async def _promote_newest(conn: Conn, bucket: str, key: str) -> None:
    await conn.execute(
        "UPDATE objects SET is_latest = TRUE WHERE id = (SELECT max(id) FROM objects "
        "WHERE bucket = $1 AND key = $2)",
        bucket,
        key,
    )


async def _drop_upload(conn: Conn, upload_id: str, now: float) -> None:
    for record in await conn.fetch("SELECT id FROM parts WHERE upload_id = $1", upload_id):
        await _queue_chunks_of(conn, "part_id", record["id"], now)
    await conn.execute("DELETE FROM parts WHERE upload_id = $1", upload_id)
    await conn.execute("DELETE FROM uploads WHERE upload_id = $1", upload_id)


#: a bucket record with its configuration documents, in one query
_GET_BUCKET = (
    f"SELECT {BUCKET_COLS}, (SELECT coalesce(json_object_agg(c.name, c.value), '{{}}')::text "
    "FROM bucket_config c WHERE c.bucket = b.name) AS configs FROM buckets b WHERE b.name = $1"
)


class PostgresMetaStore:
    """MetaStore over PostgreSQL (see module docstring)."""

    #: how long a write whose COMMIT lost its connection waits for PostgreSQL to tell whether
    #: it committed, before it is reported as failed with its outcome unknown
    commit_outcome_timeout_s: float = 15.0

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = _Pool(pool)

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[Conn]:
        """One write transaction whose outcome is never guessed. A failure before COMMIT rolls
        back. If the connection is lost during COMMIT the transaction may or may not have
        committed: its id is looked up once PostgreSQL answers again, and only a committed
        one returns normally (the caller then acknowledges the write; otherwise it queues the
        new chunks for GC, which must never happen to a committed object's chunks)."""
        lost: BaseException | None = None
        async with self._pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                xid = await conn.fetchval("SELECT pg_current_xact_id()::text")
                yield conn
            except BaseException:
                if not conn.is_closed():
                    await tx.rollback()
                raise
            try:
                await tx.commit()
            except Exception as exc:
                if not _connection_lost(exc, conn):
                    raise
                lost = exc
        if lost is not None:
            await self._commit_outcome(xid, lost)

    async def _commit_outcome(self, xid: str, lost: BaseException) -> None:
        """Return if transaction ``xid`` committed; raise MetadataUnavailable otherwise."""
        deadline = time.monotonic() + self.commit_outcome_timeout_s
        while True:
            try:
                status = await self._pool.fetchval("SELECT pg_xact_status($1::text::xid8)", xid)
            except MetadataUnavailable:
                status = "unreachable"
            if status == "committed":
                log.warning("transaction %s committed, though its COMMIT lost: %r", xid, lost)
                return
            if status == "aborted":
                raise MetadataUnavailable(f"transaction {xid} rolled back: {lost!r}") from lost
            if status is None or time.monotonic() > deadline:
                log.error(
                    "transaction %s: COMMIT lost (%r), outcome unknown (%s)", xid, lost, status
                )
                raise MetadataUnavailable(f"outcome of transaction {xid} unknown") from lost
            await asyncio.sleep(0.2)  # unreachable, or still "in progress" on a live backend

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str | None = None, min_size: int = 2, max_size: int = 10
    ) -> PostgresMetaStore:
        """Connect, create ``schema`` if given (tests use one per run), and migrate."""
        settings = {"search_path": schema} if schema else None
        if schema:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, server_settings=settings
        )
        store = cls(pool)
        await store._migrate()
        return store

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"
            )
            done = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
            for number, script in enumerate(POSTGRES_MIGRATIONS[done:], start=done + 1):
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1)", number)

    async def close(self) -> None:
        await self._pool.close()

    # -- buckets ------------------------------------------------------------------------------

    async def create_bucket(self, bucket: Bucket) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            owner = await conn.fetchval("SELECT owner FROM buckets WHERE name = $1", bucket.name)
            if owner is not None:
                if owner == bucket.owner:
                    raise errors.BucketAlreadyOwnedByYou(BucketName=bucket.name)
                raise errors.BucketAlreadyExists(BucketName=bucket.name)
            inserted = await conn.execute(
                f"INSERT INTO buckets ({BUCKET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (name) DO NOTHING",
                bucket.name,
                bucket.created_at,
                bucket.owner,
                bucket.region,
                bucket.versioning,
                bucket.object_lock,
                bucket.policy,
            )
            if inserted.endswith(" 0"):  # a concurrent create won
                raise errors.BucketAlreadyExists(BucketName=bucket.name)
            if bucket.configs:
                await conn.executemany(
                    "INSERT INTO bucket_config (bucket, name, value) VALUES ($1, $2, $3)",
                    [(bucket.name, name, value) for name, value in bucket.configs.items()],
                )

    async def get_bucket(self, name: str) -> Bucket | None:
        row = await self._pool.fetchrow(_GET_BUCKET, name)
        return None if row is None else bucket_from_row(tuple(row), json.loads(row["configs"]))

    async def list_buckets(self) -> list[Bucket]:
        rows = await self._pool.fetch(f"SELECT {BUCKET_COLS} FROM buckets ORDER BY name")
        return [bucket_from_row(tuple(r)) for r in rows]

    async def delete_bucket(self, name: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await _require_bucket(conn, name, exclusive=True)
            if await conn.fetchval("SELECT 1 FROM objects WHERE bucket = $1 LIMIT 1", name):
                raise errors.BucketNotEmpty(BucketName=name)
            now = time.time()
            for record in await conn.fetch("SELECT upload_id FROM uploads WHERE bucket = $1", name):
                await _drop_upload(conn, record["upload_id"], now)
            await conn.execute("DELETE FROM bucket_config WHERE bucket = $1", name)
            await conn.execute("DELETE FROM buckets WHERE name = $1", name)

    async def get_bucket_config(self, bucket: str, name: str) -> str | None:
        async with self._pool.acquire() as conn:
            await _require_bucket(conn, bucket)
            value = await conn.fetchval(
                "SELECT value FROM bucket_config WHERE bucket = $1 AND name = $2", bucket, name
            )
        return None if value is None else str(value)

    async def put_bucket_config(self, bucket: str, name: str, value: str | None) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await _require_bucket(conn, bucket)
            if value is None:
                await conn.execute(
                    "DELETE FROM bucket_config WHERE bucket = $1 AND name = $2", bucket, name
                )
            else:
                await conn.execute(
                    "INSERT INTO bucket_config (bucket, name, value) VALUES ($1, $2, $3) "
                    "ON CONFLICT (bucket, name) DO UPDATE SET value = excluded.value",
                    bucket,
                    name,
                    value,
                )

    # -- objects ------------------------------------------------------------------------------

    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            row = await conn.fetchrow(
                f"SELECT {OBJ_COLS} FROM objects WHERE bucket = $1 AND key = $2 AND is_latest",
                bucket,
                key,
            )
            if row is None or row["is_delete_marker"]:
                return None
            chunks = await conn.fetch(
                f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE object_id = $1 ORDER BY seq", row["id"]
            )
            return object_from_row(tuple(row), tuple(chunk_from_row(tuple(c)) for c in chunks))

    async def put_object(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> str | None:
        async with self._write() as conn:
            versioning = await _versioning(conn, obj.bucket)
            await _key_lock(conn, obj.bucket, obj.key)
            if condition is not None:
                condition.check(await _current_etag(conn, obj.bucket, obj.key))
            version_id = await _make_room(conn, obj.bucket, obj.key, versioning, time.time())
            object_id = await _insert_object(conn, replace(obj, version_id=version_id))
            await _insert_chunks(conn, "object_id", object_id, obj.chunks)
        return version_id if versioning else None

    async def put_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await _require_bucket(conn, bucket)
            await _key_lock(conn, bucket, key)
            result = await conn.execute(
                "UPDATE objects SET tags = $1 WHERE bucket = $2 AND key = $3 AND is_latest "
                "AND NOT is_delete_marker",
                json.dumps(tags),
                bucket,
                key,
            )
        return bool(result == "UPDATE 1")

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
        async with self._pool.acquire() as conn, conn.transaction():
            versioning = await _versioning(conn, bucket)
            await _key_lock(conn, bucket, key)
            now = time.time()
            if version_id is None:
                if not versioning:
                    existed = await _unlink_null_version(conn, bucket, key, now)
                    return DeleteOutcome(None, False, existed)
                marker_id = await _make_room(conn, bucket, key, versioning, now)
                await _insert_object(conn, delete_marker(bucket, key, marker_id, now, owner))
                return DeleteOutcome(marker_id, True, True)
            row = await conn.fetchrow(
                "SELECT id, is_latest, is_delete_marker, lock FROM objects "
                "WHERE bucket = $1 AND key = $2 AND version_id = $3",
                bucket,
                key,
                version_id,
            )
            if row is None:
                return DeleteOutcome(version_id, False, False)
            refusal = lock_refusal(json.loads(row["lock"]), now, bypass_governance)
            if refusal is not None:
                raise errors.AccessDenied(f"Access Denied because {refusal}.")
            await _queue_chunks_of(conn, "object_id", row["id"], now)
            await conn.execute("DELETE FROM objects WHERE id = $1", row["id"])
            if row["is_latest"]:
                await _promote_newest(conn, bucket, key)
            return DeleteOutcome(version_id, bool(row["is_delete_marker"]), True)

    async def set_object_acl(self, bucket: str, key: str, version_id: str | None, acl: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await _versioning(conn, bucket)
            await _key_lock(conn, bucket, key)
            if version_id is None:
                result = await conn.execute(
                    "UPDATE objects SET acl = $1 WHERE bucket = $2 AND key = $3 AND is_latest "
                    "AND NOT is_delete_marker",
                    acl,
                    bucket,
                    key,
                )
            else:
                result = await conn.execute(
                    "UPDATE objects SET acl = $1 WHERE bucket = $2 AND key = $3 "
                    "AND version_id = $4 AND NOT is_delete_marker",
                    acl,
                    bucket,
                    key,
                    version_id,
                )
        return bool(result == "UPDATE 1")

    async def set_object_lock(
        self, bucket: str, key: str, version_id: str | None, lock: dict[str, str]
    ) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await _versioning(conn, bucket)
            await _key_lock(conn, bucket, key)
            if version_id is None:
                result = await conn.execute(
                    "UPDATE objects SET lock = $1 WHERE bucket = $2 AND key = $3 AND is_latest "
                    "AND NOT is_delete_marker",
                    json.dumps(lock),
                    bucket,
                    key,
                )
            else:
                result = await conn.execute(
                    "UPDATE objects SET lock = $1 WHERE bucket = $2 AND key = $3 "
                    "AND version_id = $4 AND NOT is_delete_marker",
                    json.dumps(lock),
                    bucket,
                    key,
                    version_id,
                )
        return bool(result == "UPDATE 1")

    async def get_object_version(
        self, bucket: str, key: str, version_id: str | None
    ) -> ObjectVersion | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            if version_id is None:
                row = await conn.fetchrow(
                    f"SELECT {OBJ_COLS} FROM objects WHERE bucket = $1 AND key = $2 AND is_latest",
                    bucket,
                    key,
                )
            else:
                row = await conn.fetchrow(
                    f"SELECT {OBJ_COLS} FROM objects WHERE bucket = $1 AND key = $2 "
                    "AND version_id = $3",
                    bucket,
                    key,
                    version_id,
                )
            if row is None:
                return None
            chunks = await conn.fetch(
                f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE object_id = $1 ORDER BY seq", row["id"]
            )
        return object_from_row(tuple(row), tuple(chunk_from_row(tuple(c)) for c in chunks))

    async def set_bucket_policy(self, bucket: str, policy: str | None) -> None:
        result = await self._pool.execute(
            "UPDATE buckets SET policy = $1 WHERE name = $2", policy or "", bucket
        )
        if result != "UPDATE 1":
            raise errors.NoSuchBucket(BucketName=bucket)

    async def set_bucket_versioning(self, bucket: str, status: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            result = await conn.execute(
                "UPDATE buckets SET versioning = $1 WHERE name = $2", status, bucket
            )
            if result != "UPDATE 1":
                raise errors.NoSuchBucket(BucketName=bucket)

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
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            await _require_bucket(conn, bucket)
            marker_id = None
            if version_id_marker:
                marker_id = await conn.fetchval(
                    "SELECT id FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3",
                    bucket,
                    key_marker,
                    version_id_marker,
                )
                if marker_id is None:
                    raise errors.InvalidArgument(
                        "Invalid version id specified", ArgumentName="version-id-marker"
                    )
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
                    "last_modified, storage_class, owner FROM objects WHERE bucket = $1 "
                    "AND (key > $2 OR (key = $2 AND id < $3))"
                )
                args: list[Any] = [bucket, query.lower, query.below_id]
                if query.upper is not None:
                    sql += " AND key < $4"
                    args.append(query.upper)
                sql += f" ORDER BY key, id DESC LIMIT {int(query.limit)}"
                cursor.feed([tuple(r) for r in await conn.fetch(sql, *args)])
        return cursor.page()

    async def list_objects(
        self, bucket: str, *, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> ListPage:
        cursor = ListCursor(prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            while (query := cursor.next_query()) is not None:
                sql = (
                    "SELECT key, size, etag, last_modified, storage_class, owner, checksums "
                    "FROM objects WHERE bucket = $1 AND is_latest AND NOT is_delete_marker "
                    f"AND key {'>=' if query.inclusive else '>'} $2"
                )
                args: list[Any] = [bucket, query.lower]
                if query.upper is not None:
                    sql += " AND key < $3"
                    args.append(query.upper)
                sql += f" ORDER BY key LIMIT {int(query.limit)}"
                cursor.feed([tuple(r) for r in await conn.fetch(sql, *args)])
        return cursor.page()

    # -- multipart ----------------------------------------------------------------------------

    async def create_upload(self, upload: Upload) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await _require_bucket(conn, upload.bucket)
            await conn.execute(
                f"INSERT INTO uploads ({UPLOAD_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
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
            )

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload | None:
        row = await self._pool.fetchrow(
            f"SELECT {UPLOAD_COLS} FROM uploads WHERE upload_id = $1 AND bucket = $2 AND key = $3",
            upload_id,
            bucket,
            key,
        )
        return None if row is None else upload_from_row(tuple(row))

    async def put_part(self, part: Part) -> None:
        async with self._write() as conn:
            if (
                await conn.fetchval(
                    "SELECT 1 FROM uploads WHERE upload_id = $1 FOR SHARE", part.upload_id
                )
                is None
            ):
                raise errors.NoSuchUpload(UploadId=part.upload_id)
            await _key_lock(conn, part.upload_id, str(part.part_number))
            old = await conn.fetchval(
                "SELECT id FROM parts WHERE upload_id = $1 AND part_number = $2",
                part.upload_id,
                part.part_number,
            )
            if old is not None:
                await _queue_chunks_of(conn, "part_id", old, time.time())
                await conn.execute("DELETE FROM parts WHERE id = $1", old)
            part_id = await conn.fetchval(
                "INSERT INTO parts (upload_id, part_number, size, etag, last_modified, checksums) "
                "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                part.upload_id,
                part.part_number,
                part.size,
                part.etag,
                part.last_modified,
                json.dumps(part.checksums),
            )
            await _insert_chunks(conn, "part_id", part_id, part.chunks)

    async def list_parts(self, upload_id: str, *, after: int, max_parts: int) -> list[Part]:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            rows = await conn.fetch(
                "SELECT id, part_number, size, etag, last_modified, checksums FROM parts "
                "WHERE upload_id = $1 AND part_number > $2 ORDER BY part_number LIMIT $3",
                upload_id,
                after,
                max_parts,
            )
            parts = []
            for r in rows:
                chunks = await conn.fetch(
                    f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE part_id = $1 ORDER BY seq", r["id"]
                )
                parts.append(
                    Part(
                        upload_id,
                        r["part_number"],
                        r["size"],
                        r["etag"],
                        r["last_modified"],
                        json.loads(r["checksums"]),
                        tuple(chunk_from_row(tuple(c)) for c in chunks),
                    )
                )
            return parts

    async def list_uploads(
        self, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str, max_uploads: int
    ) -> list[Upload]:
        rows = await self._pool.fetch(
            f"SELECT {UPLOAD_COLS} FROM uploads WHERE bucket = $1 AND key >= $2 "
            "AND (key > $2 OR upload_id > $3) AND left(key, $4) = $5 "
            "ORDER BY key, upload_id LIMIT $6",
            bucket,
            key_marker,
            upload_id_marker,
            len(prefix),
            prefix,
            max_uploads,
        )
        return [upload_from_row(tuple(r)) for r in rows]

    async def complete_upload(
        self,
        upload: Upload,
        obj: ObjectVersion,
        parts: list[int],
        condition: WriteCondition | None = None,
    ) -> str | None:
        async with self._write() as conn:
            if (
                await conn.fetchval(
                    "SELECT 1 FROM uploads WHERE upload_id = $1 FOR UPDATE", upload.upload_id
                )
                is None
            ):
                raise errors.NoSuchUpload(UploadId=upload.upload_id)
            versioning = await _versioning(conn, obj.bucket)
            await _key_lock(conn, obj.bucket, obj.key)
            if condition is not None:
                condition.check(await _current_etag(conn, obj.bucket, obj.key))
            now = time.time()
            version_id = await _make_room(conn, obj.bucket, obj.key, versioning, now)
            object_id = await _insert_object(conn, replace(obj, version_id=version_id))
            seq = 0
            incomplete = []
            for number in parts:
                part_id = await conn.fetchval(
                    "SELECT id FROM parts WHERE upload_id = $1 AND part_number = $2",
                    upload.upload_id,
                    number,
                )
                for record in await conn.fetch(
                    "SELECT chunk_id, stores FROM chunks WHERE part_id = $1 ORDER BY seq", part_id
                ):
                    await conn.execute(
                        "UPDATE chunks SET object_id = $1, part_id = NULL, seq = $2 "
                        "WHERE chunk_id = $3",
                        object_id,
                        seq,
                        record["chunk_id"],
                    )
                    seq += 1
                    if stores_have_gap(record["stores"]):
                        incomplete.append(record["chunk_id"])
            # queued by put_part already, unless repaired meanwhile; this catches the rest
            await _enqueue_repair(conn, incomplete, REPAIR_MISSING_AT_WRITE)
            await _drop_upload(conn, upload.upload_id, now)
        return version_id if versioning else None

    async def abort_upload(self, upload_id: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if (
                await conn.fetchval(
                    "SELECT 1 FROM uploads WHERE upload_id = $1 FOR UPDATE", upload_id
                )
                is None
            ):
                return False
            await _drop_upload(conn, upload_id, time.time())
            return True

    # -- cluster map --------------------------------------------------------------------------

    @staticmethod
    async def _map(conn: Conn) -> ClusterMap:
        version = await conn.fetchval("SELECT version FROM cluster_version WHERE id = 1")
        rows = await conn.fetch(f"SELECT {NODE_COLS} FROM cluster_nodes ORDER BY node_id")
        return ClusterMap(version, tuple(node_from_row(tuple(r)) for r in rows))

    async def get_cluster_map(self) -> ClusterMap:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            return await self._map(conn)

    async def put_node(self, node: NodeRecord) -> ClusterMap:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT version FROM cluster_version WHERE id = 1 FOR UPDATE")
            # an existing node keeps its health and last_seen: those are the monitor's
            await conn.execute(
                f"INSERT INTO cluster_nodes ({NODE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (node_id) DO UPDATE SET url = $2, zone = $3, drives = $4, "
                "weight = $5, state = $6",
                *node_values(node),
            )
            await conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")
            return await self._map(conn)

    async def set_node_health(self, node_id: str, health: str, last_seen: float) -> ClusterMap:
        if health not in NODE_HEALTH:
            raise ValueError(f"node health must be one of {NODE_HEALTH}, not {health!r}")
        async with self._pool.acquire() as conn:
            # A heartbeat (health unchanged) is one autocommitted statement on the node's row.
            # It must not share a transaction with the change below: an UPDATE that meets a
            # concurrently changed row locks it before re-checking WHERE, and keeps the lock
            # even when the row no longer matches; taking the version row after that would
            # invert put_node's order (version row, then node row) and deadlock.
            updated = await conn.execute(
                "UPDATE cluster_nodes SET last_seen = $3 WHERE node_id = $1 AND health = $2",
                node_id,
                health,
                last_seen,
            )
            if updated.endswith(" 0"):
                async with conn.transaction():
                    await conn.execute(
                        "SELECT version FROM cluster_version WHERE id = 1 FOR UPDATE"
                    )
                    old = await conn.fetchval(
                        "SELECT health FROM cluster_nodes WHERE node_id = $1 FOR UPDATE", node_id
                    )
                    if old is None:
                        raise KeyError(node_id)
                    await conn.execute(
                        "UPDATE cluster_nodes SET health = $2, last_seen = $3 WHERE node_id = $1",
                        node_id,
                        health,
                        last_seen,
                    )
                    if old != health:
                        await conn.execute(
                            "UPDATE cluster_version SET version = version + 1 WHERE id = 1"
                        )
            async with conn.transaction(isolation="repeatable_read"):
                return await self._map(conn)

    async def remove_node(self, node_id: str) -> ClusterMap:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT version FROM cluster_version WHERE id = 1 FOR UPDATE")
            deleted = await conn.execute("DELETE FROM cluster_nodes WHERE node_id = $1", node_id)
            if deleted.endswith(" 0"):
                raise KeyError(node_id)
            await conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")
            return await self._map(conn)

    # -- garbage collection -------------------------------------------------------------------

    async def gc_queue_chunks(self, chunks: list[ChunkRecord]) -> None:
        chunks = [c for c in chunks if c.data is None]  # inline bytes go with their row
        if not chunks:
            return
        now = time.time()
        await self._pool.executemany(
            "INSERT INTO gc_queue (chunk_id, size, scheme, block_size, stores, queued_at) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            [
                (c.chunk_id, c.size, c.scheme, c.block_size, json.dumps(list(c.stores)), now)
                for c in chunks
            ],
        )

    async def gc_pending(self, older_than: float, limit: int) -> list[GcItem]:
        rows = await self._pool.fetch(
            f"SELECT id, {CHUNK_COLS}, queued_at FROM gc_queue WHERE queued_at < $1 "
            "ORDER BY id LIMIT $2",
            older_than,
            limit,
        )
        return [GcItem(r["id"], chunk_from_row(tuple(r)[1:6]), r["queued_at"]) for r in rows]

    async def gc_done(self, gc_ids: list[int]) -> None:
        if gc_ids:
            await self._pool.execute("DELETE FROM gc_queue WHERE id = ANY($1::bigint[])", gc_ids)

    async def gc_retry_later(self, gc_ids: list[int], queued_at: float) -> None:
        if gc_ids:
            await self._pool.execute(
                "UPDATE gc_queue SET queued_at = $2 WHERE id = ANY($1::bigint[])", gc_ids, queued_at
            )

    # -- repair queue -------------------------------------------------------------------------

    async def repair_enqueue(self, chunk_ids: list[str], reason: str) -> None:
        if chunk_ids:
            async with self._pool.acquire() as conn:
                await _enqueue_repair(conn, chunk_ids, reason)

    async def repair_pending(self, limit: int) -> list[RepairItem]:
        rows = await self._pool.fetch(
            f"SELECT {REPAIR_COLS} FROM repair_queue r "
            "LEFT JOIN chunks c ON c.chunk_id = r.chunk_id ORDER BY r.id LIMIT $1",
            limit,
        )
        return [repair_from_row(tuple(r)) for r in rows]

    async def repair_done(self, repair_ids: list[int]) -> None:
        if repair_ids:
            await self._pool.execute(
                "DELETE FROM repair_queue WHERE id = ANY($1::bigint[])", repair_ids
            )

    # -- chunk placement (repair, rebalance, scrub) ---------------------------------------

    async def update_chunk_stores(
        self, chunk_id: str, expected: tuple[str, ...], stores: tuple[str, ...]
    ) -> bool:
        result = await self._pool.execute(
            "UPDATE chunks SET stores = $1 WHERE chunk_id = $2 AND stores = $3",
            json.dumps(list(stores)),
            chunk_id,
            json.dumps(list(expected)),
        )
        return bool(result == "UPDATE 1")

    async def chunk_owner(self, chunk_id: str) -> tuple[str, str] | None:
        row = await self._pool.fetchrow(
            "SELECT o.bucket, o.key FROM chunks c JOIN objects o ON o.id = c.object_id "
            "WHERE c.chunk_id = $1",
            chunk_id,
        )
        return (row[0], row[1]) if row else None

    async def list_chunks(self, after: str, limit: int) -> list[ChunkRecord]:
        rows = await self._pool.fetch(
            f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id > $1 AND scheme <> 'inline' "
            "ORDER BY chunk_id LIMIT $2",
            after,
            limit,
        )
        return [chunk_from_row(tuple(r)) for r in rows]

    async def live_chunks(self, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
        if not chunk_ids:
            return {}
        rows = await self._pool.fetch(
            f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id = ANY($1::text[])", chunk_ids
        )
        return {r[0]: chunk_from_row(tuple(r)) for r in rows}

    async def chunks_known(self, chunk_ids: list[str]) -> set[str]:
        if not chunk_ids:
            return set()
        rows = await self._pool.fetch(
            "SELECT chunk_id FROM chunks WHERE chunk_id = ANY($1::text[]) "
            "UNION SELECT chunk_id FROM gc_queue WHERE chunk_id = ANY($1::text[])",
            chunk_ids,
        )
        return {r[0] for r in rows}

    async def repair_count(self) -> int:
        return int(await self._pool.fetchval("SELECT count(*) FROM repair_queue"))

    # -- identities ---------------------------------------------------------------------------

    async def iam_get(self, kind: str, name: str) -> dict[str, Any] | None:
        doc = await self._pool.fetchval(
            "SELECT doc FROM iam WHERE kind = $1 AND name = $2", kind, name
        )
        return None if doc is None else dict(json.loads(doc))

    async def iam_put(self, kind: str, name: str, doc: dict[str, Any] | None) -> None:
        if doc is None:
            await self._pool.execute("DELETE FROM iam WHERE kind = $1 AND name = $2", kind, name)
        else:
            await self._pool.execute(
                "INSERT INTO iam (kind, name, doc) VALUES ($1, $2, $3) "
                "ON CONFLICT (kind, name) DO UPDATE SET doc = excluded.doc",
                kind,
                name,
                json.dumps(doc),
            )

    async def iam_list(self, kind: str) -> dict[str, dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT name, doc FROM iam WHERE kind = $1 ORDER BY name", kind
        )
        return {r[0]: dict(json.loads(r[1])) for r in rows}

    # -- job status ---------------------------------------------------------------------------

    async def put_job_status(self, job: str, status: dict[str, Any]) -> None:
        await self._pool.execute(
            "INSERT INTO job_status (job, status, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (job) DO UPDATE SET status = excluded.status, "
            "updated_at = excluded.updated_at",
            job,
            json.dumps(status),
            time.time(),
        )

    async def get_job_status(self) -> dict[str, tuple[dict[str, Any], float]]:
        rows = await self._pool.fetch("SELECT job, status, updated_at FROM job_status")
        return {r[0]: (json.loads(r[1]), r[2]) for r in rows}
