"""The MetaStore conformance suite, run on every backend: SQLite (a real file in tmp_path) and
PostgreSQL (a real server: a fresh database for the test run, a fresh schema for every test).

PostgreSQL must be reachable (``make test`` starts it): these tests fail rather than skip
without it. ``NINEFOLD_TEST_PG_DSN`` points them at another server.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import Bucket, ObjectVersion, Part, Upload
from ninefold.meta.postgres import PostgresMetaStore
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.meta.store import MetaStore


def chunk(n: int) -> ChunkRecord:
    return ChunkRecord(f"{n:032x}", 100, "ec:6+3", 64, tuple(f"d{i}" for i in range(1, 10)))


def obj(key: str, *chunks: ChunkRecord, bucket: str = "b") -> ObjectVersion:
    return ObjectVersion(
        bucket=bucket,
        key=key,
        size=100 * len(chunks),
        etag="e" * 32,
        last_modified=time.time(),
        chunks=chunks,
        user_meta={"a": "1"},
        checksums={"crc32": "AAAAAA==", "type": "FULL_OBJECT"},
    )


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


PG_ADMIN_DSN = os.environ.get(
    "NINEFOLD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A database of its own for this test run, dropped at the end."""
    name = f"nf_test_{os.getpid()}_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


#: opens the store called ``name`` (same name: the same database again) under ``tmp``
OpenStore = Callable[[Path, str], Awaitable[MetaStore]]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> OpenStore:
    if request.param == "sqlite":
        return lambda tmp, name: SqliteMetaStore.open(tmp / f"{name}.db")
    dsn = request.getfixturevalue("pg_dsn")
    return lambda tmp, name: PostgresMetaStore.open(dsn, schema=f"t_{name}")


async def open_store(backend: OpenStore, tmp: Path, name: str | None = None) -> MetaStore:
    """A fresh store (or the one called ``name``) with bucket ``b`` in it."""
    store = await backend(tmp, name or secrets.token_hex(6))
    await store.create_bucket(Bucket("b", time.time(), "root"))
    return store


