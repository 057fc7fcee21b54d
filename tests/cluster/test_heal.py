"""Self-healing with real processes: node daemons, a gateway, a worker (scrub + repair) over a
fresh PostgreSQL database. A node's drives are deleted for good while it is down; when it comes
back with replacements (``admin drive replace``: empty, with new identities), the scrubber
finds every missing fragment and the repair worker rebuilds them all:
every chunk ends with all its fragments, each verified, and every object reads back."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

from ninefold.cli.compose import open_meta, stores_from_map
from ninefold.coordinator.chunks import ChunkIO
from ninefold.workers.scrub import Scrubber
from ninefold.workers.settings import ScrubSettings
from tests.cluster.test_gateways import SECRET, make_gateway, register
from tests.support.node import BIN, GatewayProc, NodeProc
from tests.support.worker import WorkerProc

#: replicated (rep:4) and erasure-coded sizes; objects up to 32 KiB would be inline (no fragments)
NINEFOLD_SIZES = [40 * 1024, 100 * 1024, 128 * 1024 + 1, 1024 * 1024, 3 * 1024 * 1024 + 17]


async def verify_every_chunk(meta_dsn: str) -> tuple[int, int, list[str]]:
    """(chunks, fragments verified, chunks not whole) read straight from the nodes."""
    meta = await open_meta(meta_dsn)
    async with aiohttp.ClientSession() as session:
        io = ChunkIO(stores_from_map(await meta.get_cluster_map(), SECRET.encode(), session))
        scrubber = Scrubber(meta, io, ScrubSettings(mb_per_s=0.0))
        chunks, fragments, bad, after = 0, 0, [], ""
        while batch := await meta.list_chunks(after, 500):
            for record in batch:
                ok, checked, _ = await scrubber.check_chunk(record)
                chunks += 1
                fragments += checked
                if not ok or checked != len(record.stores):
                    bad.append(record.chunk_id)
            after = batch[-1].chunk_id
    await meta.close()
    return chunks, fragments, bad


async def job_status(meta_dsn: str) -> tuple[dict[str, Any], int]:
    meta = await open_meta(meta_dsn)
    try:
        status = await meta.get_job_status()
        return (status.get("repair", ({}, 0.0))[0], await meta.repair_count())
    finally:
        await meta.close()


def test_wiped_node_drives_are_rebuilt(tmp_path: Path, meta_dsn: str) -> None:
    nodes = [NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)]
    gateway: GatewayProc | None = None
    worker: WorkerProc | None = None
    try:
        register(meta_dsn, nodes)
        gateway = make_gateway(meta_dsn, tmp_path / "gw.log").start()
        s3: Any = gateway.client()
        s3.create_bucket(Bucket="heal")
        md5s = {}
        for i in range(40):
            data = os.urandom(NINEFOLD_SIZES[i % len(NINEFOLD_SIZES)])
            s3.put_object(Bucket="heal", Key=f"o{i:02d}", Body=data)
            md5s[f"o{i:02d}"] = hashlib.md5(data).hexdigest()
        chunks, fragments, bad = asyncio.run(verify_every_chunk(meta_dsn))
        assert bad == [] and chunks == 40
        # n2's drives are gone for good: killed, wiped, started again empty
        nodes[1].kill()
        for drive in nodes[1].drive_dirs:
            shutil.rmtree(drive)
        # a node never recreates a missing drive (it could be an unmounted disk): the
        # operator formats the replacements, each with a new identity
        for i, drive in enumerate(nodes[1].drive_dirs, 1):
            args = ["admin", "drive", "replace", f"d{i}", "--node-id", "n2", "--path", str(drive)]
            done = subprocess.run(
                [str(BIN), *args],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
        nodes[1].start()
        worker = WorkerProc(
            meta_dsn,
            SECRET,
            tmp_path / "worker.log",
            ("--scrub-interval-s", "0.5", "--repair-interval-s", "0.5"),
        ).start()
        t0 = time.monotonic()
        deadline = t0 + 120
        while True:
            repair, queued = asyncio.run(job_status(meta_dsn))
            if repair.get("chunks_repaired", 0) and queued == 0:
                chunks, fragments, bad = asyncio.run(verify_every_chunk(meta_dsn))
                if not bad:
                    break
            assert time.monotonic() < deadline, (repair, queued, worker.log()[-3000:])
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        # every chunk back to all its fragments (9 for 6+3, 4 copies), each verified
        assert chunks == 40 and fragments == sum(
            9 if s > 128 * 1024 else 4 for s in [NINEFOLD_SIZES[i % 5] for i in range(40)]
        )
        for key, md5 in md5s.items():
            body = s3.get_object(Bucket="heal", Key=key)["Body"].read()
            assert hashlib.md5(body).hexdigest() == md5
        print(
            f"repair: {repair['chunks_repaired']} chunks, {repair['fragments_rebuilt']} "
            f"fragments, {repair['bytes_rebuilt'] / 1e6:.1f} MB rebuilt at "
            f"{repair['bytes_per_s'] / 1e6:.1f} MB/s while busy; all whole {elapsed:.1f} s "
            "after the node came back empty"
        )
        status = subprocess.run(
            [str(BIN), "admin", "heal", "status", "--meta", meta_dsn],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, status.stderr
        assert "chunks repaired" in status.stdout and "100%" in status.stdout
    finally:
        if worker is not None:
            worker.stop()
        if gateway is not None:
            gateway.stop()
        for node in nodes:
            node.stop()


def test_one_percent_of_fragments_rotten_under_reads(tmp_path: Path, meta_dsn: str) -> None:
    """1 % of all fragments get a flipped byte at a random offset while readers keep reading
    every object: no read ever returns a wrong byte, and the scrubber + repair worker make every
    fragment valid again."""
    nodes = [NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)]
    gateway: GatewayProc | None = None
    worker: WorkerProc | None = None
    try:
        register(meta_dsn, nodes)
        gateway = make_gateway(meta_dsn, tmp_path / "gw.log").start()
        s3: Any = gateway.client()
        s3.create_bucket(Bucket="rot")
        md5s = {}
        for i in range(100):
            data = os.urandom(NINEFOLD_SIZES[i % len(NINEFOLD_SIZES)])
            s3.put_object(Bucket="rot", Key=f"o{i:03d}", Body=data)
            md5s[f"o{i:03d}"] = hashlib.md5(data).hexdigest()
        files = sorted(p for n in nodes for d in n.drive_dirs for p in (d / "frag").rglob("*.*"))
        rng = random.Random(1234)
        rotten = rng.sample(files, max(1, len(files) // 100))
        stop = threading.Event()
        wrong: list[str] = []
        reads = [0]

        def reader() -> None:
            while not stop.is_set():
                for key, md5 in md5s.items():
                    body = s3.get_object(Bucket="rot", Key=key)["Body"].read()
                    reads[0] += 1
                    if hashlib.md5(body).hexdigest() != md5:
                        wrong.append(key)

        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for path in rotten:
                raw = bytearray(path.read_bytes())
                pos = rng.randrange(32, len(raw))
                raw[pos] ^= 0x5A
                path.write_bytes(bytes(raw))
            worker = WorkerProc(
                meta_dsn,
                SECRET,
                tmp_path / "worker.log",
                ("--scrub-interval-s", "0.5", "--repair-interval-s", "0.5"),
            ).start()
            deadline = time.monotonic() + 180
            while True:
                repair, queued = asyncio.run(job_status(meta_dsn))
                if repair.get("chunks_repaired", 0) >= 1 and queued == 0:
                    _chunks, _fragments, bad = asyncio.run(verify_every_chunk(meta_dsn))
                    if not bad:
                        break
                assert time.monotonic() < deadline, (repair, queued, worker.log()[-3000:])
                time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        assert wrong == [] and reads[0] > 0
        print(
            f"{len(rotten)} of {len(files)} fragments rotten; repaired "
            f"{repair['chunks_repaired']} chunks; {reads[0]} reads during the run, 0 wrong"
        )
    finally:
        if worker is not None:
            worker.stop()
        if gateway is not None:
            gateway.stop()
        for node in nodes:
            node.stop()
