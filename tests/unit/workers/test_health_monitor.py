"""The health monitor against real node apps (in-process aiohttp servers over real drive
directories) and a real SQLite metadata file: who answers is ok, who is silent long enough is
down, who answers again is back; only changes move the map's version."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from aiohttp import web

from ninefold.meta.models import ClusterMap, NodeRecord
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.node.app import NodeSettings, make_node_app
from ninefold.node.disk import DiskFragmentStore
from ninefold.workers.health import HealthMonitor
from ninefold.workers.settings import HealthSettings
from tests.support.server import free_port

SECRET = b"health-secret-" + b"h" * 16


@asynccontextmanager
async def node_app(
    root: Path, node_id: str, port: int, secret: bytes = SECRET
) -> AsyncIterator[str]:
    executor = ThreadPoolExecutor(2)
    (root / "d1").mkdir(parents=True, exist_ok=True)
    stores = {"d1": DiskFragmentStore(f"{node_id}:d1", root / "d1", executor)}
    runner = web.AppRunner(make_node_app(NodeSettings(node_id, "z", secret), stores))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
        executor.shutdown()


def health(cluster: ClusterMap) -> dict[str, str]:
    return {n.node_id: n.health for n in cluster.nodes}


def test_silent_node_goes_down_and_comes_back(tmp_path: Path) -> None:
    async def go() -> None:
        meta = await SqliteMetaStore.open(tmp_path / "meta.db")
        port, dead_port = free_port(), free_port()
        async with aiohttp.ClientSession() as session:
            monitor = HealthMonitor(
                meta,
                session,
                SECRET,
                HealthSettings(interval_s=0.1, down_after_s=0.5, probe_timeout_s=0.3),
            )
            async with node_app(tmp_path / "n1", "n1", port) as url:
                await meta.put_node(NodeRecord("n1", url, "z", ("d1",)))
                await meta.put_node(NodeRecord("n2", f"http://127.0.0.1:{dead_port}", "z", ("d1",)))
                start = await meta.get_cluster_map()
                assert await monitor.run_once() == 0
                beat = await meta.get_cluster_map()
                assert beat.version == start.version  # heartbeats do not bump the version
                n1, n2 = beat.nodes
                assert n1.health == "ok" and n1.last_seen > time.time() - 5
                assert n2.health == "ok" and n2.last_seen == 0.0  # never seen: grace first
                await asyncio.sleep(0.6)
                assert await monitor.run_once() == 1
                down = await meta.get_cluster_map()
                assert health(down) == {"n1": "ok", "n2": "down"}
                assert down.version == start.version + 1
                assert await monitor.run_once() == 0  # still down: nothing written
                assert (await meta.get_cluster_map()).version == down.version
            # n1 stops answering: not down at once (it was seen a moment ago), down after 0.5 s
            assert await monitor.run_once() == 0
            assert health(await meta.get_cluster_map())["n1"] == "ok"
            await asyncio.sleep(0.6)
            assert await monitor.run_once() == 1
            assert health(await meta.get_cluster_map()) == {"n1": "down", "n2": "down"}
            # back on the same port: ok at the next round, last_seen moves on
            async with node_app(tmp_path / "n1", "n1", port):
                assert await monitor.run_once() == 1
                back = await meta.get_cluster_map()
                assert health(back) == {"n1": "ok", "n2": "down"}
                assert back.version == down.version + 2
                assert back.nodes[0].last_seen > down.nodes[0].last_seen
        await meta.close()

    asyncio.run(go())


def test_impostors_and_wrong_secrets_do_not_count_as_answers(tmp_path: Path) -> None:
    async def go() -> None:
        meta = await SqliteMetaStore.open(tmp_path / "meta.db")
        p1, p2 = free_port(), free_port()
        async with (
            aiohttp.ClientSession() as session,
            node_app(tmp_path / "n1", "n1", p1) as url1,
            node_app(tmp_path / "n2", "n2", p2, secret=b"another-secret-" + b"x" * 16) as url2,
        ):
            await meta.put_node(NodeRecord("n1", url1, "z", ("d1",)))
            await meta.put_node(NodeRecord("n3", url1, "z", ("d1",)))  # n1 answers there
            await meta.put_node(NodeRecord("n2", url2, "z", ("d1",)))  # refuses our signature
            monitor = HealthMonitor(
                meta, session, SECRET, HealthSettings(down_after_s=0.3, probe_timeout_s=0.5)
            )
            await monitor.run_once()
            await asyncio.sleep(0.4)
            assert await monitor.run_once() == 2
            assert health(await meta.get_cluster_map()) == {"n1": "ok", "n2": "down", "n3": "down"}
        await meta.close()

    asyncio.run(go())


def test_a_hung_node_costs_a_round_only_the_probe_timeout(tmp_path: Path) -> None:
    """A node that accepts connections but never answers (SIGSTOP, deadlock)."""

    async def go() -> None:
        async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(30)

        server = await asyncio.start_server(hang, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        meta = await SqliteMetaStore.open(tmp_path / "meta.db")
        # seen 10 s ago by an earlier monitor: the first failed probe is enough
        await meta.put_node(
            NodeRecord("n1", f"http://127.0.0.1:{port}", "z", ("d1",), last_seen=time.time() - 10)
        )
        async with aiohttp.ClientSession() as session:
            monitor = HealthMonitor(
                meta, session, SECRET, HealthSettings(down_after_s=3.0, probe_timeout_s=0.5)
            )
            started = time.monotonic()
            assert await monitor.run_once() == 1
            assert time.monotonic() - started < 2.0
        assert health(await meta.get_cluster_map()) == {"n1": "down"}
        server.close()
        await meta.close()

    asyncio.run(go())
