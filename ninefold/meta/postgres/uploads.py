"""PostgreSQL: multipart uploads and their parts, and the completion that turns parts into an
object version (one transaction: the upload row locked FOR UPDATE, make room, insert the
version, move the listed parts' chunks, unlink the upload with its other parts)."""

from __future__ import annotations

import json
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
from ninefold.meta.postgres import tx
from ninefold.meta.postgres.engine import PostgresEngine
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

__all__ = ["PostgresUploads"]


class PostgresUploads(PostgresEngine):
    async def create_upload(self, upload: Upload) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await tx.require_bucket(conn, upload.bucket)
            await conn.execute(
                f"INSERT INTO uploads ({UPLOAD_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
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
            exists = await conn.fetchval(
                "SELECT 1 FROM uploads WHERE upload_id = $1 FOR SHARE", part.upload_id
            )
            rules.require_upload(part.upload_id, exists is not None)
            await tx.key_lock(conn, part.upload_id, str(part.part_number))
            old = await conn.fetchval(
                "SELECT id FROM parts WHERE upload_id = $1 AND part_number = $2",
                part.upload_id,
                part.part_number,
            )
            if old is not None:  # a replaced part is unlinked, its chunks to GC
                await tx.queue_chunks_of(conn, "part_id", old, time.time())
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
            await tx.insert_chunks(conn, "part_id", part_id, part.chunks)

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
            exists = await conn.fetchval(
                "SELECT 1 FROM uploads WHERE upload_id = $1 FOR UPDATE", upload.upload_id
            )
            rules.require_upload(upload.upload_id, exists is not None)
            versioning = await tx.versioning_state(conn, obj.bucket)
            await tx.key_lock(conn, obj.bucket, obj.key)
            key = await tx.key_rows(conn, obj.bucket, obj.key)
            plan = rules.plan_complete(
                upload.upload_id, True, obj.bucket, versioning, key, condition
            )
            at = time.time()
            await tx.apply_room(conn, plan.room, at)
            object_id = await tx.insert_object(conn, replace(obj, version_id=plan.room.version_id))
            moved: list[ChunkRecord] = []
            for number in parts:
                part_id = await conn.fetchval(
                    "SELECT id FROM parts WHERE upload_id = $1 AND part_number = $2",
                    upload.upload_id,
                    number,
                )
                chunks = await conn.fetch(
                    f"SELECT {CHUNK_COLS} FROM chunks WHERE part_id = $1 ORDER BY seq", part_id
                )
                # a part's seqs are 0..n-1: the object's continue where the last part ended
                await conn.execute(
                    "UPDATE chunks SET object_id = $1, part_id = NULL, seq = seq + $2 "
                    "WHERE part_id = $3",
                    object_id,
                    len(moved),
                    part_id,
                )
                moved += [chunk_from_row(tuple(c)) for c in chunks]
            # queued by put_part already, unless repaired meanwhile; this catches the rest
            await tx.enqueue_repair(conn, rules.repair_at_write(moved), REPAIR_MISSING_AT_WRITE)
            await tx.drop_upload(conn, upload.upload_id, at)
            done = rules.completed_upload(upload.upload_id, obj, parts, plan.result, at)
            await conn.execute(
                "DELETE FROM completed_uploads WHERE completed_at < $1",
                at - COMPLETED_UPLOAD_RETENTION_S,
            )
            await conn.execute(
                "INSERT INTO completed_uploads (upload_id, bucket, key, parts, etag, version_id, "
                "checksums, completed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                *completed_upload_values(done),
            )
        return plan.result

    async def get_completed_upload(
        self, bucket: str, key: str, upload_id: str
    ) -> CompletedUpload | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {COMPLETED_UPLOAD_COLS} FROM completed_uploads "
                "WHERE upload_id = $1 AND bucket = $2 AND key = $3 AND completed_at >= $4",
                upload_id,
                bucket,
                key,
                time.time() - COMPLETED_UPLOAD_RETENTION_S,
            )
        if row is None:
            return None
        return completed_upload_from_row(upload_id, bucket, key, row)

    async def abort_upload(self, upload_id: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            if (
                await conn.fetchval(
                    "SELECT 1 FROM uploads WHERE upload_id = $1 FOR UPDATE", upload_id
                )
                is None
            ):
                return False
            await tx.drop_upload(conn, upload_id, time.time())
            return True
