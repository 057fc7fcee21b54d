"""Conditional writes: If-None-Match: * and If-Match on PutObject, CopyObject and
CompleteMultipartUpload (boto3 against the real server, HTTP and HTTPS)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from .helpers import quoted_md5, raises_s3, request, status_of

MiB = 1024 * 1024


def test_if_none_match_creates_only_once(s3: Any, bucket: str) -> None:
    resp = s3.put_object(Bucket=bucket, Key="k", Body=b"first", IfNoneMatch="*")
    assert status_of(resp) == 200
    with raises_s3("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"second", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"
    # a deleted key can be created again
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"third", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"third"


def test_if_none_match_on_a_large_object_fails_before_the_body_is_kept(
    s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="big", Body=b"small")
    with raises_s3("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="big", Body=os.urandom(3 * MiB), IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"small"


def test_if_match_replaces_only_the_expected_version(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    assert etag == quoted_md5(b"v1")
    resp = s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)
    assert resp["ETag"] == quoted_md5(b"v2")
    # the old ETag no longer matches
    with raises_s3("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    # unquoted, lists and * all work
    s3.put_object(Bucket=bucket, Key="k", Body=b"v4", IfMatch=quoted_md5(b"v2").strip('"'))
    s3.put_object(Bucket=bucket, Key="k", Body=b"v5", IfMatch=f'"nope", {quoted_md5(b"v4")}')
    s3.put_object(Bucket=bucket, Key="k", Body=b"v6", IfMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v6"


def test_if_match_on_a_missing_key_is_no_such_key(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=quoted_md5(b"x"))
    with raises_s3("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch="*")
    with raises_s3("404", 404):  # HEAD: no body, so no code
        s3.head_object(Bucket=bucket, Key="absent")


def test_if_none_match_with_an_etag_is_not_implemented(
    s3: Any, bucket: str, any_server: Any
) -> None:
    resp = request(
        any_server,
        "PUT",
        bucket,
        "k",
        body=b"x",
        headers={"If-None-Match": '"0123456789abcdef0123456789abcdef"'},
    )
    assert resp.status == 501 and b"<Code>NotImplemented</Code>" in resp.body
    with raises_s3("404", 404):  # nothing was written
        s3.head_object(Bucket=bucket, Key="k")


def test_twenty_concurrent_creators_exactly_one_wins(s3: Any, bucket: str) -> None:
    bodies = [f"creator {i}".encode() * 1000 for i in range(20)]
    outcomes: list[int] = []

    def create(body: bytes) -> int:
        try:
            return status_of(s3.put_object(Bucket=bucket, Key="race", Body=body, IfNoneMatch="*"))
        except ClientError as exc:
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])

    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(create, bodies))
    assert sorted(outcomes).count(200) == 1, outcomes
    assert set(outcomes) <= {200, 409, 412}
    winner = bodies[outcomes.index(200)]
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == winner


def _upload(s3: Any, bucket: str, key: str) -> tuple[str, list[dict[str, Any]], bytes]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    data = [os.urandom(5 * MiB), b"tail"]
    parts = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=d)[
                "ETag"
            ],
        }
        for n, d in enumerate(data, start=1)
    ]
    return upload, parts, b"".join(data)


def test_complete_multipart_upload_conditions(s3: Any, bucket: str) -> None:
    upload, parts, data = _upload(s3, bucket, "mp")
    s3.put_object(Bucket=bucket, Key="mp", Body=b"exists")
    with raises_s3("PreconditionFailed", 412):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload,
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
    # the upload is still there: it completes once the condition holds
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"exists"
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": parts},
        IfMatch=quoted_md5(b"exists"),
    )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == data
    upload2, parts2, _ = _upload(s3, bucket, "mp2")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp2",
        UploadId=upload2,
        MultipartUpload={"Parts": parts2},
        IfNoneMatch="*",
    )
    with raises_s3("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="mp2", UploadId=upload2)


def test_copy_object_if_none_match(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    s3.put_object(Bucket=bucket, Key="dst", Body=b"dest")
    with raises_s3("PreconditionFailed", 412):
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src"},
            IfNoneMatch="*",
        )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"dest"
    s3.copy_object(
        Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "src"}, IfNoneMatch="*"
    )
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"source"
