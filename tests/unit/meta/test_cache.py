"""The shared Redis cache in front of a MetaStore (``ninefold.meta.cache``), against a real
redis-server of the test's own (so it can be stopped, paused and restarted) and a real SQLite
metadata file. Two CachedMetaStores over the same database and the same Redis play two gateways.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ninefold.fragments.records import ChunkRecord
from ninefold.meta.cache import CachedMetaStore, RedisCache
from ninefold.meta.models import Bucket, ObjectVersion
from ninefold.meta.sqlite import SqliteMetaStore
from tests.support.redis import RedisProc
from tests.support.server import free_port


def version(key: str, etag: str, bucket: str = "b") -> ObjectVersion:
    return ObjectVersion(
        bucket=bucket,
        key=key,
        size=10,
        etag=etag,
        last_modified=time.time(),
        user_meta={"m": "ü"},
        headers={"cache-control": "no-cache"},
        checksums={"crc64nvme": "AAAAAAAAAAA=", "type": "FULL_OBJECT"},
        part_sizes=(5, 5),
        chunks=(ChunkRecord("c" * 32, 10, "rep:4", 10, ("d1", "", "d3", "d4")),),
    )


@pytest.fixture
def redis_proc(tmp_path: Path) -> Iterator[RedisProc]:
    proc = RedisProc(tmp_path / "redis").start()
    try:
        yield proc
    finally:
        proc.stop()


class Gateways:
    """Two 'gateways': each its own SQLite connection set and Redis client, same data."""

    def __init__(self, db: Path, redis_url: str) -> None:
        self.db, self.url = db, redis_url
        self.a: CachedMetaStore
        self.b: CachedMetaStore

    async def open(self, inner_b: type[SqliteMetaStore] = SqliteMetaStore) -> Gateways:
        self.a = CachedMetaStore(
            await SqliteMetaStore.open(self.db), RedisCache(self.url, namespace="t")
        )
        self.b = CachedMetaStore(await inner_b.open(self.db), RedisCache(self.url, namespace="t"))
        await self.a.create_bucket(Bucket("b", time.time(), "root"))
        return self

    async def close(self) -> None:
        await self.a.close()
        await self.b.close()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_second_lookup_is_a_hit_and_round_trips_every_field(
    tmp_path: Path, redis_proc: RedisProc
) -> None:
    async def body() -> None:
        g = await Gateways(tmp_path / "meta.db", redis_proc.url).open()
        try:
            v1 = version("k/ü 1", "1" * 32)
            await g.a.put_object(v1)
            first = await g.b.get_object("b", "k/ü 1")
            second = await g.b.get_object("b", "k/ü 1")
            assert (g.b.cache.misses, g.b.cache.hits) == (1, 1)
            stored = await g.b.inner.get_object("b", "k/ü 1")
            assert first == second == stored
            assert second is not None and second.chunks == v1.chunks
            # an inline chunk's bytes survive the trip through Redis
            small = replace(
                version("inline", "2" * 32),
                chunks=(ChunkRecord.inline("e" * 32, bytes(range(256)) * 4),),
            )
            await g.a.put_object(small)
            for _ in range(2):
                got = await g.b.get_object("b", "inline")
                assert got is not None and got.chunks == small.chunks
                assert got.chunks[0].inline_payload() == bytes(range(256)) * 4
            assert g.b.cache.hits == 2
            bucket = await g.b.get_bucket("b")
            assert bucket == await g.b.get_bucket("b") == await g.b.inner.get_bucket("b")
        finally:
            await g.close()

    run(body())


def test_write_through_a_is_seen_by_b_at_once(tmp_path: Path, redis_proc: RedisProc) -> None:
    async def body() -> None:
        g = await Gateways(tmp_path / "meta.db", redis_proc.url).open()
        try:
            # negative answers are cached too, and invalidated by the create
            assert await g.b.get_object("b", "k") is None
            assert await g.b.get_object("b", "k") is None
            await g.a.put_object(version("k", "1" * 32))
            got = await g.b.get_object("b", "k")
            assert got is not None and got.etag == "1" * 32
            assert (await g.b.get_object("b", "k")) == got  # cached again
            await g.a.put_object(version("k", "2" * 32))
            got = await g.b.get_object("b", "k")
            assert got is not None and got.etag == "2" * 32
            assert await g.a.delete_object("b", "k")
            assert await g.b.get_object("b", "k") is None
            # buckets: delete through A, B sees it gone
            assert await g.b.get_bucket("b") is not None
            await g.a.delete_bucket("b")
            assert await g.b.get_bucket("b") is None
            await g.a.create_bucket(Bucket("b", time.time(), "root"))
            assert await g.b.get_bucket("b") is not None
        finally:
            await g.close()

    run(body())


def test_a_bucket_config_put_through_a_is_seen_by_b(tmp_path: Path, redis_proc: RedisProc) -> None:
    async def body() -> None:
        g = await Gateways(tmp_path / "meta.db", redis_proc.url).open()
        try:
            for _ in range(2):
                bucket = await g.b.get_bucket("b")
                assert bucket is not None and bucket.configs == {}
            assert g.b.cache.hits == 1  # the bucket record is cached
            await g.a.put_bucket_config("b", "acl", "public-read")
            bucket = await g.b.get_bucket("b")
            assert bucket is not None and bucket.configs == {"acl": "public-read"}
            assert await g.b.get_bucket("b") == bucket  # cached again, with its configs
            await g.a.put_bucket_config("b", "acl", None)
            bucket = await g.b.get_bucket("b")
            assert bucket is not None and bucket.configs == {}
        finally:
            await g.close()

    run(body())


class SlowReader(SqliteMetaStore):
    """Reads the database, then waits for ``release`` before answering: a gateway whose read
    raced with another gateway's commit."""

    release: asyncio.Event | None = None

    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        answer = await super().get_object(bucket, key)
        if self.release is not None:
            await self.release.wait()
        return answer


