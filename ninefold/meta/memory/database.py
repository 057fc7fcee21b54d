"""The state of the in-memory MetaStore, and how it carries out the plans of
``ninefold.meta.rules``: the in-memory twin of the SQL backends' ``tx`` modules.

A :class:`MemoryDatabase` is the "file": two stores over one database behave like two processes
over one SQLite file. Its methods only store; the decisions are the rules'."""

from __future__ import annotations

import bisect
import copy
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.listing import RangeQuery, VersionQuery
from ninefold.meta.models import (
    REPAIR_MISSING_AT_WRITE,
    Bucket,
    CompletedUpload,
    GcItem,
    NodeRecord,
    ObjectVersion,
    Part,
    Upload,
)

__all__ = ["MemoryDatabase", "PartRow", "bare"]


@dataclass(slots=True)
class _Version:
    """One stored version: the record as written (without chunks), and its chunks' ids."""

    row_id: int
    obj: ObjectVersion
    is_latest: bool
    chunk_ids: list[str]

    def row(self) -> rules.VersionRow:
        o = self.obj
        return rules.VersionRow(
            self.row_id, o.version_id, self.is_latest, o.is_delete_marker, o.etag, o.lock
        )


@dataclass(slots=True)
class PartRow:
    row_id: int
    part: Part  # without chunks
    chunk_ids: list[str]


@dataclass(slots=True)
class _Chunk:
    record: ChunkRecord
    #: ("object", version row id) or ("part", part row id)
    owner: tuple[str, int]


def bare(chunk: ChunkRecord) -> ChunkRecord:
    """A chunk as the walkers and queues see it: without inline bytes."""
    return replace(chunk, data=None) if chunk.data is not None else chunk


