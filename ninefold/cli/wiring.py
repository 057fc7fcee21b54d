"""Building the production roles' parts from a metadata DSN and the cluster map."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.meta.models import ClusterMap
from ninefold.meta.postgres import PostgresMetaStore
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.meta.store import MetaStore
from ninefold.nodeclient import RemoteFragmentStore
from ninefold.placement.rendezvous import StoreInfo

__all__ = ["apply_map", "follow_map", "open_meta", "stores_from_map"]

log = logging.getLogger("ninefold.map")


async def open_meta(dsn: str) -> MetaStore:
    """``postgresql://...`` opens PostgreSQL; anything else is a SQLite file path."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return await PostgresMetaStore.open(dsn)
    path = Path(dsn.removeprefix("sqlite://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return await SqliteMetaStore.open(path)


def stores_from_map(
    cluster: ClusterMap, secret: bytes, session: aiohttp.ClientSession
) -> ClusterView:
    """The view of ``cluster``: one store per drive of every node in the map, placement infos
    and unreachable store ids. Nodes the health monitor marks down (or the operator sets down)
    are unreachable: no placement, no reads, and GC keeps their deletions for later. Draining
    nodes get weight 0, so placement puts nothing new on them while reads still reach them."""
    stores: dict[str, RemoteFragmentStore] = {}
    infos: list[StoreInfo] = []
    unreachable: set[str] = set()
    for node in cluster.nodes:
        down = node.state == "down" or node.health == "down"
        weight = node.weight if node.state == "up" else 0.0
        for drive in node.drives:
            store_id = f"{node.node_id}:{drive}"
            stores[store_id] = RemoteFragmentStore(store_id, node.url, drive, secret, session)
            if down:
                unreachable.add(store_id)
            else:
                infos.append(StoreInfo(store_id, zone=node.zone, weight=weight))
    return ClusterView(stores, infos, frozenset(unreachable), cluster.version)


def apply_map(
    chunkio: ChunkIO, cluster: ClusterMap, secret: bytes, session: aiohttp.ClientSession
) -> None:
    """Point ``chunkio`` at the stores of ``cluster`` (one swap of its whole view)."""
    chunkio.use(stores_from_map(cluster, secret, session))


async def follow_map(
    meta: MetaStore,
    chunkio: ChunkIO,
    secret: bytes,
    session: aiohttp.ClientSession,
    version: int,
    every_s: float,
) -> None:
    """Re-read the cluster map every ``every_s`` and apply it when its version changed."""
    while True:
        await asyncio.sleep(every_s)
        try:
            cluster = await meta.get_cluster_map()
        except Exception:  # metadata briefly unreachable: keep serving with the map we have
            log.exception("cluster map refresh failed")
            continue
        if cluster.version != version:
            apply_map(chunkio, cluster, secret, session)
            version = cluster.version
            log.info(
                "cluster map v%d: %d stores, %d unreachable",
                version,
                len(chunkio.view.stores),
                len(chunkio.view.unreachable),
            )
