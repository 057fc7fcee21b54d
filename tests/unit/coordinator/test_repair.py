"""Rebuilding lost fragments (coordinator/repair.py) over real DiskFragmentStores. Choosing
their new stores (placement.place_replacements) is tested in tests/unit/placement."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.coordinator.repair import rebuild
from ninefold.core.errors import DataUnavailable
from ninefold.erasure.scheme import EC_6_3, REP_4, Scheme
from ninefold.fragments.protocol import FragmentId
from ninefold.fragments.records import ChunkRecord
from ninefold.node.disk import DiskFragmentStore
from ninefold.placement.rendezvous import StoreInfo
from tests.unit.coordinator.test_chunk_pipeline import STRIPE, corrupt, read, write


def make_io(root: Path, count: int = 12) -> tuple[ChunkIO, dict[str, DiskFragmentStore]]:
    executor = ThreadPoolExecutor(8)
    stores = {
        f"d{i}": DiskFragmentStore(f"d{i}", root / f"d{i}", executor) for i in range(1, count + 1)
    }
    for store in stores.values():
        store.root.mkdir(parents=True, exist_ok=True)
    infos = [StoreInfo(s) for s in list(stores)[:9]]  # d10.. are spares for the rebuild
    return ChunkIO(ClusterView(stores, infos), executor), stores


def lose(stores: dict[str, DiskFragmentStore], record: ChunkRecord, index: int) -> None:
    stores[record.stores[index]].path_of(FragmentId(record.chunk_id, index)).unlink()


@pytest.mark.parametrize(
    ("scheme", "size", "lost"),
    [
        (EC_6_3, 3 * STRIPE + 1234, [0, 4, 8]),
        (EC_6_3, 0, [2]),
        (EC_6_3, 5 * STRIPE, [6, 7, 8]),
        (REP_4, 300_000, [0, 1, 2]),
    ],
)
def test_rebuild_brings_lost_fragments_back(
    tmp_path: Path, scheme: Scheme, size: int, lost: list[int]
) -> None:
    io, stores = make_io(tmp_path)
    data = os.urandom(size)
    record = asyncio.run(write(io, scheme, data))
    for i in lost:
        lose(stores, record, i)
    spares = ["d10", "d11", "d12"]
    new = asyncio.run(rebuild(io, record, dict(zip(lost, spares, strict=False))))
    assert [new.stores[i] for i in lost] == spares[: len(lost)]
    # the rebuilt fragments are complete: read from them plus just enough of the others
    others = [i for i in range(scheme.width) if i not in lost]
    survivors = set(lost[: scheme.k]) | set(others[: max(0, scheme.k - len(lost))])
    trimmed = ChunkRecord(
        new.chunk_id,
        new.size,
        new.scheme,
        new.block_size,
        tuple(s if i in survivors else "" for i, s in enumerate(new.stores)),
    )
    assert asyncio.run(read(io, trimmed)) == data


def test_rebuild_reads_around_a_corrupt_source(tmp_path: Path) -> None:
    io, stores = make_io(tmp_path)
    data = os.urandom(2 * STRIPE + 99)
    record = asyncio.run(write(io, EC_6_3, data))
    lose(stores, record, 1)
    corrupt(stores[record.stores[0]].path_of(FragmentId(record.chunk_id, 0)))
    new = asyncio.run(rebuild(io, record, {1: "d10", 0: "d11"}))
    only_rebuilt_and_four = tuple(
        s if i in (0, 1, 2, 3, 4, 5) else "" for i, s in enumerate(new.stores)
    )
    assert (
        asyncio.run(
            read(
                io,
                ChunkRecord(
                    new.chunk_id, new.size, new.scheme, new.block_size, only_rebuilt_and_four
                ),
            )
        )
        == data
    )


def test_rebuild_with_too_few_sources_writes_nothing(tmp_path: Path) -> None:
    io, stores = make_io(tmp_path)
    record = asyncio.run(write(io, EC_6_3, os.urandom(STRIPE)))
    for i in range(4):
        lose(stores, record, i)
    with pytest.raises(DataUnavailable):
        asyncio.run(rebuild(io, record, {0: "d10", 1: "d11", 2: "d12"}))
    for spare in ("d10", "d11", "d12"):
        assert not [p for p in stores[spare].root.rglob("*") if p.is_file()]
