"""The PostgreSQL engine: the pool, write transactions whose outcome is never guessed, and
migrations (once, under an advisory lock, recorded in ``schema_migrations``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import asyncpg

from ninefold.meta.postgres.pool import Conn, MetadataUnavailable, Pool, connection_lost
from ninefold.meta.schema import POSTGRES_MIGRATIONS

__all__ = ["PostgresEngine"]

log = logging.getLogger("ninefold.meta")

_MIGRATION_LOCK = 0x4E494E45  # "NINE"


class PostgresEngine:
    """The plumbing under ``PostgresMetaStore``."""

    #: how long a write whose COMMIT lost its connection waits for PostgreSQL to tell whether
    #: it committed, before it is reported as failed with its outcome unknown
    commit_outcome_timeout_s: float = 15.0

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = Pool(pool)

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[Conn]:
        """One write transaction whose outcome is never guessed. A failure before COMMIT rolls
        back. If the connection is lost during COMMIT the transaction may or may not have
        committed: its id is looked up once PostgreSQL answers again, and only a committed
        one returns normally (the caller then acknowledges the write; otherwise it queues the
        new chunks for GC, which must never happen to a committed object's chunks)."""
        lost: BaseException | None = None
        async with self._pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            try:
                xid = await conn.fetchval("SELECT pg_current_xact_id()::text")
                yield conn
            except BaseException:
                if not conn.is_closed():
                    await tx.rollback()
                raise
            try:
                await tx.commit()
            except Exception as exc:
                if not connection_lost(exc, conn):
                    raise
                lost = exc
        if lost is not None:
            await self._commit_outcome(xid, lost)

    async def _commit_outcome(self, xid: str, lost: BaseException) -> None:
        """Return if transaction ``xid`` committed; raise MetadataUnavailable otherwise."""
        deadline = time.monotonic() + self.commit_outcome_timeout_s
        while True:
            try:
                status = await self._pool.fetchval("SELECT pg_xact_status($1::text::xid8)", xid)
            except MetadataUnavailable:
                status = "unreachable"
            if status == "committed":
                log.warning("transaction %s committed, though its COMMIT lost: %r", xid, lost)
                return
            if status == "aborted":
                raise MetadataUnavailable(f"transaction {xid} rolled back: {lost!r}") from lost
            if status is None or time.monotonic() > deadline:
                log.error(
                    "transaction %s: COMMIT lost (%r), outcome unknown (%s)", xid, lost, status
                )
                raise MetadataUnavailable(f"outcome of transaction {xid} unknown") from lost
            await asyncio.sleep(0.2)  # unreachable, or still "in progress" on a live backend

    async def _migrate(self) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"
            )
            done = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
            for number, script in enumerate(POSTGRES_MIGRATIONS[done:], start=done + 1):
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1)", number)

    async def close(self) -> None:
        await self._pool.close()
