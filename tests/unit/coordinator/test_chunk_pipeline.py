"""ChunkIO over nine DiskFragmentStores: round trips, ranges, lost and corrupt fragments."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.coordinator.writer import write_body
from ninefold.core.checksums import MultiHasher
from ninefold.core.errors import DataUnavailable, WriteQuorumFailed
from ninefold.erasure.scheme import EC_6_3, REP_4, Scheme
from ninefold.fragments.format import RECORD_OVERHEAD
from ninefold.fragments.protocol import FragmentId
from ninefold.fragments.records import ChunkRecord
from ninefold.node.disk import DiskFragmentStore
from ninefold.placement.rendezvous import StoreInfo

STRIPE = 6 * 256 * 1024


def make_io(root: Path) -> tuple[ChunkIO, dict[str, DiskFragmentStore]]:
    executor = ThreadPoolExecutor(8)
    stores = {f"d{i}": DiskFragmentStore(f"d{i}", root / f"d{i}", executor) for i in range(1, 10)}
    for store in stores.values():
        store.root.mkdir(parents=True, exist_ok=True)
    return ChunkIO(ClusterView(stores, [StoreInfo(s) for s in stores]), executor), stores


async def write(io: ChunkIO, scheme: Scheme, data: bytes) -> ChunkRecord:
    writer = io.new_chunk_writer(scheme)
    for i in range(0, len(data), 100_000):
        await writer.write(data[i : i + 100_000])
    return await writer.commit()


async def read(
    io: ChunkIO, record: ChunkRecord, offset: int = 0, length: int | None = None
) -> bytes:
    length = record.size - offset if length is None else length
    return b"".join([p async for p in io.read(record, offset, length)])


def path_of(stores: dict[str, DiskFragmentStore], record: ChunkRecord, index: int) -> Path:
    return stores[record.stores[index]].path_of(FragmentId(record.chunk_id, index))


def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for pos in (40, len(data) // 2, len(data) - 1):
        data[pos] ^= 0xFF
    path.write_bytes(bytes(data))


SIZES = [1, 1000, 256 * 1024, STRIPE - 1, STRIPE, STRIPE + 1, 5 * STRIPE + 12345]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scheme", [EC_6_3, REP_4], ids=["ec", "rep"])
def test_round_trip_and_any_three_losses(tmp_path: Path, size: int, scheme: Scheme) -> None:
    async def go() -> None:
        io, stores = make_io(tmp_path)
        data = os.urandom(size)
        record = await write(io, scheme, data)
        assert record.size == size and len(record.stores) == scheme.width
        assert len(set(record.stores)) == scheme.width
        assert await read(io, record) == data
        # lose three fragments (delete two, corrupt one): still the exact bytes
        for i in (0, 1):
            path_of(stores, record, i).unlink()
        corrupt(path_of(stores, record, scheme.width - 1))
        assert await read(io, record) == data
        # a fourth loss: a clear error, never wrong bytes
        path_of(stores, record, 2).unlink()
        if scheme.width - 4 < scheme.k:
            with pytest.raises(DataUnavailable):
                await read(io, record)

    asyncio.run(go())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_ranges_read_only_what_they_cover(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    size = 3 * STRIPE + 777
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    offset = data.draw(st.integers(0, size - 1))
    length = data.draw(st.integers(1, size - offset))
    lost = data.draw(st.lists(st.integers(0, 8), max_size=3, unique=True))

    async def go() -> None:
        io, stores = make_io(tmp_path_factory.mktemp("r"))
        record = await write(io, EC_6_3, payload)
        for i in lost:
            path_of(stores, record, i).unlink()
        assert await read(io, record, offset, length) == payload[offset : offset + length]

    asyncio.run(go())


def test_write_quorum(tmp_path: Path) -> None:
    async def go() -> None:
        io, stores = make_io(tmp_path)
        # two drives gone: 7 of 9 is still the EC quorum; the record marks the holes
        for name in ("d1", "d2"):
            shutil.rmtree(stores[name].root)
        data = os.urandom(STRIPE * 2)
        record = await write(io, EC_6_3, data)
        assert record.stores.count("") in (0, 1, 2)
        assert await read(io, record) == data
        # a third drive gone: below quorum, the write is refused and leaves nothing behind
        shutil.rmtree(stores["d3"].root)
        with pytest.raises(WriteQuorumFailed):
            await write(io, EC_6_3, data)
        leftovers = [
            p for s in stores.values() if s.root.exists() for p in (s.root / "tmp").glob("*")
        ]
        assert leftovers == []

    asyncio.run(go())


def test_delete_removes_every_fragment(tmp_path: Path) -> None:
    async def go() -> None:
        io, stores = make_io(tmp_path)
        record = await write(io, EC_6_3, os.urandom(1000))
        assert await io.delete(record) == 0  # nothing left behind
        for store in stores.values():
            assert [f async for f in store.list_fragments()] == []

    asyncio.run(go())


@pytest.mark.parametrize("live", [8, 7, 6, 5])
def test_fewer_live_stores_than_fragments_get_every_fragment(tmp_path: Path, live: int) -> None:
    """Nodes marked down leave 8 .. 5 stores for 9 fragments (6: a zone of three lost): every
    fragment is still written, some stores holding two of the chunk (never more), nothing on
    the stores that are down; the chunk reads back, also after losing any one live store."""
    io, stores = make_io(tmp_path)
    io.use(io.view.with_infos(io.view.infos[:live]))
    data = os.urandom(2 * STRIPE + 7)
    record = asyncio.run(write(io, EC_6_3, data))
    assert "" not in record.stores and len(record.stores) == 9
    assert set(record.stores) == {f"d{i}" for i in range(1, live + 1)}
    assert max(record.stores.count(s) for s in record.stores) == 2
    for i, store_id in enumerate(record.stores):
        assert path_of(stores, record, i).exists(), (i, store_id)
    assert asyncio.run(read(io, record)) == data
    busiest = max(record.stores, key=record.stores.count)
    shutil.rmtree(stores[busiest].root)
    assert asyncio.run(read(io, record)) == data


@pytest.mark.parametrize(("scheme", "live"), [(EC_6_3, 2), (EC_6_3, 1), (REP_4, 1)])
def test_below_the_write_quorum_of_live_stores_nothing_is_written(
    tmp_path: Path, scheme: Scheme, live: int
) -> None:
    """Too few live stores for any placement that survives the loss of one of them (6+3 on two
    stores: 5 + 4 fragments; rep:4 on one): refused before anything is written."""
    io, stores = make_io(tmp_path)
    io.use(io.view.with_infos(io.view.infos[:live]))
    with pytest.raises(WriteQuorumFailed):
        asyncio.run(write(io, scheme, os.urandom(1000)))
    assert not [p for s in stores.values() for p in s.root.rglob("*") if p.is_file()]


def test_no_live_store_at_all_refuses_the_write(tmp_path: Path) -> None:
    io, _stores = make_io(tmp_path)
    io.use(io.view.with_infos([]))
    with pytest.raises(WriteQuorumFailed):
        io.new_chunk_writer(EC_6_3)


def test_inline_chunk_ranges_and_damage(tmp_path: Path) -> None:
    """An inline chunk serves any range from its record; a damaged record (payload, CRC or
    length) is DataUnavailable, never wrong bytes; deleting it touches no store."""
    io, _ = make_io(tmp_path)
    data = os.urandom(5000)
    record = ChunkRecord.inline("ab" * 16, data)
    assert record.stores == () and record.size == len(data)

    async def go() -> None:
        assert await read(io, record) == data
        assert await read(io, record, 4000, 1000) == data[4000:]
        assert await read(io, record, 17, 1) == data[17:18]
        assert await io.delete(record) == 0
        assert ChunkRecord.from_json(record.to_json()) == record
        for pos in (0, 5, RECORD_OVERHEAD + 10, len(record.data or b"") - 1):
            damaged = bytearray(record.data or b"")
            damaged[pos] ^= 0x01
            bad = ChunkRecord(record.chunk_id, record.size, "inline", 0, (), bytes(damaged))
            with pytest.raises(DataUnavailable):
                await read(io, bad)
        truncated = ChunkRecord(record.chunk_id, record.size, "inline", 0, (), b"\x00\x01")
        with pytest.raises(DataUnavailable):
            await read(io, truncated)

    asyncio.run(go())


class _Pieces:
    """A BodySource yielding ``data`` in the given piece sizes (cycled)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos, self.n = data, sizes, 0, 0

    async def read(self) -> bytes:
        size = self.sizes[self.n % len(self.sizes)]
        self.n += 1
        piece = self.data[self.pos : self.pos + size]
        self.pos += len(piece)
        return piece


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    size=st.sampled_from([1, 32 * 1024, 32 * 1024 + 1, 128 * 1024 + 1, STRIPE, 3 * STRIPE + 7]),
    sizes=st.lists(st.integers(1, 700_000), min_size=1, max_size=4),
)
def test_write_body_any_piece_sizes(tmp_path: Path, size: int, sizes: list[int]) -> None:
    """However the body arrives, the chunks hold exactly its bytes: inline up to 32 KiB, rep:4
    up to 128 KiB, 6+3 above (with 2 MiB chunks, so chunk boundaries fall inside buffers)."""
    io, _ = make_io(tmp_path)
    data = os.urandom(size)
    config = CoordinatorSettings(chunk_size_bytes=2 * 1024 * 1024)

    async def go() -> None:
        hasher = MultiHasher(())
        chunks = await write_body(
            _Pieces(data, sizes), io, config, hasher, None, _no_orphans, limit=1 << 30
        )
        expected = "inline" if size <= 32 * 1024 else "rep:4" if size <= 128 * 1024 else "ec:6+3"
        assert {c.scheme for c in chunks} == {expected}
        assert sum(c.size for c in chunks) == size
        assert hasher.md5.hexdigest() == hashlib.md5(data).hexdigest()
        back = b"".join([await read(io, c) for c in chunks])
        assert back == data

    asyncio.run(go())


async def _no_orphans(chunks: list[ChunkRecord]) -> None:
    raise AssertionError(f"unexpected orphans {chunks}")
