"""SQLite: bucket records, their configuration documents, policy and versioning state.

Every change here is a ``bucket_change``: it bumps the shared generation after its COMMIT, so
every process drops the bucket records it cached (``get_bucket`` reads record and documents in
one point read)."""

from __future__ import annotations

import sqlite3

from ninefold.meta import rules
from ninefold.meta.models import Bucket
from ninefold.meta.rows import BUCKET_COLS, bucket_from_row
from ninefold.meta.sqlite import tx
from ninefold.meta.sqlite.writer import SqliteEngine

__all__ = ["SqliteBuckets"]


class SqliteBuckets(SqliteEngine):
    async def create_bucket(self, bucket: Bucket) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT owner FROM buckets WHERE name = ?", (bucket.name,)
            ).fetchone()
            rules.check_create_bucket(bucket, None if row is None else str(row[0]))
            conn.execute(
                "INSERT INTO buckets (name, created_at, owner, region, versioning, object_lock, "
                "policy) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    bucket.name,
                    bucket.created_at,
                    bucket.owner,
                    bucket.region,
                    bucket.versioning,
                    int(bucket.object_lock),
                    bucket.policy,
                ),
            )
            conn.executemany(
                "INSERT INTO bucket_config (bucket, name, value) VALUES (?, ?, ?)",
                [(bucket.name, name, value) for name, value in bucket.configs.items()],
            )

        await self._write(fn, bucket_change=True)

    async def get_bucket(self, name: str) -> Bucket | None:
        gen = self._bucket_gen()
        cached = self._buckets.get(name)
        if cached is not None and cached[0] == gen:
            return cached[1]

        def fn(conn: sqlite3.Connection) -> Bucket | None:
            row = conn.execute(
                f"SELECT {BUCKET_COLS} FROM buckets WHERE name = ?",
                (name,),
            ).fetchone()
            if row is None:
                return None
            configs = conn.execute(
                "SELECT name, value FROM bucket_config WHERE bucket = ?", (name,)
            ).fetchall()
            return bucket_from_row(row, dict(configs))

        bucket = await self._point_read(fn)
        if len(self._buckets) > 10_000:
            self._buckets.clear()
        self._buckets[name] = (gen, bucket)
        return bucket

    async def list_buckets(self) -> list[Bucket]:
        def fn(conn: sqlite3.Connection) -> list[Bucket]:
            rows = conn.execute(f"SELECT {BUCKET_COLS} FROM buckets ORDER BY name").fetchall()
            return [bucket_from_row(r) for r in rows]

        return await self._read(fn)

    async def delete_bucket(self, name: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            exists = conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone()
            has_objects = (
                exists
                and conn.execute(
                    "SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)
                ).fetchone()
            )
            rules.check_delete_bucket(name, exists is not None, bool(has_objects))
            at = tx.now()
            for (upload_id,) in conn.execute(
                "SELECT upload_id FROM uploads WHERE bucket = ?", (name,)
            ).fetchall():
                tx.drop_upload(conn, upload_id, at)
            conn.execute("DELETE FROM bucket_config WHERE bucket = ?", (name,))
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))

        await self._write(fn, bucket_change=True)

    async def get_bucket_config(self, bucket: str, name: str) -> str | None:
        def fn(conn: sqlite3.Connection) -> str | None:
            tx.require_bucket(conn, bucket)
            row = conn.execute(
                "SELECT value FROM bucket_config WHERE bucket = ? AND name = ?", (bucket, name)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._point_read(fn)

    async def put_bucket_config(self, bucket: str, name: str, value: str | None) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            tx.require_bucket(conn, bucket)
            if value is None:
                conn.execute(
                    "DELETE FROM bucket_config WHERE bucket = ? AND name = ?", (bucket, name)
                )
            else:
                conn.execute(
                    "INSERT INTO bucket_config (bucket, name, value) VALUES (?, ?, ?) "
                    "ON CONFLICT (bucket, name) DO UPDATE SET value = excluded.value",
                    (bucket, name, value),
                )

        await self._write(fn, bucket_change=True)  # the documents are part of the record

    async def set_bucket_policy(self, bucket: str, policy: str | None) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            tx.require_bucket(conn, bucket)
            conn.execute("UPDATE buckets SET policy = ? WHERE name = ?", (policy or "", bucket))

        await self._write(fn, bucket_change=True)

    async def set_bucket_versioning(self, bucket: str, status: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            tx.require_bucket(conn, bucket)
            (locked,) = conn.execute(
                "SELECT object_lock FROM buckets WHERE name = ?", (bucket,)
            ).fetchone()
            rules.check_versioning_change(bool(locked), status)
            conn.execute("UPDATE buckets SET versioning = ? WHERE name = ?", (status, bucket))

        await self._write(fn, bucket_change=True)

    async def enable_object_lock(self, bucket: str) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            tx.require_bucket(conn, bucket)
            (versioning,) = conn.execute(
                "SELECT versioning FROM buckets WHERE name = ?", (bucket,)
            ).fetchone()
            rules.check_enable_lock(versioning)
            conn.execute("UPDATE buckets SET object_lock = 1 WHERE name = ?", (bucket,))

        await self._write(fn, bucket_change=True)
