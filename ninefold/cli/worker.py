"""``ninefold worker``: the cluster's background jobs, each run by one elected leader.

Jobs: the health monitor (heartbeats every node, marks silent ones down), garbage collection
(deletes the fragments of replaced and deleted versions from the nodes), repair (rebuilds
missing fragments of queued chunks and of nodes lost for ``lost_after_s``) and the scrubber
(verifies every fragment's checksums, queues bad chunks for repair), orphan collection
(fragments of crashed writes) and rebalance (moves fragments to where placement puts them
now: onto added nodes, off draining ones). Run as many worker
processes as you like: each job runs in exactly one of them at a time, the holder of its leader
lock (a PostgreSQL advisory lock per job with ``postgresql://`` metadata, a file lock next to
the SQLite file otherwise); when the leader dies, another takes over within a round. The
cluster map is re-read when its version changes, so GC reaches the nodes the map has now.
``--once`` runs every job one round (when no other worker leads it) and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from ninefold.cli.wiring import follow_map, open_meta, stores_from_map
from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.domain.objects import ObjectService
from ninefold.workers.base import (
    FileLeaderLock,
    LeaderLock,
    PgAdvisoryLeaderLock,
    Worker,
    run_forever,
)
from ninefold.workers.gc import GcWorker
from ninefold.workers.health import HealthMonitor
from ninefold.workers.orphans import OrphanCollector
from ninefold.workers.rebalance import Rebalancer
from ninefold.workers.repair import RepairWorker
from ninefold.workers.scrub import Scrubber

__all__ = ["WorkerConfig", "leader_lock", "run_worker"]

log = logging.getLogger("ninefold.worker")


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    meta_dsn: str
    cluster_secret: bytes
    #: the health monitor probes every node this often; silent this long means down
    health_interval_s: float = 1.0
    down_after_s: float = 3.0
    probe_timeout_s: float = 1.0
    gc_interval_s: float = 10.0
    #: fragments of replaced or deleted versions stay this long (GETs in flight finish)
    gc_grace_s: float = 30.0
    repair_interval_s: float = 2.0
    #: a node down this long counts as lost: its fragments are rebuilt elsewhere
    lost_after_s: float = 300.0
    repair_max_bytes_per_s: float | None = None
    scrub_interval_s: float = 10.0
    #: unreferenced fragments (crashed writes) are deleted this long after first seen
    orphan_grace_s: float = 3600.0
    orphan_interval_s: float = 60.0
    rebalance_interval_s: float = 5.0
    rebalance_max_bytes_per_s: float | None = None
    scrub_max_bytes_per_s: float | None = None
    map_refresh_s: float = 2.0


def leader_lock(meta_dsn: str, job: str) -> LeaderLock:
    """The lock that elects the one worker running ``job`` over this metadata."""
    if meta_dsn.startswith(("postgresql://", "postgres://")):
        return PgAdvisoryLeaderLock(meta_dsn, f"ninefold.worker.{job}")
    path = Path(meta_dsn.removeprefix("sqlite://")).resolve()
    return FileLeaderLock(path.with_name(f"{path.name}.{job}.lock"))


async def _once(jobs: list[tuple[Worker, float]], config: WorkerConfig) -> int:
    failed = False
    for job, _interval in jobs:
        lock = leader_lock(config.meta_dsn, job.name)
        if not await lock.try_acquire():
            print(f"{job.name}: skipped, another worker leads it", flush=True)
            continue
        try:
            handled = await job.run_once()
            print(f"{job.name}: {handled} handled", flush=True)
        except Exception:
            log.exception("%s: round failed", job.name)
            failed = True
        finally:
            await lock.release()
    return 1 if failed else 0


async def _forever(
    jobs: list[tuple[Worker, float]],
    config: WorkerConfig,
    follower: asyncio.Task[None],
    version: int,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = [
        asyncio.create_task(run_forever(job, leader_lock(config.meta_dsn, job.name), interval))
        for job, interval in jobs
    ]
    print(
        f"Ninefold worker: jobs {', '.join(job.name for job, _ in jobs)}; cluster map "
        f"v{version}. Ctrl-C stops.",
        flush=True,
    )
    await stop.wait()
    log.info("stopping")
    for task in [*tasks, follower]:
        task.cancel()
    for task in [*tasks, follower]:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return 0


async def _main(config: WorkerConfig, once: bool) -> int:
    executor = ThreadPoolExecutor(4, thread_name_prefix="cpu")
    meta = await open_meta(config.meta_dsn)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=256),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=30),
    )
    try:
        cluster = await meta.get_cluster_map()
        chunkio = ChunkIO(stores_from_map(cluster, config.cluster_secret, session), executor)
        objects = ObjectService(
            meta, chunkio, CoordinatorSettings(gc_grace_s=config.gc_grace_s), executor
        )
        health = HealthMonitor(
            meta,
            session,
            config.cluster_secret,
            config.health_interval_s,
            config.down_after_s,
            probe_timeout_s=config.probe_timeout_s,
        )
        jobs: list[tuple[Worker, float]] = [
            (health, config.health_interval_s),
            (GcWorker(objects), config.gc_interval_s),
            (
                RepairWorker(
                    meta,
                    chunkio,
                    lost_after_s=config.lost_after_s,
                    max_bytes_per_s=config.repair_max_bytes_per_s,
                ),
                config.repair_interval_s,
            ),
            (
                Scrubber(meta, chunkio, max_bytes_per_s=config.scrub_max_bytes_per_s),
                config.scrub_interval_s,
            ),
            (
                OrphanCollector(meta, chunkio, grace_s=config.orphan_grace_s),
                config.orphan_interval_s,
            ),
            (
                Rebalancer(meta, chunkio, max_bytes_per_s=config.rebalance_max_bytes_per_s),
                config.rebalance_interval_s,
            ),
        ]
        if once:
            return await _once(jobs, config)
        follower = asyncio.create_task(
            follow_map(
                meta, chunkio, config.cluster_secret, session, cluster.version, config.map_refresh_s
            )
        )
        return await _forever(jobs, config, follower, cluster.version)
    finally:
        await session.close()
        await meta.close()
        executor.shutdown(wait=True)


def run_worker(config: WorkerConfig, *, once: bool = False) -> int:
    """Run the jobs until SIGINT/SIGTERM (or one round each with ``once``); an exit code."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    return asyncio.run(_main(config, once))
