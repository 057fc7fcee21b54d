"""Rebalance and drain: move fragments to where placement would put them now.

Each round checks the next ``chunks_per_round`` chunks (chunk-id order, cursor in the job
status; a pass starts over at the end). For a chunk, placement over the current map gives the
ideal set of stores; fragments on stores outside that set move to ideal stores that hold nothing
of the chunk yet. That covers both operations:

* a node added: rendezvous hashing makes it win about its fair share of chunks, and only those
  fragments move (about 1/(N+1) of them);
* a node drained (``admin node drain``: weight 0, so placement never chooses it): every fragment
  on it moves away, and the node ends empty once GC removes the old copies;
* stores back after an outage (a zone down): chunks written meanwhile hold two fragments on some
  stores (``placement.spread``); the second ones move to the returned stores, which restores the
  zone spread.

A move copies the fragment block by block (verified on both ends), records the new placement
with a compare-and-set, and hands the old copy to GC, which deletes it after the grace period:
a GET that started with the old placement still finds its bytes. Chunks with a fragment missing
or on a node that is down are left to the repair worker. Throttled by ``max_bytes_per_s``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.repair import fragment_blocks, move_fragments
from ninefold.core.errors import StorageError
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.store import MetaStore
from ninefold.placement.rendezvous import place
from ninefold.workers.settings import RebalanceSettings
from ninefold.workers.walk import ChunkWalker

__all__ = ["Rebalancer"]

log = logging.getLogger("ninefold.rebalance")


class Rebalancer(ChunkWalker):
    name = "rebalance"
    counters = ("fragments_moved", "bytes_moved", "chunks_checked", "moved_in_pass")

    def __init__(self, meta: MetaStore, io: ChunkIO, settings: RebalanceSettings) -> None:
        super().__init__(
            meta,
            io,
            chunks_per_round=settings.chunks_per_round,
            concurrency=settings.concurrency,
            max_bytes_per_s=settings.max_bytes_per_s,
        )

    def plan(self, record: ChunkRecord) -> dict[int, str]:
        """Fragment index -> store it should move to (empty: nothing to do, or not now)."""
        view = self.io.view
        if not all(record.stores) or any(view.is_unreachable(s) for s in record.stores):
            return {}  # degraded: the repair worker's job first
        try:
            ideal = place(record.chunk_id, view.infos, len(record.stores))
        except ValueError:  # fewer live stores than fragments
            return {}
        free = [s for s in ideal if s not in record.stores]
        # outside the ideal set, or a second fragment on one store (written while stores were
        # down, placement.spread): the first fragment on a store stays, the others move
        seen: set[str] = set()
        misplaced = []
        for i, s in enumerate(record.stores):
            if s not in ideal or s in seen:
                misplaced.append(i)
            seen.add(s)
        # equal lengths for distinct stores; zip defensively all the same
        return dict(zip(misplaced, free, strict=False))

    async def balance_chunk(self, record: ChunkRecord) -> int:
        """Moves the chunk's misplaced fragments; returns the bytes moved."""
        targets = self.plan(record)
        if not targets:
            return 0
        new = await move_fragments(self.io, record, targets)
        if not await self.meta.update_chunk_stores(record.chunk_id, record.stores, new.stores):
            # the chunk changed meanwhile: the copies are orphans
            await self.io.delete(
                replace(
                    record,
                    stores=tuple(t if i in targets else "" for i, t in enumerate(new.stores)),
                )
            )
            return 0
        old = tuple(s if i in targets else "" for i, s in enumerate(record.stores))
        await self.meta.gc_queue_chunks([replace(record, stores=old)])
        return len(targets) * record.block_size * fragment_blocks(self.io, record)

    async def visit(self, record: ChunkRecord, status: dict[str, Any]) -> int:
        targets = len(self.plan(record))
        try:
            nbytes = await self.balance_chunk(record)
        except (StorageError, OSError) as exc:
            log.warning("rebalance: chunk %s: %s", record.chunk_id, exc)
            return 0
        status["chunks_checked"] += 1
        if nbytes:
            status["fragments_moved"] += targets
            status["moved_in_pass"] += targets
            status["bytes_moved"] += nbytes
        return nbytes

    def end_pass(self, status: dict[str, Any]) -> None:
        status["last_pass_moved"] = status["moved_in_pass"]
        status["moved_in_pass"] = 0
