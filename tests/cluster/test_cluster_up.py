"""`ninefold cluster up` as a user runs it: 9 node processes in 3 zones, 2 gateways, a worker,
real PostgreSQL (a fresh database) and the real Redis as the gateways' shared cache. 1,000
mixed-size objects written through gateway A are read and listed identically through gateway B
at once; `kill -9` of three nodes (one in each zone), and separately of a whole zone under a
write load, loses no acknowledged byte; Ctrl-C (SIGINT) stops every process of the cluster."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.server import free_port_block

NINEFOLD = str(Path(sys.executable).parent / "ninefold")
#: the shared real Redis (`make test` starts it); cluster up gives each cluster its namespace
REDIS_URL = os.environ.get("NINEFOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def children(pid: int) -> dict[str, int]:
    """node id -> PID of the cluster's node processes (found from their command lines)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"node" in cmd:
            found[cmd[cmd.index(b"--node-id") + 1].decode()] = int(entry.name)
    return found


@pytest.fixture
def running_cluster(
    tmp_path: Path, meta_dsn: str
) -> Iterator[tuple[subprocess.Popen[bytes], list[str], Path]]:
    log = tmp_path / "cluster.log"
    # nodes on base+1 .. base+9, gateways on base+20, base+21: one block of free ports
    base = free_port_block(24)
    node_base, gw_port = base, base + 20
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                NINEFOLD,
                "cluster",
                "up",
                str(tmp_path / "c"),
                "--nodes",
                "9",
                "--zones",
                "3",
                "--gateways",
                "2",
                "--meta",
                meta_dsn,
                "--node-base-port",
                str(node_base),
                "--gateway-port",
                str(gw_port),
                "--cache",
                REDIS_URL,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        # the banner's own line (a traceback may quote the source that prints it)
        while "Ctrl-C stops the cluster." not in log.read_text(errors="replace").splitlines():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        endpoints = [
            line.split(": ", 1)[1]
            for line in log.read_text().splitlines()
            if line.startswith("Ninefold S3 endpoint: ")
        ]
        assert len(endpoints) == 2, log.read_text()[-3000:]
        yield proc, endpoints, tmp_path / "c"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def client(endpoint: str, data_dir: Path, **config: Any) -> Any:
    import json

    creds = json.loads((data_dir / "credentials.json").read_text())
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=creds["access_key"],
        aws_secret_access_key=creds["secret_key"],
        region_name="us-east-1",
        config=Config(max_pool_connections=16, **config),
    )


SIZES = [0, 100, 4096, 64 * 1024, 128 * 1024 + 1, 700 * 1024, 3 * 1024 * 1024 + 5]


def test_cluster_up_thousand_objects_and_three_nodes_killed(
    running_cluster: tuple[subprocess.Popen[bytes], list[str], Path],
) -> None:
    proc, (ep_a, ep_b), data_dir = running_cluster
    a, b = client(ep_a, data_dir), client(ep_b, data_dir)
    a.create_bucket(Bucket="thousand")
    blobs = {size: os.urandom(size) for size in SIZES}
    expected = {f"k/{i % 10}/{i:04d}": SIZES[i % len(SIZES)] for i in range(1000)}

    def put(key: str) -> None:
        a.put_object(Bucket="thousand", Key=key, Body=blobs[expected[key]])

    def md5_via(s3: Any, key: str) -> str:
        return hashlib.md5(s3.get_object(Bucket="thousand", Key=key)["Body"].read()).hexdigest()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, expected))
        want = {k: hashlib.md5(blobs[s]).hexdigest() for k, s in expected.items()}
        listed = [
            (o["Key"], o["Size"])
            for page in b.get_paginator("list_objects_v2").paginate(Bucket="thousand")
            for o in page.get("Contents", [])
        ]
        assert listed == sorted(expected.items())
        assert dict(zip(want, pool.map(lambda k: md5_via(b, k), want), strict=True)) == want
        # kill -9 three nodes, one in each zone (n1: z1, n5: z2, n9: z3)
        nodes = children(proc.pid)
        assert len(nodes) == 9, nodes
        for node_id in ("n1", "n5", "n9"):
            os.kill(nodes[node_id], signal.SIGKILL)
        assert dict(zip(want, pool.map(lambda k: md5_via(b, k), want), strict=True)) == want
    # Ctrl-C: the whole cluster stops, nothing left behind
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(60)
    assert children(proc.pid) == {}


