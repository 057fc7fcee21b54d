"""GET latency through a gateway while one storage node hangs (SIGSTOP).

    .venv/bin/python benchmarks/hung_node.py [--seconds 10] [--clients 8]

Starts ``ninefold cluster up`` (9 nodes in 3 zones, 2 gateways, a worker; PostgreSQL in a
database created for the run, Redis as the gateways' cache), writes 60 objects (4 KiB and
2 MiB), then runs ``--clients`` concurrent GET loops through gateway A in three phases of
``--seconds`` each: healthy; right after ``SIGSTOP`` of node n2 (until the worker marks it down,
reads hedge after 250 ms); and later in the same hang (n2 marked down, never asked). Prints
p50/p99/max per phase as JSON and a markdown row. The cluster is stopped by its PID group.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[1]
NINEFOLD = str(Path(sys.executable).parent / "ninefold")
PG_ADMIN_DSN = os.environ.get(
    "NINEFOLD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("NINEFOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def admin(sql: str) -> None:
    async def go() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def node_pids(parent: int) -> dict[str, int]:
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"--node-id" in cmd:
            found[cmd[cmd.index(b"--node-id") + 1].decode()] = int(entry.name)
    return found


def phase(s3: Any, keys: list[str], clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    def loop(offset: int) -> None:
        i = offset
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            s3.get_object(Bucket="hung", Key=keys[i % len(keys)])["Body"].read()
            latencies.append(time.perf_counter() - t0)
            i += 7

    threads = [threading.Thread(target=loop, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def summary(name: str, lat: list[float]) -> dict[str, Any]:
    q = statistics.quantiles(lat, n=100)
    return {
        "phase": name,
        "gets": len(lat),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    db = f"nf_bench_hung_{secrets.token_hex(4)}"
    admin(f'CREATE DATABASE "{db}"')
    dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + db
    work = Path(tempfile.mkdtemp(prefix="nf-hung-"))
    log = open(work / "cluster.log", "wb")  # noqa: SIM115
    base = 17000 + secrets.randbelow(2000)
    proc = subprocess.Popen(
        [
            NINEFOLD,
            "cluster",
            "up",
            str(work / "c"),
            "--meta",
            dsn,
            "--cache",
            REDIS_URL,
            "--node-base-port",
            str(base),
            "--gateway-port",
            str(base + 100),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    stopped: int | None = None
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops the cluster." not in (work / "cluster.log").read_text().splitlines():
            assert proc.poll() is None and time.monotonic() < deadline, "cluster did not start"
            time.sleep(0.2)
        creds = json.loads((work / "c" / "credentials.json").read_text())
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{base + 100}",
            aws_access_key_id=creds["access_key"],
            aws_secret_access_key=creds["secret_key"],
            region_name="us-east-1",
            config=Config(max_pool_connections=args.clients * 2),
        )
        s3.create_bucket(Bucket="hung")
        keys = []
        for i in range(60):
            key = f"o{i:03d}"
            s3.put_object(Bucket="hung", Key=key, Body=os.urandom(4096 if i % 2 else 2 << 20))
            keys.append(key)
        results = [summary("healthy", phase(s3, keys, args.clients, args.seconds))]
        stopped = node_pids(proc.pid)["n2"]
        os.kill(stopped, signal.SIGSTOP)
        results.append(summary("hung, first", phase(s3, keys, args.clients, args.seconds)))
        results.append(summary("hung, later", phase(s3, keys, args.clients, args.seconds)))
        for r in results:
            print(json.dumps(r))
        print("| phase | GETs | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|")
        for r in results:
            print(f"| {r['phase']} | {r['gets']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} |")
    finally:
        if stopped is not None:
            os.kill(stopped, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


if __name__ == "__main__":
    main()
