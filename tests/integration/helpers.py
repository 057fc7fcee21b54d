"""Shared helpers for the integration suite.

Everything here talks to a *real* server process (the fixtures of ``tests/conftest.py``): raw
requests are signed with botocore's own :class:`~botocore.auth.S3SigV4Auth` and sent with
``http.client`` (over TLS with the server's CA bundle), so a test can send exactly the bytes it
wants (malformed XML, short bodies, aws-chunked framing, virtual-hosted Host headers...).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import os
import random
import socket
import ssl
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "us-east-1"
KiB = 1024
MiB = 1024 * KiB
#: objects up to this size live inline in their metadata row (no fragment files at all)
INLINE_MAX = 32 * KiB
#: objects up to this size (and above INLINE_MAX) are replicated x4, above it erasure-coded 6+3
SMALL_OBJECT_MAX = 128 * KiB
#: one EC stripe = 6 data blocks of 256 KiB
STRIPE = 6 * 256 * KiB
#: S3 minimum size of a non-last multipart part
PART_MIN = 5 * MiB

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


# --------------------------------------------------------------------------------------------
# data and digests
# --------------------------------------------------------------------------------------------


def random_bytes(size: int, seed: int | None = None) -> bytes:
    """``size`` random bytes (reproducible when ``seed`` is given)."""
    if seed is None:
        return os.urandom(size)
    return random.Random(seed).randbytes(size)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def quoted_md5(data: bytes) -> str:
    """The ETag S3 gives a single-PUT object: the quoted hex MD5."""
    return f'"{md5_hex(data)}"'


def b64_md5(data: bytes) -> str:
    """The value of a Content-MD5 header."""
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def multipart_etag(parts: Iterable[bytes]) -> str:
    """ETag of a completed multipart upload: md5 of the concatenated binary part md5s, ``-N``."""
    digests = [hashlib.md5(p).digest() for p in parts]
    return f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def unique_name(prefix: str = "nf-it") -> str:
    """A valid, unused-looking bucket name."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


# --------------------------------------------------------------------------------------------
# S3 error assertions
# --------------------------------------------------------------------------------------------


def parse_error(body: bytes) -> dict[str, str]:
    """Children of an S3 ``<Error>`` document as a dict (namespace stripped)."""
    assert body, "expected an S3 XML error body, got an empty body"
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:  # pragma: no cover - the assertion message matters
        raise AssertionError(f"error body is not XML: {body[:500]!r}") from exc
    assert root.tag.rsplit("}", 1)[-1] == "Error", f"root element is {root.tag!r}: {body[:500]!r}"
    return {child.tag.rsplit("}", 1)[-1]: (child.text or "") for child in root}


def assert_s3_error_body(body: bytes, code: str | tuple[str, ...] | None = None) -> dict[str, str]:
    """The body is an S3 XML error with non-empty Code, Message and RequestId (and ``code``)."""
    err = parse_error(body)
    for name in ("Code", "Message", "RequestId"):
        assert err.get(name), f"S3 error body lacks {name}: {body[:500]!r}"
    if code is not None:
        codes = (code,) if isinstance(code, str) else code
        assert err["Code"] in codes, f"expected error code {codes}, got {err!r}"
    return err


def error_of(exc: ClientError) -> tuple[str, int]:
    return (
        exc.response.get("Error", {}).get("Code", ""),
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
    )


@contextlib.contextmanager
def raises_s3(code: str | tuple[str, ...], status: int | None = None) -> Iterator[Any]:
    """``with raises_s3("NoSuchKey", 404): s3.get_object(...)``.

    For HEAD requests (no body) botocore reports the HTTP status as the code, so pass the status
    string (e.g. ``"404"``) as ``code`` there.
    """
    codes = (code,) if isinstance(code, str) else code
    with pytest.raises(ClientError) as info:
        yield info
    got_code, got_status = error_of(info.value)
    assert got_code in codes, (
        f"expected S3 error {codes} ({status}), got {got_code} ({got_status}): "
        f"{info.value.response.get('Error')}"
    )
    if status is not None:
        assert got_status == status, f"expected HTTP {status} for {got_code}, got {got_status}"
    if got_code and not got_code.isdigit():
        assert info.value.response["Error"].get("Message"), f"no Message: {info.value.response}"
        assert info.value.response["ResponseMetadata"].get("RequestId"), (
            f"no RequestId: {info.value.response}"
        )


def status_of(response: Mapping[str, Any]) -> int:
    return response["ResponseMetadata"]["HTTPStatusCode"]


