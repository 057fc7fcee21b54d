"""PostgreSQL metadata backend (production layout), behind the same MetaStore protocol.

asyncpg with a connection pool; every mutating call is one transaction. Writers of the same key
are serialized by a transaction-scoped advisory lock on (bucket, key), the equivalent of
SQLite's single writer, so "replace the current version" never races; bucket rows are locked
``FOR SHARE`` by object writers and ``FOR UPDATE`` by DeleteBucket. Migrations run once, under
an advisory lock, recorded in ``schema_migrations``. Key columns use the "C" collation: index
order is byte order, which S3 listing requires.

Layout: ``pool`` (failures of PostgreSQL itself as MetadataUnavailable), ``engine`` (write
transactions whose outcome is never guessed, migrations), ``tx`` (statements that carry out the
plans of ``ninefold.meta.rules``), and one module per responsibility: ``buckets``, ``objects``,
``uploads``, ``queues`` (GC, repair, chunk placement), ``cluster`` (map, job status), ``iam``.
"""

from __future__ import annotations

import asyncpg

from ninefold.meta.postgres.buckets import PostgresBuckets
from ninefold.meta.postgres.cluster import PostgresCluster
from ninefold.meta.postgres.iam import PostgresIam
from ninefold.meta.postgres.objects import PostgresObjects
from ninefold.meta.postgres.pool import MetadataUnavailable
from ninefold.meta.postgres.queues import PostgresQueues
from ninefold.meta.postgres.uploads import PostgresUploads

__all__ = ["MetadataUnavailable", "PostgresMetaStore"]


class PostgresMetaStore(
    PostgresBuckets, PostgresObjects, PostgresUploads, PostgresQueues, PostgresCluster, PostgresIam
):
    """MetaStore over PostgreSQL (see the package docstring)."""

    @classmethod
    async def open(
        cls, dsn: str, *, schema: str | None = None, min_size: int = 2, max_size: int = 10
    ) -> PostgresMetaStore:
        """Connect, create ``schema`` if given (tests use one per run), and migrate."""
        settings = {"search_path": schema} if schema else None
        if schema:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, server_settings=settings
        )
        store = cls(pool)
        await store._migrate()
        return store
