"""ChunkRecord: where the fragments of one chunk live, as recorded in metadata.

It lives here, in the lowest storage layer, because both the metadata store (which persists it)
and the coordinator (which writes and reads through it) need it, and neither may import the other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["ChunkRecord"]


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk of an object: its id, payload size, scheme and the store of each fragment.

    ``stores[i]`` is the id of the store holding fragment ``i``, or ``""`` when that fragment's
    write failed (the chunk then waits for repair). ``block_size`` is the payload size of every
    block of a fragment but the last.
    """

    chunk_id: str
    size: int
    scheme: str
    block_size: int
    stores: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.chunk_id,
            "size": self.size,
            "scheme": self.scheme,
            "block": self.block_size,
            "stores": list(self.stores),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkRecord:
        return cls(
            chunk_id=str(data["id"]),
            size=int(data["size"]),
            scheme=str(data["scheme"]),
            block_size=int(data["block"]),
            stores=tuple(str(s) for s in data["stores"]),
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))
