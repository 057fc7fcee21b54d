"""An in-memory MetaStore, for fast tests of the rules built on metadata (Swift's mem_diskfile is
the model): the whole MetaStore protocol over dicts, with the same decide functions
(``ninefold.meta.rules``) as the SQL backends, and passing the same conformance suite.

A :class:`MemoryDatabase` is the "file": two stores over one database behave like two processes
over one SQLite file, and a closed store's database can be opened again. Every call runs to its
end without awaiting, so each is atomic on its event loop; a call validates (rules, lookups)
before it changes anything, so one that raises changes nothing. Values are copied in and out:
no caller can change stored state through a returned record. Not for production: nothing
survives the process, and there is no cross-thread locking.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import replace
from typing import Any

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.listing import ListCursor, VersionCursor, resume_below
from ninefold.meta.memory.database import MemoryDatabase, PartRow, bare
from ninefold.meta.models import (
    COMPLETED_UPLOAD_RETENTION_S,
    NODE_HEALTH,
    Bucket,
    ClusterMap,
    CompletedUpload,
    DeleteOutcome,
    GcItem,
    ListPage,
    NodeRecord,
    ObjectVersion,
    Part,
    RepairItem,
    Upload,
    VersionPage,
    WriteCondition,
)

__all__ = ["MemoryDatabase", "MemoryMetaStore"]


class MemoryMetaStore:
    """MetaStore over a :class:`MemoryDatabase` (see the module docstring)."""

    def __init__(self, database: MemoryDatabase | None = None) -> None:
        self.db = database if database is not None else MemoryDatabase()

    @classmethod
    async def open(cls, database: MemoryDatabase | None = None) -> MemoryMetaStore:
        return cls(database)

    async def close(self) -> None:
        """Nothing to release; the database stays, to be opened again."""

    # -- buckets ------------------------------------------------------------------------------

    async def create_bucket(self, bucket: Bucket) -> None:
        found = self.db.buckets.get(bucket.name)
        rules.check_create_bucket(bucket, None if found is None else found.owner)
        self.db.buckets[bucket.name] = replace(bucket, configs={})
        self.db.configs[bucket.name] = dict(bucket.configs)

    async def get_bucket(self, name: str) -> Bucket | None:
        found = self.db.buckets.get(name)
        return None if found is None else replace(found, configs=dict(self.db.configs[name]))

    async def list_buckets(self) -> list[Bucket]:
        return [replace(self.db.buckets[name], configs={}) for name in sorted(self.db.buckets)]

    async def delete_bucket(self, name: str) -> None:
        rules.check_delete_bucket(name, name in self.db.buckets, bool(self.db.keys.get(name)))
        at = time.time()
        for upload in [u for u in self.db.uploads.values() if u.bucket == name]:
            self.db.drop_upload(upload.upload_id, at)
        del self.db.buckets[name], self.db.configs[name]
        self.db.keys.pop(name, None)

    async def get_bucket_config(self, bucket: str, name: str) -> str | None:
        self.db.require_bucket(bucket)
        return self.db.configs[bucket].get(name)

    async def put_bucket_config(self, bucket: str, name: str, value: str | None) -> None:
        self.db.require_bucket(bucket)
        if value is None:
            self.db.configs[bucket].pop(name, None)
        else:
            self.db.configs[bucket][name] = value

    async def set_bucket_policy(self, bucket: str, policy: str | None) -> None:
        self.db.require_bucket(bucket)
        self.db.buckets[bucket] = replace(self.db.buckets[bucket], policy=policy or "")

    async def set_bucket_versioning(self, bucket: str, status: str) -> None:
        self.db.require_bucket(bucket)
        rules.check_versioning_change(self.db.buckets[bucket].object_lock, status)
        self.db.buckets[bucket] = replace(self.db.buckets[bucket], versioning=status)

    async def enable_object_lock(self, bucket: str) -> None:
        self.db.require_bucket(bucket)
        rules.check_enable_lock(self.db.buckets[bucket].versioning)
        self.db.buckets[bucket] = replace(self.db.buckets[bucket], object_lock=True)

    # -- objects ------------------------------------------------------------------------------

    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        current = self.db.current(bucket, key)
        if current is None or current.obj.is_delete_marker:
            return None
        return self.db.materialize(current)

    async def get_object_version(
        self, bucket: str, key: str, version_id: str | None
    ) -> ObjectVersion | None:
        found = self.db.find(bucket, key, version_id)
        return None if found is None else self.db.materialize(found)

    async def put_object(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> str | None:
        plan = rules.plan_put(
            obj.bucket,
            self.db.versioning(obj.bucket),
            self.db.key_rows(obj.bucket, obj.key),
            condition,
        )
        self.db.check_new_chunks(obj.chunks)
        self.db.apply_room(plan.room, time.time())
        self.db.insert_version(replace(obj, version_id=plan.room.version_id), obj.chunks)
        return plan.result

    def _set(self, bucket: str, key: str, version_id: str | None, **change: Any) -> bool:
        self.db.require_bucket(bucket)
        found = self.db.find(bucket, key, version_id)
        if found is None or not rules.settable(found.row()):
            return False
        found.obj = replace(found.obj, **copy.deepcopy(change))
        return True

    async def put_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        return self._set(bucket, key, None, tags=tags)

    async def set_object_acl(self, bucket: str, key: str, version_id: str | None, acl: str) -> bool:
        return self._set(bucket, key, version_id, acl=acl)

    async def set_object_lock(
        self, bucket: str, key: str, version_id: str | None, lock: dict[str, str]
    ) -> bool:
        return self._set(bucket, key, version_id, lock=lock)

    async def delete_object(self, bucket: str, key: str) -> bool:
        return (await self.delete_version(bucket, key, None)).existed

    async def delete_version(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        *,
        owner: str = "",
        bypass_governance: bool = False,
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        versioning, at = self.db.versioning(bucket), time.time()
        if version_id is None:
            rows = self.db.key_rows(bucket, key)
            plan = rules.plan_delete_current(
                bucket, key, versioning, rows, owner=owner, now=at, condition=condition
            )
        else:
            found = self.db.find(bucket, key, version_id)
            plan = rules.plan_delete_version(
                bucket,
                versioning,
                version_id,
                None if found is None else found.row(),
                now=at,
                bypass_governance=bypass_governance,
                condition=condition,
            )
        if plan.unlink is not None:
            self.db.unlink_version(plan.unlink, at)
        if plan.demote is not None:
            self.db.by_row[plan.demote.row_id].is_latest = False
        if plan.marker is not None:
            self.db.insert_version(plan.marker, ())
        if plan.promote_newest:
            versions = self.db.versions.get((bucket, key), [])
            newest = rules.newest(v.row() for v in versions)
            if newest is not None:
                self.db.by_row[newest.row_id].is_latest = True
        return plan.outcome

    async def list_objects(
        self, bucket: str, *, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> ListPage:
        cursor = ListCursor(prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys)
        while (query := cursor.next_query()) is not None:
            cursor.feed(self.db.list_rows(bucket, query))
        return cursor.page()

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
    ) -> VersionPage:
        self.db.require_bucket(bucket)
        marker_id = None
        if version_id_marker:
            found = self.db.find(bucket, key_marker, version_id_marker)
            if found is None:  # deleted since the last page
                marker_id = resume_below(
                    version_id_marker,
                    [
                        (v.row_id, v.obj.version_id, v.obj.last_modified)
                        for v in self.db.versions.get((bucket, key_marker), ())
                    ],
                )
            else:
                marker_id = found.row_id
        cursor = VersionCursor(
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            marker_id=marker_id,
            max_keys=max_keys,
        )
        while (query := cursor.next_query()) is not None:
            cursor.feed(self.db.version_rows(bucket, query))
        return cursor.page()

    # -- multipart ----------------------------------------------------------------------------

    async def create_upload(self, upload: Upload) -> None:
        self.db.require_bucket(upload.bucket)
        if upload.upload_id in self.db.uploads:  # the uploads table's primary key
            raise ValueError(f"upload {upload.upload_id} exists already")
        self.db.uploads[upload.upload_id] = copy.deepcopy(upload)
        self.db.parts[upload.upload_id] = {}

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload | None:
        found = self.db.uploads.get(upload_id)
        if found is None or (found.bucket, found.key) != (bucket, key):
            return None
        return copy.deepcopy(found)

    async def put_part(self, part: Part) -> None:
        rules.require_upload(part.upload_id, part.upload_id in self.db.uploads)
        self.db.check_new_chunks(part.chunks)
        parts = self.db.parts[part.upload_id]
        old = parts.pop(part.part_number, None)
        if old is not None:  # a replaced part is unlinked, its chunks to GC
            self.db.unlink_chunks(old.chunk_ids, time.time())
        row_id = next(self.db.ids)
        chunk_ids = self.db.link_chunks(("part", row_id), part.chunks)
        parts[part.part_number] = PartRow(
            row_id, copy.deepcopy(replace(part, chunks=())), chunk_ids
        )

    async def list_parts(self, upload_id: str, *, after: int, max_parts: int) -> list[Part]:
        parts = self.db.parts.get(upload_id, {})
        numbers = sorted(n for n in parts if n > after)[:max_parts]
        return [
            replace(
                copy.deepcopy(parts[n].part),
                chunks=tuple(self.db.chunks[c].record for c in parts[n].chunk_ids),
            )
            for n in numbers
        ]

    async def list_uploads(
        self, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str, max_uploads: int
    ) -> list[Upload]:
        found = sorted(
            (
                u
                for u in self.db.uploads.values()
                if u.bucket == bucket
                and u.key.startswith(prefix)
                and (u.key > key_marker or (u.key == key_marker and u.upload_id > upload_id_marker))
            ),
            key=lambda u: (u.key, u.upload_id),
        )
        return [copy.deepcopy(u) for u in found[:max_uploads]]

    async def complete_upload(
        self,
        upload: Upload,
        obj: ObjectVersion,
        parts: list[int],
        condition: WriteCondition | None = None,
    ) -> str | None:
        plan = rules.plan_complete(
            upload.upload_id,
            upload.upload_id in self.db.uploads,
            obj.bucket,
            self.db.versioning(obj.bucket),
            self.db.key_rows(obj.bucket, obj.key),
            condition,
        )
        stored = self.db.parts[upload.upload_id]
        missing = [n for n in parts if n not in stored]
        if missing:
            raise errors.InvalidPart(UploadId=upload.upload_id, PartNumber=str(missing[0]))
        listed = [stored.pop(n) for n in parts]
        chunks = tuple(self.db.chunks[c].record for p in listed for c in p.chunk_ids)
        at = time.time()
        self.db.apply_room(plan.room, at)
        for c in chunks:  # the parts' chunks become the object's
            del self.db.chunks[c.chunk_id]
        # queued by put_part already, unless repaired meanwhile: _link_chunks catches the rest
        self.db.insert_version(replace(obj, version_id=plan.room.version_id), chunks)
        self.db.drop_upload(upload.upload_id, at)
        old = at - COMPLETED_UPLOAD_RETENTION_S
        for upload_id in [u for u, c in self.db.completed.items() if c.completed_at < old]:
            del self.db.completed[upload_id]
        self.db.completed[upload.upload_id] = rules.completed_upload(
            upload.upload_id, obj, parts, plan.result, at
        )
        return plan.result

    async def get_completed_upload(
        self, bucket: str, key: str, upload_id: str
    ) -> CompletedUpload | None:
        found = self.db.completed.get(upload_id)
        if found is None or (found.bucket, found.key) != (bucket, key):
            return None
        if found.completed_at < time.time() - COMPLETED_UPLOAD_RETENTION_S:
            return None
        return copy.deepcopy(found)

    async def abort_upload(self, upload_id: str) -> bool:
        if upload_id not in self.db.uploads:
            return False
        self.db.drop_upload(upload_id, time.time())
        return True

    # -- garbage collection -------------------------------------------------------------------

    async def gc_queue_chunks(self, chunks: list[ChunkRecord]) -> None:
        at = time.time()
        for c in rules.gc_chunks(chunks):  # inline bytes go with their row
            gc_id = next(self.db.ids)
            self.db.gc[gc_id] = GcItem(gc_id, bare(c), at)

    async def gc_pending(self, older_than: float, limit: int) -> list[GcItem]:
        due = (item for item in self.db.gc.values() if item.queued_at < older_than)
        return sorted(due, key=lambda item: item.gc_id)[:limit]

    async def gc_done(self, gc_ids: list[int]) -> None:
        for gc_id in gc_ids:
            self.db.gc.pop(gc_id, None)

    async def gc_retry_later(self, gc_ids: list[int], queued_at: float) -> None:
        for gc_id in gc_ids:
            if gc_id in self.db.gc:
                self.db.gc[gc_id] = replace(self.db.gc[gc_id], queued_at=queued_at)

    # -- repair queue -------------------------------------------------------------------------

    async def repair_enqueue(self, chunk_ids: list[str], reason: str) -> None:
        self.db.enqueue_repair(chunk_ids, reason)

    async def repair_pending(self, limit: int) -> list[RepairItem]:
        entries = sorted(self.db.repair.items(), key=lambda e: e[1][0])[:limit]
        items = []
        for chunk_id, (repair_id, reason, queued_at) in entries:
            live = self.db.chunks.get(chunk_id)
            chunk = None if live is None else bare(live.record)
            items.append(RepairItem(repair_id, chunk_id, reason, queued_at, chunk))
        return items

    async def repair_done(self, repair_ids: list[int]) -> None:
        done = set(repair_ids)
        for chunk_id in [c for c, (i, _, _) in self.db.repair.items() if i in done]:
            del self.db.repair[chunk_id]

    async def repair_count(self) -> int:
        return len(self.db.repair)

    # -- chunk placement ----------------------------------------------------------------------

    async def update_chunk_stores(
        self, chunk_id: str, expected: tuple[str, ...], stores: tuple[str, ...]
    ) -> bool:
        live = self.db.chunks.get(chunk_id)
        if live is None or live.record.stores != tuple(expected):
            return False
        live.record = replace(live.record, stores=tuple(stores))
        return True

    async def chunk_owner(self, chunk_id: str) -> tuple[str, str] | None:
        live = self.db.chunks.get(chunk_id)
        if live is None or live.owner[0] != "object":
            return None
        obj = self.db.by_row[live.owner[1]].obj
        return obj.bucket, obj.key

    async def list_chunks(self, after: str, limit: int) -> list[ChunkRecord]:
        ids = sorted(
            c
            for c, live in self.db.chunks.items()
            if c > after and rules.has_fragments(live.record)
        )
        return [bare(self.db.chunks[c].record) for c in ids[:limit]]

    async def live_chunks(self, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
        return {c: bare(self.db.chunks[c].record) for c in chunk_ids if c in self.db.chunks}

    async def chunks_known(self, chunk_ids: list[str]) -> set[str]:
        queued = {item.chunk.chunk_id for item in self.db.gc.values()}
        return {c for c in chunk_ids if c in self.db.chunks or c in queued}

    # -- identities ---------------------------------------------------------------------------

    async def iam_get(self, kind: str, name: str) -> dict[str, Any] | None:
        doc = self.db.iam.get((kind, name))
        return None if doc is None else dict(json.loads(doc))

    async def iam_put(self, kind: str, name: str, doc: dict[str, Any] | None) -> None:
        if doc is None:
            self.db.iam.pop((kind, name), None)
        else:
            self.db.iam[(kind, name)] = json.dumps(doc)

    async def iam_list(self, kind: str) -> dict[str, dict[str, Any]]:
        names = sorted(n for k, n in self.db.iam if k == kind)
        return {n: dict(json.loads(self.db.iam[(kind, n)])) for n in names}

    # -- job status ---------------------------------------------------------------------------

    async def put_job_status(self, job: str, status: dict[str, Any]) -> None:
        self.db.jobs[job] = (json.dumps(status), time.time())

    async def get_job_status(self) -> dict[str, tuple[dict[str, Any], float]]:
        return {job: (json.loads(s), at) for job, (s, at) in self.db.jobs.items()}

    # -- cluster map --------------------------------------------------------------------------

    def _map(self) -> ClusterMap:
        return ClusterMap(
            self.db.map_version, tuple(self.db.nodes[n] for n in sorted(self.db.nodes))
        )

    async def get_cluster_map(self) -> ClusterMap:
        return self._map()

    async def put_node(self, node: NodeRecord) -> ClusterMap:
        old = self.db.nodes.get(node.node_id)
        if old is not None:  # an existing node keeps its health and last_seen: the monitor's
            node = replace(node, health=old.health, last_seen=old.last_seen)
        self.db.nodes[node.node_id] = replace(
            node, drives=tuple(node.drives), weight=float(node.weight)
        )
        self.db.map_version += 1
        return self._map()

    async def set_node_health(self, node_id: str, health: str, last_seen: float) -> ClusterMap:
        if health not in NODE_HEALTH:
            raise ValueError(f"node health must be one of {NODE_HEALTH}, not {health!r}")
        old = self.db.nodes.get(node_id)
        if old is None:
            raise KeyError(node_id)
        self.db.nodes[node_id] = replace(old, health=health, last_seen=float(last_seen))
        if old.health != health:
            self.db.map_version += 1
        return self._map()

    async def remove_node(self, node_id: str) -> ClusterMap:
        if self.db.nodes.pop(node_id, None) is None:
            raise KeyError(node_id)
        self.db.map_version += 1
        return self._map()
