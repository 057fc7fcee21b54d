"""Building the production roles' parts from a metadata DSN and the cluster map."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from ninefold.meta.models import ClusterMap
from ninefold.meta.postgres import PostgresMetaStore
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.meta.store import MetaStore
from ninefold.nodeclient import RemoteFragmentStore
from ninefold.placement.rendezvous import StoreInfo

__all__ = ["open_meta", "stores_from_map"]


async def open_meta(dsn: str) -> MetaStore:
    """``postgresql://...`` opens PostgreSQL; anything else is a SQLite file path."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return await PostgresMetaStore.open(dsn)
    path = Path(dsn.removeprefix("sqlite://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return await SqliteMetaStore.open(path)


def stores_from_map(
    cluster: ClusterMap, secret: bytes, session: aiohttp.ClientSession
) -> tuple[dict[str, RemoteFragmentStore], list[StoreInfo]]:
    """One store per drive of every node that is not down; draining nodes get weight 0, so
    placement puts nothing new on them while reads still reach them."""
    stores: dict[str, RemoteFragmentStore] = {}
    infos: list[StoreInfo] = []
    for node in cluster.nodes:
        if node.state == "down":
            continue
        weight = node.weight if node.state == "up" else 0.0
        for drive in node.drives:
            store_id = f"{node.node_id}:{drive}"
            stores[store_id] = RemoteFragmentStore(store_id, node.url, drive, secret, session)
            infos.append(StoreInfo(store_id, zone=node.zone, weight=weight))
    return stores, infos
