"""ChunkRecord: where the fragments of one chunk live, as recorded in metadata.

It lives here, in the lowest storage layer, because both the metadata store (which persists it)
and the coordinator (which writes and reads through it) need it, and neither may import the other.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from ninefold.fragments.format import RECORD_OVERHEAD, frame_block, unframe_record

__all__ = ["INLINE", "ChunkRecord"]

#: the scheme of a chunk whose bytes live in its metadata row (small objects), not in fragments
INLINE = "inline"


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """One chunk of an object: its id, payload size, scheme and the store of each fragment.

    ``stores[i]`` is the id of the store holding fragment ``i``, or ``""`` when that fragment's
    write failed (the chunk then waits for repair). ``block_size`` is the payload size of every
    block of a fragment but the last.

    An :data:`INLINE` chunk has no fragments (``stores == ()``): ``data`` holds its bytes as
    one checksummed record of the fragment format (length, CRC32C, payload), stored in the
    metadata row itself and committed in the same transaction as the object.
    """

    chunk_id: str
    size: int
    scheme: str
    block_size: int
    stores: tuple[str, ...]
    data: bytes | None = None

    @classmethod
    def inline(cls, chunk_id: str, payload: bytes) -> ChunkRecord:
        return cls(chunk_id, len(payload), INLINE, len(payload), (), frame_block(payload) + payload)

    def inline_payload(self) -> bytes:
        """The verified bytes of an inline chunk; CorruptFragment if they are damaged."""
        if self.data is None:
            raise ValueError(f"chunk {self.chunk_id} is not inline")
        payload, _ = unframe_record(self.data, max(1, len(self.data) - RECORD_OVERHEAD))
        return payload

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.chunk_id,
            "size": self.size,
            "scheme": self.scheme,
            "block": self.block_size,
            "stores": list(self.stores),
        }
        if self.data is not None:
            out["data"] = base64.b64encode(self.data).decode()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkRecord:
        return cls(
            chunk_id=str(data["id"]),
            size=int(data["size"]),
            scheme=str(data["scheme"]),
            block_size=int(data["block"]),
            stores=tuple(str(s) for s in data["stores"]),
            data=base64.b64decode(data["data"]) if "data" in data else None,
        )

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))
