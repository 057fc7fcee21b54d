"""Node heartbeats and the ``ninefold worker`` role, with real node processes, real worker
processes and a real PostgreSQL (a fresh database per test): a SIGKILLed node is marked down
within seconds and back when it returns; one worker leads each job and another takes over when
it dies; ``worker --once`` collects garbage on the nodes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.erasure.scheme import EC_6_3, REP_4, Scheme
from ninefold.fragments.protocol import FragmentId
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import ClusterMap
from ninefold.meta.postgres import PostgresMetaStore
from ninefold.nodeclient import RemoteFragmentStore
from ninefold.placement.rendezvous import StoreInfo
from tests.support.node import NodeProc
from tests.support.worker import WorkerProc, run_worker_once

SECRET = "cluster-secret-" + "h" * 16
NINEFOLD = str(Path(sys.executable).parent / "ninefold")


@pytest.fixture
def nodes(tmp_path: Path, meta_dsn: str) -> Iterator[list[NodeProc]]:
    """Three nodes of three drives each, in three zones, registered with the admin CLI."""
    started: list[NodeProc] = []
    try:
        for i in range(1, 4):
            node = NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start()
            started.append(node)
            args = ["--node-id", node.node_id, "--url", node.url, "--zone", node.zone]
            subprocess.run(
                [NINEFOLD, "admin", "node", "add", "--meta", meta_dsn, *args, "--drives", "3"],
                check=True,
                capture_output=True,
                timeout=60,
            )
        yield started
    finally:
        for node in started:
            node.stop()


@pytest.fixture
def workers(tmp_path: Path, meta_dsn: str) -> Iterator[Callable[[str], WorkerProc]]:
    """Starts ``ninefold worker`` daemons (log ``worker-<name>.log``); all stopped after."""
    started: list[WorkerProc] = []

    def start(name: str) -> WorkerProc:
        proc = WorkerProc(meta_dsn, SECRET, tmp_path / f"worker-{name}.log").start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def cluster_map(dsn: str) -> ClusterMap:
    async def go() -> ClusterMap:
        store = await PostgresMetaStore.open(dsn, min_size=1, max_size=1)
        try:
            return await store.get_cluster_map()
        finally:
            await store.close()

    return asyncio.run(go())


def wait_for(what: str, check: Callable[[], bool], timeout_s: float) -> float:
    """Poll ``check`` until true; returns the seconds it took (fails after ``timeout_s``)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.1)
    return time.monotonic() - started


def health_of(dsn: str) -> dict[str, str]:
    return {n.node_id: n.health for n in cluster_map(dsn).nodes}


def test_killed_node_is_marked_down_within_seconds_and_back_after_restart(
    nodes: list[NodeProc], workers: Callable[[str], WorkerProc], meta_dsn: str
) -> None:
    worker = workers("a")
    wait_for(
        "every node seen",
        lambda: all(n.last_seen > 0 for n in cluster_map(meta_dsn).nodes),
        timeout_s=10,
    )
    # heartbeats go on without moving the map's version (gateways would reload it)
    before = cluster_map(meta_dsn)
    time.sleep(2.5)
    after = cluster_map(meta_dsn)
    assert after.version == before.version
    assert all(a.last_seen > b.last_seen for a, b in zip(after.nodes, before.nodes, strict=True))
    assert {n.health for n in after.nodes} == {"ok"}

    nodes[1].kill()  # SIGKILL: no goodbye
    took = wait_for("n2 down", lambda: health_of(meta_dsn)["n2"] == "down", timeout_s=6)
    down = cluster_map(meta_dsn)
    assert health_of(meta_dsn) == {"n1": "ok", "n2": "down", "n3": "ok"}
    assert down.version == after.version + 1
    assert down.nodes[1].state == "up"  # the operator's state is not the monitor's business
    print(f"n2 marked down {took:.1f} s after SIGKILL")

    nodes[1].start()  # same port, same drives
    wait_for("n2 back", lambda: health_of(meta_dsn)["n2"] == "ok", timeout_s=6)
    assert cluster_map(meta_dsn).version == down.version + 1

    # a one-shot worker defers to the daemon that leads the jobs
    once = run_worker_once(meta_dsn, SECRET)
    assert once.returncode == 0, once.stderr
    assert "health: skipped, another worker leads it" in once.stdout
    assert "gc: skipped, another worker leads it" in once.stdout

    assert worker.terminate() == 0  # SIGTERM: a clean stop
    assert "node n2 is down" in worker.log() and "node n2 is back" in worker.log()


