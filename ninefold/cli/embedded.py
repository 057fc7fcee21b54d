"""The embedded server: composition root wiring metadata, stores, coordinator, API and workers.

One supervisor process forks ``workers`` server processes (spawned, so no thread or sqlite
handle crosses a fork). Each binds the same port with SO_REUSEPORT and owns its own event loop,
metadata connections and thread pool; they share the SQLite file and the drive directories.
The supervisor restarts a worker that dies and stops them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Event as MpEvent

from ninefold.api.app import S3App
from ninefold.api.auth import Credentials
from ninefold.api.s3.context import ApiSettings, Services
from ninefold.api.server import start_site, tls_context
from ninefold.cli.config import ServerConfig
from ninefold.cli.supervisor import run_server_process, supervise_processes
from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.domain.objects import ObjectService
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.node.disk import DiskFragmentStore
from ninefold.placement.rendezvous import StoreInfo
from ninefold.workers.base import FileLeaderLock, Worker, run_forever
from ninefold.workers.gc import GcWorker
from ninefold.workers.orphans import OrphanCollector
from ninefold.workers.repair import RepairWorker
from ninefold.workers.scrub import Scrubber

__all__ = ["prepare_data_dir", "supervise"]

log = logging.getLogger("ninefold.server")


async def prepare_data_dir(config: ServerConfig) -> None:
    """Create the drive directories and bring the metadata schema up to date (once, up front)."""
    for drive in config.drive_dirs():
        drive.mkdir(parents=True, exist_ok=True)
    meta = await SqliteMetaStore.open(config.data_dir / "meta.db")
    await meta.close()


async def _serve(config: ServerConfig, ready: MpEvent) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    executor = ThreadPoolExecutor(config.io_threads, thread_name_prefix="io")
    meta = await SqliteMetaStore.open(config.data_dir / "meta.db")
    drives = config.drive_dirs()
    stores = {d.name: DiskFragmentStore(d.name, d, executor) for d in drives}
    chunkio = ChunkIO(ClusterView(stores, [StoreInfo(d.name) for d in drives]), executor)
    objects = ObjectService(meta, chunkio, CoordinatorSettings(), executor)
    services = Services.build(objects, ApiSettings(region=config.region, domain=config.domain))
    root = Credentials(
        access_key=config.credentials.access_key,
        secret_key=config.credentials.secret_key,
        user="root",
        is_root=True,
    )
    app = S3App(services, lambda key: root if key == root.access_key else None)
    tls = (
        tls_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
    )
    runner = await start_site(app, config.host, config.port, tls)
    jobs: list[tuple[Worker, float]] = [
        (GcWorker(objects), config.gc_interval_s),
        (RepairWorker(meta, chunkio), config.repair_interval_s),
        (
            Scrubber(meta, chunkio, max_bytes_per_s=config.scrub_max_bytes_per_s),
            config.scrub_interval_s,
        ),
        (OrphanCollector(meta, chunkio), config.orphan_interval_s),
    ]
    background = [
        asyncio.create_task(
            run_forever(job, FileLeaderLock(config.data_dir / f"{job.name}.lock"), interval)
        )
        for job, interval in jobs
    ]
    ready.set()
    await stop.wait()
    for task in background:
        task.cancel()
    for task in background:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await runner.cleanup()
    await meta.close()
    executor.shutdown(wait=True)


def _worker_main(config: ServerConfig, ready: MpEvent) -> None:
    run_server_process(lambda: _serve(config, ready))


def supervise(config: ServerConfig, on_ready: Callable[[], None] | None) -> int:
    """Run ``config.workers`` server processes until SIGINT/SIGTERM; returns an exit code."""
    return supervise_processes(_worker_main, config, config.workers, on_ready)
