"""A shared Redis cache in front of a MetaStore, strongly consistent across gateways.

``CachedMetaStore`` wraps any MetaStore and caches the two lookups every request makes: the
bucket record and the latest version of an object (negative answers too). Every other call goes
straight to the wrapped store; listings are never cached (list-after-write comes from the
database). All gateways share one Redis, so an invalidation by gateway A is seen by gateway B on
its very next lookup; there is deliberately no per-process layer in front of Redis, because a
local copy can only be invalidated asynchronously and would break read-after-write.

The protocol (all steps are Lua scripts, so each is atomic in Redis):

* lookup: hit → answer. Miss → remember the key's generation ``g`` and whether a write is in
  flight, read the database, then *fill* only if the generation is still ``g`` and no write is in
  flight. A reader that raced with a commit therefore never caches what it read.
* write: *begin* (generation +1, "write in flight" mark with a TTL, cached value dropped), the
  database commit, *end* (generation +1, mark and value dropped). Between begin and end nothing
  is cached for that key; if the gateway dies in between, the mark expires and the key is cached
  again from the (committed) database.

Redis unreachable or slow (timeouts of a fraction of a second) → the lookup goes to the database
and the circuit opens for a second, so a dead Redis costs one timeout, not one per request. A
write whose invalidation could not reach Redis marks the cache *dirty*: before this process uses
the cache again it bumps the namespace's epoch, which drops every cached entry of every gateway
at once (a Redis that restarted empty needs nothing, one that kept its data or was only
unreachable from this gateway must not serve what this gateway overwrote meanwhile). Entries
also expire after ``ttl_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import (
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
from ninefold.meta.store import MetaStore

__all__ = ["CachedMetaStore", "RedisCache"]

log = logging.getLogger("ninefold.cache")

T = TypeVar("T")

#: key layout, under ``{namespace}:``: ``epoch``; then per entry ``{epoch}:v:{k}`` (value),
#: ``{epoch}:g:{k}`` (generation), ``{epoch}:p:{k}`` (write in flight)
_READ = """
local e = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ':' .. e .. ':'
local v = redis.call('GET', base .. 'v:' .. ARGV[2])
if v then return {1, v} end
local g = redis.call('GET', base .. 'g:' .. ARGV[2]) or '0'
return {0, e, g, redis.call('EXISTS', base .. 'p:' .. ARGV[2])}
"""

_FILL = """
local e = redis.call('GET', KEYS[1]) or '0'
if e ~= ARGV[3] then return 0 end
local base = ARGV[1] .. ':' .. e .. ':'
if redis.call('EXISTS', base .. 'p:' .. ARGV[2]) == 1 then return 0 end
if (redis.call('GET', base .. 'g:' .. ARGV[2]) or '0') ~= ARGV[4] then return 0 end
redis.call('SET', base .. 'v:' .. ARGV[2], ARGV[5], 'EX', ARGV[6])
return 1
"""

# ARGV: namespace, pending ttl (0: end of write), generation ttl, then the entry keys
_INVALIDATE = """
local e = redis.call('GET', KEYS[1]) or '0'
local base = ARGV[1] .. ':' .. e .. ':'
for i = 4, #ARGV do
  local g = base .. 'g:' .. ARGV[i]
  redis.call('INCR', g)
  redis.call('EXPIRE', g, ARGV[3])
  redis.call('DEL', base .. 'v:' .. ARGV[i])
  if ARGV[2] == '0' then
    redis.call('DEL', base .. 'p:' .. ARGV[i])
  else
    redis.call('SET', base .. 'p:' .. ARGV[i], '1', 'EX', ARGV[2])
  end
