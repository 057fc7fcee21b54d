"""ChunkIO over in-memory stores: EC 6+3 and rep:4 round trips, reads around up to three lost,
corrupt, failing or hung fragments, the write quorum, and the cluster view a chunk holds on to.
Fast: no disk and no node; only the codec leaves the event loop (the default executor)."""

from __future__ import annotations

import asyncio
import itertools
import os
import time

import pytest

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.core.errors import DataUnavailable, WriteQuorumFailed
from ninefold.erasure.scheme import EC_6_3, REP_4, Scheme
from ninefold.fragments.memory import MemoryFragmentStore
from ninefold.fragments.protocol import FragmentId
from ninefold.fragments.records import ChunkRecord

STRIPE = 6 * 256 * 1024
SIZES = [1, 256 * 1024 + 1, STRIPE, 2 * STRIPE + 12345]


def make_io(
    count: int = 9, hedge_after_s: float = 0.25
) -> tuple[ChunkIO, dict[str, MemoryFragmentStore]]:
    stores = {f"m{i}": MemoryFragmentStore(f"m{i}") for i in range(1, count + 1)}
    return ChunkIO(ClusterView.local(stores), hedge_after_s=hedge_after_s), stores


async def write(io: ChunkIO, scheme: Scheme, data: bytes) -> ChunkRecord:
    writer = io.new_chunk_writer(scheme)
    for i in range(0, len(data), 300_000):
        await writer.write(data[i : i + 300_000])
    return await writer.commit()


async def read(
    io: ChunkIO, record: ChunkRecord, offset: int = 0, length: int | None = None
) -> bytes:
    length = record.size - offset if length is None else length
    return b"".join([p async for p in io.read(record, offset, length)])


def holder(
    stores: dict[str, MemoryFragmentStore], record: ChunkRecord, index: int
) -> tuple[MemoryFragmentStore, FragmentId]:
    return stores[record.stores[index]], FragmentId(record.chunk_id, index)


def lose(stores: dict[str, MemoryFragmentStore], record: ChunkRecord, index: int, how: str) -> None:
    store, fid = holder(stores, record, index)
    if how == "drop":
        store.drop(fid)
    elif how == "corrupt":
        store.corrupt(fid, block=0)
    elif how == "fail":
        store.fail()
    elif how == "truncate":
        store.truncate(fid, 0)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("scheme", [EC_6_3, REP_4], ids=["ec", "rep"])
def test_round_trip_every_fragment_on_its_own_store(size: int, scheme: Scheme) -> None:
    async def go() -> None:
        io, stores = make_io()
        data = os.urandom(size)
        record = await write(io, scheme, data)
        assert record.size == size and record.scheme == scheme.name
        assert len(set(record.stores)) == scheme.width and all(record.stores)
        for i in range(scheme.width):
            store, fid = holder(stores, record, i)
            assert fid in store
        assert await read(io, record) == data
        lo, n = size // 3, size // 3 + 1
        assert await read(io, record, lo, n) == data[lo : lo + n]

    asyncio.run(go())


# every way to lose up to three fragments, data and parity alike (6+3: 129 combinations)
LOSSES = [c for n in (1, 2, 3) for c in itertools.combinations(range(9), n)]


def test_ec_reads_around_any_three_losses() -> None:
    async def go() -> None:
        data = os.urandom(2 * STRIPE + 777)
        hows = itertools.cycle(["drop", "corrupt", "fail", "truncate"])

        async def one(lost: tuple[int, ...]) -> None:
            io, stores = make_io()
            degraded: list[str] = []
            io.on_degraded = lambda r: degraded.append(r.chunk_id)
            record = await write(io, EC_6_3, data)
            for i in lost:
                lose(stores, record, i, next(hows))
            assert await read(io, record) == data, lost
            assert bool(degraded) == any(i < 6 for i in lost), lost

        for lost in LOSSES:
            await one(lost)

    asyncio.run(go())


@pytest.mark.parametrize("how", ["drop", "corrupt", "fail"])
def test_a_fourth_loss_is_data_unavailable_never_wrong_bytes(how: str) -> None:
    async def go() -> None:
        io, stores = make_io()
        record = await write(io, EC_6_3, os.urandom(STRIPE + 1))
        for i in (0, 3, 7, 8):
            lose(stores, record, i, how)
        with pytest.raises(DataUnavailable):
            await read(io, record)

    asyncio.run(go())


def test_rep_reads_any_surviving_copy() -> None:
    async def go() -> None:
        data = os.urandom(700_000)
        for lost in itertools.combinations(range(4), 3):
            io, stores = make_io()
            record = await write(io, REP_4, data)
            for i, how in zip(lost, ["drop", "corrupt", "fail"], strict=True):
                lose(stores, record, i, how)
            assert await read(io, record) == data, lost
        lose(stores, record, 0, "drop")  # the last copy of the last round: all four gone
        with pytest.raises(DataUnavailable):
            await read(io, record)

    asyncio.run(go())