def test_cluster_up_whole_zone_killed_under_writes(
    running_cluster: tuple[subprocess.Popen[bytes], list[str], Path],
) -> None:
    """Writers keep writing through A while every node of zone z1 (n1, n4, n7) is killed with
    `kill -9`: each write is acknowledged or refused with a clear 503, every acknowledged object
    reads back byte-identical through B, and objects of every size are written again once the
    worker has marked the lost nodes down."""
    proc, (ep_a, ep_b), data_dir = running_cluster
    # no retries: every refusal is seen as it was answered
    a = client(ep_a, data_dir, retries={"max_attempts": 1, "mode": "standard"})
    b = client(ep_b, data_dir)
    a.create_bucket(Bucket="zone")
    sizes = [10, 4096, 100 * 1024, 700 * 1024, 3 * 1024 * 1024]
    acked: dict[str, str] = {}
    refused: list[tuple[float, int, str, int]] = []
    acked_after: list[tuple[float, int]] = []
    killed_at: list[float] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        n = 0
        while not stop.is_set():
            size = sizes[n % len(sizes)]
            data = os.urandom(size)
            key = f"w{w}/{n:05d}"
            n += 1
            try:
                a.put_object(Bucket="zone", Key=key, Body=data)
            except ClientError as exc:
                meta = exc.response["ResponseMetadata"]
                refused.append(
                    (time.monotonic(), meta["HTTPStatusCode"], exc.response["Error"]["Code"], size)
                )
                continue
            acked[key] = hashlib.md5(data).hexdigest()
            if killed_at:
                acked_after.append((time.monotonic(), size))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        nodes = children(proc.pid)
        assert len(nodes) == 9, nodes
        killed_at.append(time.monotonic())
        for node_id in ("n1", "n4", "n7"):
            os.kill(nodes[node_id], signal.SIGKILL)
        time.sleep(12)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert acked, "nothing was written"
    # refusals are clean S3 errors: 503 while the write quorum cannot be met
    assert {(status, code) for _, status, code, _ in refused} <= {
        (503, "ServiceUnavailable"),
        (503, "SlowDown"),
    }, refused[:10]
    # the worker marks the lost nodes down within seconds; then every size is written again:
    # small objects as 4 copies over the two zones left, 6+3 chunks as all 9 fragments on the
    # 6 nodes left (three holding two; docs/design.md, "Writes with a zone down")
    late = [size for at, size in acked_after if at > killed_at[0] + 8]
    assert late and max(late) == 3 * 1024 * 1024, (len(acked_after), refused[-5:])
    assert 700 * 1024 in late, (sorted(set(late)), refused[-5:])
    with ThreadPoolExecutor(8) as pool:
        got = dict(
            zip(
                acked,
                pool.map(
                    lambda k: hashlib.md5(
                        b.get_object(Bucket="zone", Key=k)["Body"].read()
                    ).hexdigest(),
                    acked,
                ),
                strict=True,
            )
        )
    assert got == acked
    listed = {
        o["Key"]
        for page in b.get_paginator("list_objects_v2").paginate(Bucket="zone")
        for o in page.get("Contents", [])
    }
    assert listed == set(acked)  # nothing refused became visible


def test_cluster_up_reports_a_node_that_cannot_start(tmp_path: Path) -> None:
    """Node n2 cannot create its drive (a file is in the way): cluster up says which process
    failed, stops what it had started and exits non-zero, without a traceback."""
    data = tmp_path / "c"
    (data / "nodes").mkdir(parents=True)
    (data / "nodes" / "n2").write_text("not a directory")
    base = free_port_block(24)
    cmd = [NINEFOLD, "cluster", "up", str(data), "--node-base-port", str(base)]
    cmd += ["--gateway-port", str(base + 20)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the cluster did not start: n2 exited at start" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    leftovers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(data).encode() in (entry / "cmdline").read_bytes():
                    leftovers.append(entry.name)
            except OSError:
                continue
    assert leftovers == []  # n1 was stopped


def test_cluster_up_killed_with_sigkill_leaves_no_process(tmp_path: Path) -> None:
    """Its children die with it (PR_SET_PDEATHSIG), even when it gets no chance to stop them."""
    data = tmp_path / "c"
    base = free_port_block(24)
    log = tmp_path / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                NINEFOLD,
                "cluster",
                "up",
                str(data),
                "--node-base-port",
                str(base),
                "--gateway-port",
                str(base + 20),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops the cluster." not in log.read_text(errors="replace").splitlines():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        assert len(children(proc.pid)) == 9
        proc.kill()  # SIGKILL to cluster up alone, not its group
        proc.wait(10)
        deadline = time.monotonic() + 20
        while True:
            left = []
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        if str(data).encode() in (entry / "cmdline").read_bytes():
                            left.append(int(entry.name))
                    except OSError:
                        continue
            if not left:
                break
            assert time.monotonic() < deadline, left
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
