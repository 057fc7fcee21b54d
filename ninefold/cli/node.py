"""``ninefold node``: a storage-node daemon serving its drives to the cluster (and sweeping
their temp directories of what killed writes left: at start and every ``orphan.interval_s``)."""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from ninefold.cli.compose import compose_node, start_jobs, stop_tasks
from ninefold.cli.config import Config, parse_address

__all__ = ["run_node"]


async def _serve(config: Config) -> None:
    app, executor, jobs = compose_node(config)
    host, port = parse_address(str(config.node.listen))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(
        f"Ninefold node {config.node.id} (zone {config.node.zone}) on {host}:{port}, "
        f"{len(config.node.drives)} drives",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = start_jobs(jobs)
    await stop.wait()
    await stop_tasks(tasks)
    await runner.cleanup()
    executor.shutdown(wait=True)


def run_node(config: Config) -> None:
    asyncio.run(_serve(config))