def test_a_corrupt_block_in_the_middle_is_decoded_from_parity() -> None:
    """Only stripe 2 of fragment 1 is damaged: that batch is decoded from parity, the range
    still comes back exact, and the read is reported degraded for healing."""

    async def go() -> None:
        io, stores = make_io()
        degraded: list[str] = []
        io.on_degraded = lambda r: degraded.append(r.chunk_id)
        data = os.urandom(6 * STRIPE)
        record = await write(io, EC_6_3, data)
        store, fid = holder(stores, record, 1)
        store.corrupt(fid, block=2)
        assert await read(io, record, 0, STRIPE) == data[:STRIPE]
        assert await read(io, record) == data
        assert degraded == [record.chunk_id]

    asyncio.run(go())


def test_a_hung_data_store_costs_the_hedge_delay_only() -> None:
    async def go() -> None:
        io, stores = make_io(hedge_after_s=0.05)
        data = os.urandom(3 * STRIPE)
        record = await write(io, EC_6_3, data)
        hung, _ = holder(stores, record, 2)
        hung.hang()
        t0 = time.monotonic()
        assert await read(io, record) == data
        assert time.monotonic() - t0 < 2.0
        hung.release()

    asyncio.run(go())


@pytest.mark.parametrize(("scheme", "failing"), [(EC_6_3, 2), (REP_4, 1)])
def test_writes_go_on_without_failing_stores_while_the_quorum_holds(
    scheme: Scheme, failing: int
) -> None:
    async def go() -> None:
        io, stores = make_io(count=scheme.width)
        for store in list(stores.values())[:failing]:
            store.fail()
        data = os.urandom(STRIPE + 5)
        record = await write(io, scheme, data)
        assert record.stores.count("") == failing
        assert await read(io, record) == data

    asyncio.run(go())


@pytest.mark.parametrize(("scheme", "failing"), [(EC_6_3, 3), (REP_4, 2)])
def test_below_the_write_quorum_nothing_is_left(scheme: Scheme, failing: int) -> None:
    async def go() -> None:
        io, stores = make_io(count=scheme.width)
        for store in list(stores.values())[:failing]:
            store.fail()
        with pytest.raises(WriteQuorumFailed):
            await write(io, scheme, os.urandom(2 * STRIPE))
        assert all(not s.fragment_ids() for s in stores.values())

    asyncio.run(go())


def test_stores_failing_mid_write_below_quorum_leave_nothing() -> None:
    """Three stores fail after the first stripe went out: the writer drops them, falls below
    the 6+3 write quorum (7), aborts the others, and no fragment becomes visible."""

    async def go() -> None:
        io, stores = make_io()
        writer = io.new_chunk_writer(EC_6_3)
        await writer.write(os.urandom(STRIPE))
        for store in list(stores.values())[:3]:
            store.fail()
        with pytest.raises(WriteQuorumFailed):
            await writer.write(os.urandom(STRIPE))
            await writer.commit()
        assert all(not s.fragment_ids() for s in stores.values())

    asyncio.run(go())


def test_a_full_store_is_one_lost_fragment() -> None:
    async def go() -> None:
        stores = {f"m{i}": MemoryFragmentStore(f"m{i}") for i in range(1, 10)}
        stores["m4"].capacity_bytes = 1000
        io = ChunkIO(ClusterView.local(stores))
        data = os.urandom(STRIPE)
        record = await write(io, EC_6_3, data)
        assert record.stores.count("") == 1 and "m4" not in record.stores
        assert await read(io, record) == data

    asyncio.run(go())


def test_a_chunk_keeps_the_view_it_started_with() -> None:
    """The view is swapped mid-write and mid-read: the chunk in flight goes on with the stores
    it started on; the next chunk uses the new view."""

    async def go() -> None:
        io, stores = make_io(count=12)
        old = io.view
        first_nine = ClusterView({k: stores[k] for k in list(stores)[:9]}, old.infos[:9])
        io.use(first_nine)
        writer = io.new_chunk_writer(EC_6_3)
        await writer.write(os.urandom(STRIPE))
        others = dict(list(stores.items())[9:])
        io.use(ClusterView(others, [i for i in old.infos if i.store_id in others]))
        record = await writer.commit()
        assert all(s in first_nine.stores for s in record.stores)
        # the next chunk goes to the new view's three stores (three fragments each)
        later = await write(io, EC_6_3, os.urandom(1000))
        assert sorted(set(later.stores)) == sorted(others) and "" not in later.stores
        io.use(first_nine)
        data = os.urandom(9 * STRIPE)  # three read batches: the last is fetched after the swap
        big = await write(io, EC_6_3, data)
        reading = io.read(big, 0, big.size)
        first = bytes(await anext(reading))
        io.use(ClusterView(others, []))  # the read in flight still reaches its stores
        rest = [bytes(p) async for p in reading]
        assert first + b"".join(rest) == data
        with pytest.raises(DataUnavailable):  # a read that starts now cannot
            await read(io, big)

    asyncio.run(go())


def test_delete_through_the_view() -> None:
    async def go() -> None:
        io, stores = make_io()
        record = await write(io, EC_6_3, os.urandom(1000))
        down = record.stores[0]
        io.use(ClusterView(io.view.stores, io.view.infos, {down}))
        assert await io.delete(record) == 1  # the fragment on the down store stays, counted
        assert [s for s in stores.values() if s.fragment_ids()] == [stores[down]]
        io.use(ClusterView.local({k: v for k, v in stores.items() if k != down}))
        assert await io.delete(record) == 0  # a store gone from the map took its fragment

    asyncio.run(go())
