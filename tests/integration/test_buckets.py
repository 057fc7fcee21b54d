"""CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket (HTTP and HTTPS)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from .helpers import delete_bucket, raises_s3, request, status_of, unique_name
from .test_acl import new_account
from .test_iam import admin, client_for, new_key, write_policy


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


def test_list_buckets_pages_and_prefix(s3: Any, any_server: Any) -> None:
    stem = "nf-lb-" + secrets.token_hex(3)
    names = [f"{stem}-{i}" for i in range(5)]
    for name in names:
        s3.create_bucket(Bucket=name)
    try:
        resp = s3.list_buckets(Prefix=stem)
        assert [b["Name"] for b in resp["Buckets"]] == names
        assert resp["Prefix"] == stem and "ContinuationToken" not in resp
        seen: list[str] = []
        pages = 0
        kwargs: dict[str, Any] = {"Prefix": stem, "MaxBuckets": 2}
        while True:
            page = s3.list_buckets(**kwargs)
            pages += 1
            assert len(page["Buckets"]) <= 2
            seen += [b["Name"] for b in page["Buckets"]]
            if "ContinuationToken" not in page:
                break
            kwargs["ContinuationToken"] = page["ContinuationToken"]
        assert (seen, pages) == (names, 3)
        # the paginator follows the tokens too
        paginator = s3.get_paginator("list_buckets")
        got = [
            b["Name"]
            for p in paginator.paginate(Prefix=stem, PaginationConfig={"PageSize": 3})
            for b in p["Buckets"]
        ]
        assert got == names
        assert s3.list_buckets(Prefix=stem + "-9")["Buckets"] == []
        for bad in ("0", "10001", "-1", "many"):
            resp = request(any_server, "GET", None, query={"max-buckets": bad})
            assert resp.status == 400, resp
            resp.error("InvalidArgument")
        resp = request(any_server, "GET", None, query={"continuation-token": "!!!"})
        assert resp.status == 400, resp
        resp.error("InvalidArgument")
    finally:
        for name in names:
            delete_bucket(s3, name)


def test_list_buckets_shows_the_callers_account_only(
    s3_http: Any, server: Any, tmp_path: Path
) -> None:
    s3 = s3_http
    _, account, other = new_account(server)
    mine, theirs = "nf-lb-mine-" + secrets.token_hex(3), "nf-lb-theirs-" + secrets.token_hex(3)
    s3.create_bucket(Bucket=mine)
    other.create_bucket(Bucket=theirs)
    try:
        assert theirs not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert mine in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert [b["Name"] for b in other.list_buckets()["Buckets"]] == [theirs]
        # a taken name: the other account's, or one's own
        with raises_s3("BucketAlreadyExists", 409):
            s3.create_bucket(Bucket=theirs)
        with raises_s3("BucketAlreadyOwnedByYou", 409):
            other.create_bucket(Bucket=theirs)
        # users list their account's buckets (with s3:ListAllMyBuckets), whoever created them
        lister = write_policy(
            tmp_path,
            "lister",
            [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
        )
        admin(server, "policy", "create", "lister-" + account, "--file", lister)
        for user, user_account in (("u-" + account, None), ("v-" + account, account)):
            extra = ["--account", user_account] if user_account else []
            admin(server, "user", "create", user, *extra)
            admin(server, "policy", "attach", "lister-" + account, "--user", user)
            listed = [
                b["Name"]
                for b in client_for(server, new_key(server, user)).list_buckets()["Buckets"]
            ]
            if user_account is None:
                assert mine in listed and theirs not in listed
            else:
                assert listed == [theirs]
    finally:
        delete_bucket(s3, mine)
        delete_bucket(other, theirs)
