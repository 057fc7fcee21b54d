"""The node daemon (node/app.py) and its client (nodeclient/) over a real socket, with in-memory
drives: both ends speak fragments/wire.py, and a drive's errors come back as the same errors."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web

from ninefold.core.errors import CorruptFragment, DriveFull, FragmentNotFound, StorageError
from ninefold.fragments.memory import MemoryFragmentStore
from ninefold.fragments.protocol import FragmentId, FragmentStore
from ninefold.node.app import NodeSettings, make_node_app
from ninefold.nodeclient import RemoteFragmentStore, probe_node
from tests.support.server import free_port

SECRET = b"node-app-secret-" + b"n" * 16
FID = FragmentId("0123456789abcdef0123456789abcdef", 4)


@asynccontextmanager
async def node(drives: Mapping[str, FragmentStore]) -> AsyncIterator[str]:
    port = free_port()
    runner = web.AppRunner(make_node_app(NodeSettings("n1", "z1", SECRET), drives))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def test_fragments_round_trip_and_errors_come_back_typed() -> None:
    async def go() -> None:
        d1, d2 = MemoryFragmentStore("n1:d1"), MemoryFragmentStore("n1:d2", capacity_bytes=500)
        async with node({"d1": d1, "d2": d2}) as url, aiohttp.ClientSession() as session:
            remote = RemoteFragmentStore("n1:d1", url, "d1", SECRET, session)
            blocks = [os.urandom(1000), os.urandom(1000), b"end"]
            writer = await remote.open_writer(FID)
            for block in blocks:
                await writer.write_block(block)
            info = await writer.commit()
            assert (info.block_size, info.block_count, info.size_bytes) == (1000, 3, 2003)
            assert FID in d1 and await remote.head(FID) == info
            assert await remote.read_blocks(FID, 0, 3) == blocks
            assert await remote.read_blocks(FID, 1, 5) == blocks[1:]
            assert [f async for f in remote.list_fragments()] == [FID]
            d1.corrupt(FID, 1)
            with pytest.raises(CorruptFragment):
                await remote.read_blocks(FID, 0, 3)
            assert await remote.delete(FID) is True
            assert await remote.delete(FID) is False
            assert await remote.head(FID) is None
            with pytest.raises(FragmentNotFound):
                await remote.read_blocks(FID, 0, 1)
            full = RemoteFragmentStore("n1:d2", url, "d2", SECRET, session)
            writer = await full.open_writer(FID)
            with pytest.raises(DriveFull):  # 507 from the node
                await writer.write_block(os.urandom(1000))
                await writer.commit()
            await writer.abort()
            assert d2.fragment_ids() == []
            d1.fail()
            with pytest.raises(StorageError, match="503"):
                await remote.read_blocks(FID, 0, 1)

    asyncio.run(go())


def test_health_is_one_shape_for_the_probe_and_the_store() -> None:
    async def go() -> None:
        d1 = MemoryFragmentStore("n1:d1", capacity_bytes=10_000)
        async with node({"d1": d1}) as url, aiohttp.ClientSession() as session:
            status = await probe_node(session, url, SECRET)
            assert (status.node_id, status.zone) == ("n1", "z1")
            assert status.drives["d1"] == await d1.health()
            remote = RemoteFragmentStore("as-the-map-names-it", url, "d1", SECRET, session)
            health = await remote.health()
            assert health.store_id == "as-the-map-names-it" and health.online
            assert health.capacity_bytes == 10_000
            with pytest.raises(StorageError):
                await probe_node(session, url, b"wrong-secret-" + b"w" * 16)

    asyncio.run(go())
