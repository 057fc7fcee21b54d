"""Crash safety: everything acknowledged before SIGKILL / SIGTERM is there after a restart."""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .helpers import (
    PART_MIN,
    KiB,
    MiB,
    md5_hex,
    multipart_etag,
    no_retry_client,
    random_bytes,
    streamed_md5,
    unique_name,
)

SIZES = [0, 1, 4 * KiB, 128 * KiB, 128 * KiB + 1, 3 * MiB + 17]


def write_objects(client: Any, bucket: str, prefix: str) -> dict[str, str]:
    """Write one object per size; key -> md5."""
    written = {}
    for size in SIZES:
        data = random_bytes(size)
        key = f"{prefix}/{size}"
        client.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"size": str(size)})
        written[key] = md5_hex(data)
    return written


def verify(client: Any, bucket: str, expected: dict[str, str]) -> None:
    for key, md5 in expected.items():
        resp = client.get_object(Bucket=bucket, Key=key)
        got, size = streamed_md5(resp["Body"])
        assert got == md5, f"{key}: wrong bytes after restart"
        assert resp["Metadata"].get("size") in (None, str(size))
    listed = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        listed |= {o["Key"] for o in page.get("Contents", [])}
    assert set(expected) <= listed, sorted(set(expected) - listed)


def test_sigkill_then_restart(fresh_server: Any) -> None:
    client = fresh_server.boto3_client()
    bucket = unique_name("crash")
    client.create_bucket(Bucket=bucket)
    expected = write_objects(client, bucket, "before-kill")
    # an overwrite and a delete that were acknowledged must stick too
    client.put_object(Bucket=bucket, Key="overwritten", Body=b"v1")
    client.put_object(Bucket=bucket, Key="overwritten", Body=b"v2")
    expected["overwritten"] = md5_hex(b"v2")
    client.put_object(Bucket=bucket, Key="deleted", Body=b"gone")
    client.delete_object(Bucket=bucket, Key="deleted")

    fresh_server.kill()
    fresh_server.restart()
    client = fresh_server.boto3_client()
    verify(client, bucket, expected)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert "deleted" not in keys
    # and the restarted server accepts writes
    expected.update(write_objects(client, bucket, "after-kill"))
    verify(client, bucket, expected)


def test_sigterm_then_restart(fresh_server: Any) -> None:
    client = fresh_server.boto3_client()
    bucket = unique_name("term")
    client.create_bucket(Bucket=bucket)
    expected = write_objects(client, bucket, "before-stop")
    fresh_server.stop()
    fresh_server.restart()
    client = fresh_server.boto3_client()
    verify(client, bucket, expected)


def test_multipart_survives_restart(fresh_server: Any) -> None:
    """A completed multipart object and an in-progress upload both survive SIGKILL."""
    client = fresh_server.boto3_client()
    bucket = unique_name("mpcrash")
    client.create_bucket(Bucket=bucket)
    parts = [random_bytes(PART_MIN), random_bytes(1000)]
    up = client.create_multipart_upload(Bucket=bucket, Key="done")["UploadId"]
    etags = [
        client.upload_part(Bucket=bucket, Key="done", UploadId=up, PartNumber=i + 1, Body=p)["ETag"]
        for i, p in enumerate(parts)
    ]
    client.complete_multipart_upload(
        Bucket=bucket,
        Key="done",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )
    pending = client.create_multipart_upload(Bucket=bucket, Key="pending")["UploadId"]
    p1 = client.upload_part(
        Bucket=bucket, Key="pending", UploadId=pending, PartNumber=1, Body=parts[0]
    )["ETag"]

    fresh_server.kill()
    fresh_server.restart()
    client = fresh_server.boto3_client()

    head = client.head_object(Bucket=bucket, Key="done")
    assert head["ETag"] == multipart_etag(parts)
    md5, _ = streamed_md5(client.get_object(Bucket=bucket, Key="done")["Body"])
    assert md5 == md5_hex(b"".join(parts))
    listed = client.list_parts(Bucket=bucket, Key="pending", UploadId=pending)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in listed] == [(1, p1)]
    p2 = client.upload_part(
        Bucket=bucket, Key="pending", UploadId=pending, PartNumber=2, Body=parts[1]
    )["ETag"]
    client.complete_multipart_upload(
        Bucket=bucket,
        Key="pending",
        UploadId=pending,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}]},
    )
    md5, _ = streamed_md5(client.get_object(Bucket=bucket, Key="pending")["Body"])
    assert md5 == md5_hex(b"".join(parts))


def test_sigkill_during_writes(fresh_server: Any) -> None:
    """Writers run while the server is SIGKILLed: every acknowledged PUT is intact afterwards,
    and no key ever holds partial or foreign bytes."""
    client = fresh_server.boto3_client()
    bucket = unique_name("midkill")
    client.create_bucket(Bucket=bucket)
    acked: dict[str, str] = {}
    attempted: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(wid: int) -> None:
        c = no_retry_client(fresh_server)
        n = 0
        while not stop.is_set():
            size = [700, 64 * KiB, 300 * KiB, 2 * MiB][n % 4]
            data = random_bytes(size)
            key = f"w{wid}/{n}"
            digest = hashlib.md5(data).hexdigest()
            with lock:
                attempted[key] = digest
            try:
                c.put_object(Bucket=bucket, Key=key, Body=data)
            except (ClientError, BotoCoreError, OSError):
                return
            with lock:
                acked[key] = digest
            n += 1

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(acked) < 12:
        time.sleep(0.05)
    time.sleep(0.3)
    fresh_server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert acked, "no write was acknowledged before the kill"

    fresh_server.restart()
    client = fresh_server.boto3_client()
    with lock:
        acked_now, attempted_now = dict(acked), dict(attempted)
    verify(client, bucket, acked_now)
    # unacknowledged writes: absent, or complete and correct
    listed = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        listed |= {o["Key"] for o in page.get("Contents", [])}
    assert listed <= set(attempted_now), sorted(listed - set(attempted_now))
    for key in listed - set(acked_now):
        md5, _ = streamed_md5(client.get_object(Bucket=bucket, Key=key)["Body"])
        assert md5 == attempted_now[key], f"{key}: unacknowledged write left wrong bytes"
