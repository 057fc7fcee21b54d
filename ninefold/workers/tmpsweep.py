"""Temp-file sweep: removes what writers killed mid-write left in the drives' ``tmp`` dirs.

A fragment is written to a temp file and renamed into place at commit; a process killed before
that (kill -9, OOM, power loss) leaves the temp file for ever. This job asks every local drive
store to remove its temp files not written to for ``tmp_max_age_s``. Age is the file's mtime,
which every block written moves, so a write in progress is never swept unless it stalled that
long; it then fails at commit, acknowledged data is never touched. It runs where drive
directories are local: the embedded server, ``ninefold worker --data-dir`` and the node daemon
(each also sweeps once when it opens its drives).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from ninefold.core.errors import StorageError
from ninefold.workers.settings import OrphanSettings

__all__ = ["TempSweeper", "TmpSweepable"]

log = logging.getLogger("ninefold.tmpsweep")


class _Swept(Protocol):
    @property
    def files(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...


class TmpSweepable(Protocol):
    """A store with a local temp directory (``node.disk.DiskFragmentStore``)."""

    @property
    def store_id(self) -> str: ...

    async def sweep_tmp(self, max_age_s: float) -> _Swept: ...


class TempSweeper:
    name = "tmpsweep"

    def __init__(self, stores: Sequence[TmpSweepable], settings: OrphanSettings) -> None:
        self.stores = list(stores)
        self.max_age_s = settings.tmp_max_age_s

    async def run_once(self) -> int:
        files = size = 0
        for store in self.stores:
            try:
                swept = await store.sweep_tmp(self.max_age_s)
            except (StorageError, OSError) as exc:  # a vanished drive: the health job reports it
                log.warning("tmpsweep: %s: %s", store.store_id, exc)
                continue
            files += swept.files
            size += swept.size_bytes
        if files:
            log.info("tmpsweep: removed %d stale temp files (%d bytes)", files, size)
        return files
