"""PostgreSQL: the GC queue, the repair queue, and chunk placement (repair, rebalance, scrub)."""

from __future__ import annotations

import json
import time

from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.models import GcItem, RepairItem
from ninefold.meta.postgres import tx
from ninefold.meta.postgres.engine import PostgresEngine
from ninefold.meta.rows import CHUNK_COLS, REPAIR_COLS, chunk_from_row, repair_from_row

__all__ = ["PostgresQueues"]


class PostgresQueues(PostgresEngine):
    # -- garbage collection -------------------------------------------------------------------

    async def gc_queue_chunks(self, chunks: list[ChunkRecord]) -> None:
        chunks = rules.gc_chunks(chunks)  # inline bytes go with their row
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
                await tx.enqueue_repair(conn, chunk_ids, reason)

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
            f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id > $1 AND {rules.HAS_FRAGMENTS_SQL} "
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
