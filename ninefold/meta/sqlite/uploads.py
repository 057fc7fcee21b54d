"""SQLite: multipart uploads and their parts, and the completion that turns parts into an
object version (one transaction: make room, insert the version, move the listed parts' chunks,
unlink the upload with its other parts)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import replace

from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.models import (
    COMPLETED_UPLOAD_RETENTION_S,
    REPAIR_MISSING_AT_WRITE,
    CompletedUpload,
    ObjectVersion,
    Part,
    Upload,
    WriteCondition,
)
from ninefold.meta.rows import (
    CHUNK_COLS,
    CHUNK_DATA_COLS,
    COMPLETED_UPLOAD_COLS,
    UPLOAD_COLS,
    chunk_from_row,
    completed_upload_from_row,
    completed_upload_values,
    upload_from_row,
)
from ninefold.meta.sqlite import tx
from ninefold.meta.sqlite.writer import SqliteEngine

__all__ = ["SqliteUploads"]


def _upload_exists(conn: sqlite3.Connection, upload_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
    return row is not None


class SqliteUploads(SqliteEngine):
    async def create_upload(self, upload: Upload) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            tx.require_bucket(conn, upload.bucket)
            conn.execute(
                f"INSERT INTO uploads ({UPLOAD_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
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
                    upload.checksum_type,
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
            rules.require_upload(part.upload_id, _upload_exists(conn, part.upload_id))
            old = conn.execute(
                "SELECT id FROM parts WHERE upload_id = ? AND part_number = ?",
                (part.upload_id, part.part_number),
            ).fetchone()
            if old is not None:  # a replaced part is unlinked, its chunks to GC
                tx.queue_chunks_of(conn, "part_id = ?", old[0], tx.now())
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
            tx.insert_chunks(conn, "part_id", cur.lastrowid, part.chunks)

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
            plan = rules.plan_complete(
                upload.upload_id,
                _upload_exists(conn, upload.upload_id),
                obj.bucket,
                tx.versioning_state(conn, obj.bucket),
                tx.key_rows(conn, obj.bucket, obj.key),
                condition,
            )
            at = tx.now()
            tx.apply_room(conn, plan.room, at)
            object_id = tx.insert_object(conn, replace(obj, version_id=plan.room.version_id))
            moved: list[ChunkRecord] = []
            for number in parts:
                part_id = conn.execute(
                    "SELECT id FROM parts WHERE upload_id = ? AND part_number = ?",
                    (upload.upload_id, number),
                ).fetchone()[0]
                chunks = [
                    chunk_from_row(r)
                    for r in conn.execute(
                        f"SELECT {CHUNK_COLS} FROM chunks WHERE part_id = ? ORDER BY seq",
                        (part_id,),
                    )
                ]
                # a part's seqs are 0..n-1: the object's continue where the last part ended
                conn.execute(
                    "UPDATE chunks SET object_id = ?, part_id = NULL, seq = seq + ? "
                    "WHERE part_id = ?",
                    (object_id, len(moved), part_id),
                )
                moved += chunks
            # queued by put_part already, unless repaired meanwhile; this catches the rest
            tx.enqueue_repair(conn, rules.repair_at_write(moved), REPAIR_MISSING_AT_WRITE, at)
            tx.drop_upload(conn, upload.upload_id, at)
            done = rules.completed_upload(upload.upload_id, obj, parts, plan.result, at)
            conn.execute(
                "DELETE FROM completed_uploads WHERE completed_at < ?",
                (at - COMPLETED_UPLOAD_RETENTION_S,),
            )
            conn.execute(
                "INSERT INTO completed_uploads (upload_id, bucket, key, parts, etag, version_id, "
                "checksums, completed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                completed_upload_values(done),
            )
            return plan.result

        return await self._write(fn)

    async def get_completed_upload(
        self, bucket: str, key: str, upload_id: str
    ) -> CompletedUpload | None:
        def fn(conn: sqlite3.Connection) -> CompletedUpload | None:
            row = conn.execute(
                f"SELECT {COMPLETED_UPLOAD_COLS} FROM completed_uploads "
                "WHERE upload_id = ? AND bucket = ? AND key = ? AND completed_at >= ?",
                (upload_id, bucket, key, time.time() - COMPLETED_UPLOAD_RETENTION_S),
            ).fetchone()
            if row is None:
                return None
            return completed_upload_from_row(upload_id, bucket, key, row)

        return await self._read(fn)

    async def abort_upload(self, upload_id: str) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            if not _upload_exists(conn, upload_id):
                return False
            tx.drop_upload(conn, upload_id, tx.now())
            return True

        return await self._write(fn)
