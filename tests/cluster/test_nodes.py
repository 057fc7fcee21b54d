"""Storage nodes as real processes: the chunk pipeline over HTTP, zone placement, node loss,
and the node's refusal of unsigned, wrongly signed, replayed and malformed requests."""

from __future__ import annotations

import asyncio
import os
import secrets
import struct
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.core.errors import DataUnavailable
from ninefold.erasure.scheme import EC_6_3, REP_4
from ninefold.fragments.records import ChunkRecord
from ninefold.fragments.signing import sign_request
from ninefold.nodeclient import RemoteFragmentStore
from ninefold.placement.rendezvous import StoreInfo
from tests.support.node import NodeProc

SECRET = "cluster-secret-" + "x" * 16


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[NodeProc]]:
    started = [
        NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)
    ]
    yield started
    for node in started:
        node.stop()


def cluster(session: aiohttp.ClientSession, nodes: list[NodeProc]) -> ChunkIO:
    stores, infos = {}, []
    for node in nodes:
        for d in range(1, 4):
            store_id = f"{node.node_id}:d{d}"
            stores[store_id] = RemoteFragmentStore(
                store_id, node.url, f"d{d}", SECRET.encode(), session
            )
            infos.append(StoreInfo(store_id, zone=node.zone))
    return ChunkIO(ClusterView(stores, infos))


async def write(io: ChunkIO, scheme: object, data: bytes) -> ChunkRecord:
    writer = io.new_chunk_writer(scheme)  # type: ignore[arg-type]
    for i in range(0, len(data), 1 << 20):
        await writer.write(data[i : i + (1 << 20)])
    return await writer.commit()


async def read(
    io: ChunkIO, record: ChunkRecord, offset: int = 0, length: int | None = None
) -> bytes:
    n = record.size - offset if length is None else length
    return b"".join([p async for p in io.read(record, offset, n)])


def test_chunks_over_nodes_survive_a_lost_zone(nodes: list[NodeProc]) -> None:
    big, small = os.urandom(10 * 1024 * 1024 + 7), os.urandom(3000)

    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            io = cluster(session, nodes)
            ec = await write(io, EC_6_3, big)
            rep = await write(io, REP_4, small)
            # zone rule: 9 fragments over 3 zones -> 3 each; 4 replicas -> at most 2 per zone
            assert Counter(s.split(":")[0] for s in ec.stores) == {"n1": 3, "n2": 3, "n3": 3}
            assert max(Counter(s.split(":")[0] for s in rep.stores).values()) <= 2
            assert await read(io, ec) == big
            assert await read(io, ec, 1_572_860, 20) == big[1_572_860:1_572_880]
            assert await read(io, rep) == small
            nodes[1].kill()  # a whole zone gone: 3 of 9 fragments, at most 2 of 4 copies
            assert await read(io, ec) == big
            assert await read(io, rep) == small
            nodes[2].kill()  # a second zone: 6 of 9 lost -> a clear error, never wrong bytes
            with pytest.raises(DataUnavailable):
                await read(io, ec)
            await io.delete(ec)

    asyncio.run(go())


def _send(
    node: NodeProc, method: str, path: str, auth: str | None, body: bytes | None = None
) -> int:
    request = urllib.request.Request(node.url + path, data=body, method=method)
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


FID = "0123456789abcdef0123456789abcdef.0"


def test_node_refuses_unsigned_wrongly_signed_and_replayed(nodes: list[NodeProc]) -> None:
    node = nodes[0]
    path = f"/v1/drives/d1/fragments/{FID}"
    assert _send(node, "GET", path, None) == 403
    assert _send(node, "GET", path, sign_request(b"not-the-cluster-secret!", "GET", path)) == 403
    assert _send(node, "GET", path, "NF-HMAC-SHA256 garbage") == 403
    # signed for another path: refused
    assert _send(node, "GET", path, sign_request(SECRET.encode(), "GET", "/v1/health")) == 403
    good = sign_request(SECRET.encode(), "GET", path)
    assert _send(node, "GET", path, good) == 404  # authenticated: the fragment just isn't there
    assert _send(node, "GET", path, good) == 403  # the very same request again: a replay
    assert (
        _send(node, "GET", "/v1/health", sign_request(SECRET.encode(), "GET", "/v1/health")) == 200
    )