def raw_headers(response: Mapping[str, Any]) -> dict[str, str]:
    """The HTTP response headers boto3 saw (lower-cased names)."""
    return {k.lower(): v for k, v in response["ResponseMetadata"]["HTTPHeaders"].items()}


# --------------------------------------------------------------------------------------------
# boto3 clients and buckets
# --------------------------------------------------------------------------------------------


def is_tls(server: Any) -> bool:
    return str(server.endpoint).startswith("https://")


def make_client(
    server: Any,
    *,
    access_key: str | None = None,
    secret_key: str | None = None,
    **config_kwargs: Any,
) -> Any:
    """A boto3 S3 client for ``server`` with explicit credentials (default boto3 settings)."""
    config_kwargs.setdefault("s3", {"addressing_style": "path"})
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key or server.access_key,
        aws_secret_access_key=secret_key or server.secret_key,
        verify=server.ca_bundle if is_tls(server) and server.ca_bundle else None,
        config=Config(**config_kwargs),
    )


def no_retry_client(server: Any) -> Any:
    """A client that does not retry (so a 503 or a skewed clock surfaces at once)."""
    return server.boto3_client(retries={"max_attempts": 1, "mode": "standard"})


def empty_bucket(s3: Any, bucket: str) -> None:
    with contextlib.suppress(ClientError):
        for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for up in page.get("Uploads", []):
                with contextlib.suppress(ClientError):
                    s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    with contextlib.suppress(ClientError):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def delete_bucket(s3: Any, bucket: str) -> None:
    empty_bucket(s3, bucket)
    with contextlib.suppress(ClientError):
        s3.delete_bucket(Bucket=bucket)


def read_all(s3: Any, bucket: str, key: str, **kwargs: Any) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()


def streamed_md5(body: Any, chunk: int = 4 * MiB) -> tuple[str, int]:
    """(md5 hex, length) of a botocore StreamingBody, read in chunks."""
    digest = hashlib.md5()
    size = 0
    for block in body.iter_chunks(chunk):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


# --------------------------------------------------------------------------------------------
# raw signed requests (botocore S3SigV4Auth + http.client)
# --------------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def error(self, code: str | tuple[str, ...] | None = None) -> dict[str, str]:
        return assert_s3_error_body(self.body, code)

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.reason} {self.body[:600]!r}"


def ssl_context(server: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=server.ca_bundle) if server.ca_bundle else None
    if ctx is None:
        ctx = ssl.create_default_context()
    return ctx


def connect(server: Any, timeout: float = 60) -> http.client.HTTPConnection:
    if is_tls(server):
        return http.client.HTTPSConnection(
            server.host, server.port, timeout=timeout, context=ssl_context(server)
        )
    return http.client.HTTPConnection(server.host, server.port, timeout=timeout)


def raw_socket(server: Any, timeout: float = 30) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    if is_tls(server):
        return ssl_context(server).wrap_socket(sock, server_hostname=server.host)
    return sock


def encode_key(key: str) -> str:
    """URI-encode a key the way botocore does for the path (and SigV4 canonical URI)."""
    return quote(key, safe="/~")


def encode_path(bucket: str | None, key: str | None = None) -> str:
    path = "/"
    if bucket:
        path += quote(bucket, safe="")
        if key is not None:
            path += "/" + encode_key(key)
    return path


