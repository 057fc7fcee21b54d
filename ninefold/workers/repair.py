"""The repair worker: brings every queued chunk back to all its fragments.

The repair queue is filled by writes that met the quorum without every fragment, by reads that
had to read around a missing, slow or corrupt fragment (heal on read), by the scrubber, and by
this worker's own sweep for nodes that have been down longer than ``lost_after_s``. A round
takes the oldest entries and, per chunk:

1. finds its missing fragments: no store recorded, a store that left the map, a store on a node
   that has been down for ``lost_after_s`` (a node down for less is waited for: a restart must
   not trigger a storm of rebuilds), a fragment its store does not have, or -- for chunks queued
   by a degraded read or the scrubber -- one whose blocks fail their checksums;
2. chooses new stores by placement (``place_replacements``: nothing of the chunk on them yet,
   zone rule kept), rebuilds the fragments there (``coordinator.repair.rebuild``: k fragments
   read, the missing ones reconstructed and written through verified writers);
3. records the new placement with a compare-and-set; if the chunk changed meanwhile (deleted,
   overwritten, moved by another job) the fragments just written are deleted again;
4. hands the fragments it replaced to GC (a node that comes back must not keep stale copies).

Idempotent and resumable: the queue entry is removed only once the chunk is whole (or gone); a
crash mid-chunk leaves the entry, and the fragments written before the crash are orphans that
the next attempt overwrites or GC removes. Throttled by ``max_bytes_per_s``. Progress (chunks
and bytes repaired, rate, queue length) is written to the job status for ``admin heal status``.

Failed drives (the view's ``lost`` stores: a local drive whose identity is gone) count as lost
at once: their chunks are queued by the same sweep as a lost node's, and rebuilt on the other
stores -- two fragments on one store when fewer stores are left than the chunk has fragments.

A chunk that cannot be repaired now (no store to rebuild on, a target that refuses, fewer than
k fragments left, a store it waits for) is retried with a back-off (doubling from one round to
``MAX_BACKOFF_S``), not every round, and the log says so once when chunks start failing, then
at most one summary every ``SUMMARY_EVERY_S`` while they keep failing, and once when they stop:
a failed drive must not fill the log with one WARNING per chunk per round.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.repair import fragment_blocks, rebuild, verify_fragment
from ninefold.core.errors import StorageError
from ninefold.erasure.scheme import Scheme
from ninefold.fragments.protocol import FragmentId
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import ClusterMap
from ninefold.meta.store import MetaStore
from ninefold.placement.rendezvous import place_replacements
from ninefold.workers.settings import RepairSettings

__all__ = ["RepairStats", "RepairWorker"]

log = logging.getLogger("ninefold.repair")

#: reasons whose fragments are read in full (checksums) rather than only looked up
VERIFY_REASONS = ("degraded-read", "scrub")
#: longest wait before a chunk that could not be repaired is tried again
MAX_BACKOFF_S = 300.0
#: at most one WARNING summary of chunks that cannot be repaired per this many seconds
SUMMARY_EVERY_S = 60.0
#: the repair rate shown with the ETA is measured over this many seconds of recent rounds
RATE_WINDOW_S = 60.0


class _Unrepairable(Exception):
    """This chunk cannot be repaired now (the reason goes into the round's summary)."""


@dataclass
class RepairStats:
    started_at: float = field(default_factory=time.time)
    chunks_repaired: int = 0
    fragments_rebuilt: int = 0
    bytes_rebuilt: int = 0
    #: wall-clock seconds of the rounds that rebuilt something (the rate's denominator)
    busy_s: float = 0.0
    waiting: int = 0
    failed: int = 0
    #: chunks now waiting out a back-off after a failed attempt
    backing_off: int = 0
    #: (monotonic s, chunks repaired) after each round of the last RATE_WINDOW_S
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def sample(self, now: float) -> None:
        self.samples.append((now, self.chunks_repaired))
        while len(self.samples) > 2 and now - self.samples[1][0] >= RATE_WINDOW_S:
            self.samples.popleft()

    def chunks_per_s(self) -> float | None:
        """Chunks repaired per second over the recent rounds; None before two rounds."""
        if len(self.samples) < 2:
            return None
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else None

    def as_status(
        self, queued: int, lost: list[str] | None = None, down: list[str] | None = None
    ) -> dict[str, object]:
        rate = self.bytes_rebuilt / self.busy_s if self.busy_s > 0 else 0.0
        chunk_rate = self.chunks_per_s()
        window = self.samples[-1][0] - self.samples[0][0] if len(self.samples) > 1 else 0.0
        return {
            "started_at": self.started_at,
            "chunks_repaired": self.chunks_repaired,
            "fragments_rebuilt": self.fragments_rebuilt,
            "bytes_rebuilt": self.bytes_rebuilt,
            "busy_s": round(self.busy_s, 3),
            "bytes_per_s": round(rate, 1),
            "queued": queued,
            "waiting_for_nodes": self.waiting,
            "failed": self.failed,
            "backing_off": self.backing_off,
            "chunks_per_s": None if chunk_rate is None else round(chunk_rate, 4),
            "rate_window_s": round(window, 1),
            "lost_stores": sorted(lost or ()),
            "down_stores": sorted(down or ()),
        }


class RepairWorker:
    name = "repair"

    def __init__(
        self,
        meta: MetaStore,
        io: ChunkIO,
        settings: RepairSettings,
    ) -> None:
        self.meta = meta
        self.io = io
        self.batch = settings.batch
        self.concurrency = settings.concurrency
        self.lost_after_s = settings.lost_after_s
        self.max_bytes_per_s = settings.max_bytes_per_s
        self.stats = RepairStats()
        self._map: ClusterMap | None = None
        #: nodes whose chunks were already swept onto the queue (node id -> last_seen swept)
        self._swept: dict[str, float] = {}
        #: failed drives whose chunks were already swept onto the queue
        self._swept_lost: frozenset[str] = frozenset()
        #: chunk id -> (failed attempts in a row, when to try again: monotonic s)
        self._backoff: dict[str, tuple[int, float]] = {}
        #: why chunks failed since the last summary (reason -> chunks)
        self._reasons: Counter[str] = Counter()
        self._last_summary = 0.0
        self._failing = False
        #: chunks already reported as unrecoverable (fewer than k fragments left)
        self._reported_lost: set[str] = set()
        self._interval_s = settings.interval_s

    # -- which fragments are missing -----------------------------------------------------------

    def _lost_stores(self, now: float) -> set[str]:
        """Stores of nodes down for longer than ``lost_after_s`` (their data counts as lost)."""
        lost: set[str] = set(self.io.view.lost)
        for node in self._map.nodes if self._map else ():
            down = node.state == "down" or node.health == "down"
            if down and now - node.last_seen >= self.lost_after_s:
                lost.update(f"{node.node_id}:{d}" for d in node.drives)
        return lost

    async def _fragment_ok(self, record: ChunkRecord, index: int, verify: bool) -> bool:
        """The fragment exists with the expected number of blocks (and, with ``verify``, every
        block passes its checksum)."""
        fid = FragmentId(record.chunk_id, index)
        try:
            if verify:
                return (await verify_fragment(self.io, record, index))[0]
            info = await self.io.view.stores[record.stores[index]].head(fid)
            return info is not None and info.block_count == fragment_blocks(self.io, record)
        except (StorageError, OSError) as exc:
            log.info("chunk %s fragment %d: %s", record.chunk_id, index, exc)
            return False

    async def missing(
        self, record: ChunkRecord, verify: bool, now: float
    ) -> tuple[list[int], bool]:
        """(indexes to rebuild, whether some fragment is on a node that is down but not yet
        lost -- the chunk then waits)."""
        lost = self._lost_stores(now)
        view = self.io.view
        waiting = False
        todo: list[int] = []
        checks: list[tuple[int, asyncio.Future[bool]]] = []
        for i, store_id in enumerate(record.stores):
            if not store_id or not view.known(store_id) or store_id in lost:
                todo.append(i)
            elif view.is_unreachable(store_id):
                waiting = True
            else:
                checks.append((i, asyncio.ensure_future(self._fragment_ok(record, i, verify))))
        for i, check in checks:
            if not await check:
                todo.append(i)
        return sorted(todo), waiting

    # -- one chunk ------------------------------------------------------------------------------

    async def repair_chunk(self, record: ChunkRecord, verify: bool) -> bool:
        """True when the chunk is whole afterwards (or gone); False when it must wait."""
        now = time.time()
        todo, waiting = await self.missing(record, verify, now)
        if not todo:
            return not waiting
        scheme = Scheme.parse(record.scheme)
        if len(record.stores) - len(todo) < scheme.k and not waiting:
            if record.chunk_id not in self._reported_lost:
                self._reported_lost.add(record.chunk_id)
                log.error(
                    "chunk %s: only %d fragments left, cannot repair",
                    record.chunk_id,
                    len(record.stores) - len(todo),
                )
            raise _Unrepairable("fewer than k fragments left")
        view = self.io.view
        targets = place_replacements(record.chunk_id, view.infos, record.stores, todo, share=True)
        if not targets:
            log.debug("chunk %s: no store to rebuild %s on", record.chunk_id, todo)
            raise _Unrepairable("no store to rebuild on")
        new = await rebuild(self.io, record, targets, view)
        if not await self.meta.update_chunk_stores(record.chunk_id, record.stores, new.stores):
            # changed meanwhile: what was written is an orphan (never over a live fragment:
            # the targets held nothing of this chunk)
            await self.io.delete(
                replace(
                    record,
                    stores=tuple(
                        new.stores[i] if i in targets else "" for i in range(len(new.stores))
                    ),
                )
            )
            return True
        displaced = tuple(
            record.stores[i] if i in targets and record.stores[i] != targets[i] else ""
            for i in range(len(record.stores))
        )
        if any(displaced):
            await self.meta.gc_queue_chunks([replace(record, stores=displaced)])
        fragment_bytes = record.block_size * fragment_blocks(self.io, record)
        self.stats.fragments_rebuilt += len(targets)
        self.stats.bytes_rebuilt += len(targets) * fragment_bytes
        self.stats.chunks_repaired += 1
        return len(targets) == len(todo) and not waiting

    # -- rounds ---------------------------------------------------------------------------------

    async def _queue_chunks_on(self, prefixes: tuple[str, ...], exact: frozenset[str]) -> int:
        """Queue every chunk with a fragment on a store named in ``exact`` or starting with one
        of ``prefixes``; returns how many."""
        queued, after = 0, ""
        while True:
            chunks = await self.meta.list_chunks(after, 1000)
            if not chunks:
                break
            hit = [
                c.chunk_id
                for c in chunks
                if any(s in exact or (prefixes and s.startswith(prefixes)) for s in c.stores)
            ]
            await self.meta.repair_enqueue(hit, "node-lost")
            queued += len(hit)
            after = chunks[-1].chunk_id
        return queued

    async def sweep_lost_drives(self) -> int:
        """Queue every chunk with a fragment on a failed drive (once per failure)."""
        lost = frozenset(self.io.view.lost)
        fresh = lost - self._swept_lost
        self._swept_lost = lost
        if fresh:
            self._backoff.clear()  # what waited for these drives can be rebuilt now
        if not fresh:
            return 0
        queued = await self._queue_chunks_on((), fresh)
        log.warning(
            "drives %s failed: %d chunks queued to be rebuilt on the other drives",
            sorted(fresh),
            queued,
        )
        return queued

    async def sweep_lost_nodes(self) -> int:
        """Queue every chunk with a fragment on a node down for ``lost_after_s`` (once per
        outage); returns how many chunks were queued."""
        now = time.time()
        lost = self._lost_stores(now)
        if not lost or self._map is None:
            return 0
        fresh = {
            n.node_id: n.last_seen
            for n in self._map.nodes
            if any(f"{n.node_id}:{d}" in lost for d in n.drives)
            and self._swept.get(n.node_id) != n.last_seen
        }
        if not fresh:
            return 0
        queued = await self._queue_chunks_on(tuple(f"{node}:" for node in fresh), frozenset())
        self._swept.update(fresh)
        log.info("nodes %s lost: %d chunks queued for repair", sorted(fresh), queued)
        return queued

    async def run_once(self) -> int:
        self._map = await self.meta.get_cluster_map()
        await self.sweep_lost_nodes()
        await self.sweep_lost_drives()
        now = time.monotonic()
        # forget chunks not seen for long (deleted meanwhile, or repaired by another leader)
        self._backoff = {c: b for c, b in self._backoff.items() if b[1] > now - 2 * MAX_BACKOFF_S}
        # entries backing off are skipped: read past them so the rest of the queue moves on
        deferred = sum(1 for _, at in self._backoff.values() if at > now)
        items = await self.meta.repair_pending(self.batch + min(deferred, 16 * self.batch))
        items = [
            i
            for i in items
            if i.chunk is None or self._backoff.get(i.chunk.chunk_id, (0, 0))[1] <= now
        ][: self.batch]
        done: list[int] = []
        limit = asyncio.Semaphore(self.concurrency)
        waiting = 0

        async def one(item_id: int, record: ChunkRecord | None, reason: str) -> None:
            nonlocal waiting
            if record is None:  # the chunk is gone: nothing to repair
                done.append(item_id)
                return
            async with limit:
                try:
                    whole = await self.repair_chunk(record, reason.startswith(VERIFY_REASONS))
                except _Unrepairable as exc:
                    self._failed(record.chunk_id, str(exc))
                    return
                except (StorageError, OSError) as exc:
                    log.debug("chunk %s: repair failed: %s", record.chunk_id, exc)
                    self.stats.failed += 1
                    self._failed(record.chunk_id, f"repair failed: {exc}")
                    return
                if whole:
                    done.append(item_id)
                    self._backoff.pop(record.chunk_id, None)
                else:
                    waiting += 1
                    self._failed(record.chunk_id, "")
                await self._throttle()

        t0 = time.monotonic()
        if not self.stats.samples:  # the rate's first point: the start of the first round
            self.stats.sample(t0)
        before = self.stats.fragments_rebuilt
        await asyncio.gather(*(one(i.repair_id, i.chunk, i.reason) for i in items))
        end = time.monotonic()
        if self.stats.fragments_rebuilt > before:  # the rate counts rounds that rebuilt
            self.stats.busy_s += end - t0
        await self.meta.repair_done(done)
        self.stats.waiting = waiting
        self.stats.backing_off = sum(1 for _, at in self._backoff.values() if at > end)
        self.stats.sample(end)
        self._summarize(end)
        view = self.io.view
        await self.meta.put_job_status(
            self.name,
            self.stats.as_status(
                await self.meta.repair_count(),
                sorted(view.lost),
                sorted(set(view.unreachable) - set(view.lost)),
            ),
        )
        return len(done)

    def _failed(self, chunk_id: str, reason: str) -> None:
        """Back off ``chunk_id`` (doubling, up to MAX_BACKOFF_S); ``reason`` ("" for a chunk
        waiting for a store) goes into the next summary."""
        attempts = self._backoff.get(chunk_id, (0, 0.0))[0] + 1
        delay = min(MAX_BACKOFF_S, max(self._interval_s, 0.5) * 2 ** min(attempts - 1, 16))
        self._backoff[chunk_id] = (attempts, time.monotonic() + delay)
        if reason:
            self._reasons[self._short(reason)] += 1

    @staticmethod
    def _short(reason: str) -> str:
        return reason if len(reason) <= 160 else reason[:157] + "..."

    def _summarize(self, now: float) -> None:
        """One WARNING when chunks start failing, then at most one per SUMMARY_EVERY_S while
        they keep failing; one INFO line when none is failing any more."""
        pending = any(at > now for _, at in self._backoff.values())
        if self._failing and not pending:
            log.info(
                "repair: no chunk is failing any more (%d failed attempts since the last summary)",
                sum(self._reasons.values()),
            )
            self._failing = False
            self._reasons.clear()
            return
        if not self._reasons or (self._failing and now - self._last_summary < SUMMARY_EVERY_S):
            return
        top = "; ".join(f"{n} x {r}" for r, n in self._reasons.most_common(3))
        log.warning(
            "repair: %d failed attempts %s (%s); those chunks are retried with a back-off of up "
            "to %.0f s",
            sum(self._reasons.values()),
            "since the last summary" if self._failing else "this round",
            top,
            MAX_BACKOFF_S,
        )
        self._failing = True
        self._last_summary = now
        self._reasons.clear()

    async def _throttle(self) -> None:
        if not self.max_bytes_per_s or self.stats.busy_s <= 0:
            return
        elapsed = time.time() - self.stats.started_at
        ahead = self.stats.bytes_rebuilt / self.max_bytes_per_s - elapsed
        if ahead > 0:
            await asyncio.sleep(min(ahead, 5.0))
