"""``ninefold gateway``: a stateless S3 gateway over the cluster's metadata store and nodes.

Run as many as you like behind a load balancer: they share nothing but PostgreSQL (or one SQLite
file on one machine) and the nodes. The cluster map is read from metadata at start and re-read
whenever its version changes (checked every ``map_refresh_s``). With ``cache_url`` bucket and
object lookups go through the shared Redis cache (``ninefold.meta.cache``). ``workers`` processes
share the port (SO_REUSEPORT), as the embedded server's do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Event as MpEvent

import aiohttp

from ninefold.api.app import S3App
from ninefold.api.auth import Credentials
from ninefold.api.s3.context import ApiSettings, Services
from ninefold.api.server import start_site
from ninefold.cli.config import RootCredentials
from ninefold.cli.supervisor import run_server_process, supervise_processes
from ninefold.cli.wiring import follow_map, open_meta, stores_from_map
from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.domain.objects import ObjectService
from ninefold.meta.cache import CachedMetaStore, RedisCache
from ninefold.meta.store import MetaStore

__all__ = ["GatewayConfig", "run_gateway"]

log = logging.getLogger("ninefold.gateway")


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    meta_dsn: str
    host: str
    port: int
    region: str
    domain: str | None
    credentials: RootCredentials
    cluster_secret: bytes
    map_refresh_s: float = 2.0
    cache_url: str | None = None
    cache_namespace: str = "ninefold"
    workers: int = 1


async def _open_meta(config: GatewayConfig) -> MetaStore:
    meta = await open_meta(config.meta_dsn)
    if config.cache_url is None:
        return meta
    return CachedMetaStore(meta, RedisCache(config.cache_url, namespace=config.cache_namespace))


async def _serve(config: GatewayConfig, ready: MpEvent) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    executor = ThreadPoolExecutor(8, thread_name_prefix="cpu")
    meta = await _open_meta(config)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=512),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=30),
    )
    cluster = await meta.get_cluster_map()
    chunkio = ChunkIO(stores_from_map(cluster, config.cluster_secret, session), executor)
    objects = ObjectService(meta, chunkio, CoordinatorSettings(), executor)
    services = Services.build(objects, ApiSettings(region=config.region, domain=config.domain))
    root = Credentials(config.credentials.access_key, config.credentials.secret_key, "root", True)
    app = S3App(services, lambda key: root if key == root.access_key else None)
    runner = await start_site(app, config.host, config.port, None)
    follower = asyncio.create_task(
        follow_map(
            meta, chunkio, config.cluster_secret, session, cluster.version, config.map_refresh_s
        )
    )
    log.info("serving, cluster map v%d (%d stores)", cluster.version, len(chunkio.view.stores))
    ready.set()
    await stop.wait()
    follower.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await follower
    await runner.cleanup()
    await session.close()
    await meta.close()
    executor.shutdown(wait=True)


def _process_main(config: GatewayConfig, ready: MpEvent) -> None:
    run_server_process(lambda: _serve(config, ready))


def run_gateway(config: GatewayConfig) -> int:
    """Serve until SIGINT/SIGTERM with ``config.workers`` processes; returns an exit code."""

    def announce() -> None:
        cache = f", cache {config.cache_url}" if config.cache_url else ", no cache"
        print(
            f"Ninefold gateway on http://{config.host}:{config.port} "
            f"({config.workers} processes{cache})",
            flush=True,
        )

    return supervise_processes(_process_main, config, config.workers, announce)
