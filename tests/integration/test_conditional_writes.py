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


def test_if_none_match_with_an_etag_writes_unless_the_current_object_has_it(
    s3: Any, bucket: str, any_server: Any
) -> None:
    """``If-None-Match: "etag"`` on a write (AWS answers 501; Ninefold follows RFC 9110 as
    MinIO does): 412 when the current object has one of the ETags, else the write goes on,
    also where there is no object."""
    other = '"0123456789abcdef0123456789abcdef"'
    resp = request(any_server, "PUT", bucket, "k", body=b"v1", headers={"If-None-Match": other})
    assert resp.status == 200, resp
    v1 = quoted_md5(b"v1")
    for value in (v1, v1.strip('"'), f"{other}, {v1}"):
        resp = request(any_server, "PUT", bucket, "k", body=b"v2", headers={"If-None-Match": value})
        assert resp.status == 412 and b"<Code>PreconditionFailed</Code>" in resp.body, resp
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"
    resp = request(any_server, "PUT", bucket, "k", body=b"v2", headers={"If-None-Match": other})
    assert resp.status == 200, resp
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    resp = request(any_server, "PUT", bucket, "k", body=b"v3", headers={"If-None-Match": " "})
    assert resp.status == 400 and b"<Code>InvalidArgument</Code>" in resp.body, resp


def test_if_none_match_with_an_etag_on_complete_multipart_upload(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"current")
    current = quoted_md5(b"current")

    def complete(if_none_match: str) -> dict[str, Any]:
        upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
        etag = s3.upload_part(
            Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"multipart"
        )["ETag"]
        return s3.complete_multipart_upload(  # type: ignore[no-any-return]
            Bucket=bucket,
            Key="k",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
            IfNoneMatch=if_none_match,
        )

    with raises_s3("PreconditionFailed", 412):
        complete(current)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"current"
    complete('"0123456789abcdef0123456789abcdef"')
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"multipart"


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


def test_conditional_delete_if_match(s3: Any, bucket: str, any_server: Any) -> None:
    """DeleteObject with If-Match (S3's conditional deletes): 204 when the current ETag (or
    ``*``: any object) matches, 412 PreconditionFailed otherwise, 404 NoSuchKey without an
    object; a refused delete deletes nothing."""
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    with raises_s3("PreconditionFailed", 412):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch=quoted_md5(b"other"))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"
    assert status_of(s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)) == 204
    with raises_s3("404", 404):
        s3.head_object(Bucket=bucket, Key="k")
    with raises_s3("NoSuchKey", 404):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    with raises_s3("NoSuchKey", 404):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch="*")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v2")
    assert status_of(s3.delete_object(Bucket=bucket, Key="k", IfMatch="*")) == 204
    # an empty If-Match is no condition at all
    s3.put_object(Bucket=bucket, Key="k", Body=b"v3")
    resp = request(any_server, "DELETE", bucket, "k", headers={"If-Match": ""})
    assert resp.status == 400, resp
    resp.error("InvalidArgument")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v3"


def test_conditional_delete_in_a_versioned_bucket(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"v2")
    # the condition is on the current version
    with raises_s3("PreconditionFailed", 412):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch=first["ETag"])
    resp = s3.delete_object(Bucket=bucket, Key="k", IfMatch=second["ETag"])
    assert resp["DeleteMarker"] is True
    # the current version is now a delete marker: no object
    with raises_s3("NoSuchKey", 404):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch=second["ETag"])
    # with a version id, the condition is on that version
    with raises_s3("PreconditionFailed", 412):
        s3.delete_object(
            Bucket=bucket, Key="k", VersionId=first["VersionId"], IfMatch=second["ETag"]
        )
    s3.delete_object(Bucket=bucket, Key="k", VersionId=first["VersionId"], IfMatch=first["ETag"])
    left = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket)["Versions"]]
    assert left == [second["VersionId"]]


def test_concurrent_conditional_deletes_exactly_one_wins(s3: Any, bucket: str) -> None:
    """The condition is decided in the deleting transaction: of 10 deletes sent with the
    same ETag in a versioned bucket, one makes the delete marker, the others find no object."""
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    etag = s3.put_object(Bucket=bucket, Key="race", Body=b"x")["ETag"]

    def delete(_: int) -> int:
        try:
            return status_of(s3.delete_object(Bucket=bucket, Key="race", IfMatch=etag))
        except ClientError as exc:
            return int(exc.response["ResponseMetadata"]["HTTPStatusCode"])

    with ThreadPoolExecutor(10) as pool:
        outcomes = list(pool.map(delete, range(10)))
    assert sorted(outcomes) == [204] + [404] * 9, outcomes
    markers = s3.list_object_versions(Bucket=bucket).get("DeleteMarkers", [])
    assert len(markers) == 1
