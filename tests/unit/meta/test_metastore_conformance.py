"""The MetaStore conformance suite, run on every backend: SQLite (a real file in tmp_path),
PostgreSQL (a real server: a fresh database for the test run, a fresh schema for every test) and
the in-memory store (a fresh MemoryDatabase per store name).

PostgreSQL must be reachable (``make test`` starts it): these tests fail rather than skip
without it. ``NINEFOLD_TEST_PG_DSN`` points them at another server.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.memory import MemoryDatabase, MemoryMetaStore
from ninefold.meta.models import Bucket, ObjectVersion, Part, Upload, WriteCondition
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


@pytest.fixture(params=["sqlite", "postgres", "memory"])
def backend(request: pytest.FixtureRequest) -> OpenStore:
    if request.param == "sqlite":
        return lambda tmp, name: SqliteMetaStore.open(tmp / f"{name}.db")
    if request.param == "memory":
        databases: dict[tuple[Path, str], MemoryDatabase] = {}
        return lambda tmp, name: MemoryMetaStore.open(
            databases.setdefault((tmp, name), MemoryDatabase())
        )
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


def test_gc_retry_later_postpones_an_entry(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.gc_queue_chunks([chunk(1), chunk(2), chunk(3)])
        first = await store.gc_pending(time.time() + 1, 1)
        assert len(first) == 1
        now = time.time() + 5
        await store.gc_retry_later([first[0].gc_id], now)
        # not due before its new time (so it no longer holds up the others), due after it
        due = await store.gc_pending(time.time() + 1, 1)
        assert [i.gc_id for i in due] != [first[0].gc_id] and len(due) == 1
        later = {i.gc_id: i.chunk for i in await store.gc_pending(now + 1, 10)}
        assert len(later) == 3 and later[first[0].gc_id] == first[0].chunk
        await store.gc_retry_later([], now)  # nothing to do
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


def test_completed_upload_is_remembered(tmp_path: Path, backend: OpenStore) -> None:
    """complete_upload records, in its transaction, what a repeated complete must answer:
    the parts it took, the ETag, the version id and the checksums; for its bucket and key
    only, and not for an upload that failed its condition or was aborted."""

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.set_bucket_versioning("b", "Enabled")
        n = 0
        for upload_id in ("u1", "u2", "u3"):
            await store.create_upload(Upload(upload_id, "b", "k", time.time(), "root"))
            for number in (1, 2):
                n += 1
                part = Part(upload_id, number, 100, f"{n:032x}", time.time(), {}, (chunk(n),))
                await store.put_part(part)
        assert await store.get_completed_upload("b", "k", "u1") is None  # not completed yet
        before = time.time()
        version = await store.complete_upload(Upload("u1", "b", "k", 0, "root"), obj("k"), [1, 2])
        done = await store.get_completed_upload("b", "k", "u1")
        assert done is not None
        assert (done.upload_id, done.bucket, done.key, done.parts) == ("u1", "b", "k", (1, 2))
        assert (done.etag, done.version_id) == ("e" * 32, version)
        assert done.checksums == {"crc32": "AAAAAA==", "type": "FULL_OBJECT"}
        assert done.completed_at >= before - 1
        assert await store.get_completed_upload("b", "other", "u1") is None
        assert await store.get_completed_upload("c", "k", "u1") is None
        # a complete whose condition fails leaves the upload open and records nothing
        with pytest.raises(errors.PreconditionFailed):
            await store.complete_upload(
                Upload("u2", "b", "k", 0, "root"), obj("k"), [1], WriteCondition(if_none_match=True)
            )
        assert await store.get_completed_upload("b", "k", "u2") is None
        assert await store.get_upload("b", "k", "u2") is not None
        assert await store.abort_upload("u3")
        assert await store.get_completed_upload("b", "k", "u3") is None
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


def gappy(n: int, missing: int = 4) -> ChunkRecord:
    """A chunk committed with fragment ``missing`` lost at write time."""
    stores = tuple("" if i == missing else f"d{i}" for i in range(1, 10))
    return ChunkRecord(f"{n:032x}", 100, "ec:6+3", 64, stores)


def test_node_health_is_versioned_only_when_it_changes(tmp_path: Path, backend: OpenStore) -> None:
    from ninefold.meta.models import NodeRecord

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        added = await store.put_node(NodeRecord("n1", "http://127.0.0.1:1", "z1", ("d1",)))
        assert (added.nodes[0].health, added.nodes[0].last_seen) == ("ok", 0.0)
        # a heartbeat: last_seen moves, the version does not (gateways need not reload)
        beat = await store.set_node_health("n1", "ok", 1000.5)
        assert beat.version == added.version and beat.nodes[0].last_seen == 1000.5
        down = await store.set_node_health("n1", "down", 1000.5)
        assert down.version == added.version + 1 and down.nodes[0].health == "down"
        again = await store.set_node_health("n1", "down", 1000.5)
        assert again.version == down.version
        # the operator's commands keep what the monitor observed
        drained = await store.put_node(
            NodeRecord("n1", "http://127.0.0.1:1", "z1", ("d1",), state="draining")
        )
        assert drained.nodes[0].state == "draining"
        assert (drained.nodes[0].health, drained.nodes[0].last_seen) == ("down", 1000.5)
        back = await store.set_node_health("n1", "ok", 1003.0)
        assert back.version == drained.version + 1
        assert back.nodes[0] == NodeRecord(
            "n1", "http://127.0.0.1:1", "z1", ("d1",), 1.0, "draining", "ok", 1003.0
        )
        assert (await store.get_cluster_map()) == back
        # a new node takes health and last_seen from the record
        fresh = await store.put_node(
            NodeRecord("n2", "http://127.0.0.1:2", "z2", ("d1",), health="down", last_seen=5.0)
        )
        assert (fresh.nodes[1].health, fresh.nodes[1].last_seen) == ("down", 5.0)
        with pytest.raises(KeyError):
            await store.set_node_health("nope", "ok", 1.0)
        with pytest.raises(KeyError):
            await store.set_node_health("nope", "down", 1.0)
        with pytest.raises(ValueError):
            await store.set_node_health("n1", "sleepy", 1.0)
        assert (await store.get_cluster_map()).version == fresh.version
        await store.close()

    run(go())


def test_concurrent_heartbeats_and_admin_changes(tmp_path: Path, backend: OpenStore) -> None:
    """Health changes racing put_node: no deadlock, every version bump counted."""
    from ninefold.meta.models import NodeRecord

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        nodes = [NodeRecord(f"n{i}", f"http://127.0.0.1:{i}", "z", ("d1",)) for i in range(4)]
        for n in nodes:
            await store.put_node(n)
        start = (await store.get_cluster_map()).version

        async def flip(node_id: str) -> None:  # in order for one node, beside everything else
            for r in range(6):
                await store.set_node_health(node_id, "down" if r % 2 == 0 else "ok", float(r))
                await store.set_node_health(node_id, "down" if r % 2 == 0 else "ok", float(r))

        admin = [store.put_node(n) for n in nodes for _ in range(3)]
        await asyncio.gather(*(flip(n.node_id) for n in nodes), *admin)
        final = await store.get_cluster_map()
        # 6 alternating health writes per node, starting from ok: 6 changes each
        assert final.version == start + 4 * 6 + 12
        assert {n.health for n in final.nodes} == {"ok"}
        await store.close()

    run(go())


def test_writes_with_a_missing_fragment_queue_the_chunk_for_repair(
    tmp_path: Path, backend: OpenStore
) -> None:
    from ninefold.meta.models import REPAIR_MISSING_AT_WRITE

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("whole", chunk(1)))
        assert await store.repair_pending(10) == []
        await store.put_object(obj("gappy", chunk(2), gappy(3)))
        (item,) = await store.repair_pending(10)
        assert (item.chunk_id, item.reason, item.chunk) == (
            gappy(3).chunk_id,
            REPAIR_MISSING_AT_WRITE,
            gappy(3),
        )
        assert item.queued_at > time.time() - 60
        # multipart: a gappy part is queued by put_part; completing keeps one entry
        up = Upload("u1", "b", "mp", time.time(), "root")
        await store.create_upload(up)
        await store.put_part(Part("u1", 1, 100, "a" * 32, time.time(), {}, (gappy(4),)))
        await store.put_part(Part("u1", 2, 100, "b" * 32, time.time(), {}, (chunk(5),)))
        queued = [i.chunk_id for i in await store.repair_pending(10)]
        assert queued == [gappy(3).chunk_id, gappy(4).chunk_id]
        await store.complete_upload(up, obj("mp"), [1, 2])
        pending = await store.repair_pending(10)
        assert [(i.chunk_id, i.chunk) for i in pending] == [
            (gappy(3).chunk_id, gappy(3)),
            (gappy(4).chunk_id, gappy(4)),
        ]
        # done is by entry id; limit returns the oldest first
        assert [i.chunk_id for i in await store.repair_pending(1)] == [gappy(3).chunk_id]
        await store.repair_done([pending[0].repair_id])
        assert [i.chunk_id for i in await store.repair_pending(10)] == [gappy(4).chunk_id]
        await store.repair_done([])
        await store.close()

    run(go())


def test_unlinked_chunks_leave_the_repair_queue(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("k", gappy(1)))
        await store.put_object(obj("k", gappy(2)))  # overwrite: chunk 1 goes to GC
        assert [i.chunk_id for i in await store.repair_pending(10)] == [gappy(2).chunk_id]
        await store.delete_object("b", "k")
        up = Upload("u1", "b", "mp", time.time(), "root")
        await store.create_upload(up)
        await store.put_part(Part("u1", 1, 100, "a" * 32, time.time(), {}, (gappy(3),)))
        await store.put_part(Part("u1", 1, 100, "c" * 32, time.time(), {}, (gappy(4),)))
        assert [i.chunk_id for i in await store.repair_pending(10)] == [gappy(4).chunk_id]
        await store.abort_upload("u1")
        assert await store.repair_pending(10) == []
        gc = {i.chunk.chunk_id for i in await store.gc_pending(time.time() + 1, 10)}
        assert gc == {gappy(n).chunk_id for n in (1, 2, 3, 4)}
        await store.close()

    run(go())


def test_repair_enqueue_keeps_one_entry_per_chunk(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("k", chunk(1), chunk(2)))
        await store.repair_enqueue([chunk(2).chunk_id, chunk(1).chunk_id], "scrub: bad crc")
        await store.repair_enqueue([chunk(1).chunk_id, "f" * 32], "node n3 lost")
        await store.repair_enqueue([], "nothing")
        pending = await store.repair_pending(10)
        assert [(i.chunk_id, i.reason) for i in pending] == [
            (chunk(2).chunk_id, "scrub: bad crc"),
            (chunk(1).chunk_id, "scrub: bad crc"),
            ("f" * 32, "node n3 lost"),
        ]
        assert [i.chunk for i in pending] == [chunk(2), chunk(1), None]  # unknown chunk: None
        assert len({i.repair_id for i in pending}) == 3
        await store.repair_done([i.repair_id for i in pending])
        assert await store.repair_pending(10) == []
        # queued again after done: a new entry
        await store.repair_enqueue([chunk(1).chunk_id], "again")
        (again,) = await store.repair_pending(10)
        assert again.reason == "again" and again.repair_id not in {i.repair_id for i in pending}
        await store.close()

    run(go())


def test_sqlite_upgrade_keeps_nodes_and_adds_health(tmp_path: Path) -> None:
    import sqlite3

    from ninefold.meta.schema import SQLITE_MIGRATIONS

    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    for script in SQLITE_MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute(
        "INSERT INTO cluster_nodes VALUES ('n1', 'http://h:1', 'z1', '[\"d1\"]', 1.0, 'draining')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    async def go() -> None:
        store = await SqliteMetaStore.open(path)
        (node,) = (await store.get_cluster_map()).nodes
        assert (node.state, node.health, node.last_seen) == ("draining", "ok", 0.0)
        assert await store.repair_pending(10) == []
        await store.close()

    run(go())


def test_postgres_upgrade_keeps_nodes_and_adds_health(pg_dsn: str) -> None:
    from ninefold.meta.schema import POSTGRES_MIGRATIONS

    schema = f"up_{secrets.token_hex(4)}"

    async def go() -> None:
        conn = await asyncpg.connect(pg_dsn, server_settings={"search_path": schema})
        try:
            await conn.execute(f'CREATE SCHEMA "{schema}"')
            await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
            for number, script in enumerate(POSTGRES_MIGRATIONS[:2], start=1):
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1)", number)
            await conn.execute(
                "INSERT INTO cluster_nodes VALUES ('n1', 'http://h:1', 'z1', '[\"d1\"]', 1, 'up')"
            )
        finally:
            await conn.close()
        store = await PostgresMetaStore.open(pg_dsn, schema=schema)
        (node,) = (await store.get_cluster_map()).nodes
        assert (node.state, node.health, node.last_seen) == ("up", "ok", 0.0)
        assert await store.repair_pending(10) == []
        await store.close()

    run(go())


def test_chunk_placement_compare_and_set(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("k", chunk(1), chunk(2)))
        await store.create_upload(Upload("u1", "b", "mp", time.time(), "root"))
        await store.put_part(Part("u1", 1, 100, "a" * 32, time.time(), {}, (chunk(3),)))
        old = chunk(1).stores
        new = ("x1", *old[1:])
        assert await store.update_chunk_stores(chunk(1).chunk_id, old, new) is True
        got = await store.get_object("b", "k")
        assert got is not None and got.chunks[0].stores == new and got.chunks[1] == chunk(2)
        # a stale expectation changes nothing
        assert await store.update_chunk_stores(chunk(1).chunk_id, old, ("y", *old[1:])) is False
        assert await store.update_chunk_stores("f" * 32, old, new) is False
        got = await store.get_object("b", "k")
        assert got is not None and got.chunks[0].stores == new
        # part chunks move too (their owner is no object)
        assert await store.update_chunk_stores(chunk(3).chunk_id, chunk(3).stores, new) is True
        assert await store.chunk_owner(chunk(1).chunk_id) == ("b", "k")
        assert await store.chunk_owner(chunk(3).chunk_id) is None
        assert await store.chunk_owner("f" * 32) is None
        # every live chunk, in id order, paged
        ids = [c.chunk_id for c in await store.list_chunks("", 10)]
        assert ids == sorted([chunk(1).chunk_id, chunk(2).chunk_id, chunk(3).chunk_id])
        assert [c.chunk_id for c in await store.list_chunks(ids[0], 1)] == [ids[1]]
        listed = {c.chunk_id: c for c in await store.list_chunks("", 10)}
        assert listed[chunk(1).chunk_id].stores == new
        # an overwrite unlinks the chunks: gone from the listing, CAS fails
        await store.put_object(obj("k", chunk(4)))
        assert await store.update_chunk_stores(chunk(4).chunk_id, chunk(4).stores, new)
        assert await store.update_chunk_stores(chunk(1).chunk_id, new, old) is False
        assert chunk(1).chunk_id not in {c.chunk_id for c in await store.list_chunks("", 10)}
        await store.close()

    run(go())


def test_job_status_and_repair_count(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        assert await store.get_job_status() == {}
        await store.put_job_status("repair", {"done": 1, "bytes": 10})
        await store.put_job_status("repair", {"done": 2, "bytes": 20})
        await store.put_job_status("scrub", {"checked": 5})
        status = await store.get_job_status()
        assert status["repair"][0] == {"done": 2, "bytes": 20}
        assert status["scrub"][0] == {"checked": 5}
        assert abs(status["repair"][1] - time.time()) < 60
        assert await store.repair_count() == 0
        await store.repair_enqueue([chunk(1).chunk_id, chunk(2).chunk_id], "test")
        assert await store.repair_count() == 2
        await store.close()

    run(go())


def test_chunks_known_covers_live_and_queued_chunks(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("k", chunk(1)))
        await store.put_object(obj("k", chunk(2)))  # chunk 1 -> GC queue
        ids = [chunk(n).chunk_id for n in (1, 2, 3)]
        assert await store.chunks_known(ids) == {chunk(1).chunk_id, chunk(2).chunk_id}
        assert await store.chunks_known([]) == set()
        many = [f"{n:032x}" for n in range(1200)]  # batched under the hood
        assert await store.chunks_known(many) == {chunk(1).chunk_id, chunk(2).chunk_id}
        await store.close()

    run(go())


def test_live_chunks_returns_current_records(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("k", chunk(1), chunk(2)))
        await store.put_object(obj("j", chunk(3)))
        await store.put_object(obj("j", chunk(4)))  # chunk 3 unlinked
        live = await store.live_chunks([chunk(n).chunk_id for n in (1, 2, 3, 4, 5)])
        assert live == {chunk(n).chunk_id: chunk(n) for n in (1, 2, 4)}
        assert await store.live_chunks([]) == {}
        await store.close()

    run(go())


def test_conditional_put_exactly_one_creator_wins(tmp_path: Path, backend: OpenStore) -> None:
    from ninefold.meta.models import WriteCondition

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        create = WriteCondition(if_none_match=True)
        results = await asyncio.gather(
            *(store.put_object(obj("race", chunk(n)), create) for n in range(1, 11)),
            return_exceptions=True,
        )
        winners = [r for r in results if r is None]
        assert len(winners) == 1, results
        assert all(isinstance(r, errors.PreconditionFailed) for r in results if r is not None)
        got = await store.get_object("b", "race")
        assert got is not None
        # If-Match: the current ETag replaces, another one does not, no object is NoSuchKey
        await store.put_object(obj("race", chunk(20)), WriteCondition(if_match=(got.etag,)))
        with pytest.raises(errors.PreconditionFailed):
            await store.put_object(obj("race", chunk(21)), WriteCondition(if_match=("f" * 32,)))
        with pytest.raises(errors.NoSuchKey):
            await store.put_object(obj("none", chunk(22)), WriteCondition(if_match=("*",)))
        # a failed condition changes nothing: chunk 20 is current, 21/22 were never linked
        got = await store.get_object("b", "race")
        assert got is not None and got.chunks == (chunk(20),)
        assert await store.get_object("b", "none") is None
        await store.close()

    run(go())


def test_bucket_config_and_object_tags(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        assert await store.get_bucket_config("b", "tagging") is None
        await store.put_bucket_config("b", "tagging", '{"a": "1"}')
        await store.put_bucket_config("b", "tagging", '{"a": "2"}')
        assert await store.get_bucket_config("b", "tagging") == '{"a": "2"}'
        await store.put_bucket_config("b", "tagging", None)
        assert await store.get_bucket_config("b", "tagging") is None
        with pytest.raises(errors.NoSuchBucket):
            await store.get_bucket_config("missing", "tagging")
        with pytest.raises(errors.NoSuchBucket):
            await store.put_bucket_config("missing", "tagging", "{}")
        # object tags replace the current version's, nothing else
        await store.put_object(obj("k", chunk(1)))
        assert await store.put_object_tags("b", "k", {"t": "1"}) is True
        got = await store.get_object("b", "k")
        assert got is not None and got.tags == {"t": "1"} and got.chunks == (chunk(1),)
        assert await store.put_object_tags("b", "absent", {"t": "1"}) is False
        # a bucket's configuration goes with it
        await store.put_bucket_config("b", "tagging", "{}")
        assert await store.delete_object("b", "k")
        await store.delete_bucket("b")
        await store.create_bucket(Bucket("b", time.time(), "root"))
        assert await store.get_bucket_config("b", "tagging") is None
        await store.close()

    run(go())


def test_bucket_configs_come_with_the_bucket(tmp_path: Path, backend: OpenStore) -> None:
    """get_bucket returns every configuration document with the record, and a put (or
    removal) is visible in the very next get_bucket (caches included)."""

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        bucket = await store.get_bucket("b")
        assert bucket is not None and bucket.configs == {}
        await store.put_bucket_config("b", "cors", '{"rules": []}')
        await store.put_bucket_config("b", "acl", "public-read")
        bucket = await store.get_bucket("b")
        assert bucket is not None and bucket.configs == {
            "cors": '{"rules": []}',
            "acl": "public-read",
        }
        await store.put_bucket_config("b", "acl", "private")
        await store.put_bucket_config("b", "cors", None)
        bucket = await store.get_bucket("b")
        assert bucket is not None and bucket.configs == {"acl": "private"}
        assert [b.configs for b in await store.list_buckets()] == [{}]
        # created with its documents; gone with the bucket
        await store.create_bucket(Bucket("c", time.time(), "root", configs={"acl": "private"}))
        created = await store.get_bucket("c")
        assert created is not None and created.configs == {"acl": "private"}
        assert await store.get_bucket_config("c", "acl") == "private"
        await store.delete_bucket("c")
        await store.create_bucket(Bucket("c", time.time(), "root"))
        again = await store.get_bucket("c")
        assert again is not None and again.configs == {}
        await store.close()

    run(go())


def test_versioning_enabled_keeps_every_version(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        assert await store.put_object(obj("k", chunk(1))) is None  # never versioned
        await store.set_bucket_versioning("b", "Enabled")
        bucket = await store.get_bucket("b")
        assert bucket is not None and bucket.versioning == "Enabled"
        v2 = await store.put_object(obj("k", chunk(2)))
        v3 = await store.put_object(obj("k", chunk(3)))
        assert v2 and v3 and len({v2, v3, "null"}) == 3
        got = await store.get_object("b", "k")
        assert got is not None and got.version_id == v3 and got.chunks == (chunk(3),)
        old = await store.get_object_version("b", "k", v2)
        assert old is not None and not old.is_latest and old.chunks == (chunk(2),)
        assert (await store.get_object_version("b", "k", "null")) is not None
        assert await store.gc_pending(time.time() + 1, 10) == []  # nothing replaced for good
        # a delete hides the key behind a marker
        out = await store.delete_version("b", "k", None, owner="root")
        assert out.delete_marker and out.version_id not in (None, v2, v3)
        assert await store.get_object("b", "k") is None
        marker = await store.get_object_version("b", "k", None)
        assert (
            marker is not None and marker.is_delete_marker and marker.version_id == out.version_id
        )
        page = await store.list_objects("b", prefix="", delimiter="", after="", max_keys=10)
        assert page.entries == []
        versions = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="", version_id_marker="", max_keys=10
        )
        assert [(v.version_id, v.is_latest, v.is_delete_marker) for v in versions.versions] == [
            (out.version_id, True, True),
            (v3, False, False),
            (v2, False, False),
            ("null", False, False),
        ]
        # removing the marker brings v3 back; removing v3 for good makes v2 current
        removed = await store.delete_version("b", "k", out.version_id)
        assert removed.delete_marker and removed.existed
        got = await store.get_object("b", "k")
        assert got is not None and got.version_id == v3
        assert (await store.delete_version("b", "k", v3)).existed
        got = await store.get_object("b", "k")
        assert got is not None and got.version_id == v2
        assert [i.chunk for i in await store.gc_pending(time.time() + 1, 10)] == [chunk(3)]
        # an unknown version: nothing happens
        assert not (await store.delete_version("b", "k", "0" * 32)).existed
        # the bucket is not empty while any version is left
        with pytest.raises(errors.BucketNotEmpty):
            await store.delete_bucket("b")
        await store.close()

    run(go())


def test_versioning_suspended_replaces_the_null_version(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.set_bucket_versioning("b", "Enabled")
        v1 = await store.put_object(obj("k", chunk(1)))
        await store.set_bucket_versioning("b", "Suspended")
        assert await store.put_object(obj("k", chunk(2))) == "null"
        assert await store.put_object(obj("k", chunk(3))) == "null"
        got = await store.get_object("b", "k")
        assert got is not None and got.version_id == "null" and got.chunks == (chunk(3),)
        assert [i.chunk for i in await store.gc_pending(time.time() + 1, 10)] == [chunk(2)]
        assert (await store.get_object_version("b", "k", v1)) is not None
        out = await store.delete_version("b", "k", None)
        assert out.version_id == "null" and out.delete_marker  # the null version made way
        assert await store.get_object("b", "k") is None
        gone = {i.chunk.chunk_id for i in await store.gc_pending(time.time() + 1, 10)}
        assert chunk(3).chunk_id in gone
        versions = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="", version_id_marker="", max_keys=10
        )
        assert [(v.version_id, v.is_delete_marker) for v in versions.versions] == [
            ("null", True),
            (v1, False),
        ]
        await store.close()

    run(go())


def test_object_lock_on_an_existing_bucket_needs_versioning(
    tmp_path: Path, backend: OpenStore
) -> None:
    """Object Lock comes on only over Enabled versioning, and then keeps it Enabled: both
    decided in the transaction that writes (no window between check and write)."""

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        with pytest.raises(errors.InvalidBucketState):  # never versioned
            await store.enable_object_lock("b")
        await store.set_bucket_versioning("b", "Suspended")
        with pytest.raises(errors.InvalidBucketState):
            await store.enable_object_lock("b")
        await store.set_bucket_versioning("b", "Enabled")
        await store.enable_object_lock("b")
        record = await store.get_bucket("b")
        assert record is not None and record.object_lock and record.versioning == "Enabled"
        with pytest.raises(errors.InvalidBucketState):
            await store.set_bucket_versioning("b", "Suspended")
        await store.set_bucket_versioning("b", "Enabled")  # no change is fine
        record = await store.get_bucket("b")
        assert record is not None and record.versioning == "Enabled"
        with pytest.raises(errors.NoSuchBucket):
            await store.enable_object_lock("absent")
        await store.close()

    run(go())


def test_list_object_versions_pages_and_delimiters(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.set_bucket_versioning("b", "Enabled")
        n = 0
        expected = []
        for key in ["a", "d/1", "d/2", "e", "f/x/1"]:
            ids = []
            for _ in range(3):
                n += 1
                ids.append(await store.put_object(obj(key, chunk(n))))
            expected += [(key, v) for v in reversed(ids)]
        full = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="", version_id_marker="", max_keys=1000
        )
        assert [(v.key, v.version_id) for v in full.versions] == expected
        assert not full.is_truncated
        # pages of 4 with both markers cover the same list exactly once
        got: list[tuple[str, str]] = []
        key_marker, version_marker = "", ""
        while True:
            page = await store.list_object_versions(
                "b",
                prefix="",
                delimiter="",
                key_marker=key_marker,
                version_id_marker=version_marker,
                max_keys=4,
            )
            got += [(v.key, v.version_id) for v in page.versions]
            if not page.is_truncated:
                break
            key_marker = page.next_key_marker or ""
            version_marker = page.next_version_id_marker or ""
        assert got == expected
        # key-marker alone skips every version of that key
        page = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="d/2", version_id_marker="", max_keys=100
        )
        assert [v.key for v in page.versions][:1] == ["e"]
        # delimiter: common prefixes once each
        page = await store.list_object_versions(
            "b", prefix="", delimiter="/", key_marker="", version_id_marker="", max_keys=100
        )
        assert page.common_prefixes == ["d/", "f/"]
        assert sorted({v.key for v in page.versions}) == ["a", "e"]
        with pytest.raises(errors.InvalidArgument):  # not a version id at all
            await store.list_object_versions(
                "b",
                prefix="",
                delimiter="",
                key_marker="a",
                version_id_marker="not-a-version-id",
                max_keys=10,
            )
        await store.close()

    run(go())


def test_list_object_versions_continues_after_a_deleted_marker_version(
    tmp_path: Path, backend: OpenStore
) -> None:
    """The version a page ended on is deleted before the next page is asked for: the listing
    goes on with the versions of that key older than it (version ids are ordered by the time
    they were made), then the next keys; nothing is skipped, nothing repeated."""

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        assert await store.put_object(obj("k", chunk(90))) is None  # the null version, oldest
        await store.set_bucket_versioning("b", "Enabled")
        ids = [await store.put_object(obj("k", chunk(n))) for n in range(1, 6)]
        after = await store.put_object(obj("m", chunk(9)))
        newest_first = [*reversed(ids), "null"]
        page = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="", version_id_marker="", max_keys=2
        )
        assert [v.version_id for v in page.versions] == newest_first[:2]
        assert page.next_key_marker == "k" and page.next_version_id_marker == ids[3]
        # the marker version and the one after it go
        assert (await store.delete_version("b", "k", ids[3])).existed
        assert (await store.delete_version("b", "k", ids[2])).existed
        page = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="k", version_id_marker=ids[3], max_keys=10
        )
        assert [(v.key, v.version_id) for v in page.versions] == [
            ("k", ids[1]),
            ("k", ids[0]),
            ("k", "null"),
            ("m", after),
        ]
        # a marker newer than every remaining version of the key: all of them follow
        assert (await store.delete_version("b", "k", ids[4])).existed
        page = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="k", version_id_marker=ids[4], max_keys=10
        )
        assert [v.version_id for v in page.versions] == [ids[1], ids[0], "null", after]
        # the key is gone altogether: the next key follows
        for v in (ids[1], ids[0], "null"):
            assert (await store.delete_version("b", "k", v)).existed
        page = await store.list_object_versions(
            "b", prefix="", delimiter="", key_marker="k", version_id_marker=ids[1], max_keys=10
        )
        assert [(v.key, v.version_id) for v in page.versions] == [("m", after)]
        await store.close()

    run(go())


def test_object_lock_is_enforced_in_the_delete_transaction(
    tmp_path: Path, backend: OpenStore
) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.set_bucket_versioning("b", "Enabled")
        until = "2999-01-01T00:00:00.00Z"
        v1 = await store.put_object(obj("k", chunk(1)))
        assert v1 is not None
        assert await store.set_object_lock("b", "k", v1, {"mode": "COMPLIANCE", "until": until})
        got = await store.get_object_version("b", "k", v1)
        assert got is not None and got.lock == {"mode": "COMPLIANCE", "until": until}
        for bypass in (False, True):
            with pytest.raises(errors.AccessDenied):
                await store.delete_version("b", "k", v1, bypass_governance=bypass)
        v2 = await store.put_object(obj("k", chunk(2)))
        assert await store.set_object_lock("b", "k", None, {"mode": "GOVERNANCE", "until": until})
        with pytest.raises(errors.AccessDenied):
            await store.delete_version("b", "k", v2)
        assert (await store.delete_version("b", "k", v2, bypass_governance=True)).existed
        # a legal hold stops even the bypass; a past date stops nothing
        v3 = await store.put_object(obj("k", chunk(3)))
        assert v3 is not None
        await store.set_object_lock("b", "k", v3, {"legal_hold": "ON"})
        with pytest.raises(errors.AccessDenied):
            await store.delete_version("b", "k", v3, bypass_governance=True)
        past = {"mode": "COMPLIANCE", "until": "2001-01-01T00:00:00Z", "legal_hold": "OFF"}
        await store.set_object_lock("b", "k", v3, past)
        assert (await store.delete_version("b", "k", v3)).existed
        assert (await store.get_object_version("b", "k", v1)) is not None
        assert not await store.set_object_lock("b", "absent", None, {"legal_hold": "ON"})
        await store.close()

    run(go())


def test_identity_documents(tmp_path: Path, backend: OpenStore) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        assert await store.iam_get("user", "alice") is None
        await store.iam_put("user", "alice", {"groups": [], "policies": ["p"]})
        await store.iam_put("user", "bob", {"groups": ["g"], "policies": []})
        await store.iam_put("key", "NFKEY", {"secret": "s", "user": "alice", "status": "Active"})
        assert await store.iam_get("user", "alice") == {"groups": [], "policies": ["p"]}
        await store.iam_put("user", "alice", {"groups": ["g"], "policies": []})
        assert (await store.iam_get("user", "alice")) == {"groups": ["g"], "policies": []}
        assert list(await store.iam_list("user")) == ["alice", "bob"]
        assert list(await store.iam_list("key")) == ["NFKEY"]
        await store.iam_put("user", "alice", None)
        assert list(await store.iam_list("user")) == ["bob"]
        assert await store.iam_get("user", "alice") is None
        await store.close()

    run(go())


def test_inline_chunks_keep_their_bytes_and_never_reach_gc(
    tmp_path: Path, backend: OpenStore
) -> None:
    """A small object's bytes live in its chunk row: read back with the object (and a part),
    never walked by repair/scrub, and gone with the row instead of queued for GC."""

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        small = ChunkRecord.inline(f"{7:032x}", b"\x00tiny\xffbytes")
        await store.put_object(obj("small", small))
        got = await store.get_object("b", "small")
        assert got is not None and got.chunks == (small,)
        assert got.chunks[0].inline_payload() == b"\x00tiny\xffbytes"
        version = await store.get_object_version("b", "small", None)
        assert version is not None and version.chunks == (small,)
        assert await store.list_chunks("", 100) == []  # nothing for the walkers
        await store.put_object(obj("small", chunk(1)))  # overwritten: not queued
        await store.delete_object("b", "small")
        assert [i.chunk for i in await store.gc_pending(time.time() + 1, 10)] == [chunk(1)]
        await store.gc_queue_chunks([small])  # an orphaned inline chunk: nothing to delete
        assert len(await store.gc_pending(time.time() + 1, 10)) == 1
        # a small part keeps its bytes through CompleteMultipartUpload
        upload = Upload("u-inline", "b", "mp", time.time(), "root")
        await store.create_upload(upload)
        part_chunk = ChunkRecord.inline(f"{8:032x}", b"part bytes")
        await store.put_part(Part("u-inline", 1, 10, "p" * 32, time.time(), {}, (part_chunk,)))
        parts = await store.list_parts("u-inline", after=0, max_parts=10)
        assert parts[0].chunks == (part_chunk,)
        await store.complete_upload(upload, obj("mp"), [1])
        got = await store.get_object("b", "mp")
        assert got is not None and got.chunks == (part_chunk,)
        await store.close()

    run(go())


def test_sqlite_group_commit_isolates_a_failing_call(tmp_path: Path) -> None:
    """Calls committed together: one that raises is rolled back alone and gets its own error;
    the others are committed and durable (seen by a second connection, after a reopen)."""

    async def go() -> None:
        store = await SqliteMetaStore.open(tmp_path / "g.db")
        await store.create_bucket(Bucket("b", time.time(), "root"))
        results = await asyncio.gather(
            *(store.put_object(obj(f"k{i}", chunk(i))) for i in range(30)),
            store.put_object(obj("x", chunk(99), bucket="missing")),
            store.create_bucket(Bucket("b", time.time(), "root")),
            *(store.put_object(obj(f"m{i}", chunk(100 + i))) for i in range(30)),
            return_exceptions=True,
        )
        assert isinstance(results[30], errors.NoSuchBucket)
        assert isinstance(results[31], errors.BucketAlreadyOwnedByYou)
        assert not [r for i, r in enumerate(results) if i not in (30, 31) and r is not None]
        await store.close()
        again = await SqliteMetaStore.open(tmp_path / "g.db")
        page = await again.list_objects("b", prefix="", delimiter="", after="", max_keys=100)
        assert len(page.entries) == 60
        assert await again.chunks_known([chunk(99).chunk_id]) == set()
        await again.close()

    run(go())


def test_sqlite_bucket_cache_sees_another_process_change(tmp_path: Path) -> None:
    """Two stores on one file (as two server processes): a bucket record cached by one is
    replaced as soon as the other commits a change to it, and a deleted bucket is gone."""

    async def go() -> None:
        a = await SqliteMetaStore.open(tmp_path / "s.db")
        b = await SqliteMetaStore.open(tmp_path / "s.db")
        await a.create_bucket(Bucket("shared", time.time(), "root"))
        first = await b.get_bucket("shared")
        assert first is not None and first.policy == ""
        await a.set_bucket_policy("shared", '{"Version":"2012-10-17","Statement":[]}')
        changed = await b.get_bucket("shared")
        assert changed is not None and "Statement" in changed.policy
        await a.set_bucket_versioning("shared", "Enabled")
        versioned = await b.get_bucket("shared")
        assert versioned is not None and versioned.versioning == "Enabled"
        await a.delete_bucket("shared")
        assert await b.get_bucket("shared") is None
        assert await b.get_bucket("never") is None
        await a.create_bucket(Bucket("never", time.time(), "alice"))
        created = await b.get_bucket("never")
        assert created is not None and created.owner == "alice"
        await a.close()
        await b.close()

    run(go())


def test_sqlite_bucket_cache_sees_another_process_config_change(tmp_path: Path) -> None:
    """A configuration document put by one process is in the other's next get_bucket."""

    async def go() -> None:
        a = await SqliteMetaStore.open(tmp_path / "s.db")
        b = await SqliteMetaStore.open(tmp_path / "s.db")
        await a.create_bucket(Bucket("shared", time.time(), "root"))
        first = await b.get_bucket("shared")
        assert first is not None and first.configs == {}
        assert await b.get_bucket("shared") is first  # cached
        await a.put_bucket_config("shared", "cors", "<rules/>")
        changed = await b.get_bucket("shared")
        assert changed is not None and changed.configs == {"cors": "<rules/>"}
        await a.put_bucket_config("shared", "cors", None)
        removed = await b.get_bucket("shared")
        assert removed is not None and removed.configs == {}
        await a.close()
        await b.close()

    run(go())


