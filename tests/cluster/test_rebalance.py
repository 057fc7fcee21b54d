"""Rebalance and drain with real processes (9 nodes in 3 zones, a gateway, a worker, fresh
PostgreSQL): a 10th node receives its share of fragments, a drained node ends empty, and a
reader that keeps reading every object during both never sees an error or a wrong byte."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from ninefold.cli.compose import open_meta, stores_from_map
from ninefold.placement.rendezvous import place
from tests.cluster.test_gateways import SECRET, make_gateway
from tests.support.node import BIN, GatewayProc, NodeProc
from tests.support.worker import WorkerProc

#: rep:4 and 6+3 sizes (objects up to 32 KiB are inline: no fragments to place)
SIZES = [40 * 1024, 100 * 1024, 200 * 1024, 1024 * 1024 + 1]


def admin(meta_dsn: str, *args: str) -> None:
    subprocess.run(
        [str(BIN), "admin", "node", *args, "--meta", meta_dsn],
        check=True,
        capture_output=True,
        timeout=60,
    )


def add_node(meta_dsn: str, node: NodeProc) -> None:
    admin(meta_dsn, "add", "--node-id", node.node_id, "--url", node.url, "--zone", node.zone)


def fragment_files(node: NodeProc) -> int:
    return sum(1 for d in node.drive_dirs for p in (d / "frag").rglob("*") if p.is_file())


async def placement_counts(meta_dsn: str) -> tuple[dict[str, int], dict[str, int], int]:
    """(fragments recorded per node, fragments placement wants per node, total)."""
    meta = await open_meta(meta_dsn)
    async with aiohttp.ClientSession() as session:
        infos = stores_from_map(await meta.get_cluster_map(), SECRET.encode(), session).infos
    recorded: dict[str, int] = {}
    ideal: dict[str, int] = {}
    total, after = 0, ""
    while batch := await meta.list_chunks(after, 500):
        for record in batch:
            for store in record.stores:
                node = store.split(":")[0]
                recorded[node] = recorded.get(node, 0) + 1
            for store in place(record.chunk_id, infos, len(record.stores)):
                node = store.split(":")[0]
                ideal[node] = ideal.get(node, 0) + 1
            total += len(record.stores)
        after = batch[-1].chunk_id
    await meta.close()
    return recorded, ideal, total


async def rebalance_passes(meta_dsn: str) -> int:
    meta = await open_meta(meta_dsn)
    try:
        status = await meta.get_job_status()
        return int(status.get("rebalance", ({}, 0.0))[0].get("passes", 0))
    finally:
        await meta.close()


def wait_for_passes(meta_dsn: str, passes: int, worker: WorkerProc, timeout_s: float = 120) -> None:
    start = asyncio.run(rebalance_passes(meta_dsn))
    deadline = time.monotonic() + timeout_s
    while asyncio.run(rebalance_passes(meta_dsn)) < start + passes:
        assert time.monotonic() < deadline, worker.log()[-3000:]
        time.sleep(0.3)


def test_added_node_gets_its_share_and_drained_node_ends_empty(
    tmp_path: Path, meta_dsn: str
) -> None:
    nodes = [
        NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{(i - 1) % 3 + 1}", 1, SECRET).start()
        for i in range(1, 10)
    ]
    gateway: GatewayProc | None = None
    worker: WorkerProc | None = None
    stop = threading.Event()
    reader: threading.Thread | None = None
    problems: list[str] = []
    reads = [0]
    try:
        for node in nodes:
            add_node(meta_dsn, node)
        gateway = make_gateway(meta_dsn, tmp_path / "gw.log").start()
        s3: Any = gateway.client()
        s3.create_bucket(Bucket="bal")
        md5s = {}
        for i in range(80):
            data = os.urandom(SIZES[i % len(SIZES)])
            s3.put_object(Bucket="bal", Key=f"o{i:02d}", Body=data)
            md5s[f"o{i:02d}"] = hashlib.md5(data).hexdigest()

        def read_all() -> None:
            while not stop.is_set():
                for key, md5 in md5s.items():
                    try:
                        body = s3.get_object(Bucket="bal", Key=key)["Body"].read()
                    except Exception as exc:  # any failure is what this test must not see
                        problems.append(f"{key}: {exc}")
                        continue
                    reads[0] += 1
                    if hashlib.md5(body).hexdigest() != md5:
                        problems.append(f"{key}: wrong bytes")

        reader = threading.Thread(target=read_all)
        reader.start()
        worker = WorkerProc(
            meta_dsn,
            SECRET,
            tmp_path / "worker.log",
            (
                "--rebalance-interval-s",
                "0.3",
                "--gc-interval-s",
                "0.5",
                "--gc-grace-s",
                "2",
                "--scrub-interval-s",
                "3600",
            ),
        ).start()
        # a 10th node joins zone z1
        n10 = NodeProc(tmp_path / "n10", "n10", "z1", 1, SECRET).start()
        nodes.append(n10)
        add_node(meta_dsn, n10)
        # the worker sees the new map within ~2 s; then a pass moves what placement wants moved
        deadline = time.monotonic() + 90
        while True:
            recorded, ideal, total = asyncio.run(placement_counts(meta_dsn))
            if recorded.get("n10", 0) == ideal["n10"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        wait_for_passes(meta_dsn, 1, worker)
        recorded, ideal, total = asyncio.run(placement_counts(meta_dsn))
        share = recorded.get("n10", 0)
        assert abs(share - ideal["n10"]) <= 0.2 * ideal["n10"], (recorded, ideal)
        # the other nodes of zone z1 gave up fragments; nothing outside the zone rule
        time.sleep(3)  # GC grace: the old copies go
        on_disk = fragment_files(n10)
        assert on_disk == share, (on_disk, share)
        print(
            f"10th node: {share} fragments of {total} ({share / total:.1%}); placement's "
            f"ideal {ideal['n10']} (zone rule: z1 has 4 nodes, so {ideal['n10'] / total:.1%}), "
            f"naive 1/10 share {total / 10:.0f}"
        )
        # drain n3: everything moves off it
        admin(meta_dsn, "drain", "n3")
        deadline = time.monotonic() + 90
        while (recorded := asyncio.run(placement_counts(meta_dsn))[0]).get("n3", 0):
            assert time.monotonic() < deadline, (recorded, worker.log()[-3000:])
            time.sleep(0.5)
        deadline = time.monotonic() + 30
        while fragment_files(nodes[2]):
            assert time.monotonic() < deadline, fragment_files(nodes[2])
            time.sleep(0.5)
        stop.set()
        reader.join(120)
        assert problems == [] and reads[0] > 0, problems[:5]
        print(f"drained n3: 0 fragments left; {reads[0]} reads during both, 0 failed")
    finally:
        stop.set()
        if reader is not None:
            reader.join(120)
        if worker is not None:
            worker.stop()
        if gateway is not None:
            gateway.stop()
        for node in nodes:
            node.stop()
