"""The embedded server: ``workers`` processes of the parts ``cli.compose`` assembles.

One supervisor process forks ``server.workers`` server processes (spawned, so no thread or
sqlite handle crosses a fork). Each binds the same port with SO_REUSEPORT and owns its own event
loop, metadata connections and thread pool; they share the SQLite file and the drive
directories, and elect one leader per background job with file locks (the drive health check
runs in every process: its verdict is that process's). The supervisor restarts a process that
dies and stops them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from multiprocessing.synchronize import Event as MpEvent

from ninefold.api.server import start_site, tls_context
from ninefold.cli.compose import compose_embedded
from ninefold.cli.config import Config, RootCredentials, parse_address
from ninefold.cli.supervisor import run_server_process, supervise_processes

__all__ = ["endpoint", "supervise"]

log = logging.getLogger("ninefold.server")


def endpoint(config: Config) -> str:
    """The URL clients use: ``http(s)://HOST:PORT``."""
    host, port = parse_address(config.server.address)
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if config.server.tls_cert else 'http'}://{host}:{port}"


async def _serve(config: Config, credentials: RootCredentials, ready: MpEvent) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    role = await compose_embedded(config, credentials)
    assert role.app is not None
    server = config.server
    tls = (
        tls_context(server.tls_cert, server.tls_key) if server.tls_cert and server.tls_key else None
    )
    host, port = parse_address(server.address)
    runner = await start_site(role.app, host, port, tls, config.http)
    role.start_jobs()
    ready.set()
    await stop.wait()
    await role.stop_background()
    await runner.cleanup()
    await role.close()


def _process_main(args: tuple[Config, RootCredentials], ready: MpEvent) -> None:
    config, credentials = args
    run_server_process(lambda: _serve(config, credentials, ready))


def supervise(
    config: Config, credentials: RootCredentials, on_ready: Callable[[], None] | None
) -> int:
    """Run ``server.workers`` server processes until SIGINT/SIGTERM; returns an exit code."""
    return supervise_processes(
        _process_main, (config, credentials), config.server.workers, on_ready
    )
