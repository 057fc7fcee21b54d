"""PostgreSQL statements that fetch what a rule needs and carry out the plan it returns, inside
the caller's transaction (``ninefold.meta.rules`` decides; this only stores). The caller holds
the key's advisory lock (``key_lock``) before it reads the key's rows, so no other writer of the
key commits between the read and the plan."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.models import NULL_VERSION, REPAIR_MISSING_AT_WRITE, ObjectVersion
from ninefold.meta.postgres.pool import Conn
from ninefold.meta.rows import VERSION_ROW_COLS, chunk_values, version_row

__all__ = [
    "apply_delete",
    "apply_room",
    "drop_upload",
    "enqueue_repair",
    "insert_chunks",
    "insert_object",
    "key_lock",
    "key_rows",
    "queue_chunks_of",
    "require_bucket",
    "versioning_state",
]


async def key_lock(conn: Conn, bucket: str, key: str) -> None:
    """Serialize the writers of one key (SQLite gets this from its single writer)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{bucket}/{key}")


async def versioning_state(conn: Conn, bucket: str) -> str | None:
    """The bucket's versioning state, its row locked FOR SHARE (so DeleteBucket, which locks it
    FOR UPDATE, waits); None when there is no such bucket."""
    state = await conn.fetchval("SELECT versioning FROM buckets WHERE name = $1 FOR SHARE", bucket)
    return None if state is None else str(state)


async def require_bucket(conn: Conn, bucket: str, *, exclusive: bool = False) -> None:
    """NoSuchBucket unless the bucket exists; its row locked FOR SHARE (FOR UPDATE)."""
    mode = "UPDATE" if exclusive else "SHARE"
    state = await conn.fetchval(
        f"SELECT versioning FROM buckets WHERE name = $1 FOR {mode}", bucket
    )
    rules.versioning_of(bucket, state)


_KEY_ROWS = (
    f"SELECT {VERSION_ROW_COLS} FROM objects WHERE bucket = $1 AND key = $2 AND is_latest "
    f"UNION ALL SELECT {VERSION_ROW_COLS} FROM objects WHERE bucket = $1 AND key = $2 "
    "AND version_id = $3"
)


async def key_rows(conn: Conn, bucket: str, key: str) -> rules.KeyRows:
    """The key's current and ``null`` versions, in one query."""
    rows = await conn.fetch(_KEY_ROWS, bucket, key, NULL_VERSION)
    return rules.KeyRows.of(version_row(tuple(r)) for r in rows)


async def queue_chunks_of(conn: Conn, column: str, owner_id: int, at: float) -> None:
    """Move an object's or part's chunks onto the GC queue (those with fragments) and off the
    repair queue."""
    await conn.execute(
        "DELETE FROM repair_queue WHERE chunk_id IN "
        f"(SELECT chunk_id FROM chunks WHERE {column} = $1)",
        owner_id,
    )
    await conn.execute(
        "INSERT INTO gc_queue (chunk_id, size, scheme, block_size, stores, queued_at) "
        f"SELECT chunk_id, size, scheme, block_size, stores, $2 FROM chunks WHERE {column} = $1 "
        f"AND {rules.HAS_FRAGMENTS_SQL}",
        owner_id,
        at,
    )
    await conn.execute(f"DELETE FROM chunks WHERE {column} = $1", owner_id)


async def insert_chunks(
    conn: Conn, column: str, owner_id: int, chunks: Sequence[ChunkRecord]
) -> None:
    """Insert the chunks of an object or part; those the rules say need repair are queued."""
    if chunks:
        await conn.executemany(
            f"INSERT INTO chunks (chunk_id, {column}, seq, size, scheme, block_size, stores, data) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            chunk_values(owner_id, chunks),
        )
        await enqueue_repair(conn, rules.repair_at_write(chunks), REPAIR_MISSING_AT_WRITE)


async def enqueue_repair(conn: Conn, chunk_ids: list[str], reason: str) -> None:
    if chunk_ids:
        await conn.execute(
            "INSERT INTO repair_queue (chunk_id, reason, queued_at) "
            "SELECT unnest($1::text[]), $2, $3 ON CONFLICT (chunk_id) DO NOTHING",
            chunk_ids,
            reason,
            time.time(),
        )


async def insert_object(conn: Conn, obj: ObjectVersion) -> int:
    """Insert ``obj`` as the current version of its key (not its chunks); its row id."""
    object_id: int = await conn.fetchval(
        "INSERT INTO objects (bucket, key, version_id, is_latest, is_delete_marker, size, etag, "
        "last_modified, content_type, headers, user_meta, checksums, storage_class, part_sizes, "
        "tags, encryption, owner, lock, acl, part_checksums) VALUES ($1,$2,$3,TRUE,$4,$5,$6,$7,$8,"
        "$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19) RETURNING id",
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
        json.dumps(list(obj.part_checksums)),
    )
    return object_id


async def _unlink_version(conn: Conn, row: rules.VersionRow, at: float) -> None:
    await queue_chunks_of(conn, "object_id", row.row_id, at)
    await conn.execute("DELETE FROM objects WHERE id = $1", row.row_id)


async def _demote(conn: Conn, row: rules.VersionRow) -> None:
    await conn.execute("UPDATE objects SET is_latest = FALSE WHERE id = $1", row.row_id)


async def apply_room(conn: Conn, room: rules.MakeRoom, at: float) -> None:
    if room.unlink is not None:
        await _unlink_version(conn, room.unlink, at)
    if room.demote is not None:
        await _demote(conn, room.demote)


async def apply_delete(
    conn: Conn, bucket: str, key: str, plan: rules.DeletePlan, at: float
) -> None:
    if plan.unlink is not None:
        await _unlink_version(conn, plan.unlink, at)
    if plan.demote is not None:
        await _demote(conn, plan.demote)
    if plan.marker is not None:
        await insert_object(conn, plan.marker)
    if plan.promote_newest:
        await conn.execute(
            "UPDATE objects SET is_latest = TRUE WHERE id = (SELECT max(id) FROM objects "
            "WHERE bucket = $1 AND key = $2)",
            bucket,
            key,
        )


async def drop_upload(conn: Conn, upload_id: str, at: float) -> None:
    """Unlink an upload and every part it still has (their chunks to GC)."""
    for record in await conn.fetch("SELECT id FROM parts WHERE upload_id = $1", upload_id):
        await queue_chunks_of(conn, "part_id", record["id"], at)
    await conn.execute("DELETE FROM parts WHERE upload_id = $1", upload_id)
    await conn.execute("DELETE FROM uploads WHERE upload_id = $1", upload_id)
