"""Request bodies: framing (plain, aws-chunked), length checks and digest verification.

``open_body`` turns a request into a :class:`BodySource` that yields the decoded payload and
raises an S3 error on a short or malformed body; ``body_check`` builds the check that runs once
the whole body has been hashed — Content-MD5, x-amz-content-sha256 and every
``x-amz-checksum-*`` (header or trailer) — before anything becomes visible.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import StreamReader, web

from ninefold.api.auth import AuthResult, AwsChunkedDecoder
from ninefold.api.s3 import errors
from ninefold.core.checksums import ALGORITHMS, DIGEST_BYTES, MultiHasher, b64
from ninefold.domain.objects import BodyCheck

__all__ = [
    "BodyPlan",
    "checksum_headers",
    "make_check",
    "open_body",
    "plan_body",
    "read_small_body",
    "read_small_body_once",
    "send_continue",
]

STREAMING = "STREAMING-"
UNSIGNED = "UNSIGNED-PAYLOAD"
#: the checksum S3 computes for objects uploaded without one
DEFAULT_ALGORITHM = "crc64nvme"
MAX_XML_BODY_BYTES = 2 * 1024 * 1024


@dataclass(slots=True)
class BodyPlan:
    """What is declared about a body before it is read."""

    content_length: int | None
    decoded_length: int | None
    chunked: bool
    payload_sha256: str | None
    content_md5: bytes | None
    #: algorithm -> declared base64 value ("" when it arrives in the trailer)
    declared: dict[str, str] = field(default_factory=dict)
    trailer_names: tuple[str, ...] = ()

    @property
    def algorithms(self) -> tuple[str, ...]:
        algorithms = list(self.declared) or [DEFAULT_ALGORITHM]
        if self.payload_sha256 and "sha256" not in algorithms:
            algorithms.append("sha256")
        return tuple(algorithms)


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise errors.InvalidArgument(f"{name} is not a valid integer.") from None
    if number < 0:
        raise errors.InvalidArgument(f"{name} must not be negative.")
    return number


def checksum_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``x-amz-checksum-<algorithm>`` headers, {algorithm: base64 value}; a value that is
    not the base64 of a digest of the algorithm's size is InvalidRequest (400), as on S3."""
    declared: dict[str, str] = {}
    for algorithm in ALGORITHMS:
        value = headers.get(f"x-amz-checksum-{algorithm}")
        if value is not None:
            try:
                raw = base64.b64decode(value, validate=True)
            except binascii.Error:
                raw = b""
            if len(raw) != DIGEST_BYTES[algorithm]:
                raise errors.InvalidRequest(
                    f"Value for x-amz-checksum-{algorithm} header is invalid."
                )
            declared[algorithm] = value
    return declared


def plan_body(headers: Mapping[str, str], auth: AuthResult) -> BodyPlan:
    """Validate the declared digests and framing before reading a byte."""
    chunked = auth.payload.startswith(STREAMING)
    payload_sha = None
    if not chunked and auth.payload != UNSIGNED:
        payload_sha = auth.payload.lower()
    md5 = None
    if (md5_header := headers.get("content-md5")) is not None:
        try:
            md5 = base64.b64decode(md5_header, validate=True)
        except binascii.Error:
            md5 = b""
        if len(md5) != 16:
            raise errors.InvalidDigest(**{"Content-MD5": md5_header})
    declared = checksum_headers(headers)
    trailers = tuple(
        t.strip().lower() for t in headers.get("x-amz-trailer", "").split(",") if t.strip()
    )
    for name in trailers:
        algorithm = name.removeprefix("x-amz-checksum-")
        if not name.startswith("x-amz-checksum-") or algorithm not in ALGORITHMS:
            raise errors.InvalidRequest(f"The trailer {name} is not supported.")
        declared.setdefault(algorithm, "")
    sdk_algorithm = headers.get("x-amz-sdk-checksum-algorithm", "").lower()
    if sdk_algorithm:
        if sdk_algorithm not in ALGORITHMS:
            raise errors.InvalidRequest("Checksum algorithm provided is unsupported.")
        if sdk_algorithm not in declared:
            raise errors.InvalidRequest(
                f"x-amz-sdk-checksum-algorithm specified, but no corresponding "
                f"x-amz-checksum-{sdk_algorithm} or x-amz-trailer header was found."
            )
    if len([v for v in declared.values() if v]) > 1:
        raise errors.InvalidRequest("Expecting a single x-amz-checksum- header.")
    if trailers and not chunked:
        raise errors.InvalidRequest("x-amz-trailer requires an aws-chunked body.")
    return BodyPlan(
        content_length=_int_header(headers, "content-length"),
        decoded_length=_int_header(headers, "x-amz-decoded-content-length"),
        chunked=chunked,
        payload_sha256=payload_sha,
        content_md5=md5,
        declared=declared,
        trailer_names=trailers,
    )


