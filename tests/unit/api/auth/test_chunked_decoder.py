"""AwsChunkedDecoder on a real aiohttp StreamReader: the AWS documented example and every
failure path (bad signatures, framing, lengths, trailers)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from unittest import mock

import pytest
from aiohttp import StreamReader

from ninefold.api.auth.chunked import AwsChunkedDecoder
from ninefold.api.auth.sigv4 import EMPTY_SHA256, AuthResult, Principal, signing_key
from ninefold.api.s3 import errors

# The example of the S3 docs, "Signature Calculations for the Authorization Header: Transferring
# Payload in Multiple Chunks": 66,560 bytes of 'a' in chunks of 64 KiB, 1 KiB and 0.
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
DOC_CHUNK_SIGNATURES = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]
KEY = signing_key(SECRET, "20130524", "us-east-1", "s3")


def auth(payload: str) -> AuthResult:
    return AuthResult(
        Principal("AKIAIOSFODNN7EXAMPLE", "root", True), payload, KEY, SCOPE, DATE, SEED
    )


def chunk_sig(previous: str, data: bytes) -> str:
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            DATE,
            SCOPE,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(data).hexdigest(),
        ]
    )
    return hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest()


def signed_body(chunks: list[bytes], tamper: Callable[[int, str], str] = lambda i, s: s) -> bytes:
    out, previous = b"", SEED
    for i, data in enumerate([*chunks, b""]):
        sig = chunk_sig(previous, data)
        previous = sig
        out += f"{len(data):x};chunk-signature={tamper(i, sig)}\r\n".encode() + data
        out += b"\r\n"  # after the data, or the blank line that ends the final chunk
    return out


async def decode(body: bytes, result: AuthResult, **kwargs: object) -> tuple[bytes, dict[str, str]]:
    loop = asyncio.get_running_loop()
    reader = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=loop)
    reader.feed_data(body)
    reader.feed_eof()
    decoder = AwsChunkedDecoder(reader, result, **kwargs)  # type: ignore[arg-type]
    out = b""
    while piece := await decoder.read():
        out += piece
    return out, decoder.trailers


def run(
    body: bytes, payload: str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", **kwargs: object
) -> tuple[bytes, dict[str, str]]:
    return asyncio.run(decode(body, auth(payload), **kwargs))


def test_aws_documented_example_signatures() -> None:
    previous, sigs = SEED, []
    for data in (b"a" * 65536, b"a" * 1024, b""):
        previous = chunk_sig(previous, data)
        sigs.append(previous)
    assert sigs == DOC_CHUNK_SIGNATURES
    data, trailers = run(signed_body([b"a" * 65536, b"a" * 1024]), decoded_length=66560)
    assert data == b"a" * 66560 and trailers == {}


def test_tampered_data_is_refused() -> None:
    body = bytearray(signed_body([b"a" * 100]))
    body[body.index(b"a")] = ord("b")
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(bytes(body))


def test_wrong_or_missing_chunk_signature() -> None:
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(signed_body([b"x" * 10], tamper=lambda i, s: "0" * 64 if i == 1 else s))
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(b"a\r\n" + b"x" * 10 + b"\r\n0\r\n\r\n")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"zz;chunk-signature=00\r\n", errors.InvalidRequest),  # size not hex
        (b"A" * 5000 + b"\r\n", errors.InvalidRequest),  # framing line too long
        (b"64;chunk-signature=00\r\nshort", errors.IncompleteBody),  # ends inside a chunk
        (b"", errors.IncompleteBody),  # no final chunk at all
        (b"ffffffff;chunk-signature=00\r\n", errors.InvalidRequest),  # chunk too large
    ],
)
def test_bad_framing(body: bytes, error: type) -> None:
    with pytest.raises(error):
        run(body)


def test_decoded_length_must_match() -> None:
    with pytest.raises(errors.IncompleteBody):
        run(signed_body([b"a" * 100]), decoded_length=99)
    with pytest.raises(errors.IncompleteBody):
        run(signed_body([b"a" * 100]), decoded_length=101)


def unsigned_trailer_body(data: bytes, trailer: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n" + trailer + b"\r\n"


def test_unsigned_trailer() -> None:
    body = unsigned_trailer_body(b"hello", b"x-amz-checksum-crc32:NhCmhg==\r\n")
    data, trailers = run(
        body,
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        trailer_names=["x-amz-checksum-crc32"],
        decoded_length=5,
    )
    assert data == b"hello" and trailers == {"x-amz-checksum-crc32": "NhCmhg=="}


def test_unannounced_trailer_is_refused() -> None:
    body = unsigned_trailer_body(b"hello", b"x-amz-checksum-sha1:abc=\r\n")
    with pytest.raises(errors.InvalidRequest):
        run(body, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", trailer_names=["x-amz-checksum-crc32"])


def signed_trailer_body(data: bytes, trailer: bytes, good: bool) -> bytes:
    previous = SEED
    out = b""
    for piece in (data, b""):
        previous = chunk_sig(previous, piece)
        out += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece
        out += b"\r\n" if piece else b""
    text = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            DATE,
            SCOPE,
            previous,
            hashlib.sha256(trailer + b"\n").hexdigest(),
        ]
    )
    sig = hmac.new(KEY, text.encode(), hashlib.sha256).hexdigest() if good else "0" * 64
    return out + trailer + b"\r\n" + f"x-amz-trailer-signature:{sig}\r\n\r\n".encode()


def test_signed_trailer() -> None:
    body = signed_trailer_body(b"hello", b"x-amz-checksum-crc32:NhCmhg==", good=True)
    data, trailers = run(
        body, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", trailer_names=["x-amz-checksum-crc32"]
    )
    assert data == b"hello" and trailers["x-amz-checksum-crc32"] == "NhCmhg=="
    bad = signed_trailer_body(b"hello", b"x-amz-checksum-crc32:NhCmhg==", good=False)
    with pytest.raises(errors.SignatureDoesNotMatch):
        run(
            bad,
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            trailer_names=["x-amz-checksum-crc32"],
        )


def test_unsupported_streaming_mode() -> None:
    with pytest.raises(errors.InvalidRequest):
        run(b"", "STREAMING-UNSUPPORTED")
