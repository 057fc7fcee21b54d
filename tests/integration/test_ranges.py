"""Range GETs on replicated and erasure-coded objects."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import STRIPE, MiB, raises_s3, random_bytes, raw_headers, request, status_of


@pytest.fixture
def small_obj(s3: Any, bucket: str) -> bytes:
    data = random_bytes(100)
    s3.put_object(Bucket=bucket, Key="small", Body=data)
    return data


@pytest.fixture
def ec_obj(s3: Any, bucket: str) -> bytes:
    data = random_bytes(5 * MiB + 123)
    s3.put_object(Bucket=bucket, Key="ec", Body=data)
    return data


def _range(s3: Any, bucket: str, key: str, spec: str) -> tuple[dict[str, Any], bytes]:
    resp = s3.get_object(Bucket=bucket, Key=key, Range=spec)
    return resp, resp["Body"].read()


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-", 10, 99),
        ("bytes=-10", 90, 99),
        ("bytes=50-5000", 50, 99),  # clipped to the end
        ("bytes=99-99", 99, 99),
        ("bytes=0-0", 0, 0),
        ("bytes=-500", 0, 99),  # suffix longer than the object: whole object
    ],
)
def test_range_small(
    s3: Any, bucket: str, small_obj: bytes, spec: str, start: int, end: int
) -> None:
    resp, body = _range(s3, bucket, "small", spec)
    assert status_of(resp) == 206
    assert resp["ContentRange"] == f"bytes {start}-{end}/100"
    assert resp["ContentLength"] == end - start + 1
    assert body == small_obj[start : end + 1]
    assert raw_headers(resp).get("accept-ranges") == "bytes"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 9),
        (STRIPE - 4, STRIPE + 6),  # crosses the first stripe boundary (1572860-1572870)
        (256 * 1024 - 5, 256 * 1024 + 5),  # crosses a block boundary inside a stripe
        (STRIPE * 2 - 1, STRIPE * 2),  # two bytes around the second stripe boundary
        (1, 5 * MiB + 122),  # almost everything
        (3 * STRIPE + 17, 3 * STRIPE + 17),  # first byte of the last (partial) stripe region
        (5 * MiB, 5 * MiB + 122),  # tail
    ],
)
def test_range_erasure_coded(s3: Any, bucket: str, ec_obj: bytes, start: int, end: int) -> None:
    resp, body = _range(s3, bucket, "ec", f"bytes={start}-{end}")
    assert status_of(resp) == 206
    assert resp["ContentRange"] == f"bytes {start}-{end}/{len(ec_obj)}"
    assert len(body) == end - start + 1
    assert body == ec_obj[start : end + 1]


def test_range_erasure_coded_open_and_suffix(s3: Any, bucket: str, ec_obj: bytes) -> None:
    size = len(ec_obj)
    resp, body = _range(s3, bucket, "ec", f"bytes={STRIPE + 1}-")
    assert resp["ContentRange"] == f"bytes {STRIPE + 1}-{size - 1}/{size}"
    assert body == ec_obj[STRIPE + 1 :]
    resp, body = _range(s3, bucket, "ec", f"bytes=-{STRIPE + 10}")
    assert resp["ContentRange"] == f"bytes {size - STRIPE - 10}-{size - 1}/{size}"
    assert body == ec_obj[-(STRIPE + 10) :]


def test_range_not_satisfiable(s3: Any, bucket: str, small_obj: bytes) -> None:
    with raises_s3("InvalidRange", 416):
        s3.get_object(Bucket=bucket, Key="small", Range="bytes=5000-")
    with raises_s3("InvalidRange", 416):
        s3.get_object(Bucket=bucket, Key="small", Range="bytes=100-200")


def test_range_on_empty_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    # S3 answers a range on an empty object with 416 InvalidRange
    with raises_s3("InvalidRange", 416):
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-9")


def test_invalid_range_syntax_is_ignored(s3: Any, bucket: str, small_obj: bytes) -> None:
    # S3 ignores a Range header it cannot parse and returns the whole object
    resp = s3.get_object(Bucket=bucket, Key="small", Range="bytes=abc")
    assert status_of(resp) == 200
    assert resp["Body"].read() == small_obj


def test_head_with_range(s3: Any, bucket: str, small_obj: bytes) -> None:
    resp = s3.head_object(Bucket=bucket, Key="small", Range="bytes=0-9")
    assert status_of(resp) == 206
    assert resp["ContentLength"] == 10
    assert resp["ContentRange"] == "bytes 0-9/100"


def test_range_raw_content_range_header(any_server: Any, bucket: str, small_obj: bytes) -> None:
    resp = request(any_server, "GET", bucket, "small", headers={"Range": "bytes=-10"})
    assert resp.status == 206, resp
    assert resp.header("Content-Range") == "bytes 90-99/100"
    assert resp.header("Content-Length") == "10"
    assert resp.body == small_obj[-10:]
    resp = request(any_server, "GET", bucket, "small", headers={"Range": "bytes=5000-"})
    assert resp.status == 416, resp
    resp.error("InvalidRange")
