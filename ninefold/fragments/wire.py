"""The node wire protocol: how a FragmentStore is spoken over HTTP, for both ends.

The storage-node daemon (``ninefold.node.app``) serves it and ``ninefold.nodeclient`` speaks it;
neither spells a path, parameter, header, status or body shape of its own. Every request is
HMAC-signed (``fragments/signing.py``; the header is :data:`AUTHORIZATION`)::

    PUT    /v1/drives/{drive}/fragments/{fid}           body: records -> 201 + JSON (put result)
    GET    /v1/drives/{drive}/fragments/{fid}?first=&count=     -> records, each verified first
    HEAD   /v1/drives/{drive}/fragments/{fid}           -> X-NF-Block-Size/-Block-Count/-Size
    DELETE /v1/drives/{drive}/fragments/{fid}           -> 204, or 404 when nothing was there
    GET    /v1/drives/{drive}/fragments                 -> one fragment id per line
    GET    /v1/health                                   -> JSON: node_id, zone, drives

A body of *records* is the fragment format's record framing (``fragments/format.py``: u32
length, u32 CRC32C, payload) back to back, one record per block; this module only strings
records together and takes them apart, verifying each. Statuses carry meaning: 404 no such
fragment, 422 corrupt fragment, 507 drive full, 503 drive failing, 400 malformed request, 403
not signed by a cluster member. Nothing here knows about an HTTP library.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ninefold.core.errors import CorruptFragment, DriveFull, FragmentNotFound, StorageError
from ninefold.fragments.format import (
    RECORD_OVERHEAD,
    check_payload,
    frame_block,
    unframe_record,
    unpack_record_head,
)
from ninefold.fragments.protocol import FragmentId, FragmentInfo, StoreHealth
from ninefold.fragments.signing import NonceCache, SignatureError, sign_request, verify_request

__all__ = [
    "AUTHORIZATION",
    "BLOCK_COUNT_HEADER",
    "BLOCK_SIZE_HEADER",
    "COUNT_PARAM",
    "DRIVE_PARAM",
    "FID_PARAM",
    "FIRST_PARAM",
    "FRAGMENTS_ROUTE",
    "FRAGMENT_ROUTE",
    "HEALTH_PATH",
    "LIST_CONTENT_TYPE",
    "MAX_BLOCK_BYTES",
    "MAX_READ_BLOCKS",
    "RECORDS_CONTENT_TYPE",
    "SIZE_HEADER",
    "STATUS_CORRUPT",
    "STATUS_DELETED",
    "STATUS_DRIVE_FULL",
    "STATUS_NOT_FOUND",
    "STATUS_OK",
    "STATUS_STORED",
    "STATUS_UNAVAILABLE",
    "NodeStatus",
    "NonceCache",
    "RecordError",
    "RecordSource",
    "SignatureError",
    "decode_fragment_line",
    "decode_health",
    "decode_put_result",
    "encode_fragment_line",
    "encode_health",
    "encode_put_result",
    "fragment_path",
    "fragments_path",
    "frame_record",
    "frame_records",
    "info_from_headers",
    "info_headers",
    "parse_read_query",
    "read_error",
    "read_query",
    "read_records",
    "signed_headers",
    "status_of_read_error",
    "status_of_write_error",
    "unframe_records",
    "verify_request",
    "write_error",
]

# -- routes -------------------------------------------------------------------------------------

#: route parameters (the names a server's router matches on)
DRIVE_PARAM = "drive"
FID_PARAM = "fid"
FRAGMENTS_ROUTE = "/v1/drives/{drive}/fragments"
FRAGMENT_ROUTE = FRAGMENTS_ROUTE + "/{fid}"
HEALTH_PATH = "/v1/health"


def fragments_path(drive: str) -> str:
    """The path listing the fragments of ``drive``."""
    return FRAGMENTS_ROUTE.format(drive=drive)


def fragment_path(drive: str, fragment_id: FragmentId) -> str:
    """The path of one fragment on ``drive``."""
    return FRAGMENT_ROUTE.format(drive=drive, fid=fragment_id)


# -- read query ---------------------------------------------------------------------------------

FIRST_PARAM = "first"
COUNT_PARAM = "count"
#: the most blocks one GET may ask for
MAX_READ_BLOCKS = 1024
#: the largest record payload either end accepts (a block of a fragment)
MAX_BLOCK_BYTES = 16 * 1024 * 1024


def read_query(first: int, count: int) -> str:
    """The query string of a GET for blocks ``first .. first + count - 1``."""
    return f"{FIRST_PARAM}={first}&{COUNT_PARAM}={count}"


def parse_read_query(query: Mapping[str, str]) -> tuple[int, int]:
    """(first, count) of a GET; RecordError when they are not integers or out of range."""
    try:
        first = int(query.get(FIRST_PARAM, "0"))
        count = int(query.get(COUNT_PARAM, "1"))
    except ValueError as exc:
        raise RecordError("first/count must be integers") from exc
    if first < 0 or not 1 <= count <= MAX_READ_BLOCKS:
        raise RecordError("first/count out of range")
    return first, count


# -- headers and signing ------------------------------------------------------------------------

AUTHORIZATION = "Authorization"
BLOCK_SIZE_HEADER = "X-NF-Block-Size"
BLOCK_COUNT_HEADER = "X-NF-Block-Count"
SIZE_HEADER = "X-NF-Size"
RECORDS_CONTENT_TYPE = "application/octet-stream"
LIST_CONTENT_TYPE = "text/plain"


def signed_headers(secret: bytes, method: str, path: str, query: str = "") -> dict[str, str]:
    """The headers that sign one request (a fresh nonce each time)."""
    return {AUTHORIZATION: sign_request(secret, method, path, query)}


def info_headers(info: FragmentInfo) -> dict[str, str]:
    """The HEAD answer's headers for a stored fragment."""
    return {
        BLOCK_SIZE_HEADER: str(info.block_size),
        BLOCK_COUNT_HEADER: str(info.block_count),
        SIZE_HEADER: str(info.size_bytes),
    }


