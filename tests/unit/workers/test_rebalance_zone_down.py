"""Rebalance after a zone outage, over real disk stores and a real SQLite metadata file: chunks
written while a zone of three was down hold two fragments on some stores; once the zone is
back, rebalance moves the second ones to it (at most 3 of 9 per zone again), GC removes the old
copies, and every object reads back byte-exact throughout."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.domain.objects import ObjectService
from ninefold.erasure.scheme import EC_6_3, REP_4
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import Bucket, ObjectVersion
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.node.disk import DiskFragmentStore
from ninefold.placement.rendezvous import StoreInfo
from ninefold.workers.rebalance import Rebalancer
from ninefold.workers.settings import RebalanceSettings
from tests.unit.coordinator.test_chunk_pipeline import STRIPE, read, write

ZONE = {f"d{i}": f"z{(i - 1) % 3 + 1}" for i in range(1, 10)}  # z1: d1, d4, d7


def test_rebalance_restores_zone_spread_after_a_zone_outage(tmp_path: Path) -> None:
    async def go() -> None:
        executor = ThreadPoolExecutor(4)
        stores = {s: DiskFragmentStore(s, tmp_path / s, executor) for s in ZONE}
        for store in stores.values():
            store.root.mkdir()
        infos = [StoreInfo(s, zone=z) for s, z in ZONE.items()]
        whole = ClusterView(stores, infos)
        down = {s for s, z in ZONE.items() if z == "z1"}
        # what the gateways see while zone z1 is down (stores_from_map: no infos, unreachable)
        outage = ClusterView(stores, [i for i in infos if i.zone != "z1"], frozenset(down))
        io = ChunkIO(outage, executor)
        meta = await SqliteMetaStore.open(tmp_path / "meta.db")
        await meta.create_bucket(Bucket("b", time.time(), "root"))
        data: dict[str, bytes] = {}
        for n, (scheme, size) in enumerate(
            [(EC_6_3, 3 * STRIPE + 5), (EC_6_3, STRIPE), (REP_4, 100_000), (EC_6_3, 1000)]
        ):
            body = os.urandom(size)
            record = await write(io, scheme, body)
            assert "" not in record.stores and not set(record.stores) & down
            await meta.put_object(
                ObjectVersion("b", f"k{n}", size, "0" * 32, time.time(), chunks=(record,))
            )
            data[f"k{n}"] = body

        async def records() -> list[ChunkRecord]:
            return list(await meta.list_chunks("", 100))

        ec = [r for r in await records() if r.scheme == EC_6_3.name]
        assert all(max(Counter(r.stores).values()) == 2 for r in ec)
        rebalancer = Rebalancer(meta, io, RebalanceSettings(mb_per_s=0.0))
        # still down: nothing moves (too few live stores for an ideal placement)
        before = {r.chunk_id: r.stores for r in await records()}
        await rebalancer.run_once()
        assert {r.chunk_id: r.stores for r in await records()} == before

        # the zone is back
        io.use(whole)
        for _ in range(2):  # the end of the pass begun during the outage, then a whole pass
            await rebalancer.run_once()
        for record in await records():
            assert "" not in record.stores
            assert len(set(record.stores)) == len(record.stores), record
            per_zone = Counter(ZONE[s] for s in record.stores)
            assert max(per_zone.values()) <= 3, (record, per_zone)
        for key, body in data.items():
            obj = await meta.get_object("b", key)
            assert obj is not None
            assert await read(io, obj.chunks[0]) == body
        # GC removes the second copies left on the stores they moved from
        objects = ObjectService(meta, io, CoordinatorSettings(gc_grace_s=0))
        await objects.collect_garbage(now=time.time() + 1)
        on_disk: Counter[tuple[str, str]] = Counter()
        for name, store in stores.items():
            for fid in [f async for f in store.list_fragments()]:
                on_disk[(fid.chunk_id, name)] += 1
        assert set(on_disk.values()) == {1}
        live = {(r.chunk_id, s) for r in await records() for s in r.stores}
        assert set(on_disk) == live
        for key, body in data.items():
            obj = await meta.get_object("b", key)
            assert obj is not None
            assert await read(io, obj.chunks[0]) == body
        await meta.close()
        executor.shutdown()

    asyncio.run(go())
