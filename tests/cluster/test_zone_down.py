"""Writes with a whole zone down, with real processes: 9 single-drive nodes in 3 zones, a
gateway, a worker (health monitor, rebalance, GC) and a fresh PostgreSQL database.

Every node of zone z1 is killed (`kill -9`). Once the health monitor has marked them down, PUTs
of 1 MiB and 20 MiB and a multipart upload succeed at the first attempt: all 9 fragments of
each chunk go to the 6 nodes left (three of them holding two), nothing to the dead zone, and
everything reads back byte-exact. The zone comes back: rebalance moves the second fragments to
it, so every chunk is on 9 different nodes with at most 3 per zone again, GC removes the old
copies from disk, and every object still reads back byte-exact."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from botocore.config import Config

from ninefold.cli.compose import open_meta
from ninefold.fragments.records import ChunkRecord
from tests.cluster.test_gateways import SECRET, make_gateway
from tests.cluster.test_rebalance import add_node, fragment_files
from tests.support.node import GatewayProc, NodeProc
from tests.support.worker import WorkerProc

MIB = 1024 * 1024


async def chunk_records(meta_dsn: str) -> list[ChunkRecord]:
    meta = await open_meta(meta_dsn)
    try:
        found: list[ChunkRecord] = []
        after = ""
        while batch := await meta.list_chunks(after, 500):
            found += batch
            after = batch[-1].chunk_id
        return found
    finally:
        await meta.close()


async def node_health(meta_dsn: str) -> dict[str, str]:
    meta = await open_meta(meta_dsn)
    try:
        return {n.node_id: n.health for n in (await meta.get_cluster_map()).nodes}
    finally:
        await meta.close()


def wait_for(what: str, check: Any, timeout_s: float, log: Any) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"{what}:\n{log()[-3000:]}"
        time.sleep(0.3)


def node_of(store_id: str) -> str:
    return store_id.split(":")[0]


def test_large_writes_with_a_zone_down_and_rebalance_when_it_returns(
    tmp_path: Path, meta_dsn: str
) -> None:
    nodes = [
        NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{(i - 1) % 3 + 1}", 1, SECRET).start()
        for i in range(1, 10)
    ]
    zone_of = {n.node_id: n.zone for n in nodes}
    z1 = [n for n in nodes if n.zone == "z1"]
    gateway: GatewayProc | None = None
    worker: WorkerProc | None = None
    try:
        for node in nodes:
            add_node(meta_dsn, node)
        gateway = make_gateway(meta_dsn, tmp_path / "gw.log").start()
        # no retries: a refused write is seen as it was answered
        s3: Any = gateway.client(config=Config(retries={"max_attempts": 1, "mode": "standard"}))
        s3.create_bucket(Bucket="zonedown")
        bodies: dict[str, bytes] = {"before": os.urandom(MIB)}
        s3.put_object(Bucket="zonedown", Key="before", Body=bodies["before"])
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
        before = {r.chunk_id for r in asyncio.run(chunk_records(meta_dsn))}

        # zone z1 goes down
        for node in z1:
            node.kill()
        wait_for(
            "the health monitor marks zone z1 down",
            lambda: all(asyncio.run(node_health(meta_dsn))[n.node_id] == "down" for n in z1),
            30,
            worker.log,
        )
        time.sleep(2.5)  # the gateway re-reads the map every 2 s
        bodies["one-mib"] = os.urandom(MIB)
        bodies["twenty-mib"] = os.urandom(20 * MIB)
        for key in ("one-mib", "twenty-mib"):
            s3.put_object(Bucket="zonedown", Key=key, Body=bodies[key])
        parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB + 7)]
        upload = s3.create_multipart_upload(Bucket="zonedown", Key="multipart")["UploadId"]
        etags = []
        for n, part in enumerate(parts, 1):
            answer = s3.upload_part(
                Bucket="zonedown", Key="multipart", UploadId=upload, PartNumber=n, Body=part
            )
            etags.append(answer["ETag"])
        s3.complete_multipart_upload(
            Bucket="zonedown",
            Key="multipart",
            UploadId=upload,
            MultipartUpload={
                "Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]
            },
        )
        bodies["multipart"] = b"".join(parts)

        def read_back() -> None:
            for key, body in bodies.items():
                got = s3.get_object(Bucket="zonedown", Key=key)["Body"].read()
                assert hashlib.md5(got).digest() == hashlib.md5(body).digest(), key

        read_back()
        written = [r for r in asyncio.run(chunk_records(meta_dsn)) if r.chunk_id not in before]
        assert len(written) == 5  # 1 + 1 + 3 parts, every one erasure-coded
        for record in written:
            assert record.scheme == "ec:6+3" and "" not in record.stores, record
            held = Counter(node_of(s) for s in record.stores)
            assert not set(held) & {n.node_id for n in z1}, record
            assert sorted(held.values()) == [1, 1, 1, 2, 2, 2], record

        # zone z1 returns: rebalance restores the zone spread, GC removes the old copies
        for node in z1:
            node.start()

        def spread_restored() -> bool:
            for record in asyncio.run(chunk_records(meta_dsn)):
                held = Counter(node_of(s) for s in record.stores)
                if max(held.values()) > 1 or len(held) != 9:
                    return False
                if max(Counter(zone_of[n] for n in held).values()) > 3:
                    return False
            return True

        wait_for("rebalance restores 9 nodes, 3 per zone", spread_restored, 120, worker.log)

        def disks_match_records() -> bool:
            recorded = Counter(
                node_of(s) for r in asyncio.run(chunk_records(meta_dsn)) for s in r.stores
            )
            return all(fragment_files(n) == recorded[n.node_id] for n in nodes)

        wait_for("GC removes the moved copies", disks_match_records, 60, worker.log)
        assert all(fragment_files(n) == len(before) + len(written) for n in nodes)
        read_back()
    finally:
        if worker is not None:
            worker.stop()
        if gateway is not None:
            gateway.stop()
        for node in nodes:
            node.stop()
