"""The storage node's listener under its connection limits (``node.*_timeout_s``,
``node.max_connections``; composed by ``cli/node.py`` with ``GuardedAppRunner``): a real node
app on a real socket over a real disk store, slow clients on raw sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from ninefold.api.connections import GuardedAppRunner, HttpSettings
from ninefold.fragments import wire
from ninefold.fragments.protocol import FragmentId
from ninefold.node.app import NodeSettings, make_node_app
from ninefold.node.disk import DiskFragmentStore
from tests.support.server import free_port

SECRET = b"node-limit-secret-" + b"n" * 16
FID = FragmentId("0123456789abcdef0123456789abcdef", 2)
LIMIT_S = 0.5
#: far beyond LIMIT_S: what "never" means here
NEVER_S = 10.0


@asynccontextmanager
async def node(root: Path, limits: HttpSettings) -> AsyncIterator[tuple[int, DiskFragmentStore]]:
    port = free_port()
    (root / "d1").mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(2) as executor:
        store = DiskFragmentStore("n1:d1", root / "d1", executor)
        app = make_node_app(NodeSettings("n1", "z1", SECRET), {"d1": store})
        runner = GuardedAppRunner(app, limits, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield port, store
        finally:
            await runner.cleanup()


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    data = b""
    while piece := await reader.read(65536):
        data += piece
    return data


def test_idle_and_stalled_fragment_puts_are_cut(tmp_path: Path) -> None:
    limits = HttpSettings(header_timeout_s=LIMIT_S, idle_timeout_s=LIMIT_S, body_timeout_s=LIMIT_S)

    async def go() -> None:
        async with node(tmp_path, limits) as (port, store):
            # a connection that sends nothing is closed without a word
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(read_until_closed(reader), NEVER_S) == b""
            writer.close()
            # a fragment PUT whose body stops after its first record: 408, nothing stored
            path = wire.fragment_path("d1", FID)
            headers = wire.signed_headers(SECRET, "PUT", path)
            head = f"PUT {path} HTTP/1.1\r\nHost: n1\r\nTransfer-Encoding: chunked\r\n"
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            record = wire.frame_record(b"x" * 4096)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head.encode() + f"{len(record):x}\r\n".encode() + record + b"\r\n")
            reply = await asyncio.wait_for(read_until_closed(reader), NEVER_S)
            writer.close()
            assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
            assert await store.head(FID) is None
            assert [p for p in (tmp_path / "d1").rglob("*") if p.is_file()] == []

    asyncio.run(go())


def test_a_trickled_head_is_cut_and_the_cap_closes_one_connection_too_many(
    tmp_path: Path,
) -> None:
    limits = HttpSettings(header_timeout_s=LIMIT_S, idle_timeout_s=NEVER_S, max_connections=2)

    async def go() -> None:
        async with node(tmp_path, limits) as (port, _):
            held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
            await asyncio.sleep(0.1)  # both accepted
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert await asyncio.wait_for(read_until_closed(reader), NEVER_S) == b""
            writer.close()
            # one held connection trickles its head, a line every LIMIT_S / 5: cut with 408
            reader, writer = held[0]
            writer.write(b"GET /health HTTP/1.1\r\n")

            async def trickle() -> None:
                for i in range(int(NEVER_S / (LIMIT_S / 5))):
                    await asyncio.sleep(LIMIT_S / 5)
                    if writer.is_closing() or reader.at_eof():
                        return
                    writer.write(f"X-Slow-{i}: v\r\n".encode())

            sender = asyncio.create_task(trickle())
            reply = await asyncio.wait_for(read_until_closed(reader), NEVER_S)
            sender.cancel()
            writer.close()
            assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
            # the place it held is free again; the other held connection was never disturbed
            other_reader, other_writer = held[1]
            other_writer.write(b"GET /nothing HTTP/1.1\r\nHost: n1\r\n\r\n")
            status = await asyncio.wait_for(other_reader.readline(), NEVER_S)
            assert status.startswith(b"HTTP/1.1 403 "), status  # unsigned: refused, but served
            other_writer.close()

    asyncio.run(go())