def info_from_headers(fragment_id: FragmentId, headers: Mapping[str, str]) -> FragmentInfo:
    """The inverse of :func:`info_headers` (KeyError/ValueError when a header is bad)."""
    return FragmentInfo(
        fragment_id,
        int(headers[BLOCK_SIZE_HEADER]),
        int(headers[BLOCK_COUNT_HEADER]),
        int(headers[SIZE_HEADER]),
    )


def encode_put_result(info: FragmentInfo) -> dict[str, int]:
    """The JSON body of a PUT's 201."""
    return {"block_size": info.block_size, "block_count": info.block_count, "size": info.size_bytes}


def decode_put_result(fragment_id: FragmentId, body: Mapping[str, Any]) -> FragmentInfo:
    return FragmentInfo(fragment_id, body["block_size"], body["block_count"], body["size"])


def encode_fragment_line(fragment_id: FragmentId) -> bytes:
    """One line of a fragment listing."""
    return f"{fragment_id}\n".encode()


def decode_fragment_line(line: bytes) -> FragmentId | None:
    """The fragment id on one line of a listing; None for a blank line."""
    text = line.decode().strip()
    return FragmentId.parse(text) if text else None


# -- status codes -------------------------------------------------------------------------------

STATUS_OK = 200
STATUS_STORED = 201  # a PUT's fragment is durable and visible
STATUS_DELETED = 204
STATUS_NOT_FOUND = 404  # no such fragment (or drive)
STATUS_CORRUPT = 422  # the fragment failed its checksums on the node
STATUS_UNAVAILABLE = 503  # the drive failed (I/O error, vanished)
STATUS_DRIVE_FULL = 507  # the drive has no room for the fragment


def status_of_write_error(exc: StorageError) -> int:
    """The status a node answers a PUT its drive refused with ``exc``."""
    return STATUS_DRIVE_FULL if isinstance(exc, DriveFull) else STATUS_UNAVAILABLE


def status_of_read_error(exc: StorageError) -> int:
    """The status a node answers a GET its drive failed with ``exc``."""
    if isinstance(exc, FragmentNotFound):
        return STATUS_NOT_FOUND
    if isinstance(exc, CorruptFragment):
        return STATUS_CORRUPT
    return STATUS_UNAVAILABLE


