"""Object operations across metadata and fragment stores: put, get, copy, delete, list.

The metadata commit is the linearization point: bytes are durable in their fragments before
``MetaStore.put_object`` runs, and a failure before it leaves only orphans for GC.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.coordinator.writer import BodySource, IteratorBody, write_body
from ninefold.core import errors
from ninefold.core.checksums import MultiHasher
from ninefold.domain.buckets import Bucket
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import (
    DeleteOutcome,
    ListPage,
    ObjectVersion,
    VersionPage,
    WriteCondition,
    is_valid_version_id,
)
from ninefold.meta.store import MetaStore

__all__ = ["BodyCheck", "ObjectService", "PutSpec"]

log = logging.getLogger("ninefold.objects")

#: called with the finished hasher; raises an S3 error when a declared digest does not match,
#: otherwise returns the checksums to store ({"crc32": b64, ...})
BodyCheck = Callable[[MultiHasher], dict[str, str]]


@dataclass(frozen=True, slots=True)
class PutSpec:
    """What a PUT/COPY says about the new object besides its bytes."""

    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    storage_class: str = "STANDARD"
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    #: Object Lock of the new version (see ObjectVersion.lock)
    lock: dict[str, str] = field(default_factory=dict)
    acl: str = "private"


class ObjectService:
    """The coordinator: one object operation across metadata, placement, codec and stores."""

    def __init__(
        self,
        meta: MetaStore,
        chunkio: ChunkIO,
        settings: CoordinatorSettings,
        executor: Executor | None = None,
    ) -> None:
        self.meta = meta
        self.chunkio = chunkio
        self.settings = settings
        self.executor = executor
        # heal on read: a read that had to go around a fragment queues its chunk for repair
        if chunkio.on_degraded is None:
            chunkio.on_degraded = self._queue_heal
        self._healing: set[str] = set()
        self._heal_tasks: set[asyncio.Task[None]] = set()

    def _queue_heal(self, record: ChunkRecord) -> None:
        """Queue ``record`` for repair without holding up the read (once per chunk at a time)."""
        if record.chunk_id in self._healing or len(self._healing) > 10_000:
            return
        self._healing.add(record.chunk_id)
        task = asyncio.get_running_loop().create_task(self._enqueue_heal(record.chunk_id))
        self._heal_tasks.add(task)
        task.add_done_callback(self._heal_tasks.discard)

    async def _enqueue_heal(self, chunk_id: str) -> None:
        try:
            await self.meta.repair_enqueue([chunk_id], "degraded-read")
        except Exception:  # metadata unreachable: the scrubber will find it
            log.exception("chunk %s: could not queue for repair", chunk_id)
        finally:
            self._healing.discard(chunk_id)

    # -- writing ------------------------------------------------------------------------------

    async def store_body(
        self, body: BodySource, algorithms: tuple[str, ...], check: BodyCheck
    ) -> tuple[tuple[ChunkRecord, ...], MultiHasher, dict[str, str]]:
        """Stream ``body`` into durable chunks and verify it; nothing is visible yet."""
        hasher = MultiHasher(algorithms)
        chunks = await write_body(
            body,
            self.chunkio,
            self.settings,
            hasher,
            self.executor,
            self.meta.gc_queue_chunks,
            limit=self.settings.max_put_size_bytes,
        )
        try:
            checksums = check(hasher)
        except BaseException:
            await self.meta.gc_queue_chunks(list(chunks))
            raise
        return chunks, hasher, checksums

    async def put_object(
        self,
        bucket: Bucket,
        key: str,
        body: BodySource,
        spec: PutSpec,
        algorithms: tuple[str, ...],
        check: BodyCheck,
        condition: WriteCondition | None = None,
    ) -> ObjectVersion:
        await self.precheck(bucket.name, key, condition)
        chunks, hasher, checksums = await self.store_body(body, algorithms, check)
        if checksums:
            checksums = {**checksums, "type": "FULL_OBJECT"}
        return await self.commit(
            _new_version(bucket, key, spec, hasher, checksums, chunks), condition
        )

    async def precheck(self, bucket: str, key: str, condition: WriteCondition | None) -> None:
        """Fail a conditional write before its body is stored when it already cannot succeed
        (the commit checks again, atomically)."""
        if condition is not None:
            current = await self.meta.get_object(bucket, key)
            condition.check(current.etag if current is not None else None)

    async def commit(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> ObjectVersion:
        """The linearization point; on failure the chunks become orphans for GC. Returns
        ``obj`` with its version id ("" in a bucket that never had versioning)."""
        try:
            version_id = await self.meta.put_object(obj, condition)
            return replace(obj, version_id=version_id or "")
        except BaseException:
            await self.meta.gc_queue_chunks(list(obj.chunks))
            raise

    async def copy_object(
        self,
        source: ObjectVersion,
        bucket: Bucket,
        key: str,
        spec: PutSpec,
        condition: WriteCondition | None = None,
    ) -> ObjectVersion:
        """Copy by re-writing the bytes into fresh chunks (no shared fragments between versions)."""
        await self.precheck(bucket.name, key, condition)
        algorithms = tuple(a for a in source.checksums if a != "type")
        body = IteratorBody(self.read(source, 0, source.size))
        chunks, hasher, _ = await self.store_body(body, algorithms, lambda h: h.checksums_b64())
        checksums = hasher.checksums_b64()
        if checksums:
            checksums["type"] = "FULL_OBJECT"
        return await self.commit(
            _new_version(bucket, key, spec, hasher, checksums, chunks), condition
        )

    # -- reading ------------------------------------------------------------------------------

    async def head_object(
        self, bucket: Bucket, key: str, version_id: str | None = None
    ) -> ObjectVersion:
        """The current version, or version ``version_id``. A key whose current version is a
        delete marker is NoSuchKey (with ``x-amz-delete-marker``); asking for a delete marker
        by its id is MethodNotAllowed, as on S3."""
        if version_id is not None:
            if not is_valid_version_id(version_id):
                raise errors.InvalidArgument(
                    "Invalid version id specified", ArgumentName="versionId"
                )
            obj = await self.meta.get_object_version(bucket.name, key, version_id)
            if obj is None:
                raise errors.NoSuchVersion(Key=key, VersionId=version_id)
            if obj.is_delete_marker:
                raise errors.DeleteMarker(version_id)
            return obj
        obj = await self.meta.get_object(bucket.name, key)
        if obj is None:
            marker = None
            if bucket.versioning:
                latest = await self.meta.get_object_version(bucket.name, key, None)
                if latest is not None and latest.is_delete_marker:
                    marker = latest.version_id
            raise errors.NoSuchKey(Key=key, delete_marker=marker)
        return obj

    async def read(
        self, obj: ObjectVersion, start: int, length: int
    ) -> AsyncIterator[bytes | memoryview]:
        """Yield bytes ``[start, start + length)`` of ``obj``, chunk by chunk, stripe by stripe."""
        offset = 0
        end = start + length
        for chunk in obj.chunks:
            chunk_end = offset + chunk.size
            if chunk_end > start and offset < end:
                lo = max(start, offset) - offset
                hi = min(end, chunk_end) - offset
                async for piece in self.chunkio.read(chunk, lo, hi - lo):
                    yield piece
            offset = chunk_end
            if offset >= end:
                break

    # -- deleting and listing -----------------------------------------------------------------

    async def delete_object(
        self,
        bucket: Bucket,
        key: str,
        version_id: str | None = None,
        owner: str = "",
        bypass_governance: bool = False,
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        """``condition`` (If-Match) is checked in the deleting transaction against the
        current version (or version ``version_id``): PreconditionFailed, NoSuchKey when there
        is no object."""
        if version_id is not None:
            _check_version_id(version_id)
        return await self.meta.delete_version(
            bucket.name,
            key,
            version_id,
            owner=owner,
            bypass_governance=bypass_governance,
            condition=condition,
        )

    async def list_objects(
        self, bucket: Bucket, *, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> ListPage:
        if max_keys == 0:  # as S3: asked for nothing, given nothing, and not truncated
            return ListPage([], [], False, None)
        return await self.meta.list_objects(
            bucket.name, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )

    async def list_versions(
        self,
        bucket: Bucket,
        *,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
    ) -> VersionPage:
        return await self.meta.list_object_versions(
            bucket.name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            max_keys=max_keys,
        )

    # -- per-version state --------------------------------------------------------------------

    async def set_acl(self, obj: ObjectVersion, acl: str) -> None:
        """Replace the canned ACL of ``obj`` (checked against its bucket by the caller)."""
        if not await self.meta.set_object_acl(obj.bucket, obj.key, obj.version_id, acl):
            raise errors.NoSuchKey(Key=obj.key)

    async def set_tags(self, bucket: Bucket, key: str, tags: dict[str, str]) -> None:
        """Replace the tags of the current version of ``key``."""
        if not await self.meta.put_object_tags(bucket.name, key, tags):
            raise errors.NoSuchKey(Key=key)

    async def set_lock(self, obj: ObjectVersion, lock: dict[str, str]) -> None:
        """Replace the Object Lock state of ``obj`` (see ``ninefold.domain.locks``)."""
        if not await self.meta.set_object_lock(obj.bucket, obj.key, obj.version_id, lock):
            raise errors.NoSuchKey(Key=obj.key)

    # -- garbage collection -------------------------------------------------------------------

    async def collect_garbage(self, *, now: float | None = None, limit: int = 500) -> int:
        """Delete the fragments of chunks queued longer ago than the grace period; returns how
        many chunks are now entirely gone. A chunk with a fragment on a node that is down stays
        queued (moved to the end) until the node is back."""
        now = now if now is not None else time.time()
        items = await self.meta.gc_pending(now - self.settings.gc_grace_s, limit)
        # never delete a fragment a live chunk still records at the same place: a GC entry for
        # a live chunk is legitimate only for the copies a repair or a move replaced (and a
        # write whose commit outcome was unknown may have committed after all)
        live = await self.meta.live_chunks(list({item.chunk.chunk_id for item in items}))
        if live:
            items = [
                replace(item, chunk=_without_live(item.chunk, live.get(item.chunk.chunk_id)))
                for item in items
            ]
        limit_io = asyncio.Semaphore(32)

        async def delete(chunk: ChunkRecord) -> int:
            async with limit_io:
                return await self.chunkio.delete(chunk)

        left = await asyncio.gather(*(delete(item.chunk) for item in items))
        done = [item.gc_id for item, n in zip(items, left, strict=True) if n == 0]
        await self.meta.gc_done(done)
        await self.meta.gc_retry_later(
            [item.gc_id for item, n in zip(items, left, strict=True) if n], now
        )
        return len(done)


def _new_version(
    bucket: Bucket,
    key: str,
    spec: PutSpec,
    hasher: MultiHasher,
    checksums: dict[str, str],
    chunks: tuple[ChunkRecord, ...],
) -> ObjectVersion:
    """The version a PUT or COPY writes: ``spec`` with the size, MD5 ETag and checksums of the
    bytes stored in ``chunks``."""
    return ObjectVersion(
        bucket=bucket.name,
        key=key,
        size=hasher.size,
        etag=hasher.md5.hexdigest(),
        last_modified=time.time(),
        content_type=spec.content_type,
        headers=spec.headers,
        user_meta=spec.user_meta,
        checksums=checksums,
        storage_class=spec.storage_class,
        owner=spec.owner,
        tags=spec.tags,
        lock=spec.lock,
        acl=spec.acl,
        chunks=chunks,
    )


def _without_live(queued: ChunkRecord, current: ChunkRecord | None) -> ChunkRecord:
    """``queued`` minus the fragments ``current`` (the chunk's live record) still holds."""
    if current is None:
        return queued
    stores = tuple(
        "" if i < len(current.stores) and current.stores[i] == s else s
        for i, s in enumerate(queued.stores)
    )
    return replace(queued, stores=stores)


def _check_version_id(version_id: str) -> None:
    if not is_valid_version_id(version_id):
        raise errors.InvalidArgument("Invalid version id specified", ArgumentName="versionId")