end
return e
"""


class RedisCache:
    """The Redis side of the protocol above; every method swallows Redis failures."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "ninefold",
        ttl_s: int = 300,
        timeout_s: float = 0.25,
        pending_ttl_s: int = 300,
        retry_after_s: float = 1.0,
    ) -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self.namespace = namespace
        self._epoch_key = f"{namespace}:epoch"
        self._ttl = ttl_s
        self._pending_ttl = pending_ttl_s
        self._generation_ttl = max(86400, 2 * pending_ttl_s)
        self._retry_after = retry_after_s
        self._read = self._redis.register_script(_READ)
        self._fill = self._redis.register_script(_FILL)
        self._invalidate = self._redis.register_script(_INVALIDATE)
        self._down_until = 0.0
        #: an invalidation was lost: bump the epoch before trusting the cache again
        self.dirty = False
        self._healer: asyncio.Task[None] | None = None
        self.hits = 0
        self.misses = 0
        self.errors = 0

    async def close(self) -> None:
        if self._healer is not None:
            self._healer.cancel()
        await self._redis.aclose()

    def _mark_dirty(self) -> None:
        """Remember a lost invalidation; keep trying to bump the epoch even without traffic."""
        self.dirty = True
        if self._healer is None or self._healer.done():
            self._healer = asyncio.get_running_loop().create_task(self._heal())

    async def _heal(self) -> None:
        while self.dirty:
            await asyncio.sleep(self._retry_after)
            await self._usable()

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors += 1
        if time.monotonic() >= self._down_until:
            log.warning("redis %s failed (%s); using the database alone for now", what, exc)
        self._down_until = time.monotonic() + self._retry_after

    async def _usable(self) -> bool:
        if time.monotonic() < self._down_until:
            return False
        if self.dirty:
            try:
                await self._redis.incr(self._epoch_key)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed("epoch bump", exc)
                return False
            self.dirty = False
            log.info("redis back: cache epoch bumped, every cached entry dropped")
        return True

    async def lookup(self, key: str) -> tuple[bytes | None, tuple[bytes, bytes] | None]:
        """(cached value, None) on a hit; (None, fill token) on a miss; (None, None) when the
        cache cannot be used (then the caller must not fill)."""
        if not await self._usable():
            return None, None
        try:
            answer = await self._read(keys=[self._epoch_key], args=[self.namespace, key])
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("read", exc)
            return None, None
        if answer[0] == 1:
            self.hits += 1
            return answer[1], None
        self.misses += 1
        epoch, generation, pending = answer[1], answer[2], answer[3]
        if pending:  # a write is in flight: read the database, cache nothing
            return None, None
        return None, (epoch, generation)

    async def fill(self, key: str, token: tuple[bytes, bytes], value: bytes) -> None:
        epoch, generation = token
        try:
            await self._fill(
                keys=[self._epoch_key],
                args=[self.namespace, key, epoch, generation, value, self._ttl],
            )
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("fill", exc)

    async def begin_write(self, keys: list[str]) -> None:
        await self._mark(keys, self._pending_ttl)

    async def end_write(self, keys: list[str]) -> None:
        await self._mark(keys, 0)

    async def _mark(self, keys: list[str], pending_ttl: int) -> None:
        if not await self._usable():
            self._mark_dirty()
            return
        try:
            await self._invalidate(
                keys=[self._epoch_key],
                args=[self.namespace, pending_ttl, self._generation_ttl, *keys],
            )
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed("invalidation", exc)
            self._mark_dirty()


def _bucket_key(name: str) -> str:
    return "b:" + name


def _object_key(bucket: str, key: str) -> str:
    return f"o:{bucket}/{key}"


def _encode_bucket(bucket: Bucket | None) -> bytes:
    if bucket is None:
        return b"-"
    return json.dumps({f.name: getattr(bucket, f.name) for f in fields(bucket)}).encode()


def _decode_bucket(raw: bytes) -> Bucket | None:
    if raw == b"-":
        return None
    data = json.loads(raw)
    if "configs" not in data:  # written before buckets carried their configs: dropped
        raise KeyError("configs")
    return Bucket(**data)


def _encode_object(obj: ObjectVersion | None) -> bytes:
    if obj is None:
        return b"-"
    data: dict[str, Any] = {f.name: getattr(obj, f.name) for f in fields(obj)}
    data["part_sizes"] = list(obj.part_sizes)
    data["part_checksums"] = list(obj.part_checksums)
    data["chunks"] = [c.to_json() for c in obj.chunks]
    return json.dumps(data, separators=(",", ":")).encode()


def _decode_object(raw: bytes) -> ObjectVersion | None:
    if raw == b"-":
        return None
    data = json.loads(raw)
    data["part_sizes"] = tuple(data["part_sizes"])
    data["part_checksums"] = tuple(data.get("part_checksums", ()))
    data["chunks"] = tuple(ChunkRecord.from_json(c) for c in data["chunks"])
    return ObjectVersion(**data)


