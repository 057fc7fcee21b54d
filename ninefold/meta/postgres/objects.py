"""PostgreSQL: object versions (reads, writes, deletes, per-version settings) and listings.

A write locks its bucket row FOR SHARE, takes the key's advisory lock, reads the key's rows,
asks ``ninefold.meta.rules`` for the plan and carries it out: one transaction. A point read is
one snapshot (repeatable read) of the version row and its chunks."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from ninefold.meta import rules
from ninefold.meta.listing import ListCursor, VersionCursor, resume_below
from ninefold.meta.models import DeleteOutcome, ListPage, ObjectVersion, VersionPage, WriteCondition
from ninefold.meta.postgres import tx
from ninefold.meta.postgres.engine import PostgresEngine
from ninefold.meta.postgres.pool import Conn
from ninefold.meta.rows import (
    CHUNK_DATA_COLS,
    OBJ_COLS,
    VERSION_ROW_COLS,
    chunk_from_row,
    object_from_row,
    version_row,
)

__all__ = ["PostgresObjects"]


async def _with_chunks(conn: Conn, row: Any) -> ObjectVersion:
    chunks = await conn.fetch(
        f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE object_id = $1 ORDER BY seq", row["id"]
    )
    return object_from_row(tuple(row), tuple(chunk_from_row(tuple(c)) for c in chunks))


async def _set_column(
    conn: Conn, column: str, value: str, bucket: str, key: str, version_id: str | None
) -> bool:
    """Set one column of a version (the current one for None) that ``rules.settable``."""
    if version_id is None:
        result = await conn.execute(
            f"UPDATE objects SET {column} = $1 WHERE bucket = $2 AND key = $3 AND is_latest "
            "AND NOT is_delete_marker",
            value,
            bucket,
            key,
        )
    else:
        result = await conn.execute(
            f"UPDATE objects SET {column} = $1 WHERE bucket = $2 AND key = $3 "
            "AND version_id = $4 AND NOT is_delete_marker",
            value,
            bucket,
            key,
            version_id,
        )
    return bool(result == "UPDATE 1")


class PostgresObjects(PostgresEngine):
    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            row = await conn.fetchrow(
                f"SELECT {OBJ_COLS} FROM objects WHERE bucket = $1 AND key = $2 AND is_latest",
                bucket,
                key,
            )
            if row is None or row["is_delete_marker"]:
                return None
            return await _with_chunks(conn, row)

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
            return None if row is None else await _with_chunks(conn, row)

    async def put_object(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> str | None:
        async with self._write() as conn:
            versioning = await tx.versioning_state(conn, obj.bucket)
            await tx.key_lock(conn, obj.bucket, obj.key)
            key = await tx.key_rows(conn, obj.bucket, obj.key)
            plan = rules.plan_put(obj.bucket, versioning, key, condition)
            await tx.apply_room(conn, plan.room, time.time())
            object_id = await tx.insert_object(conn, replace(obj, version_id=plan.room.version_id))
            await tx.insert_chunks(conn, "object_id", object_id, obj.chunks)
        return plan.result

    async def put_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await tx.require_bucket(conn, bucket)
            await tx.key_lock(conn, bucket, key)
            return await _set_column(conn, "tags", json.dumps(tags), bucket, key, None)

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
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        async with self._pool.acquire() as conn, conn.transaction():
            versioning = await tx.versioning_state(conn, bucket)
            await tx.key_lock(conn, bucket, key)
            at = time.time()
            if version_id is None:
                rows = await tx.key_rows(conn, bucket, key)
                plan = rules.plan_delete_current(
                    bucket, key, versioning, rows, owner=owner, now=at, condition=condition
                )
            else:
                row = await conn.fetchrow(
                    f"SELECT {VERSION_ROW_COLS}, lock FROM objects "
                    "WHERE bucket = $1 AND key = $2 AND version_id = $3",
                    bucket,
                    key,
                    version_id,
                )
                plan = rules.plan_delete_version(
                    bucket,
                    versioning,
                    version_id,
                    None if row is None else version_row(tuple(row)),
                    now=at,
                    bypass_governance=bypass_governance,
                    condition=condition,
                )
            await tx.apply_delete(conn, bucket, key, plan, at)
            return plan.outcome

    async def set_object_acl(self, bucket: str, key: str, version_id: str | None, acl: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await tx.require_bucket(conn, bucket)
            await tx.key_lock(conn, bucket, key)
            return await _set_column(conn, "acl", acl, bucket, key, version_id)

    async def set_object_lock(
        self, bucket: str, key: str, version_id: str | None, lock: dict[str, str]
    ) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            await tx.require_bucket(conn, bucket)
            await tx.key_lock(conn, bucket, key)
            return await _set_column(conn, "lock", json.dumps(lock), bucket, key, version_id)

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
            await tx.require_bucket(conn, bucket)
            marker_id = None
            if version_id_marker:
                marker_id = await conn.fetchval(
                    "SELECT id FROM objects WHERE bucket = $1 AND key = $2 AND version_id = $3",
                    bucket,
                    key_marker,
                    version_id_marker,
                )
                if marker_id is None:  # deleted since the last page
                    marker_id = resume_below(
                        version_id_marker,
                        await conn.fetch(
                            "SELECT id, version_id, last_modified FROM objects "
                            "WHERE bucket = $1 AND key = $2",
                            bucket,
                            key_marker,
                        ),
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
