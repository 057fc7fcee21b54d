"""CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket (HTTP and HTTPS)."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import delete_bucket, raises_s3, status_of, unique_name


def test_create_head_delete_bucket(s3: Any) -> None:
    name = unique_name()
    try:
        resp = s3.create_bucket(Bucket=name)
        assert status_of(resp) == 200
        assert status_of(s3.head_bucket(Bucket=name)) == 200
        resp = s3.delete_bucket(Bucket=name)
        assert status_of(resp) == 204
        with raises_s3(("404", "NoSuchBucket"), 404):
            s3.head_bucket(Bucket=name)
    finally:
        delete_bucket(s3, name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "MyBucket",  # uppercase
        "my_bucket",  # underscore
        "192.168.1.1",  # IP-like
        "-bucket",  # starts with '-'
        "bucket-",  # ends with '-'
        "my..bucket",  # '..'
        "my.-bucket",
    ],
    ids=[
        "short",
        "long",
        "upper",
        "underscore",
        "ip",
        "lead-dash",
        "trail-dash",
        "dotdot",
        "dot-dash",
    ],
)
def test_create_bucket_invalid_name(s3: Any, name: str) -> None:
    # botocore validates a few names itself (ParamValidationError); the server must reject the
    # rest. Where botocore lets the request through we assert the S3 error.
    from botocore.exceptions import ParamValidationError

    try:
        with raises_s3("InvalidBucketName", 400):
            s3.create_bucket(Bucket=name)
    except ParamValidationError:
        pytest.skip(f"botocore rejects {name!r} client-side")


def test_bucket_name_limits_ok(s3: Any) -> None:
    names = ["a" * 3, "a" * 63, "with.dots.ok", "0digits-1"]
    try:
        for name in names:
            delete_bucket(s3, name)
            assert status_of(s3.create_bucket(Bucket=name)) == 200
    finally:
        for name in names:
            delete_bucket(s3, name)


def test_create_existing_own_bucket(s3: Any, bucket: str) -> None:
    with raises_s3("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=bucket)


def test_create_bucket_with_location_constraint_us_east_1_default(s3: Any) -> None:
    name = unique_name()
    try:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={})
        assert status_of(s3.head_bucket(Bucket=name)) == 200
    finally:
        delete_bucket(s3, name)


def test_head_missing_bucket(s3: Any) -> None:
    with raises_s3(("404", "NoSuchBucket"), 404):
        s3.head_bucket(Bucket=unique_name("missing"))


def test_list_buckets(s3: Any, bucket: str, make_bucket: Any) -> None:
    other = make_bucket()
    resp = s3.list_buckets()
    assert status_of(resp) == 200
    names = [b["Name"] for b in resp["Buckets"]]
    assert bucket in names
    assert other in names
    for b in resp["Buckets"]:
        assert b["CreationDate"] is not None
    assert resp["Owner"]["ID"], resp["Owner"]


def test_get_bucket_location(s3: Any, bucket: str) -> None:
    resp = s3.get_bucket_location(Bucket=bucket)
    assert status_of(resp) == 200
    # us-east-1 is reported as an empty LocationConstraint (boto3 gives None)
    assert resp.get("LocationConstraint") in (None, "", "us-east-1")


def test_get_bucket_location_missing(s3: Any) -> None:
    with raises_s3("NoSuchBucket", 404):
        s3.get_bucket_location(Bucket=unique_name("missing"))


def test_delete_bucket_not_empty(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    with raises_s3("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    assert status_of(s3.head_bucket(Bucket=bucket)) == 200
    s3.delete_object(Bucket=bucket, Key="keep")
    assert status_of(s3.delete_bucket(Bucket=bucket)) == 204
    with raises_s3(("404", "NoSuchBucket"), 404):
        s3.head_bucket(Bucket=bucket)
    # so that the fixture's cleanup finds something to delete
    s3.create_bucket(Bucket=bucket)


def test_delete_missing_bucket(s3: Any) -> None:
    with raises_s3("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=unique_name("missing"))


def test_operations_on_missing_bucket(s3: Any) -> None:
    missing = unique_name("missing")
    with raises_s3("NoSuchBucket", 404):
        s3.put_object(Bucket=missing, Key="k", Body=b"x")
    with raises_s3("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=missing)
    with raises_s3("NoSuchBucket", 404):
        s3.list_objects(Bucket=missing)
    with raises_s3("NoSuchBucket", 404):
        s3.create_multipart_upload(Bucket=missing, Key="k")
