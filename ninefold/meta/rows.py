"""Row <-> model conversions shared by the SQL metadata backends.

Both backends store the same columns in the same order, with JSON-in-TEXT for maps and lists,
so one set of converters serves SQLite tuples and asyncpg records alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import (
    Bucket,
    CompletedUpload,
    NodeRecord,
    ObjectVersion,
    RepairItem,
    Upload,
)
from ninefold.meta.rules import VersionRow

__all__ = [
    "BUCKET_COLS",
    "CHUNK_COLS",
    "CHUNK_DATA_COLS",
    "COMPLETED_UPLOAD_COLS",
    "NODE_COLS",
    "OBJ_COLS",
    "REPAIR_COLS",
    "UPLOAD_COLS",
    "VERSION_ROW_COLS",
    "bucket_from_row",
    "chunk_from_row",
    "chunk_values",
    "completed_upload_from_row",
    "completed_upload_values",
    "node_from_row",
    "node_values",
    "object_from_row",
    "repair_from_row",
    "upload_from_row",
    "version_row",
]

BUCKET_COLS = "name, created_at, owner, region, versioning, object_lock, policy"
CHUNK_COLS = "chunk_id, size, scheme, block_size, stores"
#: with the inline bytes of small chunks: for reading an object or part, not for walks
CHUNK_DATA_COLS = CHUNK_COLS + ", data"
NODE_COLS = "node_id, url, zone, drives, weight, state, health, last_seen"
REPAIR_COLS = "r.id, r.chunk_id, r.reason, r.queued_at, c.size, c.scheme, c.block_size, c.stores"

#: what the rules need of a version (``version_row``); add ", lock" to delete it
VERSION_ROW_COLS = "id, version_id, is_latest, is_delete_marker, etag"

OBJ_COLS = (
    "id, bucket, key, version_id, is_latest, is_delete_marker, size, etag, last_modified, "
    "content_type, headers, user_meta, checksums, storage_class, part_sizes, tags, encryption, "
    "owner, lock, acl, part_checksums"
)


def chunk_from_row(row: Sequence[Any]) -> ChunkRecord:
    chunk_id, size, scheme, block_size, stores = row[:5]
    data = row[5] if len(row) > 5 and row[5] is not None else None
    return ChunkRecord(
        chunk_id,
        size,
        scheme,
        block_size,
        tuple(json.loads(stores)),
        bytes(data) if data is not None else None,
    )


def chunk_values(owner_id: int, chunks: Sequence[ChunkRecord]) -> list[tuple[Any, ...]]:
    """Rows for ``INSERT INTO chunks (chunk_id, <owner>, seq, size, scheme, block_size, stores,
    data)``, in the object's (or part's) chunk order."""
    return [
        (
            c.chunk_id,
            owner_id,
            i,
            c.size,
            c.scheme,
            c.block_size,
            json.dumps(list(c.stores)),
            c.data,
        )
        for i, c in enumerate(chunks)
    ]


def object_from_row(row: Sequence[Any], chunks: tuple[ChunkRecord, ...]) -> ObjectVersion:
    (
        _id,
        bucket,
        key,
        version_id,
        is_latest,
        is_dm,
        size,
        etag,
        lm,
        ctype,
        headers,
        user_meta,
        checksums,
        sclass,
        part_sizes,
        tags,
        encryption,
        owner,
        lock,
        acl,
        part_checksums,
    ) = row
    return ObjectVersion(
        bucket=bucket,
        key=key,
        size=size,
        etag=etag,
        last_modified=lm,
        version_id=version_id,
        is_latest=bool(is_latest),
        is_delete_marker=bool(is_dm),
        content_type=ctype,
        headers=json.loads(headers),
        user_meta=json.loads(user_meta),
        checksums=json.loads(checksums),
        storage_class=sclass,
        part_sizes=tuple(json.loads(part_sizes)),
        tags=json.loads(tags),
        encryption=json.loads(encryption),
        owner=owner,
        chunks=chunks,
        lock=json.loads(lock),
        acl=acl,
        part_checksums=tuple(json.loads(part_checksums)),
    )


def bucket_from_row(row: Sequence[Any], configs: dict[str, str] | None = None) -> Bucket:
    """A ``BUCKET_COLS`` row, with the bucket's configuration documents (none: empty)."""
    name, created_at, owner, region, versioning, object_lock, policy = row[:7]
    return Bucket(
        name, created_at, owner, region, versioning, bool(object_lock), policy, configs or {}
    )


def upload_from_row(row: Sequence[Any]) -> Upload:
    upload_id, bucket, key, created, owner, ctype, headers, user_meta, algo, sclass, kind = row
    return Upload(
        upload_id,
        bucket,
        key,
        created,
        owner,
        ctype,
        json.loads(headers),
        json.loads(user_meta),
        algo,
        sclass,
        kind,
    )


UPLOAD_COLS = (
    "upload_id, bucket, key, created_at, owner, content_type, headers, user_meta, "
    "checksum_algorithm, storage_class, checksum_type"
)


#: the columns completed_upload_from_row reads (after the upload id, bucket and key it was asked by)
COMPLETED_UPLOAD_COLS = "parts, etag, version_id, checksums, completed_at"


def completed_upload_from_row(
    upload_id: str, bucket: str, key: str, row: Sequence[Any]
) -> CompletedUpload:
    return CompletedUpload(
        upload_id,
        bucket,
        key,
        tuple(json.loads(row[0])),
        row[1],
        row[2],
        json.loads(row[3]),
        float(row[4]),
    )


def completed_upload_values(done: CompletedUpload) -> tuple[Any, ...]:
    """The row of ``done``, in the order of ``upload_id, bucket, key, parts, etag, version_id,
    checksums, completed_at``."""
    return (
        done.upload_id,
        done.bucket,
        done.key,
        json.dumps(done.parts),
        done.etag,
        done.version_id,
        json.dumps(done.checksums),
        done.completed_at,
    )


def node_from_row(row: Sequence[Any]) -> NodeRecord:
    node_id, url, zone, drives, weight, state, health, last_seen = row
    return NodeRecord(
        node_id,
        url,
        zone,
        tuple(json.loads(drives)),
        float(weight),
        state,
        health,
        float(last_seen),
    )


def node_values(node: NodeRecord) -> tuple[Any, ...]:
    return (
        node.node_id,
        node.url,
        node.zone,
        json.dumps(list(node.drives)),
        node.weight,
        node.state,
        node.health,
        node.last_seen,
    )


def repair_from_row(row: Sequence[Any]) -> RepairItem:
    """A ``REPAIR_COLS`` row: the queue entry LEFT JOINed with its chunk (NULLs: chunk gone)."""
    repair_id, chunk_id, reason, queued_at, size, scheme, block_size, stores = row
    chunk = (
        None
        if stores is None
        else ChunkRecord(chunk_id, size, scheme, block_size, tuple(json.loads(stores)))
    )
    return RepairItem(repair_id, chunk_id, reason, float(queued_at), chunk)


def version_row(row: Sequence[Any]) -> VersionRow:
    """A ``VERSION_ROW_COLS`` row (optionally followed by ``lock``) for the rules."""
    row_id, version_id, is_latest, is_delete_marker, etag = row[:5]
    lock = json.loads(row[5]) if len(row) > 5 else {}
    return VersionRow(int(row_id), version_id, bool(is_latest), bool(is_delete_marker), etag, lock)