def test_sqlite_point_read_waits_off_the_loop_when_the_database_is_locked(
    tmp_path: Path,
) -> None:
    """Point reads run on the loop with a busy timeout of 0; when another connection holds
    the database locked they are handed to the reader pool, whose connections wait for the lock:
    the loop keeps running meanwhile and the read returns the right row."""

    async def go() -> None:
        first = await SqliteMetaStore.open(tmp_path / "p.db")
        await first.create_bucket(Bucket("b", time.time(), "root"))
        await first.put_object(obj("k", chunk(1)))
        await first.close()
        # another process holds the whole database (exclusive locking mode, in a write)
        holder = sqlite3.connect(tmp_path / "p.db", isolation_level=None)
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("UPDATE objects SET etag = etag")
        store = SqliteMetaStore(tmp_path / "p.db")  # schema is there: no migration run
        read = asyncio.ensure_future(store.get_object("b", "k"))
        ticks = 0
        for _ in range(20):  # the loop is not blocked while the read waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert not read.done() and ticks == 20
        holder.execute("COMMIT")
        holder.close()
        got = await asyncio.wait_for(read, 10)
        assert got is not None and got.chunks == (chunk(1),)
        assert await store.get_object("b", "k") == got  # and back on the loop
        await store.close()

    run(go())