class CachedMetaStore:
    """A MetaStore that answers bucket and object lookups from Redis; see the module docstring."""

    def __init__(self, inner: MetaStore, cache: RedisCache) -> None:
        self.inner = inner
        self.cache = cache

    async def close(self) -> None:
        await self.cache.close()
        await self.inner.close()

    async def _cached(
        self,
        key: str,
        load: Callable[[], Awaitable[T]],
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
    ) -> T:
        raw, token = await self.cache.lookup(key)
        if raw is not None:
            try:
                return decode(raw)
            except (ValueError, TypeError, KeyError) as exc:  # an entry of another format
                log.warning("unreadable cache entry %r dropped: %s", key, exc)
                token = None
        value = await load()
        if token is not None:
            await self.cache.fill(key, token, encode(value))
        return value

    async def _write(self, keys: list[str], op: Callable[[], Awaitable[T]]) -> T:
        await self.cache.begin_write(keys)
        try:
            return await op()
        finally:
            # also after a failure: the commit may have happened before the error surfaced
            await self.cache.end_write(keys)

    # buckets
    async def create_bucket(self, bucket: Bucket) -> None:
        await self._write([_bucket_key(bucket.name)], lambda: self.inner.create_bucket(bucket))

    async def get_bucket(self, name: str) -> Bucket | None:
        return await self._cached(
            _bucket_key(name),
            lambda: self.inner.get_bucket(name),
            _encode_bucket,
            _decode_bucket,
        )

    async def list_buckets(self) -> list[Bucket]:
        return await self.inner.list_buckets()

    async def delete_bucket(self, name: str) -> None:
        await self._write([_bucket_key(name)], lambda: self.inner.delete_bucket(name))

    async def get_bucket_config(self, bucket: str, name: str) -> str | None:
        return await self.inner.get_bucket_config(bucket, name)

    async def put_bucket_config(self, bucket: str, name: str, value: str | None) -> None:
        await self._write(
            [_bucket_key(bucket)], lambda: self.inner.put_bucket_config(bucket, name, value)
        )

    # objects
    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        return await self._cached(
            _object_key(bucket, key),
            lambda: self.inner.get_object(bucket, key),
            _encode_object,
            _decode_object,
        )

    async def put_object(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> str | None:
        return await self._write(
            [_object_key(obj.bucket, obj.key)], lambda: self.inner.put_object(obj, condition)
        )

    async def put_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        return await self._write(
            [_object_key(bucket, key)], lambda: self.inner.put_object_tags(bucket, key, tags)
        )

    async def delete_object(self, bucket: str, key: str) -> bool:
        return await self._write(
            [_object_key(bucket, key)], lambda: self.inner.delete_object(bucket, key)
        )

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
        return await self._write(
            [_object_key(bucket, key)],
            lambda: self.inner.delete_version(
                bucket,
                key,
                version_id,
                owner=owner,
                bypass_governance=bypass_governance,
                condition=condition,
            ),
        )

    async def set_object_acl(self, bucket: str, key: str, version_id: str | None, acl: str) -> bool:
        return await self._write(
            [_object_key(bucket, key)],
            lambda: self.inner.set_object_acl(bucket, key, version_id, acl),
        )

    async def set_object_lock(
        self, bucket: str, key: str, version_id: str | None, lock: dict[str, str]
    ) -> bool:
        return await self._write(
            [_object_key(bucket, key)],
            lambda: self.inner.set_object_lock(bucket, key, version_id, lock),
        )

    async def get_object_version(
        self, bucket: str, key: str, version_id: str | None
    ) -> ObjectVersion | None:
        return await self.inner.get_object_version(bucket, key, version_id)

    async def set_bucket_policy(self, bucket: str, policy: str | None) -> None:
        await self._write(
            [_bucket_key(bucket)], lambda: self.inner.set_bucket_policy(bucket, policy)
        )

    async def set_bucket_versioning(self, bucket: str, status: str) -> None:
        await self._write(
            [_bucket_key(bucket)], lambda: self.inner.set_bucket_versioning(bucket, status)
        )

    async def enable_object_lock(self, bucket: str) -> None:
        await self._write([_bucket_key(bucket)], lambda: self.inner.enable_object_lock(bucket))

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
        return await self.inner.list_object_versions(
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            max_keys=max_keys,
        )

    async def list_objects(
        self, bucket: str, *, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> ListPage:
        return await self.inner.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )

    # multipart
    async def create_upload(self, upload: Upload) -> None:
        await self.inner.create_upload(upload)

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload | None:
        return await self.inner.get_upload(bucket, key, upload_id)

    async def put_part(self, part: Part) -> None:
        await self.inner.put_part(part)

    async def list_parts(self, upload_id: str, *, after: int, max_parts: int) -> list[Part]:
        return await self.inner.list_parts(upload_id, after=after, max_parts=max_parts)

    async def list_uploads(
        self, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str, max_uploads: int
    ) -> list[Upload]:
        return await self.inner.list_uploads(
            bucket,
            prefix=prefix,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            max_uploads=max_uploads,
        )

    async def complete_upload(
        self,
        upload: Upload,
        obj: ObjectVersion,
        parts: list[int],
        condition: WriteCondition | None = None,
    ) -> str | None:
        return await self._write(
            [_object_key(upload.bucket, upload.key)],
            lambda: self.inner.complete_upload(upload, obj, parts, condition),
        )

    async def get_completed_upload(
        self, bucket: str, key: str, upload_id: str
    ) -> CompletedUpload | None:
        return await self.inner.get_completed_upload(bucket, key, upload_id)

    async def abort_upload(self, upload_id: str) -> bool:
        return await self.inner.abort_upload(upload_id)

    # garbage collection
    async def gc_queue_chunks(self, chunks: list[ChunkRecord]) -> None:
        await self.inner.gc_queue_chunks(chunks)

    async def gc_pending(self, older_than: float, limit: int) -> list[GcItem]:
        return await self.inner.gc_pending(older_than, limit)

    async def gc_done(self, gc_ids: list[int]) -> None:
        await self.inner.gc_done(gc_ids)

    async def gc_retry_later(self, gc_ids: list[int], queued_at: float) -> None:
        await self.inner.gc_retry_later(gc_ids, queued_at)

    # cluster map
    async def get_cluster_map(self) -> ClusterMap:
        return await self.inner.get_cluster_map()

    async def put_node(self, node: NodeRecord) -> ClusterMap:
        return await self.inner.put_node(node)

    async def remove_node(self, node_id: str) -> ClusterMap:
        return await self.inner.remove_node(node_id)

    async def set_node_health(self, node_id: str, health: str, last_seen: float) -> ClusterMap:
        return await self.inner.set_node_health(node_id, health, last_seen)

    # repair queue
    async def repair_enqueue(self, chunk_ids: list[str], reason: str) -> None:
        await self.inner.repair_enqueue(chunk_ids, reason)

    async def repair_pending(self, limit: int) -> list[RepairItem]:
        return await self.inner.repair_pending(limit)

    async def repair_done(self, repair_ids: list[int]) -> None:
        await self.inner.repair_done(repair_ids)

    async def repair_count(self) -> int:
        return await self.inner.repair_count()

    # chunk placement: a cached object version carries its chunks' placement, so a move
    # invalidates the object that owns the chunk (parts are never cached)
    async def update_chunk_stores(
        self, chunk_id: str, expected: tuple[str, ...], stores: tuple[str, ...]
    ) -> bool:
        owner = await self.inner.chunk_owner(chunk_id)
        if owner is None:
            return await self.inner.update_chunk_stores(chunk_id, expected, stores)
        return await self._write(
            [_object_key(*owner)],
            lambda: self.inner.update_chunk_stores(chunk_id, expected, stores),
        )

    async def chunk_owner(self, chunk_id: str) -> tuple[str, str] | None:
        return await self.inner.chunk_owner(chunk_id)

    async def live_chunks(self, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
        return await self.inner.live_chunks(chunk_ids)

    async def chunks_known(self, chunk_ids: list[str]) -> set[str]:
        return await self.inner.chunks_known(chunk_ids)

    async def list_chunks(self, after: str, limit: int) -> list[ChunkRecord]:
        return await self.inner.list_chunks(after, limit)

    async def iam_get(self, kind: str, name: str) -> dict[str, Any] | None:
        return await self.inner.iam_get(kind, name)

    async def iam_put(self, kind: str, name: str, doc: dict[str, Any] | None) -> None:
        await self.inner.iam_put(kind, name, doc)

    async def iam_list(self, kind: str) -> dict[str, dict[str, Any]]:
        return await self.inner.iam_list(kind)

    async def put_job_status(self, job: str, status: dict[str, Any]) -> None:
        await self.inner.put_job_status(job, status)

    async def get_job_status(self) -> dict[str, tuple[dict[str, Any], float]]:
        return await self.inner.get_job_status()
