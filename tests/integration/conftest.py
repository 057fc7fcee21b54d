"""Extra fixtures of the integration suite (the servers come from ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .helpers import delete_bucket, unique_name


@pytest.fixture
def make_bucket(s3: Any) -> Iterator[Callable[[], str]]:
    """Factory of extra buckets on ``s3`` (emptied and deleted after the test)."""
    made: list[str] = []

    def make() -> str:
        name = unique_name()
        s3.create_bucket(Bucket=name)
        made.append(name)
        return name

    yield make
    for name in made:
        delete_bucket(s3, name)


@pytest.fixture
def tls_bucket(tls_server: Any) -> Iterator[str]:
    """A fresh bucket on the HTTPS server (for tests of HTTPS-only client behaviour)."""
    client = tls_server.boto3_client()
    name = unique_name()
    client.create_bucket(Bucket=name)
    yield name
    delete_bucket(client, name)


@pytest.fixture
def http_bucket(server: Any) -> Iterator[str]:
    """A fresh bucket on the plain-HTTP server."""
    client = server.boto3_client()
    name = unique_name()
    client.create_bucket(Bucket=name)
    yield name
    delete_bucket(client, name)
