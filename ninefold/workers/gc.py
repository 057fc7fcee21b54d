"""Garbage collection: removes fragments of deleted or replaced versions after a grace period.

A delete answers at once (the metadata transaction queues the chunks); this worker does the slow
part later, so a GET that started on the old version still finds its fragments.
"""

from __future__ import annotations

from ninefold.domain.objects import ObjectService
from ninefold.workers.settings import GcSettings

__all__ = ["GcWorker"]


class GcWorker:
    name = "gc"

    def __init__(self, objects: ObjectService, settings: GcSettings) -> None:
        self._objects = objects
        self._batch = settings.batch
        self._max_batches = settings.max_batches

    async def run_once(self) -> int:
        total = 0
        for _ in range(self._max_batches):
            done = await self._objects.collect_garbage(limit=self._batch)
            total += done
            if done < self._batch:
                break
        return total