@dataclass
class MemoryDatabase:
    """Everything a MemoryMetaStore stores."""

    buckets: dict[str, Bucket] = field(default_factory=dict)
    configs: dict[str, dict[str, str]] = field(default_factory=dict)
    #: bucket -> its keys that have any version, sorted (code point order = UTF-8 byte order)
    keys: dict[str, list[str]] = field(default_factory=dict)
    #: (bucket, key) -> versions, oldest first
    versions: dict[tuple[str, str], list[_Version]] = field(default_factory=dict)
    by_row: dict[int, _Version] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    parts: dict[str, dict[int, PartRow]] = field(default_factory=dict)
    completed: dict[str, CompletedUpload] = field(default_factory=dict)
    chunks: dict[str, _Chunk] = field(default_factory=dict)
    gc: dict[int, GcItem] = field(default_factory=dict)
    #: chunk id -> (entry id, reason, queued at)
    repair: dict[str, tuple[int, str, float]] = field(default_factory=dict)
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    map_version: int = 0
    iam: dict[tuple[str, str], str] = field(default_factory=dict)
    jobs: dict[str, tuple[str, float]] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def versioning(self, bucket: str) -> str | None:
        found = self.buckets.get(bucket)
        return None if found is None else found.versioning

    def require_bucket(self, bucket: str) -> str:
        return rules.versioning_of(bucket, self.versioning(bucket))

    def key_rows(self, bucket: str, key: str) -> rules.KeyRows:
        return rules.KeyRows.of(v.row() for v in self.versions.get((bucket, key), ()))

    def current(self, bucket: str, key: str) -> _Version | None:
        return next((v for v in self.versions.get((bucket, key), ()) if v.is_latest), None)

    def find(self, bucket: str, key: str, version_id: str | None) -> _Version | None:
        if version_id is None:
            return self.current(bucket, key)
        versions = self.versions.get((bucket, key), ())
        return next((v for v in versions if v.obj.version_id == version_id), None)

    def materialize(self, version: _Version) -> ObjectVersion:
        chunks = tuple(self.chunks[c].record for c in version.chunk_ids)
        return replace(copy.deepcopy(version.obj), is_latest=version.is_latest, chunks=chunks)

    def check_new_chunks(self, chunks: tuple[ChunkRecord, ...]) -> None:
        for c in chunks:  # the chunks table's primary key
            if c.chunk_id in self.chunks:
                raise ValueError(f"chunk {c.chunk_id} exists already")

    def link_chunks(self, owner: tuple[str, int], chunks: tuple[ChunkRecord, ...]) -> list[str]:
        for c in chunks:
            self.chunks[c.chunk_id] = _Chunk(c, owner)
        self.enqueue_repair(rules.repair_at_write(chunks), REPAIR_MISSING_AT_WRITE)
        return [c.chunk_id for c in chunks]

    def unlink_chunks(self, chunk_ids: list[str], at: float) -> None:
        for chunk_id in chunk_ids:
            self.repair.pop(chunk_id, None)
            record = self.chunks.pop(chunk_id).record
            if rules.has_fragments(record):
                gc_id = next(self.ids)
                self.gc[gc_id] = GcItem(gc_id, bare(record), at)

    def enqueue_repair(self, chunk_ids: list[str], reason: str) -> None:
        at = time.time()
        for chunk_id in chunk_ids:
            if chunk_id not in self.repair:
                self.repair[chunk_id] = (next(self.ids), reason, at)

    def insert_version(self, obj: ObjectVersion, chunks: tuple[ChunkRecord, ...]) -> _Version:
        row_id = next(self.ids)
        version = _Version(row_id, copy.deepcopy(replace(obj, chunks=())), True, [])
        version.chunk_ids = self.link_chunks(("object", row_id), chunks)
        versions = self.versions.setdefault((obj.bucket, obj.key), [])
        if not versions:
            bisect.insort(self.keys.setdefault(obj.bucket, []), obj.key)
        versions.append(version)
        self.by_row[row_id] = version
        return version

    def unlink_version(self, row: rules.VersionRow, at: float) -> None:
        version = self.by_row.pop(row.row_id)
        bucket, key = version.obj.bucket, version.obj.key
        versions = self.versions[(bucket, key)]
        versions.remove(version)
        self.unlink_chunks(version.chunk_ids, at)
        if not versions:
            del self.versions[(bucket, key)]
            keys = self.keys[bucket]
            del keys[bisect.bisect_left(keys, key)]

    def apply_room(self, room: rules.MakeRoom, at: float) -> None:
        if room.unlink is not None:
            self.unlink_version(room.unlink, at)
        if room.demote is not None:
            self.by_row[room.demote.row_id].is_latest = False

    def drop_upload(self, upload_id: str, at: float) -> None:
        for part in self.parts.pop(upload_id, {}).values():
            self.unlink_chunks(part.chunk_ids, at)
        del self.uploads[upload_id]

    def keys_from(
        self, bucket: str, lower: str, inclusive: bool, upper: str | None
    ) -> Iterator[str]:
        keys = self.keys.get(bucket, [])
        start = (bisect.bisect_left if inclusive else bisect.bisect_right)(keys, lower)
        for key in keys[start:]:
            if upper is not None and key >= upper:
                return
            yield key

    def list_rows(self, bucket: str, query: RangeQuery) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for key in self.keys_from(bucket, query.lower, query.inclusive, query.upper):
            current = self.current(bucket, key)
            if current is None or current.obj.is_delete_marker:
                continue
            o = current.obj
            rows.append(
                (
                    key,
                    o.size,
                    o.etag,
                    o.last_modified,
                    o.storage_class,
                    o.owner,
                    json.dumps(o.checksums),
                )
            )
            if len(rows) >= query.limit:
                break
        return rows

    def version_rows(self, bucket: str, query: VersionQuery) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        for key in self.keys_from(bucket, query.lower, True, query.upper):
            for v in reversed(self.versions[(bucket, key)]):
                if key == query.lower and v.row_id >= query.below_id:
                    continue
                o = v.obj
                rows.append(
                    (
                        key,
                        v.row_id,
                        o.version_id,
                        v.is_latest,
                        o.is_delete_marker,
                        o.size,
                        o.etag,
                        o.last_modified,
                        o.storage_class,
                        o.owner,
                    )
                )
                if len(rows) >= query.limit:
                    return rows
        return rows
