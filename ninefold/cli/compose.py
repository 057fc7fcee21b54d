"""The composition root: builds every role's objects from one ``Config``.

The only module of ``ninefold.cli`` that imports the metadata backends, the fragment stores and
the node client; the rest of the CLI gets what it needs from here. Each role is assembled from
the same parts:

* *store part*: fragment stores, local drive directories (``local_drive_stores``, what a node
  serves and what the embedded server writes to) or the cluster map's nodes over HTTP
  (``stores_from_map``); ``ChunkIO`` over them;
* *gateway part*: the metadata store, ``ObjectService`` and the S3 app (``s3_app``);
* *worker part*: the background jobs (``background_jobs``): health, GC, repair, scrub,
  orphans and rebalance, each with its interval and the lock that elects who runs it, and the
  temp-file sweep wherever drive directories are local.

``ninefold server`` (``compose_embedded``) is store + gateway + worker parts in one process
(several processes share the port and elect one leader per job with file locks), with the
health job over its local drives (``DriveHealthMonitor``) where a cluster worker heartbeats
its nodes. ``compose_gateway``, ``compose_worker`` and ``compose_node`` build the separate
roles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from ninefold.api.app import S3App
from ninefold.api.auth import Credentials
from ninefold.api.s3.context import Services
from ninefold.cli.config import Config, ConfigError, RootCredentials
from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.core.errors import StorageError
from ninefold.domain.objects import ObjectService
from ninefold.meta.cache import CachedMetaStore, RedisCache
from ninefold.meta.models import ClusterMap, NodeRecord
from ninefold.meta.postgres import PostgresMetaStore
from ninefold.meta.sqlite import SqliteMetaStore
from ninefold.meta.store import MetaStore
from ninefold.node.app import NodeSettings, make_node_app
from ninefold.node.disk import DiskFragmentStore
from ninefold.nodeclient import RemoteFragmentStore
from ninefold.placement.rendezvous import StoreInfo
from ninefold.workers.base import (
    FileLeaderLock,
    LeaderLock,
    PgAdvisoryLeaderLock,
    Worker,
    run_forever,
)
from ninefold.workers.gc import GcWorker
from ninefold.workers.health import DriveHealthMonitor, HealthMonitor
from ninefold.workers.orphans import OrphanCollector
from ninefold.workers.rebalance import Rebalancer
from ninefold.workers.repair import RepairWorker
from ninefold.workers.scrub import Scrubber
from ninefold.workers.tmpsweep import TempSweeper

__all__ = [
    "ClusterMap",
    "Job",
    "MetaStore",
    "NodeRecord",
    "Role",
    "apply_drive_health",
    "apply_map",
    "background_jobs",
    "check_gateway",
    "check_worker",
    "compose_embedded",
    "compose_gateway",
    "compose_node",
    "compose_worker",
    "drive_dirs",
    "embedded_data_dir",
    "follow_map",
    "leader_lock",
    "local_drive_stores",
    "open_meta",
    "prepare_data_dir",
    "s3_app",
    "start_jobs",
    "stop_tasks",
    "stores_from_map",
    "sweep_tmp_at_open",
]

log = logging.getLogger("ninefold.map")

#: threads for hashing and erasure coding in a worker process
WORKER_CPU_THREADS = 4


# ---- metadata ---------------------------------------------------------------------------------


async def open_meta(dsn: str) -> MetaStore:
    """``postgresql://...`` opens PostgreSQL; anything else is a SQLite file path."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return await PostgresMetaStore.open(dsn)
    path = Path(dsn.removeprefix("sqlite://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return await SqliteMetaStore.open(path)


def leader_lock(meta_dsn: str, job: str) -> LeaderLock:
    """The lock that elects the one process running ``job`` over this metadata (a PostgreSQL
    advisory lock, or a file lock next to the SQLite file)."""
    if meta_dsn.startswith(("postgresql://", "postgres://")):
        return PgAdvisoryLeaderLock(meta_dsn, f"ninefold.worker.{job}")
    path = Path(meta_dsn.removeprefix("sqlite://")).resolve()
    return FileLeaderLock(path.with_name(f"{path.name}.{job}.lock"))


class _EveryProcess:
    """The "lock" of a job every process runs for itself (its result lives in the process)."""

    async def try_acquire(self) -> bool:
        return True

    async def release(self) -> None:
        return None


# ---- fragment stores --------------------------------------------------------------------------


def stores_from_map(
    cluster: ClusterMap, secret: bytes, session: aiohttp.ClientSession
) -> ClusterView:
    """The view of ``cluster``: one store per drive of every node in the map, placement infos
    and unreachable store ids. Nodes the health monitor marks down (or the operator sets down)
    are unreachable: no placement, no reads, and GC keeps their deletions for later. Draining
    nodes get weight 0, so placement puts nothing new on them while reads still reach them."""
    stores: dict[str, RemoteFragmentStore] = {}
    infos: list[StoreInfo] = []
    unreachable: set[str] = set()
    for node in cluster.nodes:
        down = node.state == "down" or node.health == "down"
        weight = node.weight if node.state == "up" else 0.0
        for drive in node.drives:
            store_id = f"{node.node_id}:{drive}"
            stores[store_id] = RemoteFragmentStore(store_id, node.url, drive, secret, session)
            if down:
                unreachable.add(store_id)
            else:
                infos.append(StoreInfo(store_id, zone=node.zone, weight=weight))
    return ClusterView(stores, infos, frozenset(unreachable), cluster.version)


def apply_map(
    chunkio: ChunkIO, cluster: ClusterMap, secret: bytes, session: aiohttp.ClientSession
) -> None:
    """Point ``chunkio`` at the stores of ``cluster`` (one swap of its whole view)."""
    chunkio.use(stores_from_map(cluster, secret, session))


async def follow_map(
    meta: MetaStore,
    chunkio: ChunkIO,
    secret: bytes,
    session: aiohttp.ClientSession,
    version: int,
    every_s: float,
) -> None:
    """Re-read the cluster map every ``every_s`` and apply it when its version changed."""
    while True:
        await asyncio.sleep(every_s)
        try:
            cluster = await meta.get_cluster_map()
        except Exception:  # metadata briefly unreachable: keep serving with the map we have
            log.exception("cluster map refresh failed")
            continue
        if cluster.version != version:
            apply_map(chunkio, cluster, secret, session)
            version = cluster.version
            log.info(
                "cluster map v%d: %d stores, %d unreachable",
                version,
                len(chunkio.view.stores),
                len(chunkio.view.unreachable),
            )


def drive_dirs(config: Config) -> list[Path]:
    """The embedded server's drive directories: DATA_DIR/drives/d1 .. dN."""
    if config.server.data_dir is None:
        raise ConfigError("the server needs a data directory (DATA_DIR or [server] data_dir)")
    root = Path(config.server.data_dir)
    return [root / "drives" / f"d{i}" for i in range(1, config.server.drives + 1)]


def local_drive_stores(
    drives: dict[str, Path], executor: ThreadPoolExecutor | None, id_prefix: str = ""
) -> dict[str, DiskFragmentStore]:
    """One on-disk store per drive directory (drive name -> directory; the store's id is
    ``id_prefix`` + name), as a node serves them and the embedded server writes to them."""
    return {
        name: DiskFragmentStore(id_prefix + name, path, executor) for name, path in drives.items()
    }


def sweep_tmp_at_open(stores: dict[str, DiskFragmentStore], config: Config) -> None:
    """Remove the temp files killed writers left on ``stores`` (older than
    ``orphan.tmp_max_age_s``), before they serve; a drive that cannot be swept is logged."""
    files = size = 0
    for store in stores.values():
        try:
            swept = store.sweep_tmp_now(config.orphan.tmp_max_age_s)
        except StorageError as exc:
            log.warning("temp sweep: %s", exc)
            continue
        files += swept.files
        size += swept.size_bytes
    if files:
        log.info("temp sweep: removed %d stale temp files (%d bytes)", files, size)


def apply_drive_health(chunkio: ChunkIO, local: ClusterView, down: frozenset[str]) -> None:
    """Mark the drives in ``down`` unreachable in ``chunkio`` (as ``stores_from_map`` does for
    down nodes): no placement, no reads, GC keeps their deletions for later."""
    chunkio.use(
        ClusterView(
            local.stores, [i for i in local.infos if i.store_id not in down], down, local.version
        )
    )


# ---- gateway part -----------------------------------------------------------------------------


def s3_app(objects: ObjectService, config: Config, credentials: RootCredentials) -> S3App:
    """The S3 API over ``objects``, with the root user's keys."""
    services = Services.build(objects, config.s3)
    root = Credentials(credentials.access_key, credentials.secret_key, "root", True)
    return S3App(services, lambda key: root if key == root.access_key else None)


def _root_credentials(config: Config) -> RootCredentials:
    if not config.root.access_key or not config.root.secret_key:
        raise ConfigError(
            "set NINEFOLD_ROOT_ACCESS_KEY and NINEFOLD_ROOT_SECRET_KEY (or [root] access_key "
            "and secret_key) for the gateway"
        )
    return RootCredentials(config.root.access_key, config.root.secret_key)


# ---- worker part ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Job:
    """A background job: run ``worker`` every ``interval_s`` while holding ``lock``."""

    worker: Worker
    interval_s: float
    lock: LeaderLock


def background_jobs(
    config: Config,
    meta: MetaStore,
    chunkio: ChunkIO,
    objects: ObjectService,
    health: Job,
    meta_dsn: str,
    local: dict[str, DiskFragmentStore] | None = None,
) -> list[Job]:
    """Health (given: nodes or drives), then GC, repair, scrub, orphans and rebalance, each
    elected over ``meta_dsn``: the same list for ``ninefold worker`` and ``ninefold server``;
    with ``local`` drive stores (embedded data dir) the temp-file sweep too."""
    workers: list[tuple[Worker, float]] = [
        (GcWorker(objects, config.gc), config.gc.interval_s),
        (RepairWorker(meta, chunkio, config.repair), config.repair.interval_s),
        (Scrubber(meta, chunkio, config.scrub), config.scrub.interval_s),
        (OrphanCollector(meta, chunkio, config.orphan), config.orphan.interval_s),
        (Rebalancer(meta, chunkio, config.rebalance), config.rebalance.interval_s),
    ]
    if local:
        workers.append((TempSweeper(list(local.values()), config.orphan), config.orphan.interval_s))
    return [health] + [Job(w, i, leader_lock(meta_dsn, w.name)) for w, i in workers]


def start_jobs(jobs: list[Job]) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(run_forever(j.worker, j.lock, j.interval_s)) for j in jobs]


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ---- the roles --------------------------------------------------------------------------------


@dataclass
class Role:
    """One process's parts. ``follow`` (gateway, worker) re-reads the cluster map; start it
    with ``start_following``. ``close`` releases everything."""

    meta: MetaStore
    chunkio: ChunkIO
    objects: ObjectService
    executor: ThreadPoolExecutor
    jobs: list[Job] = field(default_factory=list)
    app: S3App | None = None
    session: aiohttp.ClientSession | None = None
    map_version: int = 0
    secret: bytes = b""
    map_refresh_s: float = 0.0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start_following(self) -> None:
        """Follow the cluster map (gateway, worker); nothing to follow in the embedded server."""
        if self.session is not None:
            self._tasks.append(
                asyncio.create_task(
                    follow_map(
                        self.meta,
                        self.chunkio,
                        self.secret,
                        self.session,
                        self.map_version,
                        self.map_refresh_s,
                    )
                )
            )

    def start_jobs(self) -> None:
        self._tasks += start_jobs(self.jobs)

    async def stop_background(self) -> None:
        """Cancel the jobs and the map follower (before the HTTP server stops, as before)."""
        await stop_tasks(self._tasks)
        self._tasks = []

    async def close(self) -> None:
        await self.stop_background()
        if self.session is not None:
            await self.session.close()
        await self.meta.close()
        self.executor.shutdown(wait=True)


async def prepare_data_dir(config: Config) -> None:
    """Create the embedded server's drive directories, sweep the temp files a killed server
    left, and bring the metadata schema up to date (once, up front, before the server
    processes start)."""
    for drive in drive_dirs(config):
        drive.mkdir(parents=True, exist_ok=True)
    sweep_tmp_at_open(local_drive_stores({d.name: d for d in drive_dirs(config)}, None), config)
    meta = await open_meta(_embedded_dsn(config))
    await meta.close()


def _embedded_dsn(config: Config) -> str:
    return str(Path(str(config.server.data_dir)) / "meta.db")


def embedded_data_dir(dsn: str) -> Path | None:
    """The embedded server's data directory when ``dsn`` is its ``meta.db`` (a SQLite file
    with a ``drives`` directory beside it), else None."""
    if dsn.startswith(("postgresql://", "postgres://")):
        return None
    path = Path(dsn.removeprefix("sqlite://"))
    return path.parent if (path.parent / "drives" / "d1").is_dir() else None


async def _embedded_parts(config: Config) -> Role:
    """The embedded data dir's local drives, SQLite and every background job (the temp sweep
    included); the S3 app is the caller's."""
    executor = ThreadPoolExecutor(config.server.io_threads, thread_name_prefix="io")
    dsn = _embedded_dsn(config)
    meta = await open_meta(dsn)
    stores = local_drive_stores({d.name: d for d in drive_dirs(config)}, executor)
    local = ClusterView.local(stores)
    chunkio = ChunkIO(local, executor)
    objects = ObjectService(meta, chunkio, config.coordinator, executor)
    health = DriveHealthMonitor(
        stores, config.health, lambda down: apply_drive_health(chunkio, local, down)
    )
    health_job = Job(health, config.health.interval_s, _EveryProcess())
    jobs = background_jobs(config, meta, chunkio, objects, health_job, dsn, local=stores)
    return Role(meta, chunkio, objects, executor, jobs)


async def compose_embedded(config: Config, credentials: RootCredentials) -> Role:
    """``ninefold server``: local drives, SQLite, the S3 app and every background job."""
    role = await _embedded_parts(config)
    role.app = s3_app(role.objects, config, credentials)
    return role


async def _cluster_role(
    config: Config, dsn: str, executor: ThreadPoolExecutor, meta: MetaStore, limit: int
) -> Role:
    secret = config.cluster.secret_bytes()
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=30),
    )
    cluster = await meta.get_cluster_map()
    chunkio = ChunkIO(stores_from_map(cluster, secret, session), executor)
    objects = ObjectService(meta, chunkio, config.coordinator, executor)
    return Role(
        meta,
        chunkio,
        objects,
        executor,
        session=session,
        map_version=cluster.version,
        secret=secret,
        map_refresh_s=config.cluster.map_refresh_s,
    )


