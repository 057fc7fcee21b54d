"""On-disk (and on-wire) fragment format: a header, then checksummed blocks.

Layout, all integers little-endian::

    header (32 bytes): b"NFFR" | u16 version | u16 reserved | u32 block_size | 16 reserved
                       | u32 CRC32C of the 28 bytes before it
    record n:          u32 payload length | u32 CRC32C(payload) | payload

Every record but the last carries ``block_size`` payload bytes, so block ``n`` starts at
``HEADER_BYTES + n * (RECORD_OVERHEAD + block_size)`` and can be read and verified alone.
"""

from __future__ import annotations

import struct

from awscrt.checksums import crc32c

from ninefold.core.errors import CorruptFragment

__all__ = [
    "HEADER_BYTES",
    "RECORD_OVERHEAD",
    "block_offset",
    "build_header",
    "check_payload",
    "frame_block",
    "parse_header",
    "unframe_record",
    "unpack_record_head",
]

MAGIC = b"NFFR"
VERSION = 1
HEADER_BYTES = 32
RECORD_OVERHEAD = 8
_HEAD = struct.Struct("<4sHHI16s")
_U32 = struct.Struct("<I")
_RECORD = struct.Struct("<II")


def build_header(block_size: int) -> bytes:
    body = _HEAD.pack(MAGIC, VERSION, 0, block_size, bytes(16))
    return body + _U32.pack(crc32c(body))


def parse_header(header: bytes) -> int:
    """The block size recorded in ``header``; CorruptFragment if it is damaged."""
    if len(header) != HEADER_BYTES:
        raise CorruptFragment("fragment header truncated")
    body, (crc,) = header[:28], _U32.unpack(header[28:])
    if crc32c(body) != crc:
        raise CorruptFragment("fragment header checksum mismatch")
    magic, version, _, block_size, _ = _HEAD.unpack(body)
    if magic != MAGIC or version != VERSION or block_size <= 0:
        raise CorruptFragment("not a fragment header")
    return int(block_size)


def frame_block(block: bytes | memoryview) -> bytes:
    """The record header for ``block`` (write it, then the block itself)."""
    return _RECORD.pack(len(block), crc32c(block))


def block_offset(n: int, block_size: int) -> int:
    return HEADER_BYTES + n * (RECORD_OVERHEAD + block_size)


def unpack_record_head(head: bytes, block_size: int) -> tuple[int, int]:
    """(payload length, CRC32C) of a record header; CorruptFragment if it cannot be one."""
    if len(head) < RECORD_OVERHEAD:
        raise CorruptFragment("fragment record truncated")
    length, crc = _RECORD.unpack_from(head)
    if length > block_size:
        raise CorruptFragment("fragment record length invalid")
    return int(length), int(crc)


def check_payload(payload: bytes | memoryview, length: int, crc: int) -> None:
    """CorruptFragment unless ``payload`` is whole and matches its CRC32C."""
    if len(payload) != length:
        raise CorruptFragment("fragment record truncated")
    if crc32c(payload) != crc:
        raise CorruptFragment("fragment block checksum mismatch")


def unframe_record(record: bytes | memoryview, block_size: int) -> tuple[bytes, int]:
    """Verify the record at the start of ``record``: (payload, bytes consumed). ``record`` may
    be a view into a larger read: the payload is verified in place and copied out once."""
    length, crc = unpack_record_head(bytes(record[:RECORD_OVERHEAD]), block_size)
    payload = record[RECORD_OVERHEAD : RECORD_OVERHEAD + length]
    check_payload(payload, length, crc)
    return bytes(payload), RECORD_OVERHEAD + length
