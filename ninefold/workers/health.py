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
    """A Worker over local drive stores (see the module docstring); ``on_change`` gets the set
    of drives that are down now whenever it changes."""

    name = "health"

    def __init__(
        self,
        stores: Mapping[str, FragmentStore],
        settings: HealthSettings,
        on_change: Callable[[frozenset[str]], None],
    ) -> None:
        self._stores = stores
        self._settings = settings
        self._on_change = on_change
        #: drive -> when it was first seen failing in the current run of failures (monotonic s)
        self._failing_since: dict[str, float] = {}
        #: a probe that outlived its deadline (a hung disk): not probed again until it returns
        self._pending: dict[str, asyncio.Task[str | None]] = {}
        self.down: frozenset[str] = frozenset()

    async def _ask(self, store: FragmentStore) -> str | None:
        try:
            health = await store.health()
        except (StorageError, OSError) as exc:
            return str(exc) or type(exc).__name__
        return None if health.online else "offline"

    async def _probe(self, store_id: str, store: FragmentStore) -> str | None:
        """None if the drive is healthy, else why not."""
        task = self._pending.get(store_id)
        if task is None:
            task = asyncio.ensure_future(self._ask(store))
        done, _ = await asyncio.wait({task}, timeout=self._settings.probe_timeout_s)
        if not done:
            self._pending[store_id] = task
            return f"no answer within {self._settings.probe_timeout_s:g} s"
        self._pending.pop(store_id, None)
        return task.result()

    async def run_once(self) -> int:
        """Check every drive once; returns how many drives changed between up and down."""
        ids = list(self._stores)
        problems = await asyncio.gather(*(self._probe(i, self._stores[i]) for i in ids))
        now = time.monotonic()
        for store_id, problem in zip(ids, problems, strict=True):
            if problem is None:
                self._failing_since.pop(store_id, None)
            else:
                self._failing_since.setdefault(store_id, now)
        down = frozenset(
            store_id
            for store_id, since in self._failing_since.items()
            if store_id in self._stores and now - since >= self._settings.down_after_s
        )
        changed = down ^ self.down
        if not changed:
            return 0
        for store_id in sorted(changed):
            if store_id in down:
                why = problems[ids.index(store_id)]
                log.warning("drive %s is down (%s): no reads or writes go there", store_id, why)
            else:
                log.info("drive %s is back", store_id)
        self.down = down
        self._on_change(down)
        return len(changed)
