"""SQLite: the GC queue, the repair queue, and chunk placement (repair, rebalance, scrub)."""

from __future__ import annotations

import json
import sqlite3

from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.models import GcItem, RepairItem
from ninefold.meta.rows import CHUNK_COLS, REPAIR_COLS, chunk_from_row, repair_from_row
from ninefold.meta.sqlite import tx
from ninefold.meta.sqlite.writer import SqliteEngine

__all__ = ["SqliteQueues"]

#: most ids in one ``IN (...)``
_BATCH = 500


class SqliteQueues(SqliteEngine):
    # -- garbage collection -------------------------------------------------------------------

    async def gc_queue_chunks(self, chunks: list[ChunkRecord]) -> None:
        chunks = rules.gc_chunks(chunks)  # inline bytes go with their row

        def fn(conn: sqlite3.Connection) -> None:
            at = tx.now()
            conn.executemany(
                "INSERT INTO gc_queue (chunk_id, size, scheme, block_size, stores, queued_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (c.chunk_id, c.size, c.scheme, c.block_size, json.dumps(list(c.stores)), at)
                    for c in chunks
                ],
            )

        if chunks:
            await self._write(fn)

    async def gc_pending(self, older_than: float, limit: int) -> list[GcItem]:
        def fn(conn: sqlite3.Connection) -> list[GcItem]:
            rows = conn.execute(
                "SELECT id, chunk_id, size, scheme, block_size, stores, queued_at FROM gc_queue "
                "WHERE queued_at < ? ORDER BY id LIMIT ?",
                (older_than, limit),
            ).fetchall()
            return [GcItem(r[0], chunk_from_row(r[1:6]), r[6]) for r in rows]

        return await self._read(fn)

    async def gc_done(self, gc_ids: list[int]) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM gc_queue WHERE id = ?", [(i,) for i in gc_ids])

        if gc_ids:
            await self._write(fn)

    async def gc_retry_later(self, gc_ids: list[int], queued_at: float) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE gc_queue SET queued_at = ? WHERE id = ?", [(queued_at, i) for i in gc_ids]
            )

        if gc_ids:
            await self._write(fn)

    # -- repair queue -------------------------------------------------------------------------

    async def repair_enqueue(self, chunk_ids: list[str], reason: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            tx.enqueue_repair(conn, chunk_ids, reason, tx.now())

        if chunk_ids:
            await self._write(fn)

    async def repair_pending(self, limit: int) -> list[RepairItem]:
        def fn(conn: sqlite3.Connection) -> list[RepairItem]:
            rows = conn.execute(
                f"SELECT {REPAIR_COLS} FROM repair_queue r "
                "LEFT JOIN chunks c ON c.chunk_id = r.chunk_id ORDER BY r.id LIMIT ?",
                (limit,),
            ).fetchall()
            return [repair_from_row(r) for r in rows]

        return await self._read(fn)

    async def repair_done(self, repair_ids: list[int]) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM repair_queue WHERE id = ?", [(i,) for i in repair_ids])

        if repair_ids:
            await self._write(fn)

    async def repair_count(self) -> int:
        def fn(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM repair_queue").fetchone()[0])

        return await self._read(fn)

    # -- chunk placement ----------------------------------------------------------------------

    async def update_chunk_stores(
        self, chunk_id: str, expected: tuple[str, ...], stores: tuple[str, ...]
    ) -> bool:
        def fn(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE chunks SET stores = ? WHERE chunk_id = ? AND stores = ?",
                (json.dumps(list(stores)), chunk_id, json.dumps(list(expected))),
            )
            return cur.rowcount == 1

        return await self._write(fn)

    async def chunk_owner(self, chunk_id: str) -> tuple[str, str] | None:
        def fn(conn: sqlite3.Connection) -> tuple[str, str] | None:
            row = conn.execute(
                "SELECT o.bucket, o.key FROM chunks c JOIN objects o ON o.id = c.object_id "
                "WHERE c.chunk_id = ?",
                (chunk_id,),
            ).fetchone()
            return (row[0], row[1]) if row else None

        return await self._read(fn)

    async def list_chunks(self, after: str, limit: int) -> list[ChunkRecord]:
        def fn(conn: sqlite3.Connection) -> list[ChunkRecord]:
            rows = conn.execute(
                f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id > ? AND {rules.HAS_FRAGMENTS_SQL} "
                "ORDER BY chunk_id LIMIT ?",
                (after, limit),
            ).fetchall()
            return [chunk_from_row(r) for r in rows]

        return await self._read(fn)

    async def live_chunks(self, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
        def fn(conn: sqlite3.Connection) -> dict[str, ChunkRecord]:
            live: dict[str, ChunkRecord] = {}
            for start in range(0, len(chunk_ids), _BATCH):
                batch = chunk_ids[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                rows = conn.execute(
                    f"SELECT {CHUNK_COLS} FROM chunks WHERE chunk_id IN ({marks})", batch
                )
                live.update((r[0], chunk_from_row(r)) for r in rows)
            return live

        return await self._read(fn) if chunk_ids else {}

    async def chunks_known(self, chunk_ids: list[str]) -> set[str]:
        def fn(conn: sqlite3.Connection) -> set[str]:
            known: set[str] = set()
            for start in range(0, len(chunk_ids), _BATCH):
                batch = chunk_ids[start : start + _BATCH]
                marks = ",".join("?" * len(batch))
                for table in ("chunks", "gc_queue"):
                    rows = conn.execute(
                        f"SELECT chunk_id FROM {table} WHERE chunk_id IN ({marks})", batch
                    )
                    known.update(r[0] for r in rows)
            return known

        return await self._read(fn) if chunk_ids else set()
