"""Two stateless gateways over real node processes and a real PostgreSQL: what one writes, the
other reads and lists at once; a lost zone does not lose a byte. Nodes are registered with the
admin CLI. A fresh PostgreSQL database per test run (never skipped: `make test` starts it)."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.node import GatewayProc, NodeProc
from tests.support.redis import RedisProc

SECRET = "cluster-secret-" + "y" * 16
PG_ADMIN_DSN = os.environ.get(
    "NINEFOLD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NINEFOLD = str(Path(sys.executable).parent / "ninefold")


#: the shared real Redis (`make test` starts it); each test gets a namespace of its own
REDIS_URL = os.environ.get("NINEFOLD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def register(meta_dsn: str, nodes: list[NodeProc]) -> None:
    for node in nodes:
        subprocess.run(
            [
                NINEFOLD,
                "admin",
                "node",
                "add",
                "--meta",
                meta_dsn,
                "--node-id",
                node.node_id,
                "--url",
                node.url,
                "--zone",
                node.zone,
                "--drives",
                "3",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )


def make_gateway(meta_dsn: str, log: Path, *args: str) -> GatewayProc:
    return GatewayProc(
        meta_dsn,
        SECRET,
        "GWACCESSKEY000000001",
        "gw-secret-key-0123456789abcdefghijklmn",
        log,
        args,
    )


@pytest.fixture
def cluster(tmp_path: Path, meta_dsn: str) -> Iterator[tuple[list[NodeProc], list[GatewayProc]]]:
    """3 nodes (one per zone, 3 drives each), 2 gateways sharing a real Redis cache; gateway A
    runs 2 processes on its port."""
    cache = ("--cache", REDIS_URL, "--cache-namespace", f"nf-test-{secrets.token_hex(6)}")
    nodes = [NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)]
    gateways: list[GatewayProc] = []
    try:
        register(meta_dsn, nodes)
        gw_a = make_gateway(meta_dsn, tmp_path / "gateway-a.log", *cache, "--workers", "2")
        gateways.append(gw_a)
        gateways.append(make_gateway(meta_dsn, tmp_path / "gateway-b.log", *cache))
        for gw in gateways:
            gw.start()
        yield nodes, gateways
    finally:
        for gateway in gateways:
            gateway.stop()
        for node in nodes:
            node.stop()


SIZES = [0, 1, 1024, 128 * 1024, 128 * 1024 + 1, 2 * 1024 * 1024, 9 * 1024 * 1024 + 3]


def test_write_through_a_read_through_b(cluster: tuple[list[NodeProc], list[GatewayProc]]) -> None:
    nodes, (gw_a, gw_b) = cluster
    a: Any = gw_a.client()
    b: Any = gw_b.client()
    a.create_bucket(Bucket="shared")
    expected = {}
    for i in range(60):
        size = SIZES[i % len(SIZES)]
        data = os.urandom(size)
        key = f"dir{i % 4}/obj{i:03d}"
        a.put_object(Bucket="shared", Key=key, Body=data)
        expected[key] = hashlib.md5(data).hexdigest()
        # read-after-write through the other gateway, at once
        assert (
            hashlib.md5(b.get_object(Bucket="shared", Key=key)["Body"].read()).hexdigest()
            == expected[key]
        )
    # overwrites through B of objects A has cached: A answers the new bytes at once
    for key in list(expected)[:12]:
        a.get_object(Bucket="shared", Key=key)["Body"].read()
        data = os.urandom(len(key) * 1000)
        b.put_object(Bucket="shared", Key=key, Body=data)
        expected[key] = hashlib.md5(data).hexdigest()
        got = a.get_object(Bucket="shared", Key=key)["Body"].read()
        assert hashlib.md5(got).hexdigest() == expected[key]
    listed = [
        o["Key"]
        for p in b.get_paginator("list_objects_v2").paginate(Bucket="shared")
        for o in p.get("Contents", [])
    ]
    assert listed == sorted(expected)
    prefixes = b.list_objects_v2(Bucket="shared", Delimiter="/")["CommonPrefixes"]
    assert [p["Prefix"] for p in prefixes] == ["dir0/", "dir1/", "dir2/", "dir3/"]
    # a whole zone lost: every object still reads back byte-identical through B
    nodes[0].kill()
    for key, md5 in expected.items():
        assert hashlib.md5(b.get_object(Bucket="shared", Key=key)["Body"].read()).hexdigest() == md5
    # writes with a zone gone: 6 of 9 stores left, below the EC write quorum of 7 -> a clear
    # S3 error (never a silent partial write); nothing becomes visible
    from botocore.config import Config

    no_retry: Any = gw_a.client(config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ClientError) as refused:
        no_retry.put_object(Bucket="shared", Key="after-loss", Body=os.urandom(1024 * 1024))
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(ClientError):
        b.head_object(Bucket="shared", Key="after-loss")
    # delete through B: gone through A at once
    b.delete_object(Bucket="shared", Key="dir0/obj000")
    with pytest.raises(ClientError) as info:
        a.get_object(Bucket="shared", Key="dir0/obj000")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"


def test_admin_cli_refuses_unknown_nodes(meta_dsn: str) -> None:
    result = subprocess.run(
        [NINEFOLD, "admin", "node", "remove", "--meta", meta_dsn, "ghost"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "no node 'ghost'" in result.stdout + result.stderr


def test_gateways_keep_serving_when_redis_dies(tmp_path: Path, meta_dsn: str) -> None:
    """The cache's Redis is killed and later restarted (empty) while two gateways serve: every
    read and write keeps working, and what one gateway writes the other reads at once."""
    redis = RedisProc(tmp_path / "redis").start()
    nodes = [NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)]
    gateways: list[GatewayProc] = []
    try:
        register(meta_dsn, nodes)
        for name in ("a", "b"):
            gateways.append(
                make_gateway(meta_dsn, tmp_path / f"gw-{name}.log", "--cache", redis.url).start()
            )
        a: Any = gateways[0].client()
        b: Any = gateways[1].client()
        a.create_bucket(Bucket="cached")

        def roundtrip(i: int) -> None:
            data = os.urandom(1000 + i)
            a.put_object(Bucket="cached", Key="same-key", Body=data)
            assert b.get_object(Bucket="cached", Key="same-key")["Body"].read() == data
            b.put_object(Bucket="cached", Key=f"k{i}", Body=data)
            assert a.get_object(Bucket="cached", Key=f"k{i}")["Body"].read() == data

        for i in range(5):
            roundtrip(i)
        assert redis.proc is not None
        redis.proc.kill()  # kill -9: no goodbye to its clients
        redis.stop()
        for i in range(5, 15):
            roundtrip(i)
        redis.start()
        for i in range(15, 25):
            roundtrip(i)
            time.sleep(0.1)
        keys = [o["Key"] for o in b.list_objects_v2(Bucket="cached")["Contents"]]
        assert keys == sorted([f"k{i}" for i in range(25)] + ["same-key"])
        assert "using the database alone" in (tmp_path / "gw-a.log").read_text()
    finally:
        for gw in gateways:
            gw.stop()
        for node in nodes:
            node.stop()
        redis.stop()
