"""``ninefold node``: a storage-node daemon serving its drives to the cluster."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

from ninefold.cli.config import parse_address
from ninefold.node.app import NodeSettings, make_node_app
from ninefold.node.disk import DiskFragmentStore

__all__ = ["cluster_secret", "run_node"]


def cluster_secret() -> bytes:
    """The cluster secret from NINEFOLD_CLUSTER_SECRET (every member must share it)."""
    secret = os.environ.get("NINEFOLD_CLUSTER_SECRET", "")
    if len(secret) < 16:
        raise ValueError("set NINEFOLD_CLUSTER_SECRET (at least 16 characters) on every member")
    return secret.encode()


async def _serve(address: str, drives: list[Path], settings: NodeSettings) -> None:
    host, port = parse_address(address)
    executor = ThreadPoolExecutor(16, thread_name_prefix="io")
    stores = {}
    for i, drive in enumerate(drives, start=1):
        drive.mkdir(parents=True, exist_ok=True)
        stores[f"d{i}"] = DiskFragmentStore(f"{settings.node_id}:d{i}", drive, executor)
    runner = web.AppRunner(make_node_app(settings, stores), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(
        f"Ninefold node {settings.node_id} (zone {settings.zone}) on {host}:{port}, "
        f"{len(stores)} drives",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()
    executor.shutdown(wait=True)


def run_node(address: str, drives: list[Path], node_id: str, zone: str) -> None:
    settings = NodeSettings(node_id=node_id, zone=zone, secret=cluster_secret())
    asyncio.run(_serve(address, drives, settings))
