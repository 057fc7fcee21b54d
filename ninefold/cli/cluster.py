"""``ninefold cluster up``: a local multi-process cluster on loopback (development, tests,
benchmarks). Starts the node daemons across zones, registers them in the cluster map, starts
a worker (health monitor, GC) and the gateways, and stops them all — by PID, it started them —
on Ctrl-C/SIGTERM. A process that dies meanwhile is reported and the rest keeps running (fault
tests kill nodes on purpose).

The children stay in this process's process group, so stopping the group stops the cluster.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ClusterPlan", "load_or_create_cluster_secret", "run_cluster"]

SECRET_FILE = "cluster-secret"
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    data_dir: Path
    nodes: int
    zones: int
    drives_per_node: int
    gateways: int
    meta_dsn: str
    node_base_port: int
    gateway_base_port: int
    access_key: str
    secret_key: str
    cluster_secret: str
    cache_url: str | None = None
    cache_namespace: str = "ninefold"
    #: server processes of each gateway (``ninefold gateway --workers``)
    gateway_workers: int = 1
    #: the TOML file every process of the cluster reads too (NINEFOLD_CONFIG)
    config_file: str | None = None


def load_or_create_cluster_secret(data_dir: Path, configured: str | None) -> str:
    """The configured secret, else the data dir's file, else a new one (written 0600)."""
    if configured:
        return configured
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM when the parent dies, even by SIGKILL (Linux), so a
    killed ``cluster up`` never leaves nodes and gateways behind."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not glibc/Linux: the normal shutdown path still stops the children
        pass


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"{log.stem} exited at start (see {log}): " + " | ".join(tail))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}; see {log}")


def run_cluster(plan: ClusterPlan, announce: Callable[[list[str]], None]) -> int:
    exe = [sys.executable, "-m", "ninefold"]
    env = dict(
        os.environ,
        NINEFOLD_CLUSTER_SECRET=plan.cluster_secret,
        NINEFOLD_ROOT_ACCESS_KEY=plan.access_key,
        NINEFOLD_ROOT_SECRET_KEY=plan.secret_key,
    )
    if plan.config_file:
        env["NINEFOLD_CONFIG"] = str(Path(plan.config_file).resolve())
    logs = plan.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    names: dict[int, str] = {}

    def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [*exe, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=_die_with_parent,
            )
        procs.append(proc)
        names[proc.pid] = log.stem
        return proc

    try:
        for i in range(1, plan.nodes + 1):
            node_id, zone, port = f"n{i}", f"z{(i - 1) % plan.zones + 1}", plan.node_base_port + i
            args = ["node", "--listen", f"127.0.0.1:{port}", "--node-id", node_id, "--zone", zone]
            for d in range(1, plan.drives_per_node + 1):
                args += ["--drive", str(plan.data_dir / "nodes" / node_id / f"drive{d}")]
            log = logs / f"{node_id}.log"
            _wait_port(port, spawn(args, log), log)
            subprocess.run(
                [
                    *exe,
                    "admin",
                    "node",
                    "add",
                    "--meta",
                    plan.meta_dsn,
                    "--node-id",
                    node_id,
                    "--url",
                    f"http://127.0.0.1:{port}",
                    "--zone",
                    zone,
                    "--drives",
                    str(plan.drives_per_node),
                ],
                check=True,
                capture_output=True,
                env=env,
                timeout=60,
            )
        # the background jobs: node health (marks a dead node down within seconds), GC
        spawn(["worker", "--meta", plan.meta_dsn], logs / "worker.log")
        endpoints = []
        for g in range(plan.gateways):
            port = plan.gateway_base_port + g
            log = logs / f"gateway{g + 1}.log"
            args = ["gateway", "--meta", plan.meta_dsn, "--listen", f"127.0.0.1:{port}"]
            args += ["--workers", str(plan.gateway_workers)]
            if plan.cache_url:
                args += ["--cache", plan.cache_url, "--cache-namespace", plan.cache_namespace]
            proc = spawn(args, log)
            _wait_port(port, proc, log)
            endpoints.append(f"http://127.0.0.1:{port}")
        announce(endpoints)
        reported: set[int] = set()
        while not stopping:
            time.sleep(0.2)
            # a dead node is what the cluster is built to survive: report it, keep running
            for proc in procs:
                if proc.poll() is not None and proc.pid not in reported:
                    reported.add(proc.pid)
                    print(
                        f"ninefold: {names[proc.pid]} exited ({proc.returncode}); the rest of "
                        "the cluster keeps running",
                        file=sys.stderr,
                        flush=True,
                    )
        return 0
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
