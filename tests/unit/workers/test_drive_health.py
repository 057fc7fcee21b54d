"""The embedded server's health job: a drive whose store stops answering ``health()`` is marked
unreachable in that process's chunk I/O (no placement, no reads) and comes back when it
answers again; the embedded server runs it together with every job a cluster worker runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ninefold.cli.compose import compose_embedded, prepare_data_dir
from ninefold.cli.config import Config, RootCredentials, load_config
from ninefold.erasure.scheme import EC_6_3
from ninefold.fragments.protocol import StoreHealth
from ninefold.workers.health import DriveHealthMonitor
from ninefold.workers.settings import HealthSettings
from tests.unit.coordinator.test_chunk_pipeline import read, write

CREDS = RootCredentials("AK", "SK")


def embedded_config(data_dir: Path, down_after_s: float) -> Config:
    return load_config(
        environ={},
        flags={"server.data_dir": str(data_dir), "health.down_after_s": down_after_s},
    )


def test_embedded_server_runs_every_worker_job_and_health_over_its_drives(
    tmp_path: Path,
) -> None:
    async def go() -> None:
        config = load_config(environ={}, flags={"server.data_dir": str(tmp_path)})
        await prepare_data_dir(config)
        role = await compose_embedded(config, CREDS)
        try:
            names = [job.worker.name for job in role.jobs]
            assert names == ["health", "gc", "repair", "scrub", "orphans", "rebalance", "tmpsweep"]
            assert isinstance(role.jobs[0].worker, DriveHealthMonitor)
            intervals = {job.worker.name: job.interval_s for job in role.jobs}
            assert intervals == {
                "health": config.health.interval_s,
                "gc": config.gc.interval_s,
                "repair": config.repair.interval_s,
                "scrub": config.scrub.interval_s,
                "orphans": config.orphan.interval_s,
                "rebalance": config.rebalance.interval_s,
                "tmpsweep": config.orphan.interval_s,
            }
            assert role.app is not None
        finally:
            await role.close()

    asyncio.run(go())


def test_a_missing_drive_is_marked_down_then_back(tmp_path: Path) -> None:
    async def go() -> None:
        config = embedded_config(tmp_path, down_after_s=0.0)
        await prepare_data_dir(config)
        role = await compose_embedded(config, CREDS)
        health = role.jobs[0].worker
        io = role.chunkio
        try:
            assert await health.run_once() == 0
            assert io.view.unreachable == set()
            before = await write(io, EC_6_3, b"x" * 2_000_000)

            d3 = tmp_path / "drives" / "d3"
            aside = d3.rename(tmp_path / "d3-unplugged")
            assert await health.run_once() == 1
            assert io.view.unreachable == {"d3"}
            assert [i.store_id for i in io.view.infos] == [
                f"d{i}" for i in (1, 2, 4, 5, 6, 7, 8, 9)
            ]
            # writes go on over the 8 drives left (one of them takes the 9th fragment too, for
            # rebalance to move back) and reads never ask the missing drive
            data = b"y" * 3_000_000
            record = await write(io, EC_6_3, data)
            assert "d3" not in record.stores and "" not in record.stores
            assert len(set(record.stores)) == 8
            assert await read(io, record) == data
            assert await read(io, before) == b"x" * 2_000_000
            assert await health.run_once() == 0  # still down: nothing changed

            aside.rename(d3)
            assert await health.run_once() == 1
            assert io.view.unreachable == set()
            assert len(io.view.infos) == 9
        finally:
            await role.close()

    asyncio.run(go())


class HungStore:
    """A drive whose health call never returns (a hung disk)."""

    store_id = "hung"

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def health(self) -> StoreHealth:
        self.calls += 1
        await self.release.wait()
        return StoreHealth(self.store_id, True, 1, 1)


def test_a_hung_drive_is_down_after_the_grace_and_probed_once_at_a_time() -> None:
    async def go() -> None:
        seen: list[frozenset[str]] = []
        store = HungStore()
        monitor = DriveHealthMonitor(
            {"hung": store},  # type: ignore[dict-item]
            HealthSettings(interval_s=0.05, down_after_s=0.15, probe_timeout_s=0.05),
            seen.append,
        )
        assert await monitor.run_once() == 0  # failing, but not for down_after_s yet
        await asyncio.sleep(0.2)
        assert await monitor.run_once() == 1
        assert seen == [frozenset({"hung"})]
        assert store.calls == 1  # the pending probe is awaited again, not piled up
        store.release.set()
        assert await monitor.run_once() == 1
        assert seen == [frozenset({"hung"}), frozenset()]

    asyncio.run(go())


def test_a_drive_that_fails_its_health_call_is_down(tmp_path: Path) -> None:
    class Broken:
        store_id = "b"

        async def health(self) -> StoreHealth:
            raise OSError(5, "Input/output error")

    async def go() -> None:
        seen: list[frozenset[str]] = []
        monitor = DriveHealthMonitor(
            {"b": Broken()},  # type: ignore[dict-item]
            HealthSettings(down_after_s=0.0),
            seen.append,
        )
        assert await monitor.run_once() == 1
        assert seen == [frozenset({"b"})]

    asyncio.run(go())
