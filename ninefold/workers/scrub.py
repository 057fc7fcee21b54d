"""The scrubber: reads every fragment the metadata knows of and verifies its checksums.

Each round verifies the next ``chunks_per_round`` chunks in chunk-id order (the cursor is kept
in the job status, so a restarted worker resumes where the last one stopped); when the walk
reaches the end, a pass is complete and the next round starts over. For every fragment of a
chunk it asks the fragment's store for all its blocks -- stores verify the CRC32C of every
block they return -- so it finds both fragments whose bytes rotted and fragments the metadata
records but the disk lacks. Such a chunk goes on the repair queue (reason ``scrub``); the
repair worker rebuilds the bad fragment on a store chosen by placement and GC removes the bad
copy it replaced. Fragments on nodes that are down are skipped (the repair worker handles lost
nodes). Throttled by ``max_bytes_per_s``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.repair import verify_fragment
from ninefold.core.errors import StorageError
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.store import MetaStore
from ninefold.workers.settings import ScrubSettings
from ninefold.workers.walk import ChunkWalker

__all__ = ["Scrubber"]

log = logging.getLogger("ninefold.scrub")


class Scrubber(ChunkWalker):
    name = "scrub"
    counters = ("fragments_checked", "bytes_checked", "bad_found", "chunks_checked")

    def __init__(self, meta: MetaStore, io: ChunkIO, settings: ScrubSettings) -> None:
        super().__init__(
            meta,
            io,
            chunks_per_round=settings.chunks_per_round,
            concurrency=settings.concurrency,
            max_bytes_per_s=settings.max_bytes_per_s,
        )
        self._bad: list[str] = []

    async def check_fragment(self, record: ChunkRecord, index: int) -> tuple[bool, int]:
        """(fragment whole and valid, payload bytes read)."""
        try:
            return await verify_fragment(self.io, record, index)
        except (StorageError, OSError) as exc:
            log.warning(
                "scrub: chunk %s fragment %d on %s: %s",
                record.chunk_id,
                index,
                record.stores[index],
                exc,
            )
            return False, 0

    async def check_chunk(self, record: ChunkRecord) -> tuple[bool, int, int]:
        """(every reachable fragment valid, fragments checked, bytes read)."""
        view = self.io.view
        indexes = [i for i, s in enumerate(record.stores) if s and view.readable(s)]
        results = await asyncio.gather(*(self.check_fragment(record, i) for i in indexes))
        ok = all(good for good, _ in results) and len(indexes) == sum(1 for s in record.stores if s)
        ok = ok and all(record.stores)  # a fragment never written also needs repair
        return ok, len(indexes), sum(n for _, n in results)

    async def visit(self, record: ChunkRecord, status: dict[str, Any]) -> int:
        ok, fragments, nbytes = await self.check_chunk(record)
        status["fragments_checked"] += fragments
        status["bytes_checked"] += nbytes
        status["chunks_checked"] += 1
        if not ok:
            self._bad.append(record.chunk_id)
        return nbytes

    async def end_round(self, status: dict[str, Any]) -> None:
        bad, self._bad = self._bad, []
        if bad:
            await self.meta.repair_enqueue(bad, "scrub")
            status["bad_found"] += len(bad)
            log.warning(
                "scrub: %d chunks with bad or missing fragments queued for repair", len(bad)
            )