def _meta_dsn(config: Config) -> str:
    if not config.meta.dsn:
        raise ConfigError("give the metadata store: --meta, NINEFOLD_META_DSN or [meta] dsn")
    return config.meta.dsn


async def compose_gateway(config: Config) -> Role:
    """``ninefold gateway``: the cluster's stores, metadata (with the Redis cache when
    configured) and the S3 app; no background jobs."""
    dsn = _meta_dsn(config)
    credentials = _root_credentials(config)
    config.cluster.secret_bytes()
    executor = ThreadPoolExecutor(config.gateway.cpu_threads, thread_name_prefix="cpu")
    meta = await open_meta(dsn)
    if config.cache.url is not None:
        meta = CachedMetaStore(meta, RedisCache(config.cache.url, namespace=config.cache.namespace))
    role = await _cluster_role(config, dsn, executor, meta, limit=512)
    role.app = s3_app(role.objects, config, credentials)
    return role


def check_gateway(config: Config) -> None:
    """The gateway's required settings are there (ConfigError if not), before it forks."""
    _meta_dsn(config)
    _root_credentials(config)
    config.cluster.secret_bytes()


def check_worker(config: Config) -> None:
    if config.server.data_dir is not None:
        if config.meta.dsn:
            raise ConfigError(
                "give the worker an embedded data dir (--data-dir) or cluster metadata (--meta), "
                "not both"
            )
        data = Path(config.server.data_dir)
        if not (data / "meta.db").is_file() or not (data / "drives").is_dir():
            raise ConfigError(f"{data} is not an embedded server's data dir (no meta.db, drives)")
        return
    dsn = _meta_dsn(config)
    embedded = embedded_data_dir(dsn)
    if embedded is not None:
        # its cluster map is empty: the jobs would see no store at all (and scrub would queue
        # every chunk for repair)
        raise ConfigError(
            f"{dsn} is an embedded server's metadata: run the worker with --data-dir {embedded}"
        )
    config.cluster.secret_bytes()


