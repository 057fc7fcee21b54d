"""``ninefold worker``: the cluster's background jobs, each run by one elected leader.

Jobs: the health monitor (heartbeats every node, marks silent ones down), garbage collection
(deletes the fragments of replaced and deleted versions from the nodes), repair (rebuilds
missing fragments of queued chunks and of nodes lost for ``repair.lost_after_s``) and the scrubber
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
import logging
import signal

from ninefold.cli.compose import Job, check_worker, compose_worker
from ninefold.cli.config import Config

__all__ = ["run_worker"]

log = logging.getLogger("ninefold.worker")


async def _once(jobs: list[Job]) -> int:
    failed = False
    for job in jobs:
        if not await job.lock.try_acquire():
            print(f"{job.worker.name}: skipped, another worker leads it", flush=True)
            continue
        try:
            handled = await job.worker.run_once()
            print(f"{job.worker.name}: {handled} handled", flush=True)
        except Exception:
            log.exception("%s: round failed", job.worker.name)
            failed = True
        finally:
            await job.lock.release()
    return 1 if failed else 0


async def _main(config: Config, once: bool) -> int:
    role = await compose_worker(config)
    try:
        if once:
            return await _once(role.jobs)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        role.start_jobs()
        role.start_following()
        print(
            f"Ninefold worker: jobs {', '.join(job.worker.name for job in role.jobs)}; "
            f"cluster map v{role.map_version}. Ctrl-C stops.",
            flush=True,
        )
        await stop.wait()
        log.info("stopping")
        return 0
    finally:
        await role.close()


def run_worker(config: Config, *, once: bool = False) -> int:
    """Run the jobs until SIGINT/SIGTERM (or one round each with ``once``); an exit code.
    Raises ConfigError when a required setting is missing."""
    check_worker(config)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    return asyncio.run(_main(config, once))