def encode_query(query: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> str:
    if not query:
        return ""
    items = query.items() if isinstance(query, Mapping) else query
    return "&".join(f"{quote(k, safe='-_.~')}={quote(str(v), safe='-_.~')}" for k, v in items)


class _Signer(S3SigV4Auth):
    """S3SigV4Auth, optionally with a fixed ``x-amz-content-sha256`` (streaming forms)."""

    def __init__(self, credentials: Credentials, payload_hash: str | None) -> None:
        super().__init__(credentials, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        if self._payload_hash is not None:
            return self._payload_hash
        return super().payload(request)


@dataclass
class Signed:
    """Headers of a signed request, plus what a streaming body needs to chain signatures."""

    headers: dict[str, str]
    signature: str
    timestamp: str
    scope: str
    signing_key: bytes


def signing_key(secret_key: str, date: str, region: str = REGION, service: str = "s3") -> bytes:
    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    return h(h(h(h(f"AWS4{secret_key}".encode(), date), region), service), "aws4_request")


def sign(
    server: Any,
    method: str,
    path_qs: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    host: str | None = None,
    payload_hash: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
) -> Signed:
    """Sign ``method path_qs`` (already URI-encoded) for ``server`` with botocore's S3 signer."""
    host = host or f"{server.host}:{server.port}"
    scheme = "https" if is_tls(server) else "http"
    request = AWSRequest(
        method=method, url=f"{scheme}://{host}{path_qs}", data=body, headers=dict(headers or {})
    )
    request.headers["Host"] = host
    secret = secret_key or server.secret_key
    creds = Credentials(access_key or server.access_key, secret)
    _Signer(creds, payload_hash).add_auth(request)
    auth = request.headers["Authorization"]
    signature = auth.rsplit("Signature=", 1)[1].strip()
    timestamp = request.context["timestamp"]
    scope = f"{timestamp[:8]}/{REGION}/s3/aws4_request"
    return Signed(
        headers=dict(request.headers.items()),
        signature=signature,
        timestamp=timestamp,
        scope=scope,
        signing_key=signing_key(secret, timestamp[:8]),
    )


def send(
    server: Any,
    method: str,
    path_qs: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
    timeout: float = 60,
) -> RawResponse:
    conn = connect(server, timeout)
    try:
        conn.request(method, path_qs, body=body, headers=dict(headers))
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, resp.reason, list(resp.getheaders()), data)
    finally:
        conn.close()


def request(
    server: Any,
    method: str,
    bucket: str | None = None,
    key: str | None = None,
    *,
    query: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    path: str | None = None,
    host: str | None = None,
    signed: bool = True,
    payload_hash: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    timeout: float = 60,
) -> RawResponse:
    """One raw S3 request; ``path`` (already encoded) overrides bucket/key."""
    path_qs = path if path is not None else encode_path(bucket, key)
    qs = encode_query(query)
    if qs:
        path_qs += "?" + qs
    hdrs = dict(headers or {})
    if signed:
        hdrs = sign(
            server,
            method,
            path_qs,
            headers=hdrs,
            body=body,
            host=host,
            payload_hash=payload_hash,
            access_key=access_key,
            secret_key=secret_key,
        ).headers
    elif host:
        hdrs["Host"] = host
    return send(
        server, method, path_qs, hdrs, body if body or method in ("PUT", "POST") else None, timeout
    )


# --------------------------------------------------------------------------------------------
# aws-chunked bodies
# --------------------------------------------------------------------------------------------


def chunk_signature(signed: Signed, previous: str, chunk: bytes) -> str:
    string_to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            signed.timestamp,
            signed.scope,
            previous,
            EMPTY_SHA256,
            hashlib.sha256(chunk).hexdigest(),
        ]
    )
    return hmac.new(signed.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def signed_chunked_body(signed: Signed, chunks: list[bytes]) -> bytes:
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD framing of ``chunks`` (a final empty chunk is added)."""
    out = bytearray()
    previous = signed.signature
    for chunk in [*chunks, b""]:
        sig = chunk_signature(signed, previous, chunk)
        out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n"
        previous = sig
    return bytes(out)


def signed_chunked_length(chunk_sizes: list[int]) -> int:
    total = 0
    for size in [*chunk_sizes, 0]:
        total += len(f"{size:x};chunk-signature=") + 64 + 2 + size + 2
    return total


def unsigned_trailer_body(chunks: list[bytes], trailer_name: str, trailer_value: str) -> bytes:
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER framing with one checksum trailer."""
    out = bytearray()
    for chunk in chunks:
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    out += f"0\r\n{trailer_name}:{trailer_value}\r\n\r\n".encode()
    return bytes(out)


# --------------------------------------------------------------------------------------------
# fragments on disk
# --------------------------------------------------------------------------------------------

FRAGMENT_HEADER = 32
RECORD_HEADER = 8


def fragment_files(server: Any) -> set[Path]:
    """Every committed fragment file of ``server`` (all drives)."""
    out: set[Path] = set()
    for drive in server.drive_dirs:
        frag = Path(drive) / "frag"
        if frag.is_dir():
            out.update(p for p in frag.rglob("*") if p.is_file())
    return out


def drive_of(fragment: Path) -> str:
    """``dN`` of DATA_DIR/drives/dN/frag/<2hex>/<chunk_id>.<index>."""
    return fragment.parent.parent.parent.name


def chunk_of(fragment: Path) -> str:
    return fragment.name.rsplit(".", 1)[0]


def index_of(fragment: Path) -> int:
    return int(fragment.name.rsplit(".", 1)[1])


def corrupt_file(path: Path, offsets: Iterable[int], length: int = 16) -> None:
    """Flip ``length`` bytes at each offset (in place, so open handles see it too)."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        for off in offsets:
            off = max(0, min(off, size - length))
            fh.seek(off)
            data = fh.read(length)
            fh.seek(off)
            fh.write(bytes(b ^ 0xFF for b in data))
        fh.flush()
        os.fsync(fh.fileno())
