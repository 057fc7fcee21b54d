"""SQLite: object versions (reads, writes, deletes, per-version settings) and listings.

Each write fetches the rows its rule needs (``tx.key_rows``), asks ``ninefold.meta.rules`` for
the plan, and carries it out in the same SAVEPOINT of the group-committed transaction; point
reads of an object run on the event loop (``_point_read``), listings on the reader pool."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import Any

from ninefold.meta import rules
from ninefold.meta.listing import RangeQuery, VersionCursor, list_page, resume_below
from ninefold.meta.models import DeleteOutcome, ListPage, ObjectVersion, VersionPage, WriteCondition
from ninefold.meta.rows import (
    CHUNK_DATA_COLS,
    OBJ_COLS,
    VERSION_ROW_COLS,
    chunk_from_row,
    object_from_row,
    version_row,
)
from ninefold.meta.sqlite import tx
from ninefold.meta.sqlite.writer import SqliteEngine

__all__ = ["SqliteObjects"]


def _with_chunks(conn: sqlite3.Connection, row: Any) -> ObjectVersion:
    chunks = tuple(
        chunk_from_row(r)
        for r in conn.execute(
            f"SELECT {CHUNK_DATA_COLS} FROM chunks WHERE object_id = ? ORDER BY seq", (row[0],)
        )
    )
    return object_from_row(row, chunks)


def _set_column(
    conn: sqlite3.Connection, column: str, value: str, bucket: str, key: str, version_id: str | None
) -> bool:
    """Set one column of a version (the current one for None) that ``rules.settable``."""
    where, args = "is_latest = 1 AND is_delete_marker = 0", [bucket, key]
    if version_id is not None:
        where, args = "version_id = ? AND is_delete_marker = 0", [bucket, key, version_id]
    cur = conn.execute(
        f"UPDATE objects SET {column} = ? WHERE bucket = ? AND key = ? AND {where}",
        [value, *args],
    )
    return cur.rowcount == 1


class SqliteObjects(SqliteEngine):
    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        def fn(conn: sqlite3.Connection) -> ObjectVersion | None:
            row = conn.execute(
                f"SELECT {OBJ_COLS} FROM objects WHERE bucket = ? AND key = ? AND is_latest = 1",
                (bucket, key),
            ).fetchone()
            if row is None or row[5]:
                return None
            return _with_chunks(conn, row)

        return await self._point_read(fn)

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
            return None if row is None else _with_chunks(conn, row)

        return await self._point_read(fn)

    async def put_object(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> str | None:
        def fn(conn: sqlite3.Connection) -> str | None:
            plan = rules.plan_put(
                obj.bucket,
                tx.versioning_state(conn, obj.bucket),
                tx.key_rows(conn, obj.bucket, obj.key),
                condition,
            )
            tx.apply_room(conn, plan.room, tx.now())
            object_id = tx.insert_object(conn, replace(obj, version_id=plan.room.version_id))
            tx.insert_chunks(conn, "object_id", object_id, obj.chunks)
            return plan.result

        return await self._write(fn)

    async def put_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            tx.require_bucket(conn, bucket)
            return _set_column(conn, "tags", json.dumps(tags), bucket, key, None)

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
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        def fn(conn: sqlite3.Connection) -> DeleteOutcome:
            versioning = tx.versioning_state(conn, bucket)
            at = tx.now()
            if version_id is None:
                rows = tx.key_rows(conn, bucket, key)
                plan = rules.plan_delete_current(
                    bucket, key, versioning, rows, owner=owner, now=at, condition=condition
                )
            else:
                row = conn.execute(
                    f"SELECT {VERSION_ROW_COLS}, lock FROM objects "
                    "WHERE bucket = ? AND key = ? AND version_id = ?",
                    (bucket, key, version_id),
                ).fetchone()
                plan = rules.plan_delete_version(
                    bucket,
                    versioning,
                    version_id,
                    None if row is None else version_row(row),
                    now=at,
                    bypass_governance=bypass_governance,
                    condition=condition,
                )
            tx.apply_delete(conn, bucket, key, plan, at)
            return plan.outcome

        return await self._write(fn)

    async def set_object_acl(self, bucket: str, key: str, version_id: str | None, acl: str) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            tx.require_bucket(conn, bucket)
            return _set_column(conn, "acl", acl, bucket, key, version_id)

        return await self._write(fn)

    async def set_object_lock(
        self, bucket: str, key: str, version_id: str | None, lock: dict[str, str]
    ) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            tx.require_bucket(conn, bucket)
            return _set_column(conn, "lock", json.dumps(lock), bucket, key, version_id)

        return await self._write(fn)

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
            tx.require_bucket(conn, bucket)
            marker_id = None
            if version_id_marker:
                row = conn.execute(
                    "SELECT id FROM objects WHERE bucket = ? AND key = ? AND version_id = ?",
                    (bucket, key_marker, version_id_marker),
                ).fetchone()
                if row is None:  # deleted since the last page
                    marker_id = resume_below(
                        version_id_marker,
                        conn.execute(
                            "SELECT id, version_id, last_modified FROM objects "
                            "WHERE bucket = ? AND key = ?",
                            (bucket, key_marker),
                        ).fetchall(),
                    )
                else:
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
