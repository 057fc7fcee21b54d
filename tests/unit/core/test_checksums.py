"""Multipart checksum arithmetic: CRCs combined from parts equal the CRC of the whole."""

from __future__ import annotations

import base64
import hashlib
import zlib

from awscrt import checksums as crt
from hypothesis import given, settings
from hypothesis import strategies as st

from ninefold.core.checksums import combine_crcs, composite_checksum

WHOLE = {
    "crc32": lambda data: zlib.crc32(data).to_bytes(4, "big"),
    "crc32c": lambda data: crt.crc32c(data).to_bytes(4, "big"),
    "crc64nvme": lambda data: crt.crc64nvme(data).to_bytes(8, "big"),
}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@settings(max_examples=60, deadline=None)
@given(
    algorithm=st.sampled_from(sorted(WHOLE)),
    parts=st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=6),
)
def test_combined_crc_is_the_crc_of_the_concatenation(algorithm: str, parts: list[bytes]) -> None:
    crc = WHOLE[algorithm]
    combined = combine_crcs(algorithm, [(b64(crc(p)), len(p)) for p in parts])
    assert combined == b64(crc(b"".join(parts)))


def test_composite_checksum_is_the_checksum_of_the_part_checksums() -> None:
    parts = [b"first part", b"second", b""]
    digests = [hashlib.sha256(p).digest() for p in parts]
    expected = b64(hashlib.sha256(b"".join(digests)).digest()) + "-3"
    assert composite_checksum("sha256", [b64(d) for d in digests]) == expected
