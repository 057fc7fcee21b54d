"""Typed metadata records: buckets, object versions, multipart uploads and parts.

Plain frozen dataclasses; no I/O. Times are Unix epoch seconds (float, UTC). ETags are stored
without quotes (hex md5, or ``<hex>-N`` for multipart objects).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ninefold.fragments.records import ChunkRecord

__all__ = [
    "NULL_VERSION",
    "Bucket",
    "ClusterMap",
    "GcItem",
    "ListEntry",
    "ListPage",
    "NodeRecord",
    "ObjectVersion",
    "Part",
    "Upload",
]

#: the version id of objects written while versioning is off
NULL_VERSION = "null"


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    created_at: float
    owner: str
    region: str = "us-east-1"
    versioning: str = ""  # "", "Enabled" or "Suspended"
    object_lock: bool = False


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
    tags: dict[str, str] = field(default_factory=dict)
    encryption: dict[str, str] = field(default_factory=dict)
    owner: str = ""
    chunks: tuple[ChunkRecord, ...] = ()


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


@dataclass(frozen=True, slots=True)
class Part:
    upload_id: str
    part_number: int
    size: int
    etag: str
    last_modified: float
    checksums: dict[str, str] = field(default_factory=dict)
    chunks: tuple[ChunkRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ListEntry:
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
class GcItem:
    gc_id: int
    chunk: ChunkRecord
    queued_at: float


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A storage node in the cluster map. ``state``: "up", "draining" (no new writes) or
    "down" (neither)."""

    node_id: str
    url: str
    zone: str
    drives: tuple[str, ...]
    weight: float = 1.0
    state: str = "up"


@dataclass(frozen=True, slots=True)
class ClusterMap:
    """Every node, and a version that changes with every change of the map."""

    version: int
    nodes: tuple[NodeRecord, ...]
