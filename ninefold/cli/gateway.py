"""``ninefold gateway``: a stateless S3 gateway over the cluster's metadata store and nodes.

Run as many as you like behind a load balancer: they share nothing but PostgreSQL (or one SQLite
file on one machine) and the nodes. The cluster map is read from metadata at start and re-read
whenever its version changes (checked every ``cluster.map_refresh_s``). With ``cache.url``
bucket and object lookups go through the shared Redis cache. ``gateway.workers`` processes share
the port (SO_REUSEPORT), as the embedded server's do. The parts come from ``cli.compose``.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from multiprocessing.synchronize import Event as MpEvent

from ninefold.api.server import start_site
from ninefold.cli.compose import check_gateway, compose_gateway
from ninefold.cli.config import Config, parse_address
from ninefold.cli.supervisor import run_server_process, supervise_processes

__all__ = ["run_gateway"]

log = logging.getLogger("ninefold.gateway")


async def _serve(config: Config, ready: MpEvent) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    role = await compose_gateway(config)
    assert role.app is not None
    host, port = parse_address(config.gateway.listen)
    runner = await start_site(role.app, host, port, None, config.http)
    role.start_following()
    log.info(
        "serving, cluster map v%d (%d stores)", role.map_version, len(role.chunkio.view.stores)
    )
    ready.set()
    await stop.wait()
    await role.stop_background()
    await runner.cleanup()
    await role.close()


def _process_main(config: Config, ready: MpEvent) -> None:
    run_server_process(lambda: _serve(config, ready))


def run_gateway(config: Config) -> int:
    """Serve until SIGINT/SIGTERM with ``gateway.workers`` processes; returns an exit code.
    Raises ConfigError (before any process starts) when a required setting is missing."""
    check_gateway(config)

    def announce() -> None:
        cache = f", cache {config.cache.url}" if config.cache.url else ", no cache"
        print(
            f"Ninefold gateway on http://{config.gateway.listen} "
            f"({config.gateway.workers} processes{cache})",
            flush=True,
        )

    return supervise_processes(_process_main, config, config.gateway.workers, announce)