def _record(block: bytes, crc: int | None = None) -> bytes:
    from awscrt.checksums import crc32c

    return struct.pack("<II", len(block), crc32c(block) if crc is None else crc) + block


@pytest.mark.parametrize(
    "body",
    [
        _record(b"a" * 100, crc=1),  # wrong checksum
        _record(b"a" * 100)[:-10],  # truncated block
        _record(b"a" * 100) + b"\x01\x02",  # truncated record header
        b"",  # no block at all
    ],
    ids=["bad-crc", "short-block", "short-header", "empty"],
)
def test_bad_fragment_uploads_store_nothing(nodes: list[NodeProc], body: bytes) -> None:
    node = nodes[0]
    path = f"/v1/drives/d1/fragments/{FID}"
    assert _send(node, "PUT", path, sign_request(SECRET.encode(), "PUT", path), body) == 400
    assert _send(node, "HEAD", path, sign_request(SECRET.encode(), "HEAD", path)) == 404
    assert list((node.drive_dirs[0] / "frag").rglob("*")) == []
    assert list((node.drive_dirs[0] / "tmp").glob("*")) == []


@pytest.mark.parametrize("name", ["..%2F..%2Fetc%2Fpasswd", "not-a-fragment", "ABC.1"])
def test_node_never_builds_paths_from_bad_ids(nodes: list[NodeProc], name: str) -> None:
    node = nodes[0]
    path = f"/v1/drives/d1/fragments/{name}"
    status = _send(node, "GET", path, sign_request(SECRET.encode(), "GET", path))
    assert status in (400, 404)
    unknown = f"/v1/drives/d9/fragments/{FID}"
    assert _send(node, "GET", unknown, sign_request(SECRET.encode(), "GET", unknown)) == 404


def test_good_upload_round_trip(nodes: list[NodeProc]) -> None:
    node = nodes[0]
    fid = f"{secrets.token_hex(16)}.3"
    path = f"/v1/drives/d2/fragments/{fid}"
    body = _record(b"x" * 1000) + _record(b"y" * 10)
    assert _send(node, "PUT", path, sign_request(SECRET.encode(), "PUT", path), body) == 201
    assert _send(node, "HEAD", path, sign_request(SECRET.encode(), "HEAD", path)) == 200
    assert _send(node, "DELETE", path, sign_request(SECRET.encode(), "DELETE", path)) == 204


def test_a_hung_node_costs_reads_a_bounded_delay(nodes: list[NodeProc]) -> None:
    """SIGSTOP one node (its sockets accept, nothing answers): reads hedge to parity/other
    copies after the hedge delay instead of waiting for a 30 s socket timeout."""
    import signal
    import statistics
    import time

    payloads = [os.urandom(2 * 1024 * 1024 + i) for i in range(6)] + [os.urandom(5000)] * 4

    async def go() -> tuple[list[float], list[float]]:
        async with aiohttp.ClientSession() as session:
            io = cluster(session, nodes)
            records = [await write(io, EC_6_3 if len(p) > 10000 else REP_4, p) for p in payloads]

            async def timed_reads() -> list[float]:
                out = []
                for _ in range(5):
                    for record, payload in zip(records, payloads, strict=True):
                        t0 = time.perf_counter()
                        assert await read(io, record) == payload
                        out.append(time.perf_counter() - t0)
                return out

            before = await timed_reads()
            assert nodes[1].proc is not None
            os.kill(nodes[1].proc.pid, signal.SIGSTOP)
            try:
                during = await timed_reads()
            finally:
                os.kill(nodes[1].proc.pid, signal.SIGCONT)
            return before, during

    before, during = asyncio.run(go())
    p99 = statistics.quantiles(during, n=100)[98]
    print(
        f"GET latency p50/p99/max with a hung node: {statistics.median(during) * 1000:.0f}/"
        f"{p99 * 1000:.0f}/{max(during) * 1000:.0f} ms; healthy p50/p99: "
        f"{statistics.median(before) * 1000:.0f}/"
        f"{statistics.quantiles(before, n=100)[98] * 1000:.0f} ms"
    )
    # functional bound, not a performance target: far below the 30 s socket timeout
    assert max(during) < 5.0
