"""Parse, then handle: turn an HTTP request line into a typed S3 operation.

``route`` is pure: method, the raw (still percent-encoded) path, the query pairs and the Host
header in; an :class:`S3Request` out, or an S3 error. Keys are decoded exactly once here and are
never interpreted as paths anywhere (``../../etc/passwd`` is a key like any other).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from ninefold.api.s3 import errors
from ninefold.api.s3.operations import Operation

__all__ = ["MAX_KEY_BYTES", "S3Request", "bucket_and_key", "route", "validate_bucket_name"]

MAX_KEY_BYTES = 1024
#: names the native JSON API takes (ARCHITECTURE §1)
RESERVED_BUCKETS = frozenset({"buckets", "auth"})
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

#: sub-resources the S3 API has and this server does not implement yet: 501 NotImplemented
_UNSUPPORTED = frozenset(
    {
        "accelerate",
        "analytics",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "lifecycle",
        "logging",
        "metrics",
        "notification",
        "replication",
        "requestPayment",
        "restore",
        "select",
        "torrent",
        "website",
    }
)


#: bucket configuration documents with Get/Put/Delete operations: query name -> operation stem
_BUCKET_CONFIGS = {
    "cors": "BucketCors",
    "ownershipControls": "BucketOwnershipControls",
    "publicAccessBlock": "PublicAccessBlock",
}
_VERBS = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}
#: operation by S3 name (a dict lookup: calling the enum costs more on every request)
_OPERATIONS = {op.value: op for op in Operation}


@dataclass(frozen=True, slots=True)
class S3Request:
    """One parsed S3 operation."""

    op: Operation
    bucket: str | None
    key: str | None
    query: dict[str, str]


_Make = Callable[[str], "S3Request"]


def validate_bucket_name(name: str) -> None:
    """S3 bucket naming rules (general purpose buckets)."""
    if (
        not _BUCKET_RE.match(name)
        or ".." in name
        or ".-" in name
        or "-." in name
        or name.startswith(("xn--", "sthree-"))
        or name.endswith(("-s3alias", "--ol-s3"))
        or name in RESERVED_BUCKETS
        or _is_ip(name)
    ):
        raise errors.InvalidBucketName(BucketName=name)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def _decode(raw: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise errors.InvalidArgument("The path is not valid UTF-8 after percent-decoding.") from exc


def _split(raw_path: str, host: str, domain: str | None) -> tuple[str | None, str | None]:
    """(bucket, key) from the Host header (virtual-hosted style) or the path (path style)."""
    hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    if domain and hostname.endswith("." + domain):
        bucket = hostname[: -len(domain) - 1]
        rest = raw_path[1:] if raw_path.startswith("/") else raw_path
        return bucket, (_decode(rest) or None)
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    if not path:
        return None, None
    bucket_raw, sep, key_raw = path.partition("/")
    bucket = _decode(bucket_raw)
    return (bucket or None), (_decode(key_raw) if sep and key_raw else None)


def bucket_and_key(raw_path: str, host: str, domain: str | None) -> tuple[str | None, str | None]:
    """(bucket, key) of a request, decoded, without routing it: for CORS, which is evaluated
    before authentication (preflights) or before the operation is known."""
    return _split(raw_path, host, domain)


def _check_key(key: str) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise errors.KeyTooLongError(
            Size=str(len(key.encode("utf-8", "surrogatepass"))), MaxSizeAllowed=str(MAX_KEY_BYTES)
        )
    if "\x00" in key:
        raise errors.InvalidArgument("Object key must not contain the NUL character.")


def route(
    method: str,
    raw_path: str,
    query: dict[str, str],
    headers_has_copy_source: bool,
    host: str,
    domain: str | None,
) -> S3Request:
    bucket, key = _split(raw_path, host, domain)
    for name in query:
        if name in _UNSUPPORTED:
            raise errors.NotImplementedOp(f"The '{name}' sub-resource is not implemented yet.")

    def op(name: str) -> S3Request:
        return S3Request(_OPERATIONS[name], bucket, key, query)

    if bucket is None:
        if method == "GET":
            return op("ListBuckets")
        raise errors.MethodNotAllowed()
    if key is None:
        return _bucket_op(method, query, op)
    _check_key(key)
    return _object_op(method, query, headers_has_copy_source, op)


def _bucket_op(method: str, query: dict[str, str], make: _Make) -> S3Request:
    for name, stem in _BUCKET_CONFIGS.items():
        if name in query and method in _VERBS:
            return make(_VERBS[method] + stem)
    if method == "GET":
        if "location" in query:
            return make("GetBucketLocation")
        if "versioning" in query:
            return make("GetBucketVersioning")
        if "tagging" in query:
            return make("GetBucketTagging")
        if "object-lock" in query:
            return make("GetObjectLockConfiguration")
        if "acl" in query:
            return make("GetBucketAcl")
        if "policyStatus" in query:
            return make("GetBucketPolicyStatus")
        if "policy" in query:
            return make("GetBucketPolicy")
        if "uploads" in query:
            return make("ListMultipartUploads")
        if "versions" in query:
            return make("ListObjectVersions")
        if query.get("list-type") == "2":
            return make("ListObjectsV2")
        if "list-type" in query:
            raise errors.InvalidArgument("Invalid list-type.", ArgumentName="list-type")
        return make("ListObjects")
    if method == "PUT":
        if "versioning" in query:
            return make("PutBucketVersioning")
        if "tagging" in query:
            return make("PutBucketTagging")
        if "object-lock" in query:
            return make("PutObjectLockConfiguration")
        if "acl" in query:
            return make("PutBucketAcl")
        if "policy" in query:
            return make("PutBucketPolicy")
        return make("CreateBucket")
    if method == "HEAD":
        return make("HeadBucket")
    if method == "DELETE":
        if "policy" in query:
            return make("DeleteBucketPolicy")
        return make("DeleteBucketTagging" if "tagging" in query else "DeleteBucket")
    if method == "POST" and "delete" in query:
        return make("DeleteObjects")
    raise errors.MethodNotAllowed()


def _object_op(method: str, query: dict[str, str], copy: bool, make: _Make) -> S3Request:
    if method == "GET" and "attributes" in query:
        return make("GetObjectAttributes")
    upload = "uploadId" in query
    if "tagging" in query and method in ("GET", "PUT", "DELETE"):
        return make({"GET": "Get", "PUT": "Put", "DELETE": "Delete"}[method] + "ObjectTagging")
    if "acl" in query and method in ("GET", "PUT"):
        return make(("Get" if method == "GET" else "Put") + "ObjectAcl")
    if "retention" in query and method in ("GET", "PUT"):
        return make(("Get" if method == "GET" else "Put") + "ObjectRetention")
    if "legal-hold" in query and method in ("GET", "PUT"):
        return make(("Get" if method == "GET" else "Put") + "ObjectLegalHold")
    if method == "PUT":
        if upload or "partNumber" in query:
            return make("UploadPartCopy" if copy else "UploadPart")
        return make("CopyObject" if copy else "PutObject")
    if method == "GET":
        return make("ListParts" if upload else "GetObject")
    if method == "HEAD":
        return make("HeadObject")
    if method == "DELETE":
        return make("AbortMultipartUpload" if upload else "DeleteObject")
    if method == "POST":
        if "uploads" in query:
            return make("CreateMultipartUpload")
        if upload:
            return make("CompleteMultipartUpload")
    raise errors.MethodNotAllowed()
