"""Flexible checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) and Content-MD5."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from .helpers import (
    KiB,
    MiB,
    b64_md5,
    crc32_b64,
    md5_hex,
    no_retry_client,
    quoted_md5,
    raises_s3,
    random_bytes,
    read_all,
    request,
    status_of,
)

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("size", [0, 3 * KiB, 1 * MiB + 7], ids=["0B", "3KiB", "1MiB+7"])
def test_checksum_round_trip(s3: Any, bucket: str, algorithm: str, size: int) -> None:
    data = random_bytes(size)
    key = f"ck-{algorithm}-{size}"
    field = f"Checksum{algorithm}"
    put = s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=algorithm)
    assert status_of(put) == 200
    sent = put.get(field)
    assert sent, f"PutObject response lacks {field}: {put}"

    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head.get(field) == sent, head
    got = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert got.get(field) == sent, got
    assert got["Body"].read() == data


def test_known_checksum_values(s3: Any, bucket: str) -> None:
    data = b"The quick brown fox jumps over the lazy dog"
    s3.put_object(Bucket=bucket, Key="sha256", Body=data, ChecksumAlgorithm="SHA256")
    head = s3.head_object(Bucket=bucket, Key="sha256", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    s3.put_object(Bucket=bucket, Key="sha1", Body=data, ChecksumAlgorithm="SHA1")
    head = s3.head_object(Bucket=bucket, Key="sha1", ChecksumMode="ENABLED")
    assert head["ChecksumSHA1"] == base64.b64encode(hashlib.sha1(data).digest()).decode()
    s3.put_object(Bucket=bucket, Key="crc32", Body=data, ChecksumAlgorithm="CRC32")
    head = s3.head_object(Bucket=bucket, Key="crc32", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32_b64(data)


def test_default_put_checksum_is_crc32(s3: Any, bucket: str) -> None:
    """boto3 >= 1.36 sends CRC32 by default (a header over HTTP, an aws-chunked trailer over
    HTTPS); the server must verify and store it."""
    data = random_bytes(200 * KiB)
    put = s3.put_object(Bucket=bucket, Key="default", Body=data)
    assert put.get("ChecksumCRC32") == crc32_b64(data)
    got = s3.get_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert got.get("ChecksumCRC32") == crc32_b64(data)
    assert got["Body"].read() == data


def test_wrong_crc32_rejected_and_object_unchanged(any_server: Any, bucket: str) -> None:
    # botocore retries BadDigest (legacy mode, 5 attempts with backoff): no retries here
    s3 = no_retry_client(any_server)
    original = b"original content"
    s3.put_object(Bucket=bucket, Key="k", Body=original)
    wrong = crc32_b64(b"something else")
    with raises_s3(("BadDigest", "InvalidRequest"), 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"new content", ChecksumCRC32=wrong)
    assert read_all(s3, bucket, "k") == original
    with raises_s3(("BadDigest", "InvalidRequest"), 400):
        s3.put_object(Bucket=bucket, Key="new", Body=b"new content", ChecksumCRC32=wrong)
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="new")


def test_wrong_crc32_raw_header(any_server: Any, s3: Any, bucket: str) -> None:
    body = random_bytes(300 * KiB)  # erasure-coded path
    resp = request(
        any_server,
        "PUT",
        bucket,
        "raw-bad-crc",
        body=body,
        headers={"x-amz-checksum-crc32": crc32_b64(body[:-1]), "Content-Type": "a/b"},
    )
    assert resp.status == 400, resp
    resp.error(("BadDigest", "InvalidRequest"))
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="raw-bad-crc")


@pytest.mark.parametrize("algorithm", ["CRC32C", "SHA1", "SHA256"])
def test_wrong_other_checksums_rejected(any_server: Any, bucket: str, algorithm: str) -> None:
    s3 = no_retry_client(any_server)
    good = {
        "CRC32C": "AAAAAA==",
        "SHA1": base64.b64encode(b"\0" * 20).decode(),
        "SHA256": base64.b64encode(b"\0" * 32).decode(),
    }[algorithm]
    with raises_s3(("BadDigest", "InvalidRequest"), 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=b"payload", **{f"Checksum{algorithm}": good})
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


def test_content_md5_correct(s3: Any, bucket: str) -> None:
    data = random_bytes(150 * KiB)
    put = s3.put_object(Bucket=bucket, Key="md5", Body=data, ContentMD5=b64_md5(data))
    assert put["ETag"] == quoted_md5(data)
    assert md5_hex(read_all(s3, bucket, "md5")) == md5_hex(data)


def test_wrong_content_md5(any_server: Any, bucket: str) -> None:
    s3 = no_retry_client(any_server)
    s3.put_object(Bucket=bucket, Key="md5", Body=b"original")
    with raises_s3("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="md5", Body=b"changed", ContentMD5=b64_md5(b"other"))
    assert read_all(s3, bucket, "md5") == b"original"


@pytest.mark.parametrize("value", ["not-base64!!", "AAAA", base64.b64encode(b"x" * 15).decode()])
def test_malformed_content_md5(any_server: Any, bucket: str, value: str) -> None:
    s3 = no_retry_client(any_server)
    with raises_s3("InvalidDigest", 400):
        s3.put_object(Bucket=bucket, Key="md5bad", Body=b"data", ContentMD5=value)
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="md5bad")


def test_wrong_content_sha256(any_server: Any, s3: Any, bucket: str) -> None:
    """A signed payload hash that does not match the body: XAmzContentSHA256Mismatch."""
    body = b"the real body"
    resp = request(
        any_server,
        "PUT",
        bucket,
        "sha-mismatch",
        body=body,
        payload_hash=hashlib.sha256(b"another body").hexdigest(),
    )
    assert resp.status == 400, resp
    resp.error(("XAmzContentSHA256Mismatch", "BadDigest"))
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="sha-mismatch")
