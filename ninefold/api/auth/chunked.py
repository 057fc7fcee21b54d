"""Decoding aws-chunked request bodies, verifying chunk and trailer signatures.

Framing: ``hex-size[;chunk-signature=SIG]\\r\\n data \\r\\n`` repeated, a zero-size chunk, then
optional trailer lines ``name:value\\r\\n`` and an empty line. Signed forms chain each chunk's
signature to the previous one (the seed is the request signature). Every line is bounded, every
chunk size is bounded, and a body that ends early raises IncompleteBody: hostile input can
neither hang the decoder nor make it allocate without limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from typing import Protocol

from ninefold.api.auth.sigv4 import EMPTY_SHA256, AuthResult
from ninefold.api.s3 import errors

__all__ = ["AwsChunkedDecoder", "ByteSource"]

MAX_LINE_BYTES = 4096
SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


class ByteSource(Protocol):
    async def readexactly(self, n: int) -> bytes: ...

    async def readuntil(self, separator: bytes = b"\n") -> bytes: ...


class AwsChunkedDecoder:
    """Yields the decoded payload via ``read()``; ``trailers`` is filled once it returns b""."""

    def __init__(
        self,
        source: ByteSource,
        auth: AuthResult,
        *,
        trailer_names: Sequence[str] = (),
        decoded_length: int | None = None,
        max_chunk_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        if auth.payload not in (SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER):
            raise errors.InvalidRequest(f"Unsupported streaming payload {auth.payload!r}.")
        self._source = source
        self._auth = auth
        self._signed = auth.payload in (SIGNED, SIGNED_TRAILER)
        self._expect_trailer = auth.payload != SIGNED
        self._trailer_names = {n.lower() for n in trailer_names}
        self._decoded_length = decoded_length
        self._max_chunk = max_chunk_bytes
        self._previous = auth.seed_signature
        self._seen = 0
        self._done = False
        self.trailers: dict[str, str] = {}

    async def _line(self) -> bytes:
        try:
            line = await self._source.readuntil(b"\r\n")
        except asyncio.IncompleteReadError as exc:
            raise errors.IncompleteBody("The aws-chunked body ended early.") from exc
        except (ValueError, asyncio.LimitOverrunError) as exc:
            raise errors.InvalidRequest("An aws-chunked framing line is too long.") from exc
        except errors.RequestTimeout:  # the body stalled (api/connections.py)
            raise
        except Exception as exc:  # the client went away
            raise errors.IncompleteBody() from exc
        if len(line) > MAX_LINE_BYTES:
            raise errors.InvalidRequest("An aws-chunked framing line is too long.")
        if not line.endswith(b"\r\n"):
            # aiohttp returns what is left, without a separator, at the end of the stream
            raise errors.IncompleteBody("The aws-chunked body ended early.")
        return line[:-2]

    async def _exactly(self, n: int) -> bytes:
        try:
            return await self._source.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            raise errors.IncompleteBody("The aws-chunked body ended early.") from exc
        except errors.RequestTimeout:
            raise
        except Exception as exc:
            raise errors.IncompleteBody() from exc

    def _chunk_signature(self, data: bytes) -> str:
        text = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                self._auth.amz_date,
                self._auth.scope,
                self._previous,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            ]
        )
        return hmac.new(self._auth.signing_key, text.encode(), hashlib.sha256).hexdigest()

    async def read(self) -> bytes:
        if self._done:
            return b""
        header = await self._line()
        size_text, _, ext = header.partition(b";")
        try:
            size = int(size_text, 16)
        except ValueError:
            raise errors.InvalidRequest("Malformed aws-chunked chunk size.") from None
        if size < 0 or size > self._max_chunk:
            raise errors.InvalidRequest("aws-chunked chunk too large.")
        data = await self._exactly(size) if size else b""
        if self._signed:
            name, _, signature = ext.partition(b"=")
            if name.strip() != b"chunk-signature" or not signature:
                raise errors.SignatureDoesNotMatch("A chunk signature is missing.")
            expected = self._chunk_signature(data)
            if not hmac.compare_digest(expected.encode(), signature.strip()):
                raise errors.SignatureDoesNotMatch("A chunk signature does not match.")
            self._previous = expected
        if size:
            if await self._exactly(2) != b"\r\n":
                raise errors.InvalidRequest("Malformed aws-chunked body: missing CRLF.")
            self._seen += size
            if self._decoded_length is not None and self._seen > self._decoded_length:
                raise errors.IncompleteBody("The body is longer than x-amz-decoded-content-length.")
            return data
        await self._finish()
        return b""

    async def _finish(self) -> None:
        self._done = True
        if self._expect_trailer:
            await self._read_trailers()
        elif await self._line() != b"":
            raise errors.InvalidRequest("Malformed aws-chunked body after the final chunk.")
        if self._decoded_length is not None and self._seen != self._decoded_length:
            raise errors.IncompleteBody("The body does not match x-amz-decoded-content-length.")

    async def _read_trailers(self) -> None:
        lines: list[bytes] = []
        signature: bytes | None = None
        for _ in range(64):
            line = await self._line()
            if not line:
                break
            name, sep, value = line.partition(b":")
            if not sep:
                raise errors.InvalidRequest("Malformed trailer line.")
            key = name.strip().lower().decode("ascii", "replace")
            if key == "x-amz-trailer-signature":
                signature = value.strip()
                continue
            if key not in self._trailer_names:
                raise errors.InvalidRequest(
                    f"The trailer {key} was not announced in x-amz-trailer."
                )
            self.trailers[key] = value.strip().decode("ascii", "replace")
            lines.append(name.strip().lower() + b":" + value.strip() + b"\n")
        else:
            raise errors.InvalidRequest("Too many trailer lines.")
        if self._signed:
            text = "\n".join(
                [
                    "AWS4-HMAC-SHA256-TRAILER",
                    self._auth.amz_date,
                    self._auth.scope,
                    self._previous,
                    hashlib.sha256(b"".join(lines)).hexdigest(),
                ]
            )
            expected = hmac.new(self._auth.signing_key, text.encode(), hashlib.sha256).hexdigest()
            if signature is None or not hmac.compare_digest(expected.encode(), signature):
                raise errors.SignatureDoesNotMatch("The trailer signature does not match.")
