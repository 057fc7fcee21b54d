"""Typed metadata records: buckets, object versions, multipart uploads and parts.

Plain frozen dataclasses; no I/O. Times are Unix epoch seconds (float, UTC). ETags are stored
without quotes (hex md5, or ``<hex>-N`` for multipart objects).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord

__all__ = [
    "COMPLETED_UPLOAD_RETENTION_S",
    "NODE_HEALTH",
    "NULL_VERSION",
    "REPAIR_MISSING_AT_WRITE",
    "Bucket",
    "ClusterMap",
    "CompletedUpload",
    "GcItem",
    "ListEntry",
    "ListPage",
    "NodeRecord",
    "ObjectVersion",
    "Part",
    "RepairItem",
    "Upload",
]

#: the version id of objects written while versioning is off
NULL_VERSION = "null"

#: what the health monitor can say of a node: it answers its health probe, or it does not
NODE_HEALTH = ("ok", "down")

#: repair reason of a chunk committed with a fragment whose write failed (``""`` in its stores)
REPAIR_MISSING_AT_WRITE = "missing-at-write"


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    created_at: float
    owner: str
    region: str = "us-east-1"
    versioning: str = ""  # "", "Enabled" or "Suspended"
    object_lock: bool = False
    #: the bucket policy document as it was put ("" for none)
    policy: str = ""
    #: the bucket's configuration documents, name -> document text, as put with
    #: ``put_bucket_config`` (names in use: "acl", "cors", "object-lock", "ownership",
    #: "public-access-block", "tagging"). ``get_bucket`` returns them all, read with the record;
    #: ``list_buckets`` leaves them empty.
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectVersion:
    """One version of an object, with the chunks that hold its bytes (empty for 0 bytes)."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: float
    version_id: str = NULL_VERSION
    is_latest: bool = True
    is_delete_marker: bool = False
    content_type: str = "binary/octet-stream"
    #: standard headers kept verbatim: content-encoding, content-disposition, content-language,
    #: cache-control, expires (lower-case names)
    headers: dict[str, str] = field(default_factory=dict)
    #: user metadata without the x-amz-meta- prefix, lower-case names
    user_meta: dict[str, str] = field(default_factory=dict)
    #: S3 checksums {"crc32": b64, ...} plus "type": "FULL_OBJECT" | "COMPOSITE"
    checksums: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    #: sizes of the parts of a multipart object, in order (empty for a single PUT)
    part_sizes: tuple[int, ...] = ()
    #: the checksums of those parts, in the same order ({"crc32": b64} each; empty when the
    #: upload had no checksum algorithm, or for a single PUT)
    part_checksums: tuple[dict[str, str], ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    encryption: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    chunks: tuple[ChunkRecord, ...] = ()
    #: Object Lock: {"mode": "GOVERNANCE" | "COMPLIANCE", "until": ISO 8601, "legal_hold": "ON"}
    lock: dict[str, str] = field(default_factory=dict)
    #: canned ACL: private, public-read, public-read-write, authenticated-read, ...
    acl: str = "private"


@dataclass(frozen=True, slots=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    created_at: float
    owner: str
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    checksum_algorithm: str = ""
    storage_class: str = "STANDARD"
    #: how the parts' checksums make the object's: "COMPOSITE" or "FULL_OBJECT" ("" when the
    #: upload has no checksum algorithm)
    checksum_type: str = ""


@dataclass(frozen=True, slots=True)
class CompletedUpload:
    """A multipart upload completed lately (kept ``COMPLETED_UPLOAD_RETENTION_S``): a repeated
    CompleteMultipartUpload of the same parts answers what the first one did, as on S3."""

    upload_id: str
    bucket: str
    key: str
    #: the part numbers the upload was completed with, in order
    parts: tuple[int, ...]
    #: the object's ETag (without quotes), version id ("" in a never-versioned bucket) and
    #: checksums, as the first CompleteMultipartUpload returned them
    etag: str
    version_id: str
    checksums: dict[str, str]
    completed_at: float


#: how long a completed upload id is remembered (S3 keeps them "briefly"; a retry after a lost
#: answer comes within minutes)
COMPLETED_UPLOAD_RETENTION_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Part:
    upload_id: str
    part_number: int
    size: int
    etag: str
    last_modified: float
    checksums: dict[str, str] = field(default_factory=dict)
    chunks: tuple[ChunkRecord, ...] = ()


class ListEntry(NamedTuple):
    """One key of a listing page (a named tuple: a page builds a thousand of them)."""

    key: str
    size: int
    etag: str
    last_modified: float
    storage_class: str
    owner: str
    checksum_algorithms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListPage:
    entries: list[ListEntry]
    common_prefixes: list[str]
    is_truncated: bool
    #: the last key or common prefix returned; the marker to continue after
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One version (or delete marker) in a ListObjectVersions page."""

    key: str
    version_id: str
    is_latest: bool
    is_delete_marker: bool
    size: int
    etag: str
    last_modified: float
    storage_class: str
    owner: str


@dataclass(frozen=True, slots=True)
class VersionPage:
    versions: list[VersionEntry]
    common_prefixes: list[str]
    is_truncated: bool
    #: where the next page starts (S3's NextKeyMarker / NextVersionIdMarker)
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(frozen=True, slots=True)
class DeleteOutcome:
    """What a DeleteObject did: the version it removed or the delete marker it created
    (``version_id`` None in a bucket that never had versioning); ``existed``: something was
    there to delete (a marker is always created in a versioned bucket)."""

    version_id: str | None
    delete_marker: bool
    existed: bool


def new_version_id() -> str:
    """A fresh version id: 32 hex digits, opaque to clients and unique per key: the time it was
    made (microseconds since the epoch, 14 digits), then 18 random digits. The time places a
    version that is gone among the versions of its key (a ListObjectVersions page that ended on
    it continues after it, see ``version_id_time``); the writes of one key are serialized, so
    its version ids are made in the order of its row ids."""
    return f"{time.time_ns() // 1000:014x}{secrets.token_hex(9)}"


def version_id_time(version_id: str) -> float | None:
    """When ``version_id`` was made (epoch seconds); None for the ``null`` version (whose time
    is its row's ``last_modified``). Ids made before issue 11 were 32 random digits: their
    "time" is meaningless but still orders them somewhere.

    >>> version_id_time("05f128840d4000" + "0" * 18)  # 2023-01-01T00:00:00Z
    1672531200.0
    """
    if version_id == NULL_VERSION:
        return None
    return int(version_id[:14], 16) / 1e6


def is_valid_version_id(version_id: str) -> bool:
    return version_id == NULL_VERSION or (
        len(version_id) == 32 and all(c in "0123456789abcdef" for c in version_id)
    )


def delete_marker(bucket: str, key: str, version_id: str, now: float, owner: str) -> ObjectVersion:
    return ObjectVersion(
        bucket=bucket,
        key=key,
        size=0,
        etag="",
        last_modified=now,
        version_id=version_id,
        is_delete_marker=True,
        content_type="",
        owner=owner,
    )


@dataclass(frozen=True, slots=True)
class GcItem:
    gc_id: int
    chunk: ChunkRecord
    queued_at: float


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A storage node in the cluster map.

    ``state`` is the operator's word: "up", "draining" (no new writes) or "down" (neither).
    ``health`` is the health monitor's: "ok", or "down" when the node has not answered its
    health probe for a few seconds. ``last_seen`` is when it last answered (epoch seconds, 0:
    never). Only ``set_node_health`` changes these two; ``put_node`` keeps them for an existing
    node, so an admin command never overrides what the monitor observed.
    """

    node_id: str
    url: str
    zone: str
    drives: tuple[str, ...]
    weight: float = 1.0
    state: str = "up"
    health: str = "ok"
    last_seen: float = 0.0


@dataclass(frozen=True, slots=True)
class RepairItem:
    """A chunk waiting for repair. ``chunk`` is its record as it is now, or None when the chunk
    no longer exists (its object was deleted or replaced meanwhile: nothing left to repair)."""

    repair_id: int
    chunk_id: str
    reason: str
    queued_at: float
    chunk: ChunkRecord | None


@dataclass(frozen=True, slots=True)
class ClusterMap:
    """Every node, and a version that changes with every change of the map."""

    version: int
    nodes: tuple[NodeRecord, ...]


@dataclass(frozen=True, slots=True)
class WriteCondition:
    """A conditional write (``If-None-Match: *`` / ``If-Match: etag`` on PutObject, CopyObject
    and CompleteMultipartUpload), checked in the transaction that commits the write, so of N
    concurrent creators exactly one wins."""

    #: ETags (without quotes) one of which the current object must have; "*": any object
    if_match: tuple[str, ...] | None = None
    #: the key must have no current object (``If-None-Match: *``)
    if_none_match: bool = False
    #: ETags (without quotes) the current object must not have (``If-None-Match: "etag"``)
    if_none_match_etags: tuple[str, ...] = ()

    def check(self, current_etag: str | None) -> None:
        """Raises PreconditionFailed (412), or NoSuchKey (404) for If-Match on no object."""
        if current_etag is not None and (
            self.if_none_match or current_etag in self.if_none_match_etags
        ):
            raise errors.PreconditionFailed(Condition="If-None-Match")
        if self.if_match is not None:
            if current_etag is None:
                raise errors.NoSuchKey()
            if "*" not in self.if_match and current_etag not in self.if_match:
                raise errors.PreconditionFailed(Condition="If-Match")


def lock_refusal(lock: dict[str, str], now: float, bypass_governance: bool) -> str | None:
    """Why Object Lock forbids deleting (or shortening the retention of) a version with
    ``lock`` at ``now``; None when nothing does. A legal hold and an unexpired COMPLIANCE
    retention stop everyone; an unexpired GOVERNANCE retention stops whoever does not send
    x-amz-bypass-governance-retention."""
    if lock.get("legal_hold") == "ON":
        return "the object version is under legal hold"
    until = lock.get("until")
    if not until or parse_iso8601(until) <= now:
        return None
    if lock.get("mode") == "COMPLIANCE":
        return f"the object version is locked in COMPLIANCE mode until {until}"
    if lock.get("mode") == "GOVERNANCE" and not bypass_governance:
        return f"the object version is locked in GOVERNANCE mode until {until}"
    return None


def parse_iso8601(text: str) -> float:
    """Epoch seconds of an ISO 8601 timestamp (S3 sends e.g. 2030-01-01T00:00:00.000Z)."""
    import datetime as dt

    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()
