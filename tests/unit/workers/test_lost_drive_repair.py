"""Repair around a failed drive (its identity gone: the view marks it *lost*): its chunks are
swept onto the queue at once and rebuilt on the 8 drives left (one of them then holds two
fragments of a 6+3 chunk); chunks that cannot be repaired back off instead of being retried
(and logged) every round; once a replacement is there the rebalancer undoes the doubling."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from ninefold.coordinator.cluster import ClusterView
from ninefold.core.errors import StorageError
from ninefold.fragments.protocol import FragmentId
from ninefold.placement.rendezvous import StoreInfo
from ninefold.workers.rebalance import Rebalancer
from ninefold.workers.repair import RepairWorker
from ninefold.workers.settings import RebalanceSettings, RepairSettings
from tests.unit.coordinator.test_chunk_pipeline import read
from tests.unit.workers.test_repair_scrub import SIZES, Rig

NINE = [f"d{i}" for i in range(1, 10)]


def nine_drives(rig: Rig, lost: frozenset[str] = frozenset()) -> ClusterView:
    stores = {s: rig.stores[s] for s in NINE}
    infos = [StoreInfo(s) for s in NINE if s not in lost]
    return ClusterView(stores, infos, lost, lost=lost)


async def filled(tmp_path: Path, count: int = 18) -> Rig:
    rig = await Rig(tmp_path).open()
    rig.io.use(nine_drives(rig))
    for i in range(count):
        await rig.put(f"k{i}", os.urandom(SIZES[i % len(SIZES)] + 1000))
    return rig


def test_a_lost_drive_is_rebuilt_on_the_drives_left(tmp_path: Path) -> None:
    async def go() -> None:
        rig = await filled(tmp_path)
        on_d3 = [k for k in rig.data if "d3" in (await rig.record(k)).stores]
        assert on_d3
        shutil.rmtree(rig.stores["d3"].root)
        rig.io.use(nine_drives(rig, frozenset({"d3"})))
        worker = RepairWorker(rig.meta, rig.io, RepairSettings())
        await rig.repair_all(worker)  # the sweep queues them: no read or scrub needed
        assert worker.stats.chunks_repaired == len(on_d3)
        doubled = 0
        for key, data in rig.data.items():
            record = await rig.record(key)
            assert "d3" not in record.stores and "" not in record.stores, record
            doubled += len(record.stores) - len(set(record.stores))
            assert await read(rig.io, record) == data
        assert doubled > 0  # 9 fragments over 8 drives
        status = (await rig.meta.get_job_status())["repair"][0]
        assert status["lost_stores"] == ["d3"] and status["queued"] == 0
        assert status["chunks_per_s"] is not None and status["chunks_per_s"] > 0

        # a replacement: an empty drive in the slot; the rebalancer spreads the doubles out
        rig.stores["d3"].root.mkdir()
        rig.io.use(nine_drives(rig))
        rebalancer = Rebalancer(rig.meta, rig.io, RebalanceSettings(mb_per_s=0.0))
        for _ in range(5):
            await rebalancer.run_once()
        for key, data in rig.data.items():
            record = await rig.record(key)
            assert len(set(record.stores)) == len(record.stores), record
            assert await read(rig.io, record) == data

    asyncio.run(go())


class Refusing:
    """A store that takes no fragment (a drive that refuses every write)."""

    store_id = "bad"

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()

    async def open_writer(self, fragment_id: FragmentId) -> None:
        self.attempts[fragment_id.chunk_id] += 1
        raise StorageError("bad: refuses writes")

    async def head(self, fragment_id: FragmentId) -> None:
        return None


def test_chunks_that_cannot_be_repaired_back_off_and_log_a_summary(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def go() -> None:
        rig = await filled(tmp_path, 12)
        bad = Refusing()
        lost = frozenset({"d3"})
        stores = {**{s: rig.stores[s] for s in NINE}, "bad": bad}
        infos = [StoreInfo(s) for s in NINE if s not in lost] + [StoreInfo("bad")]
        rig.io.use(ClusterView(stores, infos, lost, lost=lost))  # type: ignore[arg-type]
        worker = RepairWorker(rig.meta, rig.io, RepairSettings())
        with caplog.at_level(logging.INFO, logger="ninefold.repair"):
            for _ in range(10):
                await worker.run_once()
        queued = await rig.meta.repair_count()
        assert queued > 0  # nothing could be rebuilt: the only free store refuses
        # one attempt per chunk in 10 rounds (the next one waits out its back-off) ...
        assert set(bad.attempts.values()) == {1}
        assert len(bad.attempts) == queued
        # ... and one WARNING for the sweep and one summary, not one per chunk per round
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 2, [r.getMessage() for r in warnings]
        assert "failed attempts" in warnings[1].getMessage()
        status = (await rig.meta.get_job_status())["repair"][0]
        assert status["backing_off"] == queued

    asyncio.run(go())