def test_a_second_worker_takes_over_when_the_leader_dies(
    nodes: list[NodeProc], workers: Callable[[str], WorkerProc], meta_dsn: str
) -> None:
    a = workers("a")
    wait_for("a leads health", lambda: "health: leader now" in a.log(), timeout_s=10)
    b = workers("b")
    time.sleep(2)
    assert "leader now" not in b.log()  # one leader per job
    a.kill()  # SIGKILL: its PostgreSQL sessions, and their advisory locks, end with it
    wait_for("b leads health", lambda: "health: leader now" in b.log(), timeout_s=10)
    wait_for("b leads gc", lambda: "gc: leader now" in b.log(), timeout_s=20)
    nodes[2].kill()
    wait_for("n3 down", lambda: health_of(meta_dsn)["n3"] == "down", timeout_s=6)
    assert "node n3 is down" in b.log()


async def _write_chunk(io: ChunkIO, scheme: Scheme, data: bytes) -> ChunkRecord:
    writer = io.new_chunk_writer(scheme)
    for i in range(0, len(data), 1 << 20):
        await writer.write(data[i : i + (1 << 20)])
    return await writer.commit()


def test_worker_once_collects_queued_chunks_on_the_nodes(
    nodes: list[NodeProc], meta_dsn: str
) -> None:
    async def stores_of(session: aiohttp.ClientSession) -> ChunkIO:
        stores, infos = {}, []
        for node in nodes:
            for d in range(1, 4):
                store_id = f"{node.node_id}:d{d}"  # as the worker names them from the map
                stores[store_id] = RemoteFragmentStore(
                    store_id, node.url, f"d{d}", SECRET.encode(), session
                )
                infos.append(StoreInfo(store_id, zone=node.zone))
        return ChunkIO(ClusterView(stores, infos))

    async def present(io: ChunkIO, record: ChunkRecord) -> int:
        ids = [(s, FragmentId(record.chunk_id, i)) for i, s in enumerate(record.stores)]
        found = await asyncio.gather(*(io.view.stores[s].head(fid) for s, fid in ids))
        return sum(f is not None for f in found)

    async def setup() -> tuple[ChunkRecord, ChunkRecord, ChunkRecord]:
        async with aiohttp.ClientSession() as session:
            io = await stores_of(session)
            big = await _write_chunk(io, EC_6_3, os.urandom(3 * 1024 * 1024 + 5))
            small = await _write_chunk(io, REP_4, os.urandom(1000))
            live = await _write_chunk(io, REP_4, os.urandom(1000))
            assert (await present(io, big), await present(io, small)) == (9, 4)
        meta = await PostgresMetaStore.open(meta_dsn)
        await meta.gc_queue_chunks([big, small])  # as an overwrite or a delete would
        await meta.close()
        return big, small, live

    async def after() -> tuple[int, int, int, int]:
        async with aiohttp.ClientSession() as session:
            io = await stores_of(session)
            counts = [await present(io, r) for r in (big, small, live)]
        meta = await PostgresMetaStore.open(meta_dsn)
        pending = await meta.gc_pending(time.time() + 60, 100)
        await meta.close()
        return counts[0], counts[1], counts[2], len(pending)

    big, small, live = asyncio.run(setup())
    # within the grace period: nothing goes (a GET in flight may still read them)
    first = run_worker_once(meta_dsn, SECRET)
    assert first.returncode == 0, first.stderr
    assert "gc: 0 handled" in first.stdout and "health: 0 handled" in first.stdout
    assert asyncio.run(after()) == (9, 4, 4, 2)
    # past it: the fragments leave the nodes, the queue empties, live chunks stay
    second = run_worker_once(meta_dsn, SECRET, "--gc-grace-s", "0")
    assert second.returncode == 0, second.stderr
    assert "gc: 2 handled" in second.stdout
    assert asyncio.run(after()) == (0, 0, 4, 0)
    # the one-shot run also recorded the heartbeats
    assert all(n.last_seen > 0 and n.health == "ok" for n in cluster_map(meta_dsn).nodes)
