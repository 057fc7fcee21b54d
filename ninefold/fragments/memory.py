"""MemoryFragmentStore: the FragmentStore protocol held in memory, for fast tests.

It keeps the protocol's promises the way a drive does -- a fragment is invisible until
``commit``, ids are validated, every block carries a CRC32C that ``read_blocks`` verifies, and
failures are the same errors (FragmentNotFound, CorruptFragment, StorageError, DriveFull) -- so
the chunk pipeline, repair and the workers can be tested against it without a disk or a node.

Tests break it on purpose: :meth:`MemoryFragmentStore.corrupt` damages a stored block (its
checksum no longer matches), :meth:`drop` and :meth:`truncate` lose a fragment or its tail,
:meth:`fail` makes every call raise StorageError (a failing drive or a refused connection), and
:meth:`hang` makes every call wait until :meth:`release` (a hung node). ``capacity_bytes``
bounds the payload bytes held, beyond which writes raise DriveFull. Nothing here is durable and
nothing is shared between processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from ninefold.core.errors import DriveFull, FragmentNotFound, StorageError
from ninefold.fragments.format import check_payload, frame_block, unpack_record_head
from ninefold.fragments.protocol import FRAGMENT_ID_RE, FragmentId, FragmentInfo, StoreHealth

__all__ = ["MemoryFragmentStore"]


@dataclass(slots=True)
class _Fragment:
    block_size: int
    #: one record per block: the record header (length, CRC32C) and the payload, as a drive
    #: holds them
    records: list[tuple[bytes, bytes]]

    @property
    def size(self) -> int:
        return sum(len(payload) for _, payload in self.records)


def _check_id(fragment_id: FragmentId) -> None:
    if not FRAGMENT_ID_RE.match(str(fragment_id)):
        raise ValueError(f"invalid fragment id {str(fragment_id)!r}")


class _MemoryWriter:
    def __init__(self, store: MemoryFragmentStore, fragment_id: FragmentId) -> None:
        self._store = store
        self._id = fragment_id
        self._records: list[tuple[bytes, bytes]] = []
        self._block_size = 0
        self._short = False
        self._size = 0
        self._done = False

    async def write_block(self, block: bytes) -> None:
        await self._store._gate()
        if self._done:
            raise StorageError(f"{self._store.store_id}: {self._id}: writer is closed")
        if not self._records:
            self._block_size = len(block)
        if self._short or len(block) > self._block_size:
            raise StorageError("only the last block of a fragment may differ in size")
        self._store._reserve(len(block))
        self._short = len(block) < self._block_size
        self._records.append((frame_block(block), bytes(block)))
        self._size += len(block)

    async def commit(self) -> FragmentInfo:
        await self._store._gate()
        if self._done:
            raise StorageError(f"{self._store.store_id}: {self._id}: writer is closed")
        if not self._records:
            raise StorageError("a fragment needs at least one block")
        self._done = True
        fragment = _Fragment(self._block_size, self._records)
        old = self._store._fragments.get(self._id)
        if old is not None:
            self._store._used -= old.size
        self._store._fragments[self._id] = fragment
        return FragmentInfo(self._id, self._block_size, len(self._records), self._size)

    async def abort(self) -> None:
        if not self._done:
            self._done = True
            self._store._used -= self._size
            self._records = []


class MemoryFragmentStore:
    """A FragmentStore in memory, with faults on demand (see the module docstring)."""

    def __init__(self, store_id: str, *, capacity_bytes: int = 1 << 40) -> None:
        self._store_id = store_id
        self.capacity_bytes = capacity_bytes
        self._fragments: dict[FragmentId, _Fragment] = {}
        self._used = 0  # payload bytes held, committed or being written
        self._failing: str | None = None
        self._hung = False
        self._waiting: list[asyncio.Future[None]] = []
        #: calls that reached the store (reads, writes, heads, deletes, listings, health)
        self.calls = 0

    @property
    def store_id(self) -> str:
        return self._store_id

    # -- faults -----------------------------------------------------------------------------------

    def fail(self, reason: str = "drive failed") -> None:
        """Every call from now on raises StorageError (until :meth:`recover`)."""
        self._failing = reason

    def recover(self) -> None:
        self._failing = None

    def hang(self) -> None:
        """Every call from now on waits (until :meth:`release`); cancelling it is safe."""
        self._hung = True

    def release(self) -> None:
        self._hung = False
        waiting, self._waiting = self._waiting, []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    def corrupt(self, fragment_id: FragmentId, block: int = 0) -> None:
        """Flip a byte of block ``block``'s payload: reading it raises CorruptFragment."""
        records = self._get(fragment_id).records
        head, payload = records[block]
        damaged = bytearray(payload)
        damaged[len(damaged) // 2] ^= 0xFF
        records[block] = (head, bytes(damaged))

    def drop(self, fragment_id: FragmentId) -> None:
        """Lose the fragment (as if its file vanished)."""
        fragment = self._fragments.pop(fragment_id)
        self._used -= fragment.size

    def truncate(self, fragment_id: FragmentId, blocks: int) -> None:
        """Keep only the first ``blocks`` blocks of the fragment (a torn tail)."""
        fragment = self._get(fragment_id)
        self._used -= sum(len(p) for _, p in fragment.records[blocks:])
        del fragment.records[blocks:]

    def fragment_ids(self) -> list[FragmentId]:
        """The committed fragments, in id order (a synchronous look for tests)."""
        return sorted(self._fragments, key=str)

    def __contains__(self, fragment_id: object) -> bool:
        return fragment_id in self._fragments

    # -- the protocol ---------------------------------------------------------------------------

    async def _wait_while_hung(self) -> None:
        while self._hung:
            future = asyncio.get_running_loop().create_future()
            self._waiting.append(future)
            await future

    async def _gate(self) -> None:
        self.calls += 1
        await self._wait_while_hung()
        if self._failing is not None:
            raise StorageError(f"{self._store_id}: {self._failing}")

    def _reserve(self, nbytes: int) -> None:
        if self._used + nbytes > self.capacity_bytes:
            raise DriveFull(f"{self._store_id}: no space left for {nbytes} bytes")
        self._used += nbytes

    def _get(self, fragment_id: FragmentId) -> _Fragment:
        fragment = self._fragments.get(fragment_id)
        if fragment is None:
            raise FragmentNotFound(f"{self._store_id}: {fragment_id} not found")
        return fragment

    async def open_writer(self, fragment_id: FragmentId) -> _MemoryWriter:
        _check_id(fragment_id)
        await self._gate()
        return _MemoryWriter(self, fragment_id)

    async def read_blocks(self, fragment_id: FragmentId, first: int, count: int) -> list[bytes]:
        _check_id(fragment_id)
        await self._gate()
        fragment = self._get(fragment_id)
        blocks: list[bytes] = []
        for head, payload in fragment.records[first : first + count]:
            length, crc = unpack_record_head(head, fragment.block_size)
            check_payload(payload, length, crc)
            blocks.append(payload)
        return blocks

    async def head(self, fragment_id: FragmentId) -> FragmentInfo | None:
        _check_id(fragment_id)
        await self._gate()
        fragment = self._fragments.get(fragment_id)
        if fragment is None:
            return None
        return FragmentInfo(fragment_id, fragment.block_size, len(fragment.records), fragment.size)

    async def delete(self, fragment_id: FragmentId) -> bool:
        _check_id(fragment_id)
        await self._gate()
        fragment = self._fragments.pop(fragment_id, None)
        if fragment is None:
            return False
        self._used -= fragment.size
        return True

    async def list_fragments(self) -> AsyncIterator[FragmentId]:
        await self._gate()
        for fragment_id in self.fragment_ids():
            yield fragment_id

    async def health(self) -> StoreHealth:
        self.calls += 1
        await self._wait_while_hung()
        online = self._failing is None
        free = max(0, self.capacity_bytes - self._used)
        return StoreHealth(self._store_id, online, self.capacity_bytes, free if online else 0)
