"""Content checksums of S3 objects: MD5 (ETag), CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256.

All hashing is done by C code (hashlib, zlib, awscrt) on whole buffers; callers feed large buffers
(a stripe or a network read), never single bytes. ``awscrt`` is the AWS Common Runtime that
botocore itself uses for CRC32C/CRC64NVME, so our values agree with the SDKs bit for bit.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Protocol

from awscrt import checksums as _crt

__all__ = [
    "ALGORITHMS",
    "Hasher",
    "MultiHasher",
    "b64",
    "new_hasher",
]

#: S3 checksum algorithm names (the x-amz-checksum-<name> header suffix, lower case)
ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")


class Hasher(Protocol):
    def update(self, data: bytes | memoryview) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    __slots__ = ("_fn", "_value", "_width")

    def __init__(self, fn: object, width: int) -> None:
        self._fn = fn
        self._value = 0
        self._width = width

    def update(self, data: bytes | memoryview) -> None:
        self._value = self._fn(data, self._value)  # type: ignore[operator]

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def new_hasher(algorithm: str) -> Hasher:
    """A fresh hasher for ``algorithm`` (one of :data:`ALGORITHMS` or ``md5``)."""
    if algorithm == "crc32":
        return _Crc(zlib.crc32, 4)
    if algorithm == "crc32c":
        return _Crc(_crt.crc32c, 4)
    if algorithm == "crc64nvme":
        return _Crc(_crt.crc64nvme, 8)
    if algorithm in ("sha1", "sha256", "md5"):
        return hashlib.new(algorithm)
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class MultiHasher:
    """Feeds every buffer to MD5 plus the requested S3 checksum algorithms."""

    __slots__ = ("_hashers", "md5", "size")

    def __init__(self, algorithms: tuple[str, ...] = ()) -> None:
        self.md5 = hashlib.md5()
        self._hashers = {a: new_hasher(a) for a in algorithms}
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self.md5.update(data)
        for h in self._hashers.values():
            h.update(data)
        self.size += len(data)

    def checksums_b64(self) -> dict[str, str]:
        """``{algorithm: base64 digest}`` for the S3 algorithms requested."""
        return {a: b64(h.digest()) for a, h in self._hashers.items()}
