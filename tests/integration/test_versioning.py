"""Bucket versioning with boto3 (HTTP and HTTPS): version ids, delete markers, the null version
under Suspended, GET/HEAD/DELETE/CopyObject by versionId, ListObjectVersions, DeleteObjects
with versions, and the errors of each."""

from __future__ import annotations

import os
from typing import Any

import pytest

from .helpers import raises_s3, request

MiB = 1024 * 1024


def enable(s3: Any, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def versions_of(s3: Any, bucket: str, **kw: Any) -> list[tuple[str, str, bool, bool]]:
    resp = s3.list_object_versions(Bucket=bucket, **kw)
    out = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in resp.get("Versions", [])]
    out += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in resp.get("DeleteMarkers", [])]
    # S3 returns versions and markers interleaved in key / newest-first order; boto3 splits them
    return out


def test_get_and_put_bucket_versioning(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    with raises_s3("MalformedXML", 400):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Off"})
    with raises_s3("NoSuchBucket", 404):
        s3.put_bucket_versioning(
            Bucket=bucket + "-missing", VersioningConfiguration={"Status": "Enabled"}
        )


def test_versions_are_kept_and_readable_by_id(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")
    # an unversioned bucket answers without version ids
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="u", Body=b"x")
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=os.urandom(2 * MiB))["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["VersionId"] == v2 and len(got["Body"].read()) == 2 * MiB
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert (
        s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read()
        == b"before versioning"
    )
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=v1)
    assert head["VersionId"] == v1 and head["ContentLength"] == 3
    with raises_s3("NoSuchVersion", 404):
        s3.get_object(Bucket=bucket, Key="k", VersionId="0" * 32)
    with raises_s3("InvalidArgument", 400):
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert versions_of(s3, bucket, Prefix="k") == [
        ("k", v2, True, False),
        ("k", v1, False, False),
        ("k", "null", False, False),
    ]


def test_delete_markers(s3: Any, bucket: str, any_server: Any) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    # the key is gone for GET and listings, its versions are not
    resp = request(any_server, "GET", bucket, "k")
    assert resp.status == 404 and b"<Code>NoSuchKey</Code>" in resp.body
    assert resp.header("x-amz-delete-marker") == "true"
    assert resp.header("x-amz-version-id") == marker
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    with raises_s3("MethodNotAllowed", 405):
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    resp_versions = s3.list_object_versions(Bucket=bucket)
    assert [m["VersionId"] for m in resp_versions["DeleteMarkers"]] == [marker]
    assert resp_versions["DeleteMarkers"][0]["IsLatest"] is True
    # deleting the marker restores the object
    undo = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert undo["DeleteMarker"] is True and undo["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    # deleting a version for good
    assert s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)["VersionId"] == v1
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="k")
    assert versions_of(s3, bucket) == []


def test_suspended_writes_the_null_version(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, bucket, "Suspended")
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null 1")["VersionId"] == "null"
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"null 2")["VersionId"] == "null"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"null 2"
    assert versions_of(s3, bucket) == [("k", "null", True, False), ("k", v1, False, False)]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    assert versions_of(s3, bucket) == [("k", v1, False, False), ("k", "null", True, True)]


def test_copy_a_specific_version(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"new")
    resp = s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1}
    )
    assert resp["CopySourceVersionId"] == v1 and resp["VersionId"] not in (v1, "null")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"old"
    with raises_s3("NoSuchVersion", 404):
        s3.copy_object(
            Bucket=bucket,
            Key="dst",
            CopySource={"Bucket": bucket, "Key": "src", "VersionId": "0" * 32},
        )


def test_delete_objects_with_versions(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    ids = [
        s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(3)
    ]
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": "k", "VersionId": ids[0]},
                {"Key": "k", "VersionId": ids[2]},
                {"Key": "other"},
                {"Key": "k", "VersionId": "bad"},
            ]
        },
    )
    deleted = {(d["Key"], d.get("VersionId")): d for d in resp["Deleted"]}
    assert ("k", ids[0]) in deleted and ("k", ids[2]) in deleted
    assert deleted[("other", None)]["DeleteMarker"] is True
    assert [(e["Key"], e["Code"]) for e in resp["Errors"]] == [("k", "InvalidArgument")]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"1"
    assert [v[1] for v in versions_of(s3, bucket, Prefix="k")] == [ids[1]]


def test_list_object_versions_pages(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    expected = []
    for key in ("a", "b/1", "b/2", "c"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(key, v) for v in reversed(ids)]
    got = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 5}
    ):
        got += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    assert got == expected
    resp = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["b/"]
    assert sorted({v["Key"] for v in resp["Versions"]}) == ["a", "c"]
    with raises_s3("InvalidArgument", 400):  # not a version id at all
        s3.list_object_versions(Bucket=bucket, KeyMarker="a", VersionIdMarker="not-a-version")


def test_list_object_versions_continues_after_a_deleted_marker_version(
    s3: Any, bucket: str
) -> None:
    """A page ends on a version that is deleted before the next page is asked for: the next
    page starts with the versions of that key older than it (it used to be a 400 "Invalid
    version id specified" that stopped every paginating client)."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"null version")
    enable(s3, bucket)
    ids = [s3.put_object(Bucket=bucket, Key="k", Body=b"%d" % i)["VersionId"] for i in range(5)]
    last = s3.put_object(Bucket=bucket, Key="z", Body=b"z")["VersionId"]
    first = s3.list_object_versions(Bucket=bucket, MaxKeys=2)
    assert [v["VersionId"] for v in first["Versions"]] == [ids[4], ids[3]]
    assert first["IsTruncated"] and first["NextVersionIdMarker"] == ids[3]
    s3.delete_object(Bucket=bucket, Key="k", VersionId=ids[3])
    s3.delete_object(Bucket=bucket, Key="k", VersionId=ids[2])
    got = versions_of(
        s3, bucket, KeyMarker=first["NextKeyMarker"], VersionIdMarker=first["NextVersionIdMarker"]
    )
    assert [(k, v) for k, v, _, _ in got] == [
        ("k", ids[1]),
        ("k", ids[0]),
        ("k", "null"),
        ("z", last),
    ]
    # the paginator gets through a listing whose marker versions keep disappearing
    seen: list[str] = []
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 1}
    )
    for page in pages:
        for v in page.get("Versions", []):
            seen.append(v["VersionId"])
            if v["Key"] == "k":
                s3.delete_object(Bucket=bucket, Key="k", VersionId=v["VersionId"])
    assert seen == [ids[4], ids[1], ids[0], "null", last]


def test_versioned_multipart_upload(s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="mp", Body=b"small")["VersionId"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p")["ETag"]
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert done["VersionId"] not in (v1, "null")
    assert s3.get_object(Bucket=bucket, Key="mp", VersionId=v1)["Body"].read() == b"small"


@pytest.mark.parametrize("status", ["Enabled", "Suspended"])
def test_a_bucket_with_versions_is_not_empty(s3: Any, bucket: str, status: str) -> None:
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    enable(s3, bucket, status)
    s3.delete_object(Bucket=bucket, Key="k")
    with raises_s3("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
