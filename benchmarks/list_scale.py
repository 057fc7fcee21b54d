"""LIST page time at scale, on both metadata backends: 10,000 vs 1,000,000 objects.

    .venv/bin/python benchmarks/list_scale.py [--sizes 10000,1000000] [--repeat 15]

For each backend (SQLite in a temp dir; PostgreSQL in a database created for the run and dropped
after) and each bucket size, bulk-loads N object rows (setup goes straight to SQL: COPY for
PostgreSQL, one executemany transaction for SQLite; the measured calls all go through the
MetaStore), then times ``list_objects`` pages of 1,000 through the MetaStore:

* ``flat``: no delimiter, from the start and from a marker in the middle;
* ``delimiter``: delimiter "/" at the root, where every key rolls up into 1,000 prefixes (the
  page must seek past whole prefixes, not walk their keys);
* ``prefix+delimiter``: prefix "d0500/" with delimiter "/".

Keys look like ``d0042/s3/o00123456``: 1,000 top-level prefixes, 10 sub-prefixes each.
Prints one JSON line per measurement and a markdown table (medians, ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ninefold.meta.models import Bucket  # noqa: E402
from ninefold.meta.postgres import PostgresMetaStore  # noqa: E402
from ninefold.meta.sqlite import SqliteMetaStore  # noqa: E402
from ninefold.meta.store import MetaStore  # noqa: E402

PG_ADMIN_DSN = os.environ.get(
    "NINEFOLD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
COLUMNS = (
    "bucket",
    "key",
    "version_id",
    "is_latest",
    "is_delete_marker",
    "size",
    "etag",
    "last_modified",
    "content_type",
    "checksums",
)


def key_of(i: int, n: int) -> str:
    per_top = max(1, n // 1000)
    return f"d{i // per_top:04d}/s{i % 10}/o{i:08d}"


def rows(n: int, latest: object, marker: object) -> list[tuple[object, ...]]:
    now = time.time()
    return [
        (
            "b",
            key_of(i, n),
            "null",
            latest,
            marker,
            4096,
            "e" * 32,
            now,
            "binary/octet-stream",
            '{"crc64nvme": "AAAAAAAAAAA=", "type": "FULL_OBJECT"}',
        )
        for i in range(n)
    ]


async def load_sqlite(tmp: Path, n: int) -> MetaStore:
    path = tmp / f"list-{n}.db"
    store = await SqliteMetaStore.open(path)
    await store.create_bucket(Bucket("b", time.time(), "root"))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            f"INSERT INTO objects ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
            rows(n, 1, 0),
        )
    conn.execute("ANALYZE")
    conn.close()
    return store


async def load_postgres(dsn: str, n: int) -> MetaStore:
    schema = f"list_{n}_{secrets.token_hex(3)}"
    store = await PostgresMetaStore.open(dsn, schema=schema)
    await store.create_bucket(Bucket("b", time.time(), "root"))
    conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
    try:
        await conn.copy_records_to_table("objects", records=rows(n, True, False), columns=COLUMNS)
        await conn.execute("ANALYZE objects")
    finally:
        await conn.close()
    return store


async def time_page(store: MetaStore, repeat: int, **kwargs: object) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        page = await store.list_objects("b", **kwargs)  # type: ignore[arg-type]
        times.append((time.perf_counter() - t0) * 1000)
        count = len(page.entries) + len(page.common_prefixes)
    return statistics.median(times), count


async def measure(
    backend: str, open_store: Callable[[int], Awaitable[MetaStore]], sizes: list[int], repeat: int
) -> list[dict[str, object]]:
    out = []
    for n in sizes:
        t0 = time.perf_counter()
        store = await open_store(n)
        load_s = time.perf_counter() - t0
        cases = {
            "flat, from start": dict(prefix="", delimiter="", after=""),
            "flat, from the middle": dict(prefix="", delimiter="", after=key_of(n // 2, n)),
            "delimiter / at root": dict(prefix="", delimiter="/", after=""),
            "prefix d0500/ + delimiter /": dict(prefix="d0500/", delimiter="/", after=""),
        }
        for case, kwargs in cases.items():
            ms, count = await time_page(store, repeat, max_keys=1000, **kwargs)
            row = {
                "backend": backend,
                "objects": n,
                "case": case,
                "page_ms": round(ms, 2),
                "items": count,
                "load_s": round(load_s, 1),
            }
            print(json.dumps(row), flush=True)
            out.append(row)
        await store.close()
    return out


async def main_async(sizes: list[int], repeat: int) -> list[dict[str, object]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="nf-list-") as tmp:
        results += await measure("sqlite", lambda n: load_sqlite(Path(tmp), n), sizes, repeat)
    name = f"nf_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
        results += await measure("postgres", lambda n: load_postgres(dsn, n), sizes, repeat)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return results


def table(results: list[dict[str, object]], sizes: list[int]) -> str:
    small, big = sizes[0], sizes[-1]
    lines = [
        f"| backend | case | page ms at {small:,} | page ms at {big:,} | ratio |",
        "|---|---|---|---|---|",
    ]
    for backend in ("sqlite", "postgres"):
        for case in dict.fromkeys(r["case"] for r in results):
            get = {
                r["objects"]: r["page_ms"]
                for r in results
                if r["backend"] == backend and r["case"] == case
            }
            a, b = float(get[small]), float(get[big])  # type: ignore[arg-type]
            lines.append(f"| {backend} | {case} | {a:.1f} | {b:.1f} | {b / a:.2f}x |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = asyncio.run(main_async(sizes, args.repeat))
    print(table(results, sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