def test_multipart_checksum_fields_round_trip(tmp_path: Path, backend: OpenStore) -> None:
    """An upload keeps its checksum type; the object it completes keeps its parts' checksums
    (read back as written, in part order, by every backend)."""

    async def go() -> None:
        store = await open_store(backend, tmp_path)
        up = Upload(
            "u9",
            "b",
            "k",
            time.time(),
            "root",
            checksum_algorithm="crc32",
            checksum_type="FULL_OBJECT",
        )
        await store.create_upload(up)
        got_up = await store.get_upload("b", "k", "u9")
        assert got_up is not None
        assert (got_up.checksum_algorithm, got_up.checksum_type) == ("crc32", "FULL_OBJECT")
        listed = await store.list_uploads(
            "b", prefix="", key_marker="", upload_id_marker="", max_uploads=10
        )
        assert [u.checksum_type for u in listed] == ["FULL_OBJECT"]
        for n in (1, 2):
            await store.put_part(
                Part("u9", n, 100, f"{n:032x}", time.time(), {"crc32": f"AAAAA{n}=="}, (chunk(n),))
            )
        sums = ({"crc32": "AAAAA1=="}, {"crc32": "AAAAA2=="})
        done = ObjectVersion(
            "b",
            "k",
            200,
            "e" * 32 + "-2",
            time.time(),
            part_sizes=(100, 100),
            part_checksums=sums,
            checksums={"crc32": "AAAAAA==", "type": "FULL_OBJECT"},
        )
        await store.complete_upload(up, done, [1, 2])
        got = await store.get_object("b", "k")
        assert got is not None
        assert got.part_checksums == sums and got.part_sizes == (100, 100)
        assert got.checksums == {"crc32": "AAAAAA==", "type": "FULL_OBJECT"}
        # a single PUT has none
        await store.put_object(obj("single", chunk(5)))
        single = await store.get_object("b", "single")
        assert single is not None and single.part_checksums == ()


def test_delete_condition_is_checked_in_the_delete_transaction(
    tmp_path: Path, backend: OpenStore
) -> None:
    async def go() -> None:
        store = await open_store(backend, tmp_path)
        await store.put_object(obj("k", chunk(1)))
        with pytest.raises(errors.PreconditionFailed):
            await store.delete_version(
                "b", "k", None, condition=WriteCondition(if_match=("0" * 32,))
            )
        assert await store.get_object("b", "k") is not None  # nothing was deleted
        out = await store.delete_version(
            "b", "k", None, condition=WriteCondition(if_match=("e" * 32,))
        )
        assert out.existed and await store.get_object("b", "k") is None
        with pytest.raises(errors.NoSuchKey):
            await store.delete_version("b", "k", None, condition=WriteCondition(if_match=("*",)))
        await store.close()

    run(go())
