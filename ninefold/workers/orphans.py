"""Orphan collection: fragments on the stores that no metadata references.

A write that crashed after some fragments were committed on the nodes but before its metadata
commit (a gateway killed mid-PUT, a failed multipart part) leaves fragments nothing points
to. Each round lists every reachable store's fragments and asks the metadata which of their
chunks it still knows (live, or queued for GC). A fragment of an unknown chunk becomes a
*candidate*; one that is still unknown ``grace_s`` after it was first seen is deleted. The grace
period covers writes in flight, whose fragments land before their metadata commit: it must be
longer than any single PUT takes. Where a store can tell when a fragment was written (a local
drive: the file's mtime), the grace period counts from that moment, so a worker that just
started (``ninefold worker --once``) removes old orphans in its first round. Otherwise (nodes
over HTTP) candidates live in memory only: a restarted worker just starts the grace period
again, which errs on the side of keeping data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from ninefold.coordinator.chunks import ChunkIO
from ninefold.core.errors import StorageError
from ninefold.fragments.protocol import FragmentId
from ninefold.meta.store import MetaStore
from ninefold.workers.settings import OrphanSettings

__all__ = ["OrphanCollector"]

log = logging.getLogger("ninefold.orphans")


@runtime_checkable
class _DatedListing(Protocol):
    """A store that lists its fragments with the time each was written (``DiskFragmentStore``)."""

    def list_fragments_written(self) -> AsyncIterator[tuple[FragmentId, float]]: ...


class OrphanCollector:
    name = "orphans"

    def __init__(self, meta: MetaStore, io: ChunkIO, settings: OrphanSettings) -> None:
        self.meta = meta
        self.io = io
        self.grace_s = settings.grace_s
        #: (store id, fragment) -> when it was first seen unreferenced
        self._candidates: dict[tuple[str, FragmentId], float] = {}
        self.deleted = 0

    async def run_once(self) -> int:
        now = time.time()
        seen: dict[str, list[tuple[str, FragmentId]]] = {}
        written: dict[tuple[str, FragmentId], float] = {}
        view = self.io.view  # one map for the round: listed and deleted through the same stores
        for store_id, store in view.reachable():
            try:
                if isinstance(store, _DatedListing):
                    async for fid, at in store.list_fragments_written():
                        seen.setdefault(fid.chunk_id, []).append((store_id, fid))
                        written[(store_id, fid)] = at
                else:
                    async for fid in store.list_fragments():
                        seen.setdefault(fid.chunk_id, []).append((store_id, fid))
            except (StorageError, OSError) as exc:
                log.warning("orphans: cannot list %s: %s", store_id, exc)
        chunk_ids = list(seen)
        known: set[str] = set()
        for start in range(0, len(chunk_ids), 1000):
            known |= await self.meta.chunks_known(chunk_ids[start : start + 1000])
        unknown = {key for cid in chunk_ids if cid not in known for key in seen[cid]}
        # forget candidates that are referenced now, or no longer on disk
        self._candidates = {k: t for k, t in self._candidates.items() if k in unknown}
        deleted = 0
        for key in unknown:
            first = min(self._candidates.setdefault(key, now), written.get(key, now))
            if now - first < self.grace_s:
                continue
            store_id, fid = key
            # re-check right before deleting: the chunk may have been committed meanwhile
            if await self.meta.chunks_known([fid.chunk_id]):
                self._candidates.pop(key, None)
                continue
            try:
                await view.stores[store_id].delete(fid)
            except (StorageError, OSError) as exc:
                log.warning("orphans: cannot delete %s on %s: %s", fid, store_id, exc)
                continue
            self._candidates.pop(key, None)
            deleted += 1
        if deleted:
            log.info("orphans: deleted %d unreferenced fragments", deleted)
        self.deleted += deleted
        return deleted
