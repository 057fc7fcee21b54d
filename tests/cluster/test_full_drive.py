"""A node's drive fills up: writes go on without that fragment (and the chunk waits for repair)
or fail with a clear S3 error; every acknowledged object reads back byte-identical; the full
drive holds no temp file and no partial or corrupt fragment.

Three real nodes (one per zone, three drives each) and a gateway over a fresh PostgreSQL
database; drive 1 of node n1 is a 2 MiB tmpfs (mounted here, so the test runs as root).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ninefold.fragments.format import HEADER_BYTES, parse_header, unframe_record
from ninefold.fragments.protocol import FragmentId
from ninefold.meta.postgres import PostgresMetaStore
from ninefold.node.disk import DiskFragmentStore, DriveFull
from ninefold.nodeclient.health import NodeStatus, probe_node
from tests.cluster.test_gateways import SECRET, make_gateway, register
from tests.support.node import GatewayProc, NodeProc

TMPFS_BYTES = 2 * 1024 * 1024
FULL_STORE = "n1:d1"
BLOCK_BYTES = 256 * 1024
EC_STRIPE_BYTES = 6 * BLOCK_BYTES
#: small (4 copies) and erasure-coded (6+3, one and two stripes) objects, in turn
SIZES = [3_000, 40_000, 700_000, 120_000, 1_600_000, 9_000, 2_000_000]


def _mount_tmpfs(path: Path) -> None:
    path.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


def _fragment_problems(path: Path) -> list[str]:
    """Why ``path`` is not a whole, valid fragment (every record verified, only the last one
    short, nothing after it); empty if it is one."""
    data = path.read_bytes()
    try:
        block_size = parse_header(data[:HEADER_BYTES])
        pos, short = HEADER_BYTES, False
        while pos < len(data):
            if short:
                return [f"{path.name}: data after a short last block"]
            payload, used = unframe_record(data[pos:], block_size)
            short = len(payload) < block_size
            pos += used
    except Exception as exc:
        return [f"{path.name}: {exc}"]
    return []


def _payload_bytes(path: Path) -> tuple[int, int]:
    """(blocks, payload bytes) of a valid fragment file."""
    data = path.read_bytes()
    block_size = parse_header(data[:HEADER_BYTES])
    pos, blocks, total = HEADER_BYTES, 0, 0
    while pos < len(data):
        payload, used = unframe_record(data[pos:], block_size)
        blocks, total, pos = blocks + 1, total + len(payload), pos + used
    return blocks, total


def _health(node: NodeProc) -> NodeStatus:
    async def go() -> NodeStatus:
        async with aiohttp.ClientSession() as session:
            return await probe_node(session, node.url, SECRET.encode(), timeout_s=5)

    return asyncio.run(go())


def test_a_full_drive_never_loses_or_corrupts_a_write(tmp_path: Path, meta_dsn: str) -> None:
    small_drive = tmp_path / "n1" / "drive1"
    _mount_tmpfs(small_drive)
    nodes: list[NodeProc] = []
    gateways: list[GatewayProc] = []
    try:
        nodes = [
            NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)
        ]
        register(meta_dsn, nodes)
        gateways = [
            make_gateway(meta_dsn, tmp_path / f"gw-{name}.log").start() for name in ("a", "b")
        ]
        no_retry = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=30)
        writer: Any = gateways[0].client(config=no_retry)
        reader: Any = gateways[1].client()
        writer.create_bucket(Bucket="fill")

        acked: dict[str, bytes] = {}
        refused: list[tuple[str, int, str, str]] = []
        for i in range(64):
            data = os.urandom(SIZES[i % len(SIZES)] + i)
            key = f"obj{i:03d}"
            try:
                writer.put_object(Bucket="fill", Key=key, Body=data)
            except ClientError as exc:  # anything else (a dropped connection) fails the test
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
                refused.append((key, status, exc.response["Error"]["Code"], str(exc)))
                continue
            acked[key] = data

        free = os.statvfs(small_drive)
        free_bytes = free.f_bavail * free.f_frsize
        health = _health(nodes[0]).drives["d1"]
        print(
            f"{len(acked)} PUTs acknowledged, {len(refused)} refused {refused[:3]}; "
            f"tmpfs free {free_bytes} B; node health of the full drive: {health}"
        )
        # the drive did fill: what is left cannot take one more full block
        assert free_bytes < BLOCK_BYTES
        # refusals are clean S3 errors (a full drive alone never costs the write quorum)
        for _, status, code, message in refused:
            assert (status, code) == (503, "ServiceUnavailable"), message
        assert len(acked) >= 60

        # every acknowledged object reads back byte-identical, through the other gateway too
        for key, data in acked.items():
            for client in (writer, reader):
                body = client.get_object(Bucket="fill", Key=key)["Body"].read()
                assert hashlib.md5(body).digest() == hashlib.md5(data).digest(), key
        for key, *_ in refused:
            with pytest.raises(ClientError) as missing:
                reader.head_object(Bucket="fill", Key=key)
            assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

        # the full drive: no temp file left, every fragment on it whole and valid, and every
        # fragment metadata places there present with the size its chunk implies
        temp = small_drive / "tmp"
        assert not temp.exists() or list(temp.iterdir()) == []
        on_drive = {p.name: p for p in (small_drive / "frag").glob("*/*")}
        assert on_drive, "nothing was written to the small drive"
        problems = [p for path in on_drive.values() for p in _fragment_problems(path)]
        assert not problems, problems

        async def placement() -> tuple[list[Any], int]:
            store = await PostgresMetaStore.open(meta_dsn)
            try:
                return await store.list_chunks("", 100_000), await store.repair_count()
            finally:
                await store.close()

        chunks, repairs = asyncio.run(placement())
        placed_here, gaps = 0, 0
        for chunk in chunks:
            gaps += "" in chunk.stores
            for index, store_id in enumerate(chunk.stores):
                if store_id != FULL_STORE:
                    continue
                placed_here += 1
                path = on_drive.pop(f"{chunk.chunk_id}.{index}", None)
                assert path is not None, f"{chunk.chunk_id}.{index} missing from {FULL_STORE}"
                blocks, payload = _payload_bytes(path)
                unit = EC_STRIPE_BYTES if chunk.scheme.startswith("ec:") else BLOCK_BYTES
                assert blocks == max(1, math.ceil(chunk.size / unit)), path.name
                if chunk.scheme.startswith("rep:"):
                    assert payload == chunk.size, path.name
        print(
            f"{len(chunks)} chunks, {placed_here} with a fragment on the full drive, "
            f"{gaps} written with a fragment missing, repair queue {repairs}, "
            f"unreferenced fragments on the full drive: {sorted(on_drive)}"
        )
        # writes that met the full drive went on without it, and wait for repair
        assert gaps > 0 and repairs == gaps
        node_log = nodes[0].log_path.read_text(errors="replace")
        assert "Traceback" not in node_log, node_log[-3000:]
        assert "No space left" in node_log
    finally:
        for gw in gateways:
            gw.stop()
        for node in nodes:
            node.stop()
        subprocess.run(["umount", str(small_drive)], check=False, capture_output=True)


def test_a_fragment_the_drive_cannot_hold_leaves_nothing_behind(tmp_path: Path) -> None:
    """DiskFragmentStore alone, on a tmpfs left with 100 KiB: a 200 KiB fragment is refused as
    DriveFull and leaves no temp file and no visible fragment (a nearly full file system takes
    part of a write before it refuses one: that part must never pass for the whole), and the
    drive still takes a fragment that fits."""
    root = tmp_path / "drive"
    _mount_tmpfs(root)
    try:
        free = os.statvfs(root)
        (root / "filler").write_bytes(bytes(free.f_bavail * free.f_frsize - 100 * 1024))

        async def go() -> None:
            store = DiskFragmentStore("t:d1", root)
            too_big = FragmentId("ab" * 16, 0)
            writer = await store.open_writer(too_big)
            with pytest.raises(DriveFull, match="No space left"):
                await writer.write_block(os.urandom(200 * 1024))
                await writer.commit()
            await writer.abort()
            assert await store.head(too_big) is None
            assert list((root / "tmp").iterdir()) == []
            fits = FragmentId("cd" * 16, 3)
            data = os.urandom(10 * 1024)
            writer = await store.open_writer(fits)
            await writer.write_block(data)
            await writer.commit()
            assert await store.read_blocks(fits, 0, 1) == [data]

        asyncio.run(go())
    finally:
        subprocess.run(["umount", str(root)], check=False, capture_output=True)
