"""The chunk pipeline: write one chunk as n fragments, read any byte range back.

Writes: bytes are cut into stripes (EC: k x 256 KiB, encoded to k+m fragment blocks in the
executor; replication: 256 KiB blocks copied to every replica); block i of every stripe goes to
fragment writer i, all in parallel. At most one stripe is buffered, so memory does not grow with
the chunk size. Every fragment is placed, on substitute stores holding two of the chunk when
fewer stores are live than fragments (``placement.spread``). A store that fails is dropped as
long as the acknowledgement rule still holds (``placement.spread.acknowledgeable``: the write
quorum, counted so that losing any one store is survived); the chunk record marks its fragment
as missing ("") for repair.

Reads: only the stripes covering the range; the k data fragments first (verified blocks, and
pyeclib only concatenates them), parity or other replicas only when something is missing or
corrupt. Fewer than k readable fragments raises DataUnavailable — never wrong bytes.

The stores come from a :class:`~ninefold.coordinator.cluster.ClusterView` that ChunkIO holds and
swaps whole (:meth:`ChunkIO.use`) when the cluster map changes; a chunk writer, a read or a
delete takes the view once when it starts, never per block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor

from ninefold.coordinator.cluster import ClusterView
from ninefold.core.errors import (
    CorruptFragment,
    DataUnavailable,
    FragmentNotFound,
    StorageError,
    WriteQuorumFailed,
)
from ninefold.erasure.codec import ECCodec
from ninefold.erasure.scheme import Scheme
from ninefold.fragments.protocol import FragmentId, FragmentWriter
from ninefold.fragments.records import INLINE, ChunkRecord
from ninefold.placement.spread import acknowledgeable, place_all

__all__ = ["ChunkIO", "ChunkRecord", "ChunkWriter", "ClusterView"]

log = logging.getLogger("ninefold.chunks")

UNIT_BYTES = 256 * 1024
#: stripes (EC) or blocks (replicas) fetched per read round trip
READ_BATCH_STRIPES = 4
READ_BATCH_BLOCKS = 16


class ChunkWriter:
    """Streams one chunk into its placed fragment writers; see the module docstring."""

    def __init__(self, io: ChunkIO, scheme: Scheme) -> None:
        self._io = io
        #: the stores this chunk is written to, fixed for its whole write
        self._view = view = io.view
        self._scheme = scheme
        self.chunk_id = secrets.token_hex(16)
        # every fragment gets a store: with fewer live stores than fragments (nodes down, a
        # zone lost) some stores take two (place_all), and rebalance moves them back when the
        # stores return. Refused before anything is written when even writing every fragment
        # could not be acknowledged (docs/design.md, "Writes with a zone down")
        usable = len(view.placeable())
        self._placed = place_all(self.chunk_id, view.infos, scheme.width) if usable else []
        if not acknowledgeable(self._placed, scheme.write_quorum):
            raise WriteQuorumFailed(
                f"only {usable} fragment stores are available for {scheme.width} fragments "
                f"(need {scheme.write_quorum} durable, still readable without any one store)"
            )
        self._writers: list[FragmentWriter | None] = [None] * scheme.width
        self._opened = False
        self._buffer = bytearray()
        self._size = 0
        self._block_size = 0
        self._codec = io.codec(scheme) if scheme.kind == "ec" else None
        self._stripe = self._codec.stripe_bytes if self._codec else UNIT_BYTES

    async def _open(self) -> None:
        async def one(i: int) -> None:
            if not self._placed[i]:
                return
            try:
                self._writers[i] = await self._view.stores[self._placed[i]].open_writer(
                    FragmentId(self.chunk_id, i)
                )
            except (StorageError, OSError, KeyError) as exc:
                log.warning("chunk %s: cannot open fragment %d: %s", self.chunk_id, i, exc)

        await asyncio.gather(*(one(i) for i in range(self._scheme.width)))
        self._opened = True
        await self._check_quorum()

    async def _check_quorum(self) -> None:
        alive = sum(w is not None for w in self._writers)
        live = [
            s if w is not None else "" for s, w in zip(self._placed, self._writers, strict=True)
        ]
        if not acknowledgeable(live, self._scheme.write_quorum):
            await self.abort()
            raise WriteQuorumFailed(
                f"only {alive} of {self._scheme.width} fragment stores accepted the write "
                f"(need {self._scheme.write_quorum})"
            )

    async def _write_stripe(self, stripe: bytes) -> None:
        if not self._opened:
            await self._open()
        if self._codec is not None:
            codec = self._codec
            blocks = await asyncio.get_running_loop().run_in_executor(
                self._io.executor, codec.encode, stripe
            )
        else:
            blocks = [stripe] * self._scheme.width
        if not self._block_size:
            self._block_size = len(blocks[0])

        async def one(i: int) -> None:
            writer = self._writers[i]
            if writer is None:
                return
            try:
                await writer.write_block(blocks[i])
            except (StorageError, OSError) as exc:
                log.warning("chunk %s: fragment %d failed: %s", self.chunk_id, i, exc)
                self._writers[i] = None
                await writer.abort()

        await asyncio.gather(*(one(i) for i in range(self._scheme.width)))
        await self._check_quorum()

    async def write(self, data: bytes | memoryview) -> None:
        """Buffer ``data`` and write every whole stripe. A buffer that is exactly one stripe
        (the coordinator's usual one) goes to the encoder as it is; otherwise each stripe is
        copied once."""
        self._size += len(data)
        stripe = self._stripe
        view = memoryview(data)
        if self._buffer:
            need = stripe - len(self._buffer)
            self._buffer += view[:need]
            view = view[need:]
            if len(self._buffer) < stripe:
                return
            full, self._buffer = bytes(self._buffer), bytearray()
            await self._write_stripe(full)
        if isinstance(data, bytes) and len(data) == len(view) == stripe:
            await self._write_stripe(data)
            return
        while len(view) >= stripe:
            piece, view = bytes(view[:stripe]), view[stripe:]
            await self._write_stripe(piece)
        if view:
            self._buffer += view

    async def commit(self) -> ChunkRecord:
        if self._buffer or not self._opened:
            stripe, self._buffer = bytes(self._buffer), bytearray()
            await self._write_stripe(stripe)

        async def one(i: int) -> bool:
            writer = self._writers[i]
            if writer is None:
                return False
            try:
                await writer.commit()
            except (StorageError, OSError) as exc:
                log.warning("chunk %s: fragment %d commit failed: %s", self.chunk_id, i, exc)
                self._writers[i] = None
                return False
            return True

        done = await asyncio.gather(*(one(i) for i in range(self._scheme.width)))
        record = ChunkRecord(
            chunk_id=self.chunk_id,
            size=self._size,
            scheme=self._scheme.name,
            block_size=self._block_size,
            stores=tuple(s if ok else "" for s, ok in zip(self._placed, done, strict=True)),
        )
        if not acknowledgeable(record.stores, self._scheme.write_quorum):
            await self._io.delete(record, self._view)
            raise WriteQuorumFailed(
                f"only {sum(done)} fragments became durable (need {self._scheme.write_quorum})"
            )
        return record

    async def abort(self) -> None:
        writers, self._writers = self._writers, [None] * self._scheme.width
        await asyncio.gather(*(w.abort() for w in writers if w is not None))


class ChunkIO:
    """Writes and reads chunks over the fragment stores of a :class:`ClusterView`."""

    def __init__(
        self,
        view: ClusterView,
        executor: Executor | None = None,
        on_degraded: Callable[[ChunkRecord], None] | None = None,
        hedge_after_s: float = 0.25,
    ) -> None:
        self._view = view
        self.executor = executor
        self.on_degraded = on_degraded
        #: how long the data fragments may take before parity is asked as well
        self.hedge_after_s = hedge_after_s
        self._codecs: dict[str, ECCodec] = {}

    @property
    def view(self) -> ClusterView:
        """The stores in use now; an operation that starts takes this one for its duration."""
        return self._view

    def use(self, view: ClusterView) -> None:
        """Swap in ``view`` (a new cluster map) for every operation that starts from now on."""
        self._view = view

    def codec(self, scheme: Scheme) -> ECCodec:
        codec = self._codecs.get(scheme.name)
        if codec is None:
            codec = self._codecs[scheme.name] = ECCodec(scheme.k, scheme.m, UNIT_BYTES)
        return codec

    def new_chunk_writer(self, scheme: Scheme) -> ChunkWriter:
        return ChunkWriter(self, scheme)

    async def _blocks(
        self, view: ClusterView, record: ChunkRecord, index: int, first: int, count: int
    ) -> list[bytes] | None:
        """Verified blocks of fragment ``index``, or None when they cannot be had."""
        store = view.store(record.stores[index])
        if store is None:
            return None
        try:
            blocks = await store.read_blocks(FragmentId(record.chunk_id, index), first, count)
        except (StorageError, OSError) as exc:
            log.log(
                logging.DEBUG if isinstance(exc, FragmentNotFound) else logging.WARNING,
                "chunk %s fragment %d: %s",
                record.chunk_id,
                index,
                exc,
            )
            return None
        return blocks if len(blocks) == count else None

    def _degraded(self, record: ChunkRecord) -> None:
        if self.on_degraded is not None:
            self.on_degraded(record)

    async def read(
        self, record: ChunkRecord, offset: int, length: int
    ) -> AsyncIterator[bytes | memoryview]:
        """Yield exactly bytes ``[offset, offset + length)`` of the chunk."""
        if length <= 0:
            return
        if offset < 0 or offset + length > record.size:
            raise ValueError("range outside the chunk")
        if record.scheme == INLINE:
            try:
                payload = record.inline_payload()
            except CorruptFragment as exc:
                raise DataUnavailable(f"chunk {record.chunk_id}: inline bytes: {exc}") from exc
            if len(payload) != record.size:
                raise DataUnavailable(f"chunk {record.chunk_id}: inline bytes are short")
            yield payload[offset : offset + length]
            return
        scheme = Scheme.parse(record.scheme)
        view = self._view
        if scheme.kind == "ec":
            pieces = self._read_ec(view, record, scheme, offset, length)
        else:
            pieces = self._read_rep(view, record, scheme, offset, length)
        async for piece in pieces:
            yield piece

    async def _read_ec(
        self, view: ClusterView, record: ChunkRecord, scheme: Scheme, offset: int, length: int
    ) -> AsyncIterator[bytes | memoryview]:
        codec = self.codec(scheme)
        stripe_bytes = codec.stripe_bytes
        first = offset // stripe_bytes
        last = (offset + length - 1) // stripe_bytes
        loop = asyncio.get_running_loop()
        starts = list(range(first, last + 1, READ_BATCH_STRIPES))

        def fetch(batch_start: int) -> asyncio.Future[dict[int, list[bytes]]]:
            count = min(READ_BATCH_STRIPES, last + 1 - batch_start)
            return asyncio.ensure_future(self.fetch_any_k(record, scheme, batch_start, count, view))

        # read-ahead: the next batch is read from the stores while this one goes to the client
        pending = fetch(starts[0])
        try:
            for number, batch_start in enumerate(starts):
                fetched = await pending
                if number + 1 < len(starts):
                    pending = fetch(starts[number + 1])
                count = min(READ_BATCH_STRIPES, last + 1 - batch_start)
                for n in range(count):
                    stripe_no = batch_start + n
                    frags = {i: blocks[n] for i, blocks in fetched.items()}
                    # all data fragments at hand: their payloads are the stripe, handed on as
                    # views without a copy; otherwise pyeclib decodes (in the executor)
                    parts: list[bytes] | list[memoryview] | None = codec.data_parts(frags)
                    if parts is None:
                        parts = [await loop.run_in_executor(self.executor, codec.decode, frags)]
                    expected = min(stripe_bytes, record.size - stripe_no * stripe_bytes)
                    if sum(len(p) for p in parts) != expected:
                        raise DataUnavailable(
                            f"chunk {record.chunk_id}: stripe {stripe_no} is short"
                        )
                    base = stripe_no * stripe_bytes
                    lo = max(offset, base) - base
                    hi = min(offset + length, base + expected) - base
                    if (lo, hi) == (0, expected):
                        for part in parts:
                            yield part
                    else:
                        yield b"".join(parts)[lo:hi]
        finally:
            if not pending.done():  # the reader stopped early (client gone, error)
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StorageError, OSError):
                    await pending

    async def fetch_any_k(
        self,
        record: ChunkRecord,
        scheme: Scheme,
        first: int,
        count: int,
        view: ClusterView | None = None,
    ) -> dict[int, list[bytes]]:
        """Blocks ``first .. first + count - 1`` of any k fragments (index -> blocks): the data
        fragments first; parity too as soon as one of them fails, or when they have not all
        answered within ``hedge_after_s`` (a hung or slow store then costs at most that delay,
        not a timeout). The losers are cancelled. DataUnavailable when fewer than k can be
        read. ``view`` is the caller's snapshot (default: the current one)."""
        if view is None:
            view = self._view
        tasks = {
            asyncio.ensure_future(self._blocks(view, record, i, first, count)): i
            for i in range(scheme.k)
        }
        fetched: dict[int, list[bytes]] = {}
        hedged = False
        try:
            while len(fetched) < scheme.k:
                if not tasks:
                    raise DataUnavailable(
                        f"chunk {record.chunk_id}: only {len(fetched)} of {scheme.width} "
                        f"fragments readable, {scheme.k} needed"
                    )
                done, _ = await asyncio.wait(
                    tasks,
                    timeout=None if hedged else self.hedge_after_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                failed = False
                for task in done:
                    index = tasks.pop(task)
                    blocks = task.result()
                    if blocks is None:
                        failed = True
                    else:
                        fetched[index] = blocks
                if not hedged and (failed or not done) and len(fetched) < scheme.k:
                    hedged = True
                    self._degraded(record)
                    for i in range(scheme.k, scheme.width):
                        task = asyncio.ensure_future(self._blocks(view, record, i, first, count))
                        tasks[task] = i
        finally:
            for task in tasks:
                task.cancel()
        return fetched

    async def _read_rep(
        self, view: ClusterView, record: ChunkRecord, scheme: Scheme, offset: int, length: int
    ) -> AsyncIterator[bytes | memoryview]:
        first = offset // UNIT_BYTES
        last = (offset + length - 1) // UNIT_BYTES
        for batch_start in range(first, last + 1, READ_BATCH_BLOCKS):
            count = min(READ_BATCH_BLOCKS, last + 1 - batch_start)
            # one copy is "k": the others are asked on failure or after the hedge delay
            fetched = await self.fetch_any_k(record, scheme, batch_start, count, view)
            blocks = next(iter(fetched.values()))
            for n, block in enumerate(blocks):
                base = (batch_start + n) * UNIT_BYTES
                lo = max(offset, base) - base
                hi = min(offset + length, base + len(block)) - base
                yield block[lo:hi] if (lo, hi) != (0, len(block)) else block

    async def delete(self, record: ChunkRecord, view: ClusterView | None = None) -> int:
        """Remove every fragment of the chunk; returns how many fragments could *not* be
        deleted (their store is unreachable or failed) -- 0 means the chunk is gone. A fragment
        that is already absent counts as deleted; so does one on a store no longer in the map.
        ``view`` is the caller's snapshot (default: the current one)."""
        if view is None:
            view = self._view

        async def one(i: int, store_id: str) -> bool:
            if view.is_unreachable(store_id):
                return False
            store = view.store(store_id)
            if store is None:  # the node left the map: its drives went with it
                return True
            try:
                await store.delete(FragmentId(record.chunk_id, i))
            except (StorageError, OSError) as exc:
                log.warning("chunk %s fragment %d: delete failed: %s", record.chunk_id, i, exc)
                return False
            return True

        done = await asyncio.gather(*(one(i, s) for i, s in enumerate(record.stores) if s))
        return sum(1 for ok in done if not ok)
