"""SQLite: identity documents ("user", "key", "group", "policy"), one JSON row each."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ninefold.meta.sqlite.writer import SqliteEngine

__all__ = ["SqliteIam"]


class SqliteIam(SqliteEngine):
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