def test_bucket_lifecycle(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        with pytest.raises(errors.BucketAlreadyOwnedByYou):
            await store.create_bucket(Bucket("b", time.time(), "root"))
        with pytest.raises(errors.BucketAlreadyExists):
            await store.create_bucket(Bucket("b", time.time(), "alice"))
        assert [b.name for b in await store.list_buckets()] == ["b"]
        await store.put_object(obj("k", chunk(1)))
        with pytest.raises(errors.BucketNotEmpty):
            await store.delete_bucket("b")
        await store.delete_object("b", "k")
        await store.delete_bucket("b")
        with pytest.raises(errors.NoSuchBucket):
            await store.delete_bucket("b")
        assert await store.get_bucket("b") is None
        await store.close()

    run(go())


def test_overwrite_queues_old_chunks_for_gc(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("k", chunk(1), chunk(2)))
        got = await store.get_object("b", "k")
        assert got is not None and [c.chunk_id for c in got.chunks] == [
            chunk(1).chunk_id,
            chunk(2).chunk_id,
        ]
        assert got.user_meta == {"a": "1"}
        await store.put_object(obj("k", chunk(3)))
        got = await store.get_object("b", "k")
        assert got is not None and got.chunks == (chunk(3),)
        pending = await store.gc_pending(time.time() + 1, 10)
        assert sorted(i.chunk.chunk_id for i in pending) == [chunk(1).chunk_id, chunk(2).chunk_id]
        assert await store.gc_pending(time.time() - 60, 10) == []
        await store.gc_done([i.gc_id for i in pending])
        assert await store.gc_pending(time.time() + 1, 10) == []
        assert await store.delete_object("b", "k") is True
        assert await store.get_object("b", "k") is None
        assert [i.chunk for i in await store.gc_pending(time.time() + 1, 10)] == [chunk(3)]
        with pytest.raises(errors.NoSuchBucket):
            await store.put_object(obj("k", bucket="missing"))
        await store.close()

    run(go())


def test_multipart_complete_moves_chunks_and_drops_unused_parts(
    tmp_path: Path, backend: OpenStore
) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        up = Upload("u1", "b", "k", time.time(), "root")
        await store.create_upload(up)
        for n in (1, 2, 3):
            await store.put_part(Part("u1", n, 100, f"{n:032x}", time.time(), {}, (chunk(n),)))
        # re-uploading part 2 replaces it; its old chunk goes to GC
        await store.put_part(Part("u1", 2, 100, "f" * 32, time.time(), {}, (chunk(20),)))
        parts = await store.list_parts("u1", after=0, max_parts=10)
        assert [(p.part_number, p.chunks[0].chunk_id) for p in parts] == [
            (1, chunk(1).chunk_id),
            (2, chunk(20).chunk_id),
            (3, chunk(3).chunk_id),
        ]
        assert [
            u.upload_id
            for u in await store.list_uploads(
                "b", prefix="", key_marker="", upload_id_marker="", max_uploads=10
            )
        ] == ["u1"]
        await store.complete_upload(up, obj("k"), [1, 2])
        got = await store.get_object("b", "k")
        assert got is not None and got.chunks == (chunk(1), chunk(20))
        gc = sorted(i.chunk.chunk_id for i in await store.gc_pending(time.time() + 1, 10))
        assert gc == sorted([chunk(2).chunk_id, chunk(3).chunk_id])
        assert await store.get_upload("b", "k", "u1") is None
        with pytest.raises(errors.NoSuchUpload):
            await store.complete_upload(up, obj("k"), [1])
        with pytest.raises(errors.NoSuchUpload):
            await store.put_part(Part("u1", 1, 1, "a" * 32, time.time()))
        assert await store.abort_upload("u1") is False
        await store.close()

    run(go())


def test_schema_survives_reopen(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path, "reopened")
        await store.put_object(obj("k", chunk(7)))
        await store.close()
        again = await backend(tmp_path, "reopened")
        got = await again.get_object("b", "k")
        assert got is not None and got.chunks == (chunk(7),)
        await again.close()

    run(go())


KEYS = st.lists(
    st.text(alphabet="ab/c\u00e9\U0001f600", min_size=1, max_size=6),
    min_size=0,
    max_size=40,
    unique=True,
)


def model_list(
    keys: list[str], prefix: str, delimiter: str, after: str, max_keys: int
) -> tuple[list[str], list[str], bool]:
    ordered = sorted(keys, key=lambda k: k.encode())
    items: list[tuple[str, bool]] = []
    for k in ordered:
        if not k.startswith(prefix):
            continue
        cut = k.find(delimiter, len(prefix)) if delimiter else -1
        item = (k[: cut + len(delimiter)], True) if cut >= 0 else (k, False)
        if items and items[-1] == item:
            continue
        items.append(item)
    items = [i for i in items if i[0].encode() > after.encode()]
    page = items[:max_keys]
    return ([k for k, p in page if not p], [k for k, p in page if p], len(items) > max_keys)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    keys=KEYS,
    prefix=st.sampled_from(["", "a", "a/", "b/c"]),
    delimiter=st.sampled_from(["", "/", "c"]),
    max_keys=st.integers(1, 7),
)
def test_paginated_listing_matches_model(
    tmp_path_factory: pytest.TempPathFactory,
    backend: OpenStore,
    keys: list[str],
    prefix: str,
    delimiter: str,
    max_keys: int,
) -> None:
    """Every page equals the naive model; following next_marker visits everything once."""
    tmp = tmp_path_factory.mktemp("list")

    async def go() -> None:
        store = await open_store(backend, tmp)
        for k in keys:
            await store.put_object(obj(k))
        after = ""
        seen_keys: list[str] = []
        seen_prefixes: list[str] = []
        for _ in range(100):
            page = await store.list_objects(
                "b", prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
            )
            want_keys, want_prefixes, want_trunc = model_list(
                keys, prefix, delimiter, after, max_keys
            )
            assert [e.key for e in page.entries] == want_keys
            assert page.common_prefixes == want_prefixes
            assert page.is_truncated == want_trunc
            seen_keys += want_keys
            seen_prefixes += want_prefixes
            if not page.is_truncated:
                break
            assert page.next_marker is not None
            after = page.next_marker
        full_keys, full_prefixes, _ = model_list(keys, prefix, delimiter, "", 10**6)
        assert seen_keys == full_keys
        assert seen_prefixes == full_prefixes
        await store.close()

    run(go())


def test_concurrent_writers_of_one_key(tmp_path: Path, backend: OpenStore) -> None:
    """20 concurrent PUTs of one key: one current version, the 19 replaced ones all in GC."""

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await asyncio.gather(*(store.put_object(obj("same", chunk(i))) for i in range(20)))
        current = await store.get_object("b", "same")
        assert current is not None and len(current.chunks) == 1
        queued = {i.chunk.chunk_id for i in await store.gc_pending(time.time() + 1, 100)}
        every = {chunk(i).chunk_id for i in range(20)}
        assert queued == every - {current.chunks[0].chunk_id}
        page = await store.list_objects("b", prefix="", delimiter="", after="", max_keys=10)
        assert [e.key for e in page.entries] == ["same"]
        await store.close()

    run(go())


def test_cluster_map_is_versioned(tmp_path: Path, backend: OpenStore) -> None:
    from ninefold.meta.models import NodeRecord

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        empty = await store.get_cluster_map()
        assert empty.nodes == ()
        n1 = NodeRecord("n1", "http://127.0.0.1:1", "z1", ("d1", "d2"))
        after_add = await store.put_node(n1)
        assert after_add.version == empty.version + 1 and after_add.nodes == (n1,)
        drained = await store.put_node(NodeRecord("n1", n1.url, "z1", n1.drives, state="draining"))
        assert drained.version == after_add.version + 1
        assert drained.nodes[0].state == "draining"
        await store.put_node(NodeRecord("n2", "http://127.0.0.1:2", "z2", ("d1",), weight=2.0))
        current = await store.get_cluster_map()
        assert [n.node_id for n in current.nodes] == ["n1", "n2"]
        assert current.nodes[1].weight == 2.0
        removed = await store.remove_node("n1")
        assert [n.node_id for n in removed.nodes] == ["n2"]
        assert removed.version == current.version + 1
        with pytest.raises(KeyError):
            await store.remove_node("n1")
        await store.close()

    run(go())
