"""Content checksums of S3 objects: MD5 (ETag), CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256.

All hashing is done by C code (hashlib, zlib, awscrt) on whole buffers; callers feed large buffers
(a stripe or a network read), never single bytes. ``awscrt`` is the AWS Common Runtime that
botocore itself uses for CRC32C/CRC64NVME, so our values agree with the SDKs bit for bit.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable
from typing import Protocol

from awscrt import checksums as _crt

__all__ = [
    "ALGORITHMS",
    "DIGEST_BYTES",
    "FULL_OBJECT_ALGORITHMS",
    "Hasher",
    "MultiHasher",
    "b64",
    "combine_crcs",
    "composite_checksum",
    "new_hasher",
]

#: S3 checksum algorithm names (the x-amz-checksum-<name> header suffix, lower case)
ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
#: the size of each algorithm's digest
DIGEST_BYTES = {"crc32": 4, "crc32c": 4, "crc64nvme": 8, "sha1": 20, "sha256": 32}
#: the algorithms whose value over a whole multipart object can be computed from the parts'
#: values (CRCs combine; hashes do not)
FULL_OBJECT_ALGORITHMS = ("crc32", "crc32c", "crc64nvme")
_COMBINE = {
    "crc32": _crt.combine_crc32,
    "crc32c": _crt.combine_crc32c,
    "crc64nvme": _crt.combine_crc64nvme,
}


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


def combine_crcs(algorithm: str, parts: Iterable[tuple[str, int]]) -> str:
    """The base64 CRC of the concatenation of byte strings whose base64 CRCs and lengths are
    ``parts`` ([(b64 crc, length), ...] in order), without reading a byte of them.

    >>> a, b = b"hello ", b"world"
    >>> h = new_hasher("crc32"); h.update(a + b)
    >>> combine_crcs("crc32", [(b64(zlib.crc32(a).to_bytes(4, "big")), 6),
    ...                        (b64(zlib.crc32(b).to_bytes(4, "big")), 5)]) == b64(h.digest())
    True
    """
    combine = _COMBINE[algorithm]
    width = DIGEST_BYTES[algorithm]
    value = 0
    for index, (part, length) in enumerate(parts):
        crc = int.from_bytes(base64.b64decode(part), "big")
        value = crc if index == 0 else combine(value, crc, length)
    return b64(value.to_bytes(width, "big"))


def composite_checksum(algorithm: str, parts: Iterable[str]) -> str:
    """S3's COMPOSITE checksum of a multipart object: the checksum of the concatenated binary
    checksums of its parts (base64 values, in part order), then ``-<number of parts>``."""
    hasher = new_hasher(algorithm)
    count = 0
    for part in parts:
        hasher.update(base64.b64decode(part))
        count += 1
    return f"{b64(hasher.digest())}-{count}"
