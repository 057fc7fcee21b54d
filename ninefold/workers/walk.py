"""A background job that walks every live chunk, a bounded batch per round.

The scrubber and the rebalancer share this shape: the next ``chunks_per_round`` chunks in
chunk-id order, ``concurrency`` of them at a time, throttled to ``max_bytes_per_s``; the cursor
and the job's counters live in the job status (``MetaStore.put_job_status``), so a restarted or
newly elected worker resumes where the last one stopped. When the walk reaches the end, a pass
is complete and the next round starts over.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from ninefold.coordinator.chunks import ChunkIO
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.store import MetaStore

__all__ = ["ChunkWalker"]


class ChunkWalker:
    name: str
    #: the job's counters, created at 0 in a fresh status
    counters: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        meta: MetaStore,
        io: ChunkIO,
        *,
        chunks_per_round: int,
        concurrency: int,
        max_bytes_per_s: float | None,
    ) -> None:
        self.meta = meta
        self.io = io
        self.chunks_per_round = chunks_per_round
        self.concurrency = concurrency
        self.max_bytes_per_s = max_bytes_per_s
        self._status: dict[str, Any] | None = None

    async def status(self) -> dict[str, Any]:
        if self._status is None:
            saved = (await self.meta.get_job_status()).get(self.name)
            self._status = dict(saved[0]) if saved else {}
            self._status.setdefault("cursor", "")
            self._status.setdefault("passes", 0)
            self._status.setdefault("pass_started_at", time.time())
            for name in self.counters:
                self._status.setdefault(name, 0)
        return self._status

    async def visit(self, record: ChunkRecord, status: dict[str, Any]) -> int:
        """Handle one chunk; returns the bytes it read or wrote (for the throttle)."""
        raise NotImplementedError

    async def end_round(self, status: dict[str, Any]) -> None:
        """After every chunk of a round was visited (e.g. queue what was found)."""

    def end_pass(self, status: dict[str, Any]) -> None:
        """When the walk reached the end, before the next pass starts."""

    async def run_once(self) -> int:
        status = await self.status()
        chunks = await self.meta.list_chunks(status["cursor"], self.chunks_per_round)
        if not chunks:
            self.end_pass(status)
            status.update(
                cursor="",
                passes=status["passes"] + 1,
                last_pass_s=round(time.time() - status["pass_started_at"], 3),
                pass_started_at=time.time(),
            )
            await self.meta.put_job_status(self.name, status)
            return 0
        limit = asyncio.Semaphore(self.concurrency)
        t0 = time.monotonic()

        async def one(record: ChunkRecord) -> None:
            async with limit:
                nbytes = await self.visit(record, status)
                if self.max_bytes_per_s and nbytes:
                    await asyncio.sleep(nbytes / self.max_bytes_per_s)

        await asyncio.gather(*(one(c) for c in chunks))
        await self.end_round(status)
        status["cursor"] = chunks[-1].chunk_id
        status["round_s"] = round(time.monotonic() - t0, 3)
        await self.meta.put_job_status(self.name, status)
        return len(chunks)
