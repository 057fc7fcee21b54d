"""The gateway killed with `kill -9` at 50 random moments during PUT, CompleteMultipartUpload
and DELETE (real node processes, fresh PostgreSQL). After each restart every key is entirely
its old or entirely its new version, and listings agree with what GET returns; after GC and
orphan collection the fragment files on the nodes are exactly those the metadata references."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from tests.cluster.test_gateways import SECRET, make_gateway, register
from tests.cluster.test_heal import verify_every_chunk
from tests.support.node import BIN, GatewayProc, NodeProc

MiB = 1024 * 1024
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5)


def get_or_none(s3: Any, key: str) -> bytes | None:
    try:
        return bytes(s3.get_object(Bucket="crash", Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchKey":
            return None
        raise


def in_thread(fn: Any) -> threading.Thread:
    def run() -> None:
        # the gateway is killed under it: any outcome is fine here, the test checks the state
        with contextlib.suppress(Exception):
            fn()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_gateway_killed_at_random_moments(tmp_path: Path, meta_dsn: str) -> None:
    rng = random.Random(4242)
    nodes = [NodeProc(tmp_path / f"n{i}", f"n{i}", f"z{i}", 3, SECRET).start() for i in range(1, 4)]
    gateway: GatewayProc | None = None
    try:
        register(meta_dsn, nodes)
        gateway = make_gateway(meta_dsn, tmp_path / "gw.log").start()
        s3: Any = gateway.client(config=NO_RETRY)
        s3.create_bucket(Bucket="crash")
        current: dict[str, bytes | None] = {}
        for i in range(6):
            key = f"k{i}"
            current[key] = os.urandom(rng.choice([1000, 3 * MiB]))
            s3.put_object(Bucket="crash", Key=key, Body=current[key])
        kinds: dict[str, int] = {}
        for round_no in range(50):
            key = f"k{rng.randrange(6)}"
            kind = rng.choice(["put", "put", "complete", "delete"])
            kinds[kind] = kinds.get(kind, 0) + 1
            new: bytes | None
            if kind == "put":
                new = os.urandom(rng.choice([5000, 3 * MiB, 9 * MiB]))
                body = new
                thread = in_thread(
                    lambda k=key, b=body: s3.put_object(Bucket="crash", Key=k, Body=b)
                )
                delay = rng.uniform(0, 0.3)
            elif kind == "complete":
                parts_data = [os.urandom(5 * MiB), os.urandom(MiB + 7)]
                upload = s3.create_multipart_upload(Bucket="crash", Key=key)["UploadId"]
                parts = []
                for n, data in enumerate(parts_data, start=1):
                    etag = s3.upload_part(
                        Bucket="crash", Key=key, UploadId=upload, PartNumber=n, Body=data
                    )["ETag"]
                    parts.append({"PartNumber": n, "ETag": etag})
                new = b"".join(parts_data)
                thread = in_thread(
                    lambda k=key, u=upload, p=parts: s3.complete_multipart_upload(
                        Bucket="crash", Key=k, UploadId=u, MultipartUpload={"Parts": p}
                    )
                )
                delay = rng.uniform(0, 0.05)
            else:
                new = None
                thread = in_thread(lambda k=key: s3.delete_object(Bucket="crash", Key=k))
                delay = rng.uniform(0, 0.03)
            time.sleep(delay)
            gateway.kill()
            thread.join(60)
            gateway.start()
            got = get_or_none(s3, key)
            old = current[key]
            assert got in (old, new), (
                f"round {round_no}: {kind} of {key} left "
                f"{None if got is None else len(got)} bytes (old "
                f"{None if old is None else len(old)}, new {None if new is None else len(new)})"
            )
            current[key] = got
            # listings agree with GET: nothing partial is listed
            listed = {
                o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="crash").get("Contents", [])
            }
            assert listed == {k: len(v) for k, v in current.items() if v is not None}
        # every key still reads back whole, with its recorded md5
        for key, data in current.items():
            got = get_or_none(s3, key)
            assert got == data, key
        # GC and orphan collection with no grace: what is on disk is what metadata references
        done = subprocess.run(
            [
                str(BIN),
                "worker",
                "--meta",
                meta_dsn,
                "--once",
                "--gc-grace-s",
                "0",
                "--orphan-grace-s",
                "0",
            ],
            env=dict(os.environ, NINEFOLD_CLUSTER_SECRET=SECRET),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        chunks, referenced, bad = asyncio.run(verify_every_chunk(meta_dsn))
        assert bad == []
        on_disk = sum(
            1 for n in nodes for d in n.drive_dirs for p in (d / "frag").rglob("*") if p.is_file()
        )
        assert on_disk == referenced, (on_disk, referenced, chunks)
        print(
            f"gateway killed 50 times ({kinds}); {chunks} chunks, {referenced} fragments "
            f"referenced = {on_disk} on disk"
        )
    finally:
        if gateway is not None:
            gateway.stop()
        for node in nodes:
            node.stop()