def read_error(store_id: str, fragment_id: FragmentId, status: int) -> StorageError:
    """The error a client raises for a GET of ``fragment_id`` answered with ``status``."""
    if status == STATUS_NOT_FOUND:
        return FragmentNotFound(f"{store_id}: {fragment_id} not found")
    if status == STATUS_CORRUPT:
        return CorruptFragment(f"{store_id}: {fragment_id} is corrupt")
    return StorageError(f"{store_id}: GET -> {status}")


def write_error(message: str, status: int) -> StorageError:
    """The error a client raises for a PUT answered with ``status`` (not 201)."""
    return DriveFull(message) if status == STATUS_DRIVE_FULL else StorageError(message)


# -- health -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node's answer to a health probe: who it is and how its drives are."""

    node_id: str
    zone: str
    drives: dict[str, StoreHealth]


def encode_health(node_id: str, zone: str, drives: Mapping[str, StoreHealth]) -> str:
    """The JSON body of ``GET /v1/health``."""
    return json.dumps(
        {
            "node_id": node_id,
            "zone": zone,
            "drives": {
                name: {
                    "store_id": h.store_id,
                    "online": h.online,
                    "capacity_bytes": h.capacity_bytes,
                    "free_bytes": h.free_bytes,
                }
                for name, h in drives.items()
            },
        }
    )


def decode_health(body: bytes | str) -> NodeStatus:
    """The inverse of :func:`encode_health`; ValueError when the body is not one."""
    try:
        data = json.loads(body)
        drives = {
            str(name): StoreHealth(
                str(d["store_id"]),
                bool(d["online"]),
                int(d["capacity_bytes"]),
                int(d["free_bytes"]),
            )
            for name, d in data["drives"].items()
        }
        return NodeStatus(str(data["node_id"]), str(data["zone"]), drives)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a health answer: {type(exc).__name__}: {exc}") from exc


# -- record bodies ------------------------------------------------------------------------------


class RecordError(ValueError):
    """A request that breaks the wire protocol (bad framing, a block failing its checksum,
    out-of-range parameters): a node answers it with 400 and stores nothing."""


class RecordSource(Protocol):
    """Where a record body is read from (asyncio's and aiohttp's stream readers)."""

    async def readexactly(self, n: int) -> bytes: ...


def frame_record(block: bytes) -> bytes:
    """One block as a record of a body."""
    return frame_block(block) + block


def frame_records(blocks: Iterable[bytes]) -> bytes:
    """A GET's body: ``blocks`` as records, back to back."""
    return b"".join(frame_block(b) + b for b in blocks)


def unframe_records(body: bytes) -> list[bytes]:
    """The blocks of a records body, each verified (CorruptFragment on any damage)."""
    blocks, pos, view = [], 0, memoryview(body)
    while pos < len(body):
        payload, used = unframe_record(view[pos:], MAX_BLOCK_BYTES)
        blocks.append(payload)
        pos += used
    return blocks


async def read_records(source: RecordSource) -> AsyncGenerator[bytes, None]:
    """Yield the blocks of a streamed records body (a PUT), each verified as it arrives.

    Raises RecordError on a truncated record, a block over :data:`MAX_BLOCK_BYTES`, a block
    failing its CRC32C, or a body without a single record; the body ends cleanly only on a
    record boundary."""
    blocks = 0
    while True:
        try:
            head = await source.readexactly(RECORD_OVERHEAD)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise RecordError("truncated record header") from exc
            break  # a clean end, on a record boundary
        try:
            length, crc = unpack_record_head(head, MAX_BLOCK_BYTES)
        except CorruptFragment as exc:
            raise RecordError("block too large") from exc
        try:
            block = await source.readexactly(length)
        except asyncio.IncompleteReadError as exc:
            raise RecordError("truncated block") from exc
        try:
            check_payload(block, length, crc)
        except CorruptFragment as exc:
            raise RecordError(f"block {blocks} failed its checksum") from exc
        yield block
        blocks += 1
    if blocks == 0:
        raise RecordError("a fragment needs at least one block")
