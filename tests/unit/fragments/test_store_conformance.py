"""The FragmentStore protocol's promises, kept alike by the in-memory store and the disk store:
invisible until commit, verified reads, the same errors for missing and damaged fragments."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninefold.core.errors import CorruptFragment, DriveFull, FragmentNotFound, StorageError
from ninefold.fragments.format import HEADER_BYTES, RECORD_OVERHEAD
from ninefold.fragments.memory import MemoryFragmentStore
from ninefold.fragments.protocol import FragmentId, FragmentStore
from ninefold.node.disk import DiskFragmentStore

BLOCK = 1000


def _memory(_root: Path) -> tuple[FragmentStore, Callable[[FragmentId, int], None]]:
    store = MemoryFragmentStore("m1")
    return store, store.corrupt


def _disk(root: Path) -> tuple[FragmentStore, Callable[[FragmentId, int], None]]:
    root.mkdir()
    store = DiskFragmentStore("d1", root, ThreadPoolExecutor(2))

    def corrupt(fid: FragmentId, block: int) -> None:
        path = store.path_of(fid)
        data = bytearray(path.read_bytes())
        data[HEADER_BYTES + block * (RECORD_OVERHEAD + BLOCK) + RECORD_OVERHEAD + 5] ^= 0xFF
        path.write_bytes(bytes(data))

    return store, corrupt


@pytest.fixture(params=[_memory, _disk], ids=["memory", "disk"])
def store_and_corrupt(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[FragmentStore, Callable[[FragmentId, int], None]]:
    factory: Callable[[Path], tuple[FragmentStore, Callable[[FragmentId, int], None]]]
    factory = request.param
    return factory(tmp_path / "drive")


def fid(index: int = 0) -> FragmentId:
    return FragmentId(secrets.token_hex(16), index)


async def put(store: FragmentStore, fragment_id: FragmentId, blocks: list[bytes]) -> None:
    writer = await store.open_writer(fragment_id)
    for block in blocks:
        await writer.write_block(block)
    await writer.commit()


BLOCKS = [bytes([i]) * BLOCK for i in range(4)] + [b"tail"]


def test_round_trip_head_list_delete(
    store_and_corrupt: tuple[FragmentStore, Callable[[FragmentId, int], None]],
) -> None:
    store, _ = store_and_corrupt

    async def go() -> None:
        a, b = fid(0), fid(3)
        writer = await store.open_writer(a)
        for block in BLOCKS:
            await writer.write_block(block)
        assert await store.head(a) is None  # nothing visible before commit
        info = await writer.commit()
        assert (info.block_size, info.block_count, info.size_bytes) == (BLOCK, 5, 4 * BLOCK + 4)
        assert await store.head(a) == info
        assert await store.read_blocks(a, 0, 10) == BLOCKS
        assert await store.read_blocks(a, 1, 2) == BLOCKS[1:3]
        assert await store.read_blocks(a, 5, 1) == []  # past the end
        await put(store, b, [b"x"])
        assert sorted([str(f) async for f in store.list_fragments()]) == sorted([str(a), str(b)])
        assert await store.delete(a) is True
        assert await store.delete(a) is False
        assert await store.head(a) is None
        with pytest.raises(FragmentNotFound):
            await store.read_blocks(a, 0, 1)
        assert (await store.health()).online

    asyncio.run(go())


def test_abort_leaves_nothing_and_sizes_are_enforced(
    store_and_corrupt: tuple[FragmentStore, Callable[[FragmentId, int], None]],
) -> None:
    store, _ = store_and_corrupt

    async def go() -> None:
        a = fid()
        writer = await store.open_writer(a)
        await writer.write_block(b"a" * BLOCK)
        await writer.abort()
        await writer.abort()  # twice is safe
        assert await store.head(a) is None
        assert [f async for f in store.list_fragments()] == []
        writer = await store.open_writer(a)
        await writer.write_block(b"a" * BLOCK)
        with pytest.raises(StorageError):
            await writer.write_block(b"b" * (BLOCK + 1))  # larger than the first block
        await writer.write_block(b"short")
        with pytest.raises(StorageError):
            await writer.write_block(b"c" * 3)  # nothing may follow a short block
        await writer.abort()
        empty = await store.open_writer(fid())
        with pytest.raises(StorageError):
            await empty.commit()

    asyncio.run(go())


@pytest.mark.parametrize("block", [0, 2])
def test_a_damaged_block_is_corrupt_never_returned(
    store_and_corrupt: tuple[FragmentStore, Callable[[FragmentId, int], None]], block: int
) -> None:
    store, corrupt = store_and_corrupt

    async def go() -> None:
        a = fid()
        await put(store, a, BLOCKS)
        corrupt(a, block)
        with pytest.raises(CorruptFragment):
            await store.read_blocks(a, 0, 5)
        with pytest.raises(CorruptFragment):
            await store.read_blocks(a, block, 1)
        others = [i for i in range(5) if i != block]
        for i in others:
            assert await store.read_blocks(a, i, 1) == [BLOCKS[i]]

    asyncio.run(go())


def test_invalid_ids_are_refused(
    store_and_corrupt: tuple[FragmentStore, Callable[[FragmentId, int], None]],
) -> None:
    store, _ = store_and_corrupt

    async def go() -> None:
        for bad in (FragmentId("../../etc/passwd", 0), FragmentId("AB" * 16, 1)):
            with pytest.raises(ValueError):
                await store.open_writer(bad)
            with pytest.raises(ValueError):
                await store.read_blocks(bad, 0, 1)

    asyncio.run(go())


# -- the in-memory store's faults ---------------------------------------------------------------


def test_memory_faults() -> None:
    async def go() -> None:
        store = MemoryFragmentStore("m1")
        a = fid()
        await put(store, a, BLOCKS)
        store.truncate(a, 2)
        assert await store.read_blocks(a, 0, 5) == BLOCKS[:2]
        store.drop(a)
        assert a not in store
        with pytest.raises(FragmentNotFound):
            await store.read_blocks(a, 0, 1)
        store.fail("unplugged")
        with pytest.raises(StorageError, match="unplugged"):
            await store.open_writer(fid())
        assert not (await store.health()).online
        store.recover()
        store.hang()
        pending = asyncio.ensure_future(store.head(a))
        await asyncio.sleep(0.05)
        assert not pending.done()
        store.release()
        assert await pending is None

    asyncio.run(go())


def test_memory_drive_full_frees_what_it_held() -> None:
    async def go() -> None:
        store = MemoryFragmentStore("m1", capacity_bytes=3 * BLOCK)
        writer = await store.open_writer(fid())
        await writer.write_block(b"a" * BLOCK)
        await writer.write_block(b"b" * BLOCK)
        await writer.write_block(b"c" * BLOCK)
        with pytest.raises(DriveFull):
            await writer.write_block(b"d" * BLOCK)
        await writer.abort()
        assert (await store.health()).free_bytes == 3 * BLOCK
        await put(store, fid(), [b"e" * BLOCK])
        assert (await store.health()).free_bytes == 2 * BLOCK

    asyncio.run(go())
