"""The PostgreSQL connection pool, with every failure of PostgreSQL itself (unreachable,
restarting, a dropped connection) raised as :class:`MetadataUnavailable`, a StorageError the API
answers with 503; query errors and domain errors pass unchanged."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from ninefold.core import errors

__all__ = ["Conn", "MetadataUnavailable", "Pool", "connection_lost"]

log = logging.getLogger("ninefold.meta")

Conn = Any  # asyncpg.Connection (or a pool proxy of one)


class MetadataUnavailable(errors.StorageError):
    """PostgreSQL is unreachable, restarting, or dropped the connection mid-call; the API
    answers 503. A write that raised this did not commit, except in one case, logged as
    "outcome unknown": its COMMIT lost the connection and PostgreSQL then stayed unreachable
    for ``commit_outcome_timeout_s`` (see ``PostgresMetaStore._write``)."""


#: failures of PostgreSQL itself rather than of a query; nothing a retry later cannot fix
_UNAVAILABLE = (
    OSError,  # connection refused or reset, connect timeout (TimeoutError is an OSError)
    asyncpg.exceptions.PostgresConnectionError,  # 08xxx: connection lost, rejected, failed
    asyncpg.exceptions.OperatorInterventionError,  # 57xxx: shutting down, starting up, crashed
    asyncpg.exceptions.InsufficientResourcesError,  # 53xxx: too many connections, disk full
    # a connection killed between two messages leaves its protocol mid-operation ("cannot
    # switch to state ..."): seen on COMMIT when the server was shut down (fast mode)
    asyncpg.exceptions.InternalClientError,
)


def connection_lost(exc: BaseException, conn: Conn | None = None) -> bool:
    if isinstance(exc, _UNAVAILABLE):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):  # "connection is closed", or a bug
        return "closed" in str(exc) or (conn is not None and conn.is_closed())
    return False


class Pool:
    """The asyncpg pool, with every failure of PostgreSQL itself raised as MetadataUnavailable
    (query errors and S3 errors pass unchanged). A connection the server closed is replaced by
    asyncpg on its next acquire, so the store recovers by itself once PostgreSQL is back."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.raw = pool

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Conn]:
        try:
            conn = await self.raw.acquire()
        except Exception as exc:
            if connection_lost(exc):
                raise MetadataUnavailable(f"metadata store unavailable: {exc!r}") from exc
            raise
        try:
            yield conn
        except Exception as exc:
            if connection_lost(exc, conn):
                raise MetadataUnavailable(f"metadata store unavailable: {exc!r}") from exc
            raise
        finally:
            # Release resets the connection and terminates it if that fails (server gone).
            # Whatever the body did stands: a COMMIT that went through must not turn into an
            # error here, or the caller would discard a committed write's chunks.
            try:
                await self.raw.release(conn)
            except Exception as exc:
                log.info("connection dropped on release: %r", exc)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        async with self.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.acquire() as conn:
            return str(await conn.execute(query, *args))

    async def executemany(self, query: str, args: Sequence[Sequence[Any]]) -> None:
        async with self.acquire() as conn:
            await conn.executemany(query, args)

    async def close(self) -> None:
        await self.raw.close()
