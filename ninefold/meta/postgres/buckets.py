"""PostgreSQL: bucket records, their configuration documents, policy and versioning state.

``get_bucket`` is one query: the record with its documents aggregated into one JSON object.
DeleteBucket locks the bucket row FOR UPDATE; object writers hold it FOR SHARE, so no object
lands in a bucket being deleted."""

from __future__ import annotations

import json
import time

from ninefold.core import errors
from ninefold.meta import rules
from ninefold.meta.models import Bucket
from ninefold.meta.postgres import tx
from ninefold.meta.postgres.engine import PostgresEngine
from ninefold.meta.rows import BUCKET_COLS, bucket_from_row

__all__ = ["PostgresBuckets"]

#: a bucket record with its configuration documents, in one query
_GET_BUCKET = (
    f"SELECT {BUCKET_COLS}, (SELECT coalesce(json_object_agg(c.name, c.value), '{{}}')::text "
    "FROM bucket_config c WHERE c.bucket = b.name) AS configs FROM buckets b WHERE b.name = $1"
)


class PostgresBuckets(PostgresEngine):
    async def create_bucket(self, bucket: Bucket) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            owner = await conn.fetchval("SELECT owner FROM buckets WHERE name = $1", bucket.name)
            rules.check_create_bucket(bucket, owner)
            inserted = await conn.execute(
                f"INSERT INTO buckets ({BUCKET_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (name) DO NOTHING",
                bucket.name,
                bucket.created_at,
                bucket.owner,
                bucket.region,
                bucket.versioning,
                bucket.object_lock,
                bucket.policy,
            )
            if inserted.endswith(" 0"):  # a concurrent create won
                raise errors.BucketAlreadyExists(BucketName=bucket.name)
            if bucket.configs:
                await conn.executemany(
                    "INSERT INTO bucket_config (bucket, name, value) VALUES ($1, $2, $3)",
                    [(bucket.name, name, value) for name, value in bucket.configs.items()],
                )

    async def get_bucket(self, name: str) -> Bucket | None:
        row = await self._pool.fetchrow(_GET_BUCKET, name)
        return None if row is None else bucket_from_row(tuple(row), json.loads(row["configs"]))

    async def list_buckets(self) -> list[Bucket]:
        rows = await self._pool.fetch(f"SELECT {BUCKET_COLS} FROM buckets ORDER BY name")
        return [bucket_from_row(tuple(r)) for r in rows]

    async def delete_bucket(self, name: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await tx.require_bucket(conn, name, exclusive=True)
            has_objects = await conn.fetchval(
                "SELECT 1 FROM objects WHERE bucket = $1 LIMIT 1", name
            )
            rules.check_delete_bucket(name, True, has_objects is not None)
            at = time.time()
            for record in await conn.fetch("SELECT upload_id FROM uploads WHERE bucket = $1", name):
                await tx.drop_upload(conn, record["upload_id"], at)
            await conn.execute("DELETE FROM bucket_config WHERE bucket = $1", name)
            await conn.execute("DELETE FROM buckets WHERE name = $1", name)

    async def get_bucket_config(self, bucket: str, name: str) -> str | None:
        async with self._pool.acquire() as conn:
            await tx.require_bucket(conn, bucket)
            value = await conn.fetchval(
                "SELECT value FROM bucket_config WHERE bucket = $1 AND name = $2", bucket, name
            )
        return None if value is None else str(value)

    async def put_bucket_config(self, bucket: str, name: str, value: str | None) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await tx.require_bucket(conn, bucket)
            if value is None:
                await conn.execute(
                    "DELETE FROM bucket_config WHERE bucket = $1 AND name = $2", bucket, name
                )
            else:
                await conn.execute(
                    "INSERT INTO bucket_config (bucket, name, value) VALUES ($1, $2, $3) "
                    "ON CONFLICT (bucket, name) DO UPDATE SET value = excluded.value",
                    bucket,
                    name,
                    value,
                )

    async def set_bucket_policy(self, bucket: str, policy: str | None) -> None:
        result = await self._pool.execute(
            "UPDATE buckets SET policy = $1 WHERE name = $2", policy or "", bucket
        )
        if result != "UPDATE 1":
            raise errors.NoSuchBucket(BucketName=bucket)

    async def set_bucket_versioning(self, bucket: str, status: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchval(
                "SELECT object_lock FROM buckets WHERE name = $1 FOR UPDATE", bucket
            )
            if locked is None:
                raise errors.NoSuchBucket(BucketName=bucket)
            rules.check_versioning_change(bool(locked), status)
            await conn.execute("UPDATE buckets SET versioning = $1 WHERE name = $2", status, bucket)

    async def enable_object_lock(self, bucket: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            versioning = await conn.fetchval(
                "SELECT versioning FROM buckets WHERE name = $1 FOR UPDATE", bucket
            )
            if versioning is None:
                raise errors.NoSuchBucket(BucketName=bucket)
            rules.check_enable_lock(versioning)
            await conn.execute("UPDATE buckets SET object_lock = true WHERE name = $1", bucket)