class _PlainBody:
    """A body framed by Content-Length (or HTTP chunked transfer-encoding)."""

    def __init__(self, stream: StreamReader, expected: int | None) -> None:
        self._stream = stream
        self._expected = expected
        self._seen = 0

    async def read(self) -> bytes:
        try:
            piece = await self._stream.readany()
        except Exception as exc:  # client went away or framing error
            raise errors.IncompleteBody() from exc
        self._seen += len(piece)
        if self._expected is not None:
            if self._seen > self._expected:
                raise errors.IncompleteBody("The body is longer than its Content-Length.")
            if not piece and self._seen < self._expected:
                raise errors.IncompleteBody()
        return piece


class _ChunkedBody:
    def __init__(self, decoder: AwsChunkedDecoder) -> None:
        self.decoder = decoder

    async def read(self) -> bytes:
        return await self.decoder.read()


def open_body(stream: StreamReader, plan: BodyPlan, auth: AuthResult) -> _PlainBody | _ChunkedBody:
    if plan.chunked:
        decoder = AwsChunkedDecoder(
            stream, auth, trailer_names=plan.trailer_names, decoded_length=plan.decoded_length
        )
        return _ChunkedBody(decoder)
    return _PlainBody(stream, plan.content_length)


def make_check(plan: BodyPlan, body: _PlainBody | _ChunkedBody) -> BodyCheck:
    """The BodyCheck for ``plan``: verifies every digest, returns the checksums to store."""

    def check(hasher: MultiHasher) -> dict[str, str]:
        if plan.content_md5 is not None and hasher.md5.digest() != plan.content_md5:
            raise errors.BadDigest(
                ExpectedDigest=base64.b64encode(plan.content_md5).decode(),
                CalculatedDigest=b64(hasher.md5.digest()),
            )
        computed = hasher.checksums_b64()
        if plan.payload_sha256 is not None:
            digest = base64.b64decode(computed["sha256"]).hex()
            if digest != plan.payload_sha256:
                raise errors.XAmzContentSHA256Mismatch(
                    ClientComputedContentSHA256=plan.payload_sha256,
                    S3ComputedContentSHA256=digest,
                )
        trailers = body.decoder.trailers if isinstance(body, _ChunkedBody) else {}
        stored: dict[str, str] = {}
        for algorithm, value in plan.declared.items():
            if not value:
                value = trailers.get(f"x-amz-checksum-{algorithm}", "")
                if not value:
                    raise errors.InvalidRequest(
                        f"The trailer x-amz-checksum-{algorithm} was announced but not sent."
                    )
            if value != computed[algorithm]:
                raise errors.BadDigest(
                    f"The {algorithm.upper()} you specified did not match the calculated checksum."
                )
            stored[algorithm] = value
        if not plan.declared:
            stored[DEFAULT_ALGORITHM] = computed[DEFAULT_ALGORITHM]
        return stored

    return check


async def read_small_body(
    stream: StreamReader, plan: BodyPlan, auth: AuthResult, limit: int = MAX_XML_BODY_BYTES
) -> bytes:
    """Read a whole (XML) request body of at most ``limit`` bytes and verify its digests."""
    body = open_body(stream, plan, auth)
    hasher = MultiHasher(plan.algorithms)
    parts = []
    total = 0
    while piece := await body.read():
        total += len(piece)
        if total > limit:
            raise errors.MalformedXML("The XML request body is too large.")
        hasher.update(piece)
        parts.append(piece)
    make_check(plan, body)(hasher)
    return b"".join(parts)


_CONTINUED = web.RequestKey("ninefold.continue_sent", bool)
_SMALL_BODY = web.RequestKey("ninefold.small_body", bytes)


async def send_continue(request: web.BaseRequest) -> None:
    """Answer ``Expect: 100-continue`` once: the client may now send the body."""
    if request.get(_CONTINUED) or request.headers.get("expect", "").lower() != "100-continue":
        return
    request[_CONTINUED] = True
    await request.writer.write(
        b"HTTP/%d.%d 100 Continue\r\n\r\n" % (request.version.major, request.version.minor)
    )


async def read_small_body_once(
    request: web.BaseRequest, auth: AuthResult, limit: int = MAX_XML_BODY_BYTES
) -> bytes:
    """``read_small_body`` of the request, kept on it: authorization may need a small body
    (PutObjectTagging's tags for ``s3:RequestObjectTag``) before its handler reads it."""
    cached: bytes | None = request.get(_SMALL_BODY)
    if cached is None:
        await send_continue(request)
        plan = plan_body(request.headers, auth)
        cached = request[_SMALL_BODY] = await read_small_body(request.content, plan, auth, limit)
    return cached
