"""CopyObject: directives, across buckets, conditions, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from .helpers import KiB, MiB, md5_hex, quoted_md5, raises_s3, random_bytes, read_all, status_of

DAY = dt.timedelta(days=1)


@pytest.fixture
def source(s3: Any, bucket: str) -> bytes:
    data = random_bytes(300 * KiB)
    s3.put_object(
        Bucket=bucket,
        Key="src",
        Body=data,
        ContentType="text/x-source",
        ContentDisposition="inline",
        CacheControl="max-age=1",
        Metadata={"origin": "source", "keep": "me"},
    )
    return data


def test_copy_default_directive_copies_metadata(s3: Any, bucket: str, source: bytes) -> None:
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert status_of(resp) == 200
    assert resp["CopyObjectResult"]["ETag"] == quoted_md5(source)
    assert isinstance(resp["CopyObjectResult"]["LastModified"], dt.datetime)
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"origin": "source", "keep": "me"}
    assert head["ContentType"] == "text/x-source"
    assert head["ContentDisposition"] == "inline"
    assert head["CacheControl"] == "max-age=1"
    assert head["ETag"] == quoted_md5(source)
    assert read_all(s3, bucket, "dst") == source


def test_copy_explicit_copy_directive_ignores_new_metadata(
    s3: Any, bucket: str, source: bytes
) -> None:
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="COPY",
    )
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {
        "origin": "source",
        "keep": "me",
    }


def test_copy_replace_directive(s3: Any, bucket: str, source: bytes) -> None:
    s3.copy_object(
        Bucket=bucket,
        Key="dst",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"fresh": "yes"},
        ContentType="application/x-new",
    )
    head = s3.head_object(Bucket=bucket, Key="dst")
    assert head["Metadata"] == {"fresh": "yes"}
    assert head["ContentType"] == "application/x-new"
    assert head.get("CacheControl") is None
    assert head.get("ContentDisposition") is None
    assert read_all(s3, bucket, "dst") == source
    # the source is untouched
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {
        "origin": "source",
        "keep": "me",
    }


def test_copy_across_buckets(s3: Any, bucket: str, source: bytes, make_bucket: Any) -> None:
    other = make_bucket()
    s3.copy_object(Bucket=other, Key="copied/here", CopySource={"Bucket": bucket, "Key": "src"})
    assert read_all(s3, other, "copied/here") == source
    # deleting the source leaves the copy intact
    s3.delete_object(Bucket=bucket, Key="src")
    assert md5_hex(read_all(s3, other, "copied/here")) == md5_hex(source)


@pytest.mark.parametrize("size", [0, 10, 2 * MiB + 3], ids=["0B", "10B", "2MiB"])
def test_copy_sizes(s3: Any, bucket: str, size: int) -> None:
    data = random_bytes(size)
    s3.put_object(Bucket=bucket, Key=f"s{size}", Body=data)
    s3.copy_object(Bucket=bucket, Key=f"d{size}", CopySource={"Bucket": bucket, "Key": f"s{size}"})
    assert read_all(s3, bucket, f"d{size}") == data


def test_copy_special_key(s3: Any, bucket: str) -> None:
    key = "spaces and ünïcode/+plus%percent?q#h"
    s3.put_object(Bucket=bucket, Key=key, Body=b"special")
    s3.copy_object(Bucket=bucket, Key=key + ".copy", CopySource={"Bucket": bucket, "Key": key})
    assert read_all(s3, bucket, key + ".copy") == b"special"


def test_copy_source_conditions(s3: Any, bucket: str, source: bytes) -> None:
    etag = quoted_md5(source)
    lm = s3.head_object(Bucket=bucket, Key="src")["LastModified"]
    src = {"Bucket": bucket, "Key": "src"}

    ok = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfModifiedSince": lm - DAY},
        {"CopySourceIfUnmodifiedSince": lm + DAY},
    ]
    for cond in ok:
        resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, **cond)
        assert status_of(resp) == 200, cond

    s3.delete_object(Bucket=bucket, Key="dst")
    failing = [
        {"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfModifiedSince": lm + DAY},
        {"CopySourceIfUnmodifiedSince": lm - DAY},
    ]
    for cond in failing:
        with raises_s3("PreconditionFailed", 412):
            s3.copy_object(Bucket=bucket, Key="dst", CopySource=src, **cond)
        with raises_s3("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key="dst")


def test_copy_missing_source(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})


def test_copy_missing_source_bucket(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchBucket", 404):
        s3.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": "no-such-bucket-nf-it", "Key": "k"}
        )


def test_copy_to_missing_destination_bucket(s3: Any, bucket: str, source: bytes) -> None:
    with raises_s3("NoSuchBucket", 404):
        s3.copy_object(
            Bucket="no-such-bucket-nf-it", Key="dst", CopySource={"Bucket": bucket, "Key": "src"}
        )


def test_copy_to_self_requires_replace(s3: Any, bucket: str, source: bytes) -> None:
    with raises_s3("InvalidRequest", 400):
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    # with REPLACE it is the way to change metadata in place
    s3.copy_object(
        Bucket=bucket,
        Key="src",
        CopySource={"Bucket": bucket, "Key": "src"},
        MetadataDirective="REPLACE",
        Metadata={"changed": "1"},
    )
    head = s3.head_object(Bucket=bucket, Key="src")
    assert head["Metadata"] == {"changed": "1"}
    assert read_all(s3, bucket, "src") == source


def test_copy_invalid_directive(s3: Any, bucket: str, source: bytes) -> None:
    from botocore.exceptions import ParamValidationError

    try:
        with raises_s3(("InvalidArgument", "InvalidRequest"), 400):
            s3.copy_object(
                Bucket=bucket,
                Key="dst",
                CopySource={"Bucket": bucket, "Key": "src"},
                MetadataDirective="MERGE",
            )
    except ParamValidationError:
        pytest.skip("botocore validates the enum client-side")
