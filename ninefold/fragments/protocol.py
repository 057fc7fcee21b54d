"""The FragmentStore protocol: the one storage interface the coordinator writes through.

A *fragment* is one of the n pieces of a chunk (EC fragment i of 9, or replica i of 4). It is
stored as a sequence of *blocks* (one block per stripe), each protected by its own checksum, so a
reader can verify any block it reads without reading the whole fragment. A store is a local drive
directory (``ninefold.node.disk``, a higher layer: nothing here imports it), a drive of a node
reached over HTTP (``ninefold.nodeclient``), or memory (:mod:`ninefold.fragments.memory`, for
tests); the coordinator never knows which.

Invariants every implementation keeps:
- ``FragmentWriter.commit`` returns only when the fragment is durable (data fsynced, renamed into
  place, directory fsynced); before commit nothing is visible under the fragment's id.
- ``read_blocks`` verifies every block it returns and raises ``CorruptFragment`` on a mismatch and
  ``FragmentNotFound`` when the fragment is absent; it never returns unverified bytes.
- Fragment ids are never used as paths without validation: a store accepts only ids matching
  :data:`FRAGMENT_ID_RE`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "FRAGMENT_ID_RE",
    "FragmentId",
    "FragmentInfo",
    "FragmentStore",
    "FragmentWriter",
    "StoreHealth",
]

#: chunk ids are 32 lowercase hex characters; fragment index 0..255
FRAGMENT_ID_RE = re.compile(r"^[0-9a-f]{32}\.[0-9]{1,3}$")


@dataclass(frozen=True, slots=True)
class FragmentId:
    """Identifies fragment ``index`` of chunk ``chunk_id``."""

    chunk_id: str
    index: int

    def __str__(self) -> str:
        return f"{self.chunk_id}.{self.index}"

    @classmethod
    def parse(cls, text: str) -> FragmentId:
        if not FRAGMENT_ID_RE.match(text):
            raise ValueError(f"not a fragment id: {text!r}")
        chunk_id, index = text.split(".")
        return cls(chunk_id, int(index))


@dataclass(frozen=True, slots=True)
class FragmentInfo:
    """What a store knows about a stored fragment without reading its blocks."""

    fragment_id: FragmentId
    block_size: int  # payload bytes of every block but the last
    block_count: int
    size_bytes: int  # payload bytes over all blocks (checksums and headers excluded)


@dataclass(frozen=True, slots=True)
class StoreHealth:
    store_id: str
    online: bool
    capacity_bytes: int
    free_bytes: int
    #: why the drive has failed for good ("" when it has not): its identity is gone (directory
    #: missing, no marker: an unmounted disk) or foreign, so its fragments count as lost
    failed: str = ""


class FragmentWriter(Protocol):
    """Streams the blocks of one fragment into a store; nothing is visible until ``commit``."""

    async def write_block(self, block: bytes) -> None:
        """Append one block. Every block but the last must have the size of the first."""
        ...

    async def commit(self) -> FragmentInfo:
        """Make the fragment durable and visible under its id (ids are unique: nothing replaced)."""
        ...

    async def abort(self) -> None:
        """Discard everything written; safe to call after a failure or twice."""
        ...


@runtime_checkable
class FragmentStore(Protocol):
    """A place that holds fragments: a local drive directory or a remote node."""

    @property
    def store_id(self) -> str: ...

    async def open_writer(self, fragment_id: FragmentId) -> FragmentWriter: ...

    async def read_blocks(self, fragment_id: FragmentId, first: int, count: int) -> list[bytes]:
        """Return blocks ``first .. first+count-1`` (fewer at the end), each verified."""
        ...

    async def head(self, fragment_id: FragmentId) -> FragmentInfo | None: ...

    async def delete(self, fragment_id: FragmentId) -> bool:
        """Remove the fragment; True when something was removed."""
        ...

    def list_fragments(self) -> AsyncIterator[FragmentId]: ...

    async def health(self) -> StoreHealth: ...
