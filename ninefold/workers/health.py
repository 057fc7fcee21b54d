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
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp

from ninefold.core.errors import StorageError
from ninefold.meta.models import NodeRecord
from ninefold.meta.store import MetaStore
from ninefold.nodeclient.health import probe_node

__all__ = ["HealthMonitor"]

log = logging.getLogger("ninefold.health")


class HealthMonitor:
    """A Worker; run it every ``interval_s`` (see the module docstring)."""

    name = "health"

    def __init__(
        self,
        meta: MetaStore,
        session: aiohttp.ClientSession,
        cluster_secret: bytes,
        interval_s: float = 1.0,
        down_after_s: float = 3.0,
        *,
        probe_timeout_s: float = 1.0,
    ) -> None:
        self.interval_s = interval_s
        self.down_after_s = down_after_s
        self.probe_timeout_s = probe_timeout_s
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
