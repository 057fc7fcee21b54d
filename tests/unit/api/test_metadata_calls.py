"""The hot path reads a request's bucket once: a PUT and a GET each make exactly the metadata
calls they need, counted on a real SQLite store behind the real S3 app, driven by boto3."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ninefold.api.app import S3App
from ninefold.api.auth import Credentials
from ninefold.api.connections import HttpSettings
from ninefold.api.s3.context import ApiSettings, Services
from ninefold.api.server import start_site
from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.domain.objects import ObjectService
from ninefold.fragments.memory import MemoryFragmentStore
from ninefold.meta.sqlite import SqliteMetaStore

ACCESS, SECRET = "COUNTINGKEY", "counting-secret"


class CountingMetaStore:
    """A MetaStore that counts the calls made to it and passes them on."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, CountingMetaStore]]:
    """(a boto3 client, the counting store) of an S3 app served on a thread's event loop."""
    loop = asyncio.new_event_loop()
    port = _free_port()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def setup() -> None:
        meta = CountingMetaStore(await SqliteMetaStore.open(tmp_path / "meta.db"))
        stores = {f"d{i}": MemoryFragmentStore(f"d{i}") for i in range(1, 10)}
        chunkio = ChunkIO(ClusterView.local(stores))
        objects = ObjectService(meta, chunkio, CoordinatorSettings())  # type: ignore[arg-type]
        root = Credentials(ACCESS, SECRET, "root", True)
        app = S3App(Services.build(objects, ApiSettings()), lambda k: root if k == ACCESS else None)
        state["runner"] = await start_site(app, "127.0.0.1", port, None, HttpSettings())
        state["meta"] = meta

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(setup())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(30)
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    try:
        yield client, state["meta"]
    finally:

        async def teardown() -> None:
            await state["runner"].cleanup()
            await state["meta"].close()

        asyncio.run_coroutine_threadsafe(teardown(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()


@pytest.mark.parametrize("size", [4096, 200 * 1024])
def test_put_and_get_read_the_bucket_once(served: tuple[Any, CountingMetaStore], size: int) -> None:
    client, meta = served
    client.create_bucket(Bucket="counted")
    body = bytes(range(256)) * (size // 256)

    meta.calls.clear()
    client.put_object(Bucket="counted", Key="k", Body=body)
    assert meta.calls["get_bucket"] == 1
    assert meta.calls["put_object"] == 1
    # nothing else on the way in: no bucket configuration, IAM or object lookups
    assert sum(meta.calls.values()) == 2, meta.calls

    meta.calls.clear()
    got = client.get_object(Bucket="counted", Key="k")["Body"].read()
    assert got == body
    assert meta.calls == Counter({"get_bucket": 1, "get_object": 1})


def test_a_missing_bucket_is_answered_from_the_one_read(
    served: tuple[Any, CountingMetaStore],
) -> None:
    client, meta = served
    meta.calls.clear()
    with pytest.raises(client.exceptions.NoSuchBucket):
        client.put_object(Bucket="absent", Key="k", Body=b"x")
    assert meta.calls == Counter({"get_bucket": 1})


def test_a_bucket_with_settings_is_still_one_read(
    served: tuple[Any, CountingMetaStore],
) -> None:
    """CORS, a public access block, ownership controls and a policy ride along with the bucket:
    a PUT that checks its ACL and Object Lock against them, from an Origin, reads nothing more."""
    client, meta = served
    client.create_bucket(Bucket="configured")
    client.put_bucket_cors(
        Bucket="configured",
        CORSConfiguration={"CORSRules": [{"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]}]},
    )
    client.put_public_access_block(
        Bucket="configured",
        PublicAccessBlockConfiguration={"BlockPublicAcls": True, "IgnorePublicAcls": True},
    )
    client.put_bucket_ownership_controls(
        Bucket="configured",
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
    )
    client.put_bucket_policy(
        Bucket="configured",
        Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
        '"Action":"s3:DeleteBucket","Resource":"arn:aws:s3:::configured"}]}',
    )

    def add_origin(request: Any, **_: Any) -> None:
        request.headers["Origin"] = "https://app.example"

    client.meta.events.register("before-sign.s3.PutObject", add_origin)
    meta.calls.clear()
    client.put_object(Bucket="configured", Key="k", Body=b"x" * 100, ACL="private")
    assert meta.calls == Counter({"get_bucket": 1, "put_object": 1})
