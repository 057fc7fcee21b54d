"""PostgreSQL restarted under load: two gateways keep their processes and recover on their own;
no acknowledged write is lost; during the outage clients get clean S3 errors (503 with S3 XML),
never a dropped connection or a traceback.

Real node processes, two real gateways (A with the shared Redis cache in a namespace of its own,
B without a cache) over a fresh database, and writer threads with boto3 retries turned off so
every refused request is seen. PostgreSQL itself is restarted with ``pg_ctlcluster`` (the Debian
cluster serving the test DSN's port); whatever happens, the test leaves it running.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import Bucket, ObjectVersion
from ninefold.meta.postgres import MetadataUnavailable, PostgresMetaStore
from tests.cluster.test_gateways import REDIS_URL, SECRET, make_gateway, register
from tests.support.node import GatewayProc, NodeProc
from tests.support.server import free_port

#: boto3 without retries: every refusal reaches the test
NO_RETRY = Config(
    retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30
)
#: each writer thread's pace (PUTs per second), so that verification stays quick
WRITES_PER_S = 25.0


def _pg_cluster(dsn: str) -> tuple[str, str, str, int]:
    """(version, cluster name, host, port) of the local Debian cluster serving ``dsn``."""
    if not (shutil.which("pg_lsclusters") and shutil.which("pg_ctlcluster")):
        pytest.skip("needs the Debian postgresql-common tools to restart PostgreSQL")
    url = urlsplit(dsn)
    host, port = url.hostname or "127.0.0.1", url.port or 5432
    if host not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip(f"PostgreSQL at {host} is not local: it cannot be restarted from here")
    out = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2] == str(port):
            return fields[0], fields[1], host, port
    pytest.skip(f"no local Debian PostgreSQL cluster on port {port}")


def _pg_ready(host: str, port: int) -> bool:
    return (
        subprocess.run(
            ["pg_isready", "-q", "-h", host, "-p", str(port), "-t", "2"], check=False
        ).returncode
        == 0
    )


@dataclass
class Outcome:
    """What the writers saw, each entry stamped with time.monotonic()."""

    acked: dict[str, tuple[str, int]] = field(default_factory=dict)  # key -> (md5, size)
    refused: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: (time, operation, gateway, HTTP status, S3 code, message)
    s3_errors: list[tuple[float, str, str, int, str, str]] = field(default_factory=list)
    #: (time, operation, gateway, repr): anything that is not an S3 error response
    unclean: list[tuple[float, str, str, str]] = field(default_factory=list)
    successes: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(
    name: str,
    put_client: Any,
    put_gw: str,
    get_client: Any,
    get_gw: str,
    outcome: Outcome,
    stop: threading.Event,
) -> None:
    """PUT fresh keys through one gateway and read each acknowledged one back through the
    other; record everything."""
    i = 0
    while not stop.is_set():
        began = time.monotonic()
        i += 1
        key = f"{name}/{i:05d}"
        # mostly small objects (4 copies), every fourth erasure-coded (6+3)
        size = 300 * 1024 + i if i % 4 == 0 else 1024 + 37 * i % 20_000
        data = os.urandom(size)
        md5 = hashlib.md5(data).hexdigest()
        for operation, gateway in (("PUT", put_gw), ("GET", get_gw)):
            try:
                if operation == "PUT":
                    put_client.put_object(Bucket="load", Key=key, Body=data)
                else:
                    got = get_client.get_object(Bucket="load", Key=key)["Body"].read()
                    assert hashlib.md5(got).hexdigest() == md5, f"{key}: wrong bytes via {gateway}"
            except ClientError as exc:
                response = exc.response
                with outcome.lock:
                    outcome.s3_errors.append(
                        (
                            time.monotonic(),
                            operation,
                            gateway,
                            response["ResponseMetadata"]["HTTPStatusCode"],
                            response["Error"].get("Code", ""),
                            response["Error"].get("Message", ""),
                        )
                    )
                    if operation == "PUT":
                        outcome.refused[key] = (md5, size)
                break
            except Exception as exc:  # a dropped connection, a timeout: not a clean S3 error
                with outcome.lock:
                    outcome.unclean.append((time.monotonic(), operation, gateway, repr(exc)))
                    if operation == "PUT":
                        outcome.refused[key] = (md5, size)
                break
            with outcome.lock:
                outcome.successes.append(time.monotonic())
                if operation == "PUT":
                    outcome.acked[key] = (md5, size)
        stop.wait(max(0.0, 1 / WRITES_PER_S - (time.monotonic() - began)))


@pytest.fixture
def pg_cluster(meta_dsn: str) -> Iterator[tuple[str, str, str, int]]:
    """The cluster to restart; PostgreSQL runs again after the test whatever happened (the
    rest of the suite, and ``meta_dsn``'s teardown, need it)."""
    cluster = _pg_cluster(meta_dsn)
    try:
        yield cluster
    finally:
        version, name, host, port = cluster
        if not _pg_ready(host, port):
            subprocess.run(["pg_ctlcluster", version, name, "start"], check=False, timeout=60)
        deadline = time.monotonic() + 30
        while not _pg_ready(host, port) and time.monotonic() < deadline:
            time.sleep(0.2)


def test_gateways_recover_from_a_postgres_restart_without_losing_a_write(
    tmp_path: Path, meta_dsn: str, pg_cluster: tuple[str, str, str, int]
) -> None:
    version, cluster_name, host, port = pg_cluster
    cache = ("--cache", REDIS_URL, "--cache-namespace", f"nf-pgr-{secrets.token_hex(6)}")
    nodes = [NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)]
    gateways: list[GatewayProc] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        register(meta_dsn, nodes)
        gateways.append(make_gateway(meta_dsn, tmp_path / "gw-a.log", *cache).start())
        gateways.append(make_gateway(meta_dsn, tmp_path / "gw-b.log").start())
        pids = [gw.proc.pid for gw in gateways if gw.proc is not None]
        clients: dict[str, Any] = {"A": gateways[0].client(), "B": gateways[1].client()}
        clients["A"].create_bucket(Bucket="load")

        outcome = Outcome()
        for n in range(4):
            put_gw, get_gw = ("A", "B") if n % 2 == 0 else ("B", "A")
            threads.append(
                threading.Thread(
                    target=_writer,
                    args=(
                        f"w{n}",
                        gateways[0 if put_gw == "A" else 1].client(config=NO_RETRY),
                        put_gw,
                        gateways[0 if get_gw == "A" else 1].client(config=NO_RETRY),
                        get_gw,
                        outcome,
                        stop,
                    ),
                    daemon=True,
                )
            )
        for thread in threads:
            thread.start()
        time.sleep(3)
        restart_began = time.monotonic()
        subprocess.run(
            ["pg_ctlcluster", version, cluster_name, "restart"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        restart_done = time.monotonic()
        assert _pg_ready(host, port)
        time.sleep(10)
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not any(t.is_alive() for t in threads)

        # -- what the clients saw ------------------------------------------------------------
        errors = sorted(outcome.s3_errors)
        first_error = errors[0][0] if errors else restart_began
        last_error = errors[-1][0] if errors else restart_began
        recovered = min((t for t in outcome.successes if t > last_error), default=float("nan"))
        summary = (
            f"restart took {restart_done - restart_began:.2f} s; "
            f"{len(outcome.acked)} PUTs acknowledged, {len(outcome.refused)} refused; "
            f"{len(errors)} S3 errors {sorted({(e[1], e[3], e[4]) for e in errors})} "
            f"from +{first_error - restart_began:.2f} s to +{last_error - restart_began:.2f} s "
            f"after the restart began; first success after the last error: "
            f"+{recovered - restart_began:.2f} s; unclean: {outcome.unclean[:5]}"
        )
        print(summary)
        assert not outcome.unclean, summary
        for _, _, _, status, code, _ in errors:
            assert (status, code) == (503, "ServiceUnavailable"), summary
        # the outage ends with the restart (plus a moment); writers then succeed throughout
        assert last_error < restart_done + 3, summary
        assert len(outcome.acked) > 100, summary
        assert [gw.proc.pid for gw in gateways if gw.proc is not None] == pids
        for gw in gateways:
            assert gw.proc is not None and gw.proc.poll() is None, f"{gw.log_path} exited"

        # -- 20 consecutive PUT+GET through each gateway, no retries -------------------------
        began = time.monotonic()
        for name, gw in (("A", gateways[0]), ("B", gateways[1])):
            client: Any = gw.client(config=NO_RETRY)
            other: Any = gateways[1 if name == "A" else 0].client(config=NO_RETRY)
            for i in range(20):
                data = os.urandom(2048 + i)
                client.put_object(Bucket="load", Key=f"after/{name}/{i}", Body=data)
                assert (
                    other.get_object(Bucket="load", Key=f"after/{name}/{i}")["Body"].read() == data
                )
                outcome.acked[f"after/{name}/{i}"] = (hashlib.md5(data).hexdigest(), len(data))
        assert time.monotonic() - began < 10

        # -- no acknowledged write lost; a refused one is either absent or whole --------------
        def check(item: tuple[str, tuple[str, int]]) -> list[str]:
            key, (md5, size) = item
            problems = []
            for name, client in clients.items():
                try:
                    body = client.get_object(Bucket="load", Key=key)["Body"].read()
                except ClientError as exc:
                    problems.append(f"{key} via {name}: {exc.response['Error']['Code']}")
                    continue
                if len(body) != size or hashlib.md5(body).hexdigest() != md5:
                    problems.append(f"{key} via {name}: wrong bytes")
            return problems

        def check_refused(item: tuple[str, tuple[str, int]]) -> list[str]:
            key, (md5, size) = item
            problems = []
            for name, client in clients.items():
                try:
                    body = client.get_object(Bucket="load", Key=key)["Body"].read()
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "NoSuchKey":
                        problems.append(f"refused {key} via {name}: {exc}")
                    continue
                if len(body) != size or hashlib.md5(body).hexdigest() != md5:
                    problems.append(f"refused {key} via {name}: visible with wrong bytes")
            return problems

        with ThreadPoolExecutor(8) as pool:
            lost = [p for ps in pool.map(check, outcome.acked.items()) for p in ps]
            odd = [p for ps in pool.map(check_refused, outcome.refused.items()) for p in ps]
        assert not lost, lost[:10]
        assert not odd, odd[:10]
        listed = {
            o["Key"]
            for page in clients["B"].get_paginator("list_objects_v2").paginate(Bucket="load")
            for o in page.get("Contents", [])
        }
        assert set(outcome.acked) <= listed
        for gw in gateways:
            assert "unexpected error" not in gw.log_path.read_text(errors="replace")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
        for gw in gateways:
            gw.stop()
        for node in nodes:
            node.stop()


# -- the store alone: a lost COMMIT is looked up, never guessed ----------------------------------


def _object(key: str, bucket: str = "b") -> ObjectVersion:
    chunk = ChunkRecord(secrets.token_hex(16), 10, "rep:4", 10, ("s1", "s2", "s3", "s4"))
    return ObjectVersion(
        bucket=bucket, key=key, size=10, etag="e" * 32, last_modified=time.time(), chunks=(chunk,)
    )


def test_a_commit_that_lost_its_connection_is_looked_up(
    meta_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = asyncpg.transaction.Transaction.commit
    lost = asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    async def commit_then_lose_the_answer(self: Any) -> None:
        await commit(self)
        raise lost

    async def lose_before_committing(self: Any) -> None:
        self._connection.terminate()  # the server rolls back when it sees the socket close
        raise lost

    async def go() -> None:
        store = await PostgresMetaStore.open(meta_dsn)
        try:
            await store.create_bucket(Bucket("b", time.time(), "root"))
            # committed, answer lost: the write is acknowledged (and its chunks kept)
            monkeypatch.setattr(
                asyncpg.transaction.Transaction, "commit", commit_then_lose_the_answer
            )
            await store.put_object(_object("committed"))
            monkeypatch.setattr(asyncpg.transaction.Transaction, "commit", commit)
            assert await store.get_object("b", "committed") is not None
            # rolled back: refused, and not visible
            monkeypatch.setattr(asyncpg.transaction.Transaction, "commit", lose_before_committing)
            with pytest.raises(MetadataUnavailable, match="rolled back"):
                await store.put_object(_object("rolled-back"))
            monkeypatch.setattr(asyncpg.transaction.Transaction, "commit", commit)
            assert await store.get_object("b", "rolled-back") is None
            # a query error is not an outage: it passes unchanged, and the store goes on
            with pytest.raises(errors.NoSuchBucket):
                await store.put_object(_object("x", bucket="nope"))
            await store.put_object(_object("after"))
            assert await store.get_object("b", "after") is not None
        finally:
            monkeypatch.setattr(asyncpg.transaction.Transaction, "commit", commit)
            await store.close()

    asyncio.run(go())


def test_an_unreachable_database_is_metadata_unavailable() -> None:
    async def go() -> None:
        # nothing listens on that port; min_size=0: the pool connects on first use
        pool = await asyncpg.create_pool(
            f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", min_size=0
        )
        store = PostgresMetaStore(pool)
        try:
            with pytest.raises(MetadataUnavailable) as info:
                await store.get_bucket("b")
            assert isinstance(info.value, errors.StorageError)  # the API answers 503
            with pytest.raises(MetadataUnavailable):
                await store.put_object(_object("k"))
        finally:
            await store.close()

    asyncio.run(go())
