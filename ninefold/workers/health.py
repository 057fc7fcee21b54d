"""The health monitor: heartbeats every node of the cluster map and records who answers.

Each round probes all nodes in parallel (signed ``GET /v1/health``, ``probe_timeout_s`` at
most, so a hung node costs a round no more than that). A node that answers is "ok" and its
``last_seen`` is recorded; one that has not answered for ``down_after_s`` is set "down", which
bumps the map's version so gateways reload it and stop placing new fragments there. Answering
again brings it back to "ok". Heartbeats alone never bump the version.

"Not answered for" counts from the node's ``last_seen`` in the map (kept by whichever monitor
led before, so a newly elected leader or a ``worker --once`` judges a node that has been silent
for long at its first failed probe), or, for a node never seen, from the moment this monitor
began watching it (a node just added gets the full grace period). Times are wall-clock epoch
seconds, as stored. The monitor only observes and records: it never changes the operator's
``state`` of a node, and it never moves data (repair does that).

The embedded server has no nodes and no cluster map: its stores are local drive directories.
``DriveHealthMonitor`` is its health job: every round it asks each drive store for its health
(the FragmentStore protocol's ``health()``: directory present, filesystem answering), and a drive
that has failed for ``down_after_s`` is reported down through ``on_change``, which the
composition root turns into "unreachable" for that process's chunk I/O (placement skips it,
reads never ask it, GC keeps its deletions for later), exactly what a down node gets in a
cluster. A drive that answers again is reported back up. Every server process runs its own
(nothing is recorded in metadata: the verdict is about this machine's directories).

A drive whose health says *failed* (its identity is gone: directory removed, marker missing --
an unmounted disk's empty mountpoint -- or foreign) for ``down_after_s`` is reported *lost* as
well: its fragments count as gone, so repair rebuilds them on the other drives right away
instead of waiting for it. It is back (and no longer lost) once it carries a marker for its
slot again (the same disk remounted, or a replacement formatted by ``admin drive replace``).
Each change of state is logged once (a WARNING when a drive goes down or is lost).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

import aiohttp

from ninefold.core.errors import StorageError
from ninefold.fragments.protocol import FragmentStore
from ninefold.meta.models import NodeRecord
from ninefold.meta.store import MetaStore
from ninefold.nodeclient.health import probe_node
from ninefold.workers.settings import HealthSettings

__all__ = ["DriveHealthMonitor", "HealthMonitor"]

log = logging.getLogger("ninefold.health")


class HealthMonitor:
    """A Worker; run it every ``interval_s`` (see the module docstring)."""

    name = "health"

    def __init__(
        self,
        meta: MetaStore,
        session: aiohttp.ClientSession,
        cluster_secret: bytes,
        settings: HealthSettings,
    ) -> None:
        self.interval_s = settings.interval_s
        self.down_after_s = settings.down_after_s
        self.probe_timeout_s = settings.probe_timeout_s
        self._meta = meta
        self._session = session
        self._secret = cluster_secret
        #: when each never-seen node began to be watched (epoch s)
        self._watched_since: dict[str, float] = {}

    async def _probe(self, node: NodeRecord) -> str | None:
        """None if the node answered as itself, else why not."""
        try:
            status = await probe_node(
                self._session, node.url, self._secret, timeout_s=self.probe_timeout_s
            )
        except StorageError as exc:
            return str(exc)
        if status.node_id != node.node_id:  # something else listens there now
            return f"{node.url} answers as node {status.node_id!r}"
        return None

    async def _record(self, node: NodeRecord, problem: str | None, now: float) -> bool:
        """Write what this round saw of ``node``; True when its health changed."""
        silent_s = 0.0
        if problem is None:
            self._watched_since.pop(node.node_id, None)
            health, last_seen = "ok", now
        else:
            since = node.last_seen or self._watched_since.setdefault(node.node_id, now)
            silent_s = now - since
            if node.health == "down" or silent_s < self.down_after_s:
                return False  # nothing to write: still within grace, or already known down
            health, last_seen = "down", node.last_seen
        try:
            await self._meta.set_node_health(node.node_id, health, last_seen)
        except KeyError:  # removed from the map meanwhile
            return False
        if health == node.health:
            return False
        if health == "down":
            log.warning(
                "node %s is down: no answer for %.1f s (%s)", node.node_id, silent_s, problem
            )
        else:
            log.info("node %s is back", node.node_id)
        return True

    async def run_once(self) -> int:
        """Probe every node once; returns how many nodes changed health."""
        cluster = await self._meta.get_cluster_map()
        now = time.time()
        for gone in self._watched_since.keys() - {n.node_id for n in cluster.nodes}:
            del self._watched_since[gone]
        problems = await asyncio.gather(*(self._probe(n) for n in cluster.nodes))
        changed = await asyncio.gather(
            *(self._record(n, p, now) for n, p in zip(cluster.nodes, problems, strict=True))
        )
        return sum(changed)


class DriveHealthMonitor:
    """A Worker over local drive stores (see the module docstring); ``on_change`` gets the
    set of drives that are down now and the subset of them that are lost, whenever either
    changes (``assume_lost`` sets the drives that failed at start)."""

    name = "health"

    def __init__(
        self,
        stores: Mapping[str, FragmentStore],
        settings: HealthSettings,
        on_change: Callable[[frozenset[str], frozenset[str]], None],
    ) -> None:
        self._stores = stores
        self._settings = settings
        self._on_change = on_change
        #: drive -> when it was first seen failing in the current run of failures (monotonic s)
        self._failing_since: dict[str, float] = {}
        #: drive -> when it was first seen without its identity (monotonic s)
        self._failed_since: dict[str, float] = {}
        #: a probe that outlived its deadline (a hung disk): not probed again until it returns
        self._pending: dict[str, asyncio.Task[tuple[str | None, str]]] = {}
        self.down: frozenset[str] = frozenset()
        self.lost: frozenset[str] = frozenset()
        #: why each drive that is down is down (for logs and status)
        self.problems: dict[str, str] = {}

    def assume_lost(self, lost: frozenset[str]) -> None:
        """Start with ``lost`` known failed (drives that failed their check at start, already
        logged and applied by the caller): only a change from there is reported."""
        self.down = self.down | lost
        self.lost = self.lost | lost

    async def _ask(self, store: FragmentStore) -> tuple[str | None, str]:
        """(why the drive is unhealthy or None, why it has failed for good or "")."""
        try:
            health = await store.health()
        except (StorageError, OSError) as exc:
            return str(exc) or type(exc).__name__, ""
        if health.failed:
            return health.failed, health.failed
        return (None if health.online else "offline"), ""

    async def _probe(self, store_id: str, store: FragmentStore) -> tuple[str | None, str]:
        task = self._pending.get(store_id)
        if task is None:
            task = asyncio.ensure_future(self._ask(store))
        done, _ = await asyncio.wait({task}, timeout=self._settings.probe_timeout_s)
        if not done:
            self._pending[store_id] = task
            return f"no answer within {self._settings.probe_timeout_s:g} s", ""
        self._pending.pop(store_id, None)
        return task.result()

    async def run_once(self) -> int:
        """Check every drive once; returns how many drives changed state (up, down, lost)."""
        ids = list(self._stores)
        answers = await asyncio.gather(*(self._probe(i, self._stores[i]) for i in ids))
        now = time.monotonic()
        why: dict[str, str] = {}
        for store_id, (problem, failed) in zip(ids, answers, strict=True):
            if problem is None:
                self._failing_since.pop(store_id, None)
                self._failed_since.pop(store_id, None)
                continue
            why[store_id] = problem
            self._failing_since.setdefault(store_id, now)
            if failed:
                self._failed_since.setdefault(store_id, now)
            elif store_id not in self.lost:  # e.g. a hung probe: not evidence of data loss
                self._failed_since.pop(store_id, None)
        grace = self._settings.down_after_s

        def settled(since: dict[str, float]) -> set[str]:
            return {s for s, t in since.items() if s in self._stores and now - t >= grace}

        lost = frozenset(settled(self._failed_since) | (self.lost & set(why)))
        down = frozenset(settled(self._failing_since) | lost)
        changed = (down ^ self.down) | (lost ^ self.lost)
        if not changed:
            return 0
        for store_id in sorted(changed):
            if store_id in lost and store_id not in self.lost:
                log.warning(
                    "drive %s has failed (%s): its fragments count as lost and are rebuilt on "
                    "the other drives; `ninefold admin drive replace` formats a replacement",
                    store_id,
                    why.get(store_id, "?"),
                )
            elif store_id in down and store_id not in self.down:
                log.warning(
                    "drive %s is down (%s): no reads or writes go there",
                    store_id,
                    why.get(store_id, "?"),
                )
            elif store_id not in down:
                log.info("drive %s is back", store_id)
        self.down, self.lost = down, lost
        self.problems = {s: why.get(s, self.problems.get(s, "")) for s in down}
        self._on_change(down, lost)
        return len(changed)