def test_a_read_racing_a_commit_never_caches_the_old_version(
    tmp_path: Path, redis_proc: RedisProc
) -> None:
    async def body() -> None:
        g = await Gateways(tmp_path / "meta.db", redis_proc.url).open(inner_b=SlowReader)
        try:
            await g.a.put_object(version("k", "1" * 32))
            slow = g.b.inner
            assert isinstance(slow, SlowReader)
            slow.release = asyncio.Event()
            reader = asyncio.create_task(g.b.get_object("b", "k"))
            await asyncio.sleep(0.2)  # B has read version 1 and not yet answered
            await g.a.put_object(version("k", "2" * 32))
            slow.release.set()
            old = await reader
            assert old is not None and old.etag == "1" * 32  # it began before the commit
            slow.release = None
            for _ in range(2):  # B's late fill was refused: version 2, from then on
                got = await g.b.get_object("b", "k")
                assert got is not None and got.etag == "2" * 32
        finally:
            await g.close()

    run(body())


def test_no_redis_at_all_serves_from_the_database(tmp_path: Path) -> None:
    async def body() -> None:
        url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
        g = await Gateways(tmp_path / "meta.db", url).open()
        try:
            await g.a.put_object(version("k", "1" * 32))
            got = await g.b.get_object("b", "k")
            assert got is not None and got.etag == "1" * 32
            await g.a.put_object(version("k", "2" * 32))
            got = await g.b.get_object("b", "k")
            assert got is not None and got.etag == "2" * 32
            assert g.a.cache.errors >= 1 and g.b.cache.hits == 0
        finally:
            await g.close()

    run(body())


def test_redis_stopped_and_restarted_under_writes(tmp_path: Path, redis_proc: RedisProc) -> None:
    async def body() -> None:
        g = await Gateways(tmp_path / "meta.db", redis_proc.url).open()
        try:
            await g.a.put_object(version("k", "1" * 32))
            assert (await g.b.get_object("b", "k")) is not None
            assert (await g.b.get_object("b", "k")) is not None
            assert g.b.cache.hits == 1
            redis_proc.stop()
            await g.a.put_object(version("k", "2" * 32))  # invalidation lost
            got = await g.b.get_object("b", "k")
            assert got is not None and got.etag == "2" * 32
            redis_proc.start()  # same port, empty
            await asyncio.sleep(1.2)  # the circuit of both closes again
            for _ in range(3):
                got = await g.b.get_object("b", "k")
                assert got is not None and got.etag == "2" * 32
            assert g.b.cache.hits >= 1  # caching again
        finally:
            await g.close()

    run(body())


def test_lost_invalidation_drops_every_entry_once_redis_answers(
    tmp_path: Path, redis_proc: RedisProc
) -> None:
    """Redis keeps its data but gateway A cannot reach it while it overwrites a key: A bumps the
    epoch as soon as Redis answers again (with no further traffic), so B stops serving the
    entry it had cached."""

    async def body() -> None:
        g = await Gateways(tmp_path / "meta.db", redis_proc.url).open()
        try:
            await g.a.put_object(version("k", "1" * 32))
            await g.b.get_object("b", "k")
            assert (await g.b.get_object("b", "k")) is not None and g.b.cache.hits == 1
            # every write command (and script) blocks for 1.5 s: A's invalidation times out
            redis_proc.command("CLIENT", "PAUSE", "1500", "WRITE")
            await g.a.put_object(version("k", "2" * 32))
            assert g.a.cache.dirty
            deadline = time.monotonic() + 10
            while g.a.cache.dirty:
                assert time.monotonic() < deadline, "the epoch was never bumped"
                await asyncio.sleep(0.1)
            got = await g.b.get_object("b", "k")
            assert got is not None and got.etag == "2" * 32
        finally:
            await g.close()

    run(body())


def test_garbage_in_the_cache_is_ignored(tmp_path: Path, redis_proc: RedisProc) -> None:
    async def body() -> None:
        g = await Gateways(tmp_path / "meta.db", redis_proc.url).open()
        try:
            await g.a.put_object(version("k", "1" * 32))
            redis_proc.command("SET", "t:0:v:o:b/k", "{not json")
            got = await g.b.get_object("b", "k")
            assert got is not None and got.etag == "1" * 32
        finally:
            await g.close()

    run(body())
