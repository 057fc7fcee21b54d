"""Scrubber and repair worker over real disk stores and a real SQLite metadata file: a wiped
drive, rotten fragments and fragments missing since their write all come back, verified."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.erasure.scheme import EC_6_3, REP_4
from ninefold.fragments.protocol import FragmentId
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import Bucket, ObjectVersion
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.node.disk import DiskFragmentStore
from ninefold.placement.rendezvous import StoreInfo
from ninefold.workers.repair import RepairWorker
from ninefold.workers.scrub import Scrubber
from ninefold.workers.settings import RepairSettings, ScrubSettings
from tests.unit.coordinator.test_chunk_pipeline import STRIPE, corrupt, read, write

#: the scrubber at full speed: these tests check what it finds, not its pace
UNTHROTTLED = ScrubSettings(mb_per_s=0.0)

SIZES = [1, 10, 5000, 200_000, STRIPE + 3, 3 * STRIPE + 77]


class Rig:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.executor = ThreadPoolExecutor(8)
        self.stores = {
            f"d{i}": DiskFragmentStore(f"d{i}", root / f"d{i}", self.executor) for i in range(1, 11)
        }
        for store in self.stores.values():
            store.root.mkdir(parents=True, exist_ok=True)
        self.io = ChunkIO(
            ClusterView(self.stores, [StoreInfo(s) for s in self.stores]), self.executor
        )
        self.data: dict[str, bytes] = {}

    async def open(self) -> Rig:
        self.meta = await SqliteMetaStore.open(self.root / "meta.db")
        await self.meta.create_bucket(Bucket("b", time.time(), "root"))
        return self

    async def put(self, key: str, data: bytes) -> None:
        scheme = REP_4 if len(data) <= 128 * 1024 else EC_6_3
        record = await write(self.io, scheme, data)
        await self.meta.put_object(
            ObjectVersion("b", key, len(data), "0" * 32, time.time(), chunks=(record,))
        )
        self.data[key] = data

    async def record(self, key: str) -> ChunkRecord:
        obj = await self.meta.get_object("b", key)
        assert obj is not None
        return obj.chunks[0]

    async def scrub_pass(self, scrubber: Scrubber) -> None:
        while await scrubber.run_once():
            pass

    async def repair_all(self, worker: RepairWorker) -> None:
        for _ in range(20):
            await worker.run_once()
            if await self.meta.repair_count() == 0:
                return
        raise AssertionError("the repair queue never drained")

    async def assert_whole(self) -> None:
        """Every object reads back, every chunk has all its fragments, each valid."""
        scrubber = Scrubber(self.meta, self.io, UNTHROTTLED)
        for key, data in self.data.items():
            record = await self.record(key)
            assert all(record.stores), record
            ok, checked, _ = await scrubber.check_chunk(record)
            assert ok and checked == len(record.stores), (key, record)
            assert await read(self.io, record) == data


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_wiped_drive_is_found_by_the_scrubber_and_rebuilt(tmp_path: Path) -> None:
    async def go() -> None:
        rig = await Rig(tmp_path).open()
        for i in range(24):
            await rig.put(f"k{i}", os.urandom(SIZES[i % len(SIZES)]))
        on_d3 = [k for k in rig.data if "d3" in (await rig.record(k)).stores]
        assert on_d3
        shutil.rmtree(rig.stores["d3"].root)
        rig.stores["d3"].root.mkdir()
        scrubber = Scrubber(rig.meta, rig.io, replace(UNTHROTTLED, chunks_per_round=5))
        await rig.scrub_pass(scrubber)
        assert await rig.meta.repair_count() == len(on_d3)
        worker = RepairWorker(rig.meta, rig.io, RepairSettings())
        await rig.repair_all(worker)
        await rig.assert_whole()
        assert worker.stats.chunks_repaired == len(on_d3)
        assert worker.stats.bytes_rebuilt > 0
        status = (await rig.meta.get_job_status())["repair"][0]
        assert status["chunks_repaired"] == len(on_d3) and status["queued"] == 0
        # a second scrub pass finds nothing
        await rig.scrub_pass(scrubber)
        assert await rig.meta.repair_count() == 0
        assert (await rig.meta.get_job_status())["scrub"][0]["passes"] == 2

    run(go())


def test_rotten_fragments_are_found_and_replaced(tmp_path: Path) -> None:
    async def go() -> None:
        rig = await Rig(tmp_path).open()
        for i in range(18):
            await rig.put(f"k{i}", os.urandom(SIZES[i % len(SIZES)] + 1))
        rng = random.Random(7)
        rotten = rng.sample(sorted(rig.data), 6)
        for key in rotten:
            record = await rig.record(key)
            index = rng.randrange(len(record.stores))
            corrupt(rig.stores[record.stores[index]].path_of(FragmentId(record.chunk_id, index)))
        # reads never serve the rotten bytes
        for key in rotten:
            assert await read(rig.io, await rig.record(key)) == rig.data[key]
        await rig.scrub_pass(Scrubber(rig.meta, rig.io, UNTHROTTLED))
        assert await rig.meta.repair_count() == len(rotten)
        await rig.repair_all(RepairWorker(rig.meta, rig.io, RepairSettings()))
        await rig.assert_whole()

    run(go())


def test_fragments_missing_since_the_write_are_rebuilt(tmp_path: Path) -> None:
    async def go() -> None:
        rig = await Rig(tmp_path).open()
        live = rig.io.view
        # nine stores to place on, two of them failing while writing: 7 of 9 is the quorum
        rig.io.use(live.with_infos(live.infos[:9]))
        for name in ("d1", "d2"):
            shutil.rmtree(rig.stores[name].root)
        await rig.put("ec", os.urandom(2 * STRIPE + 5))
        for name in ("d1", "d2"):
            rig.stores[name].root.mkdir()
        rig.io.use(live)
        await rig.put("rep", os.urandom(1000))
        assert (await rig.record("ec")).stores.count("") == 2
        assert await rig.meta.repair_count() == 1  # queued by the commit itself (rep had 4)
        await rig.repair_all(RepairWorker(rig.meta, rig.io, RepairSettings()))
        await rig.assert_whole()

    run(go())


def test_a_chunk_deleted_before_its_repair_leaves_nothing_behind(tmp_path: Path) -> None:
    async def go() -> None:
        rig = await Rig(tmp_path).open()
        await rig.put("k", os.urandom(STRIPE))
        record = await rig.record("k")
        await rig.meta.repair_enqueue([record.chunk_id, "f" * 32], "degraded-read")
        assert await rig.meta.delete_object("b", "k")  # takes its chunk off the queue
        assert await rig.meta.repair_count() == 1
        worker = RepairWorker(rig.meta, rig.io, RepairSettings())
        assert await worker.run_once() == 1  # the entry of a chunk that is gone is done
        assert await rig.meta.repair_count() == 0
        assert worker.stats.fragments_rebuilt == 0

    run(go())


def test_gc_never_deletes_fragments_a_live_chunk_still_records(tmp_path: Path) -> None:
    """A GC entry for a chunk that is live (a commit whose outcome looked lost, or the copies a
    repair replaced) deletes only the fragments the live record no longer points at."""

    from ninefold.coordinator.settings import CoordinatorSettings
    from ninefold.domain.objects import ObjectService

    async def go() -> None:
        rig = await Rig(tmp_path).open()
        await rig.put("k", os.urandom(2 * STRIPE))
        record = await rig.record("k")
        objects = ObjectService(rig.meta, rig.io, CoordinatorSettings(gc_grace_s=0))
        await rig.meta.gc_queue_chunks([record])  # the whole live chunk, wrongly queued
        assert await objects.collect_garbage(now=time.time() + 1) == 1
        await rig.assert_whole()
        # a stale copy of fragment 0 on a store the live record does not name is deleted
        stale = (
            "d10"
            if "d10" not in record.stores
            else next(s for s in rig.stores if s not in record.stores)
        )
        src = rig.stores[record.stores[0]].path_of(FragmentId(record.chunk_id, 0))
        dst = rig.stores[stale].path_of(FragmentId(record.chunk_id, 0))
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        await rig.meta.gc_queue_chunks(
            [replace(record, stores=(stale,) + ("",) * (len(record.stores) - 1))]
        )
        assert await objects.collect_garbage(now=time.time() + 1) == 1
        assert not dst.exists()
        await rig.assert_whole()

    run(go())
