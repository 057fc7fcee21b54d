"""Rebuilding lost fragments of a chunk (repair, heal on read, drain).

``rebuild`` streams the chunk stripe by stripe: any k readable fragments are fetched (hedged,
like a read), the missing fragments are reconstructed by pyeclib (EC) or copied (replicas), and
written to their new stores through the same verified fragment writers as a PUT. Memory is one
batch of stripes, whatever the chunk size. The caller records the new placement in metadata
(compare-and-set) and deletes what it wrote if that fails. Each function takes the ChunkIO's
cluster view once when it starts and reads and writes through that one.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import replace

from ninefold.coordinator.chunks import READ_BATCH_STRIPES, UNIT_BYTES, ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.core.errors import StorageError, WriteQuorumFailed
from ninefold.erasure.scheme import Scheme
from ninefold.fragments.protocol import FragmentId, FragmentWriter
from ninefold.fragments.records import ChunkRecord

__all__ = ["fragment_blocks", "move_fragments", "rebuild", "verify_fragment"]

log = logging.getLogger("ninefold.repair")

#: blocks asked for per read when a fragment is verified whole (1 MiB of a 6+3 fragment: a scrub
#: of a 64 MiB chunk holds 9 of these at a time)
VERIFY_BATCH_BLOCKS = 4


def fragment_blocks(io: ChunkIO, record: ChunkRecord) -> int:
    """Blocks in each fragment of ``record`` (one per stripe; a chunk of size 0 still has one)."""
    scheme = Scheme.parse(record.scheme)
    unit = io.codec(scheme).stripe_bytes if scheme.kind == "ec" else UNIT_BYTES
    return max(1, math.ceil(record.size / unit))


async def verify_fragment(io: ChunkIO, record: ChunkRecord, index: int) -> tuple[bool, int]:
    """(fragment ``index`` is whole and every block passes its checksum, payload bytes read).
    Stores verify the CRC32C of each block they return; a block too many is damage too.
    Raises StorageError/OSError when the store cannot be read, KeyError when its store is not
    in the map."""
    store = io.view.stores[record.stores[index]]
    fid = FragmentId(record.chunk_id, index)
    expected = fragment_blocks(io, record)
    read = 0
    for first in range(0, expected, VERIFY_BATCH_BLOCKS):
        count = min(VERIFY_BATCH_BLOCKS, expected - first)
        blocks = await store.read_blocks(fid, first, count)
        read += sum(len(b) for b in blocks)
        if len(blocks) != count:
            return False, read
    return len(await store.read_blocks(fid, expected, 1)) == 0, read


async def rebuild(
    io: ChunkIO,
    record: ChunkRecord,
    targets: dict[int, str],
    view: ClusterView | None = None,
) -> ChunkRecord:
    """Write fragment ``i`` of ``record`` anew on store ``targets[i]`` for every ``i``; returns
    the record with the new placement. Raises DataUnavailable when fewer than k fragments are
    readable, StorageError when a target refuses (nothing is recorded then). ``view`` is the
    caller's snapshot of the stores (default: the current one)."""
    if not targets:
        return record
    if view is None:
        view = io.view
    scheme = Scheme.parse(record.scheme)
    codec = io.codec(scheme) if scheme.kind == "ec" else None
    stripes = fragment_blocks(io, record)
    missing = sorted(targets)
    # the sources: every fragment but the ones being rebuilt
    source = replace(
        record, stores=tuple("" if i in targets else s for i, s in enumerate(record.stores))
    )
    writers: dict[int, FragmentWriter] = {}
    try:
        for i in missing:
            writers[i] = await view.stores[targets[i]].open_writer(FragmentId(record.chunk_id, i))
        loop = asyncio.get_running_loop()
        for first in range(0, stripes, READ_BATCH_STRIPES):
            count = min(READ_BATCH_STRIPES, stripes - first)
            fetched = await io.fetch_any_k(source, scheme, first, count, view)
            for n in range(count):
                frags = {i: blocks[n] for i, blocks in fetched.items()}
                if codec is not None:
                    rebuilt = await loop.run_in_executor(
                        io.executor, codec.reconstruct, frags, missing
                    )
                else:
                    rebuilt = [next(iter(frags.values()))] * len(missing)
                await asyncio.gather(
                    *(
                        writers[i].write_block(block)
                        for i, block in zip(missing, rebuilt, strict=True)
                    )
                )
        await asyncio.gather(*(w.commit() for w in writers.values()))
    except (StorageError, OSError, KeyError) as exc:
        await asyncio.gather(*(w.abort() for w in writers.values()), return_exceptions=True)
        if isinstance(exc, KeyError):
            raise WriteQuorumFailed(f"no such store {exc}") from exc
        raise
    stores = list(record.stores)
    for i, store_id in targets.items():
        stores[i] = store_id
    return replace(record, stores=tuple(stores))


async def move_fragments(io: ChunkIO, record: ChunkRecord, targets: dict[int, str]) -> ChunkRecord:
    """Copy fragment ``i`` of ``record`` to store ``targets[i]`` for every ``i`` (rebalance,
    drain): block by block from its current store, each block verified on read and on write.
    A fragment whose source cannot be read is rebuilt from the others instead. Returns the
    record with the new placement; the caller records it and hands the old copies to GC."""
    view = io.view
    blocks_total = fragment_blocks(io, record)
    moved = list(record.stores)
    fallback: dict[int, str] = {}
    for i, target in targets.items():
        source = view.store(record.stores[i]) if record.stores[i] else None
        if source is None:  # not in the map, or down
            fallback[i] = target
            continue
        fid = FragmentId(record.chunk_id, i)
        writer = await view.stores[target].open_writer(fid)
        try:
            for first in range(0, blocks_total, READ_BATCH_STRIPES * 4):
                count = min(READ_BATCH_STRIPES * 4, blocks_total - first)
                blocks = await source.read_blocks(fid, first, count)
                if len(blocks) != count:
                    raise StorageError(f"{fid}: short fragment on {record.stores[i]}")
                for block in blocks:
                    await writer.write_block(block)
            await writer.commit()
        except (StorageError, OSError) as exc:
            await writer.abort()
            log.info(
                "chunk %s fragment %d: copy failed (%s); rebuilding it", record.chunk_id, i, exc
            )
            fallback[i] = target
            continue
        moved[i] = target
    if fallback:
        rebuilt = await rebuild(io, replace(record, stores=tuple(moved)), fallback, view)
        moved = list(rebuilt.stores)
    return replace(record, stores=tuple(moved))
