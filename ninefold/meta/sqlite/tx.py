"""SQLite statements that fetch what a rule needs and carry out the plan it returns, inside the
caller's transaction (``ninefold.meta.rules`` decides; this only stores)."""

from __future__ import annotations

import json
import sqlite3
import time

from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.models import NULL_VERSION, REPAIR_MISSING_AT_WRITE, ObjectVersion
from ninefold.meta.rows import VERSION_ROW_COLS, chunk_values, version_row

__all__ = [
    "apply_delete",
    "apply_room",
    "drop_upload",
    "enqueue_repair",
    "insert_chunks",
    "insert_object",
    "key_rows",
    "now",
    "queue_chunks_of",
    "require_bucket",
    "unlink_version",
    "versioning_state",
]


def now() -> float:
    return time.time()


def versioning_state(conn: sqlite3.Connection, bucket: str) -> str | None:
    """The bucket's versioning state; None when there is no such bucket."""
    row = conn.execute("SELECT versioning FROM buckets WHERE name = ?", (bucket,)).fetchone()
    return None if row is None else str(row[0])


def require_bucket(conn: sqlite3.Connection, bucket: str) -> str:
    """The bucket's versioning state; NoSuchBucket when it does not exist."""
    return rules.versioning_of(bucket, versioning_state(conn, bucket))


_KEY_ROWS = (
    f"SELECT {VERSION_ROW_COLS} FROM objects WHERE bucket = ? AND key = ? AND is_latest = 1 "
    f"UNION ALL SELECT {VERSION_ROW_COLS} FROM objects WHERE bucket = ? AND key = ? "
    "AND version_id = ?"
)


def key_rows(conn: sqlite3.Connection, bucket: str, key: str) -> rules.KeyRows:
    """The key's current and ``null`` versions (one statement, each half by its index)."""
    rows = conn.execute(_KEY_ROWS, (bucket, key, bucket, key, NULL_VERSION)).fetchall()
    return rules.KeyRows.of(version_row(r) for r in rows)


def queue_chunks_of(conn: sqlite3.Connection, where: str, arg: int, at: float) -> None:
    """Move the chunks selected by ``where`` (object_id = ? / part_id = ?) onto the GC queue
    (those with fragments, ``rules.HAS_FRAGMENTS_SQL``) and off the repair queue."""
    conn.execute(
        f"DELETE FROM repair_queue WHERE chunk_id IN (SELECT chunk_id FROM chunks WHERE {where})",
        (arg,),
    )
    conn.execute(
        "INSERT INTO gc_queue (chunk_id, size, scheme, block_size, stores, queued_at) "
        f"SELECT chunk_id, size, scheme, block_size, stores, ? FROM chunks WHERE {where} "
        f"AND {rules.HAS_FRAGMENTS_SQL}",
        (at, arg),
    )
    conn.execute(f"DELETE FROM chunks WHERE {where}", (arg,))


def insert_chunks(
    conn: sqlite3.Connection, owner_col: str, owner_id: int, chunks: tuple[ChunkRecord, ...]
) -> None:
    """Insert the chunks of an object or part; those the rules say need repair are queued."""
    conn.executemany(
        f"INSERT INTO chunks (chunk_id, {owner_col}, seq, size, scheme, block_size, stores, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        chunk_values(owner_id, chunks),
    )
    enqueue_repair(conn, rules.repair_at_write(chunks), REPAIR_MISSING_AT_WRITE, now())


def enqueue_repair(conn: sqlite3.Connection, chunk_ids: list[str], reason: str, at: float) -> None:
    conn.executemany(
        "INSERT INTO repair_queue (chunk_id, reason, queued_at) VALUES (?, ?, ?) "
        "ON CONFLICT (chunk_id) DO NOTHING",
        [(chunk_id, reason, at) for chunk_id in chunk_ids],
    )


def insert_object(conn: sqlite3.Connection, obj: ObjectVersion) -> int:
    """Insert ``obj`` as the current version of its key (not its chunks); its row id."""
    cur = conn.execute(
        "INSERT INTO objects (bucket, key, version_id, is_latest, is_delete_marker, size, etag, "
        "last_modified, content_type, headers, user_meta, checksums, storage_class, part_sizes, "
        "tags, encryption, owner, lock, acl, part_checksums) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            json.dumps(list(obj.part_checksums)),
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def unlink_version(conn: sqlite3.Connection, row: rules.VersionRow, at: float) -> None:
    queue_chunks_of(conn, "object_id = ?", row.row_id, at)
    conn.execute("DELETE FROM objects WHERE id = ?", (row.row_id,))


def apply_room(conn: sqlite3.Connection, room: rules.MakeRoom, at: float) -> None:
    if room.unlink is not None:
        unlink_version(conn, room.unlink, at)
    if room.demote is not None:
        conn.execute("UPDATE objects SET is_latest = 0 WHERE id = ?", (room.demote.row_id,))


def apply_delete(
    conn: sqlite3.Connection, bucket: str, key: str, plan: rules.DeletePlan, at: float
) -> None:
    if plan.unlink is not None:
        unlink_version(conn, plan.unlink, at)
    if plan.demote is not None:
        conn.execute("UPDATE objects SET is_latest = 0 WHERE id = ?", (plan.demote.row_id,))
    if plan.marker is not None:
        insert_object(conn, plan.marker)
    if plan.promote_newest:
        conn.execute(
            "UPDATE objects SET is_latest = 1 WHERE id = (SELECT max(id) FROM objects "
            "WHERE bucket = ? AND key = ?)",
            (bucket, key),
        )


def drop_upload(conn: sqlite3.Connection, upload_id: str, at: float) -> None:
    """Unlink an upload and every part it still has (their chunks to GC)."""
    for (part_id,) in conn.execute(
        "SELECT id FROM parts WHERE upload_id = ?", (upload_id,)
    ).fetchall():
        queue_chunks_of(conn, "part_id = ?", part_id, at)
    conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
