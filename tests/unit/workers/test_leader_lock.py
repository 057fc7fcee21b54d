"""Leader election: file locks and PostgreSQL advisory locks (a real server), and the runner
that only works while it leads."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import asyncpg

from ninefold.workers.base import FileLeaderLock, PgAdvisoryLeaderLock, run_forever

PG_DSN = os.environ.get("NINEFOLD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def lock_name() -> str:
    return f"test-{secrets.token_hex(6)}"


def test_file_lock_has_one_holder(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = FileLeaderLock(tmp_path / "gc.lock"), FileLeaderLock(tmp_path / "gc.lock")
        assert await a.try_acquire() is True
        assert await a.try_acquire() is True  # still held: re-checking is cheap and idempotent
        assert await b.try_acquire() is False
        await a.release()
        assert await b.try_acquire() is True
        assert await a.try_acquire() is False
        await b.release()
        await b.release()  # twice is harmless

    asyncio.run(go())


def test_pg_lock_has_one_holder_until_its_connection_closes() -> None:
    async def go() -> None:
        name = lock_name()
        a, b = PgAdvisoryLeaderLock(PG_DSN, name), PgAdvisoryLeaderLock(PG_DSN, name)
        other = PgAdvisoryLeaderLock(PG_DSN, lock_name())
        try:
            assert await a.try_acquire() is True
            assert await a.try_acquire() is True
            assert await b.try_acquire() is False
            assert await b.try_acquire() is False
            assert await other.try_acquire() is True  # another job name: its own lock
            await a.release()  # closes a's connection
            assert await b.try_acquire() is True
            assert await a.try_acquire() is False
        finally:
            for lock in (a, b, other):
                await lock.release()

    asyncio.run(go())


def test_pg_lock_passes_on_when_the_holder_session_dies() -> None:
    """A holder whose connection is cut (crash, network, PostgreSQL restart) loses the lock;
    the next contender wins it, and the old holder notices at its next check."""

    async def go() -> None:
        name = lock_name()
        a, b = PgAdvisoryLeaderLock(PG_DSN, name), PgAdvisoryLeaderLock(PG_DSN, name)
        admin = await asyncpg.connect(PG_DSN)
        try:
            assert await a.try_acquire() is True
            assert await b.try_acquire() is False
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = $1",
                f"ninefold leader {name}",
            )
            assert killed == 1
            for _ in range(50):  # the server drops the session's locks as the backend exits
                if await b.try_acquire():
                    break
                await asyncio.sleep(0.1)
            assert await b.try_acquire() is True
            assert await a.try_acquire() is False  # its connection is gone, and b leads
        finally:
            await a.release()
            await b.release()
            await admin.close()

    asyncio.run(go())


class Counter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.rounds = 0

    async def run_once(self) -> int:
        self.rounds += 1
        return 0


def test_only_the_leader_runs_and_a_successor_takes_over() -> None:
    async def go() -> None:
        name = lock_name()
        first, second = Counter("first"), Counter("second")
        t1 = asyncio.create_task(run_forever(first, PgAdvisoryLeaderLock(PG_DSN, name), 0.05))
        await asyncio.sleep(0.3)  # first wins the lock before second starts
        t2 = asyncio.create_task(run_forever(second, PgAdvisoryLeaderLock(PG_DSN, name), 0.05))
        await asyncio.sleep(0.5)
        assert first.rounds > 3 and second.rounds == 0
        t1.cancel()  # the runner gives the lock back as it stops
        await asyncio.gather(t1, return_exceptions=True)
        stopped_at = first.rounds
        await asyncio.sleep(0.5)
        assert second.rounds > 3 and first.rounds == stopped_at
        t2.cancel()
        await asyncio.gather(t2, return_exceptions=True)

    asyncio.run(go())
