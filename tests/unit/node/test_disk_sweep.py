"""DiskFragmentStore's temp sweep and dated listing, and the workers built on them: stale temp
files of killed writers go, fresh ones (writes in progress) stay, a write whose temp file was
swept fails cleanly at commit, and the orphan collector counts its grace from a fragment's
write time on a local drive (so one round of a freshly started worker finds old orphans)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.core.errors import StorageError
from ninefold.fragments.protocol import FragmentId
from ninefold.meta.memory import MemoryMetaStore
from ninefold.node.disk import DiskFragmentStore
from ninefold.workers.orphans import OrphanCollector
from ninefold.workers.settings import OrphanSettings
from ninefold.workers.tmpsweep import TempSweeper

HOUR = 3600.0


def drive(root: Path) -> DiskFragmentStore:
    root.mkdir(parents=True, exist_ok=True)
    return DiskFragmentStore(root.name, root)


FID = FragmentId("0123456789abcdef0123456789abcdef", 2)


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def plant_tmp(store: DiskFragmentStore, name: str, size: int, old_s: float) -> Path:
    tmp = store.root / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / name
    path.write_bytes(b"t" * size)
    age(path, old_s)
    return path


def test_sweep_removes_only_temp_files_older_than_the_age(tmp_path: Path) -> None:
    store = DiskFragmentStore("d1", tmp_path / "d1")
    stale = [plant_tmp(store, f"{FID}.dead{i}", 1000 + i, 2 * HOUR) for i in range(3)]
    fresh = plant_tmp(store, f"{FID}.live", 500, 10.0)
    just_under = plant_tmp(store, f"{FID}.edge", 10, HOUR - 60)
    subdir = store.root / "tmp" / "not-a-temp-file"
    subdir.mkdir()
    age(subdir, 2 * HOUR)

    swept = asyncio.run(store.sweep_tmp(HOUR))

    assert (swept.files, swept.size_bytes) == (3, 1000 + 1001 + 1002)
    assert not any(p.exists() for p in stale)
    assert fresh.exists() and just_under.exists() and subdir.is_dir()
    assert asyncio.run(store.sweep_tmp(HOUR)).files == 0


def test_sweep_of_a_drive_without_tmp_or_gone(tmp_path: Path) -> None:
    store = DiskFragmentStore("d1", tmp_path / "d1")
    assert store.sweep_tmp_now(HOUR).files == 0  # never written to: no tmp dir at all
    (tmp_path / "d1").mkdir()
    assert store.sweep_tmp_now(HOUR).files == 0
    # a tmp "dir" that is not a directory: a StorageError, not a crash
    (tmp_path / "d1" / "tmp").write_bytes(b"")
    with pytest.raises(StorageError):
        store.sweep_tmp_now(HOUR)


def test_a_write_in_progress_survives_the_sweep_and_commits(tmp_path: Path) -> None:
    async def go() -> None:
        store = drive(tmp_path / "d1")
        writer = await store.open_writer(FID)
        await writer.write_block(b"a" * 4096)
        assert (await store.sweep_tmp(60.0)).files == 0  # written to just now
        await writer.write_block(b"b" * 100)
        info = await writer.commit()
        assert info.size_bytes == 4196
        assert await store.read_blocks(FID, 0, 2) == [b"a" * 4096, b"b" * 100]

    asyncio.run(go())


def test_a_write_stalled_past_the_age_fails_at_commit_and_leaves_nothing(tmp_path: Path) -> None:
    async def go() -> None:
        store = drive(tmp_path / "d1")
        writer = await store.open_writer(FID)
        await writer.write_block(b"a" * 4096)
        (temp,) = (store.root / "tmp").iterdir()
        age(temp, 2 * HOUR)
        assert (await store.sweep_tmp(HOUR)).files == 1
        with pytest.raises(StorageError):
            await writer.commit()
        assert await store.head(FID) is None
        assert list((store.root / "tmp").iterdir()) == []

    asyncio.run(go())


def test_temp_sweeper_job_sweeps_every_drive_and_skips_a_broken_one(tmp_path: Path) -> None:
    stores = [DiskFragmentStore(f"d{i}", tmp_path / f"d{i}") for i in (1, 2, 3)]
    stale = [plant_tmp(s, f"{FID}.x", 10, 2 * HOUR) for s in stores[:2]]
    fresh = plant_tmp(stores[1], f"{FID}.y", 10, 1.0)
    (tmp_path / "d3").mkdir()
    (tmp_path / "d3" / "tmp").write_bytes(b"")  # broken: logged, the others are swept
    sweeper = TempSweeper(stores, OrphanSettings(tmp_max_age_s=HOUR))
    assert asyncio.run(sweeper.run_once()) == 2
    assert not any(p.exists() for p in stale) and fresh.exists()


async def _write(store: DiskFragmentStore, fid: FragmentId) -> Path:
    writer = await store.open_writer(fid)
    await writer.write_block(b"z" * 100)
    await writer.commit()
    return store.path_of(fid)


def test_orphan_grace_counts_from_the_write_time_on_local_drives(tmp_path: Path) -> None:
    async def go() -> None:
        store = drive(tmp_path / "d1")
        old = await _write(store, FragmentId("a" * 32, 0))
        young = await _write(store, FragmentId("b" * 32, 0))
        age(old, 2 * HOUR)
        listed = {str(f): t async for f, t in store.list_fragments_written()}
        assert listed.keys() == {"a" * 32 + ".0", "b" * 32 + ".0"}
        assert time.time() - listed["a" * 32 + ".0"] > 2 * HOUR - 5

        io = ChunkIO(ClusterView.local({"d1": store}))
        collector = OrphanCollector(MemoryMetaStore(), io, OrphanSettings(grace_s=HOUR))
        # a collector that just started deletes the orphan written 2 h ago in its first round,
        # and keeps the one written now (it may be a PUT in flight)
        assert await collector.run_once() == 1
        assert not old.exists() and young.exists()
        assert await collector.run_once() == 0
        assert young.exists()

    asyncio.run(go())