async def compose_worker(config: Config) -> Role:
    """``ninefold worker``: the cluster's stores and every background job, elected over the
    metadata store; with ``server.data_dir`` (``--data-dir``) an embedded server's drives and
    jobs instead, elected with the server's own processes."""
    if config.server.data_dir is not None:
        return await _embedded_parts(config)
    dsn = _meta_dsn(config)
    executor = ThreadPoolExecutor(WORKER_CPU_THREADS, thread_name_prefix="cpu")
    meta = await open_meta(dsn)
    role = await _cluster_role(config, dsn, executor, meta, limit=256)
    assert role.session is not None
    health = HealthMonitor(meta, role.session, role.secret, config.health)
    role.jobs = background_jobs(
        config,
        meta,
        role.chunkio,
        role.objects,
        Job(health, config.health.interval_s, leader_lock(dsn, health.name)),
        dsn,
    )
    return role


def compose_node(config: Config) -> tuple[web.Application, ThreadPoolExecutor, list[Job]]:
    """``ninefold node``: its drive directories (store ids ``d1..dN``) behind the signed
    node API, swept of stale temp files at open, and the periodic temp sweep job."""
    node = config.node
    if not node.listen or not node.id or not node.drives:
        raise ConfigError("a node needs --listen, --node-id and at least one --drive")
    secret = config.cluster.secret_bytes()
    executor = ThreadPoolExecutor(node.io_threads, thread_name_prefix="io")
    dirs = {f"d{i}": Path(d).resolve() for i, d in enumerate(node.drives, 1)}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    stores = local_drive_stores(dirs, executor, f"{node.id}:")
    sweep_tmp_at_open(stores, config)
    settings = NodeSettings(node_id=node.id, zone=node.zone, secret=secret)
    sweeper = TempSweeper(list(stores.values()), config.orphan)
    jobs = [Job(sweeper, config.orphan.interval_s, _EveryProcess())]
    return make_node_app(settings, stores), executor, jobs
