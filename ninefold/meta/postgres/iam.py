"""PostgreSQL: identity documents ("user", "key", "group", "policy"), one JSON row each."""

from __future__ import annotations

import json
from typing import Any

from ninefold.meta.postgres.engine import PostgresEngine

__all__ = ["PostgresIam"]


class PostgresIam(PostgresEngine):
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
