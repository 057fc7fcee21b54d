"""Bucket ownership controls, the public access block and GetObjectAttributes, with boto3 and
raw requests (HTTP and HTTPS), every error path included."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest

from tests.conftest import purge_bucket

from .helpers import (
    PART_MIN,
    crc32_b64,
    md5_hex,
    multipart_etag,
    raises_s3,
    random_bytes,
    request,
    sha256_b64,
)
from .test_acl import canonical, grant_list, new_account

ALL_ATTRIBUTES = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def ownership(value: str) -> dict[str, Any]:
    return {"Rules": [{"ObjectOwnership": value}]}


# --------------------------------------------------------------------------------------------
# ownership controls
# --------------------------------------------------------------------------------------------


def test_ownership_controls_round_trip(s3: Any, bucket: str) -> None:
    with raises_s3("OwnershipControlsNotFoundError", 404) as info:
        s3.get_bucket_ownership_controls(Bucket=bucket)
    assert info.value.response["Error"]["BucketName"] == bucket
    for value in ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"):
        resp = s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=ownership(value))
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
        got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
        assert got == ownership(value)
    resp = s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with raises_s3("OwnershipControlsNotFoundError", 404):
        s3.get_bucket_ownership_controls(Bucket=bucket)


def test_invalid_ownership_controls(s3: Any, bucket: str, any_server: Any) -> None:
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=ownership("ObjectWriter"))
    with raises_s3("MalformedXML", 400):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=ownership("Nobody"))
    two = {"Rules": [{"ObjectOwnership": "ObjectWriter"}, {"ObjectOwnership": "ObjectWriter"}]}
    with raises_s3("MalformedXML", 400):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=two)
    with raises_s3("MalformedXML", 400):
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": []})
    for body in (b"<OwnershipControls><Rule>", b"<Other/>"):
        resp = request(any_server, "PUT", bucket, query={"ownershipControls": ""}, body=body)
        assert resp.status == 400, resp
        resp.error("MalformedXML")
    resp = request(any_server, "PUT", bucket, query={"ownershipControls": ""}, body=b"")
    assert resp.status == 400, resp
    resp.error("MissingRequestBodyError")
    # nothing changed
    got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert got == ownership("ObjectWriter")


@pytest.mark.parametrize("value", ["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"])
def test_object_ownership_on_create_bucket(s3: Any, value: str) -> None:
    name = "nf-ownership-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=name, ObjectOwnership=value)
    try:
        got = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]
        assert got == ownership(value)
        if value == "BucketOwnerEnforced":
            # ACLs are disabled: only none or the bucket owner's full control
            s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="bucket-owner-full-control")
            s3.put_object(Bucket=name, Key="k2", Body=b"x")
            me = canonical(s3)
            for refused in (
                lambda: s3.put_object(Bucket=name, Key="p", Body=b"x", ACL="public-read"),
                lambda: s3.put_object(
                    Bucket=name, Key="p", Body=b"x", GrantRead='uri="' + ALL_USERS + '"'
                ),
                lambda: s3.put_bucket_acl(Bucket=name, ACL="authenticated-read"),
                lambda: s3.put_object_acl(Bucket=name, Key="k", ACL="public-read"),
                lambda: s3.create_multipart_upload(Bucket=name, Key="p", ACL="public-read"),
            ):
                with raises_s3("AccessControlListNotSupported", 400):
                    refused()
            with raises_s3("404", 404):
                s3.head_object(Bucket=name, Key="p")
            # an owner-only grant list is the bucket-owner-full-control ACL in XML: accepted
            s3.put_object(Bucket=name, Key="k3", Body=b"x", GrantFullControl=f'id="{me}"')
            assert grant_list(s3.get_bucket_acl(Bucket=name)) == [
                ("CanonicalUser", me, "FULL_CONTROL")
            ]
        else:
            s3.put_object(Bucket=name, Key="p", Body=b"x", ACL="public-read")
    finally:
        purge_bucket(s3, name)


def test_invalid_object_ownership_on_create_bucket(s3: Any, any_server: Any) -> None:
    name = "nf-bad-ownership-" + secrets.token_hex(4)
    for bad in ("Nobody", "bucketownerenforced", ""):
        resp = request(any_server, "PUT", name, headers={"x-amz-object-ownership": bad})
        assert resp.status == 400, resp
        resp.error("InvalidArgument")
    # BucketOwnerEnforced with an ACL granting anyone but the owner
    with raises_s3("InvalidBucketAclWithObjectOwnership", 400):
        s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced", ACL="public-read")
    with raises_s3(("404", "NoSuchBucket"), 404):
        s3.head_bucket(Bucket=name)


def test_bucket_owner_preferred_takes_objects_given_full_control(s3_http: Any, server: Any) -> None:
    s3 = s3_http
    _, _, other = new_account(server)
    me, them = canonical(s3), canonical(other)
    name = "nf-owner-preferred-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerPreferred", GrantWrite=f'id="{them}"')
    try:
        other.put_object(Bucket=name, Key="given", Body=b"g", ACL="bucket-owner-full-control")
        other.put_object(Bucket=name, Key="kept", Body=b"k")
        assert s3.get_object_acl(Bucket=name, Key="given")["Owner"]["ID"] == me
        assert other.get_object_acl(Bucket=name, Key="kept")["Owner"]["ID"] == them
        with raises_s3("AccessDenied", 403):
            other.get_object(Bucket=name, Key="given")  # no longer theirs
        assert other.get_object(Bucket=name, Key="kept")["Body"].read() == b"k"
    finally:
        purge_bucket(s3, name)


def test_ownership_controls_of_a_missing_bucket(s3: Any, bucket: str) -> None:
    missing = bucket + "-nope"
    with raises_s3("NoSuchBucket", 404):
        s3.get_bucket_ownership_controls(Bucket=missing)
    with raises_s3("NoSuchBucket", 404):
        s3.put_bucket_ownership_controls(
            Bucket=missing, OwnershipControls=ownership("ObjectWriter")
        )
    with raises_s3("NoSuchBucket", 404):
        s3.delete_bucket_ownership_controls(Bucket=missing)


# --------------------------------------------------------------------------------------------
# public access block
# --------------------------------------------------------------------------------------------


def test_public_access_block_round_trip(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchPublicAccessBlockConfiguration", 404) as info:
        s3.get_public_access_block(Bucket=bucket)
    assert info.value.response["Error"]["BucketName"] == bucket
    everything = dict.fromkeys(FLAGS, True)
    resp = s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=everything)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == everything
    # replaced as a whole: flags left out are false
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicPolicy": True}
    )
    got = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert got == {**dict.fromkeys(FLAGS, False), "BlockPublicPolicy": True}
    resp = s3.delete_public_access_block(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with raises_s3("NoSuchPublicAccessBlockConfiguration", 404):
        s3.get_public_access_block(Bucket=bucket)


@pytest.mark.parametrize(
    "body",
    [
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls>"
        b"</PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockEverything>true</BlockEverything>"
        b"</PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
        b"<BlockPublicAcls>false</BlockPublicAcls></PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration>",
        b"<OwnershipControls/>",
    ],
    ids=["not-boolean", "unknown-flag", "twice", "not-xml", "wrong-root"],
)
def test_invalid_public_access_block(s3: Any, bucket: str, any_server: Any, body: bytes) -> None:
    resp = request(any_server, "PUT", bucket, query={"publicAccessBlock": ""}, body=body)
    assert resp.status == 400, resp
    resp.error("MalformedXML")
    with raises_s3("NoSuchPublicAccessBlockConfiguration", 404):
        s3.get_public_access_block(Bucket=bucket)


def test_public_access_block_errors(s3: Any, bucket: str, any_server: Any) -> None:
    resp = request(any_server, "PUT", bucket, query={"publicAccessBlock": ""}, body=b"")
    assert resp.status == 400, resp
    resp.error("MissingRequestBodyError")
    missing = bucket + "-nope"
    with raises_s3("NoSuchBucket", 404):
        s3.get_public_access_block(Bucket=missing)
    with raises_s3("NoSuchBucket", 404):
        s3.put_public_access_block(
            Bucket=missing, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
        )
    with raises_s3("NoSuchBucket", 404):
        s3.delete_public_access_block(Bucket=missing)


# --------------------------------------------------------------------------------------------
# GetObjectAttributes
# --------------------------------------------------------------------------------------------


def attributes(s3: Any, bucket: str, key: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("ObjectAttributes", ALL_ATTRIBUTES)
    resp = s3.get_object_attributes(Bucket=bucket, Key=key, **kwargs)
    resp.pop("ResponseMetadata")
    return dict(resp)


def test_attributes_of_a_single_part_object(any_server: Any, s3: Any, bucket: str) -> None:
    data = random_bytes(3000, seed=1)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm="SHA256")
    got = attributes(s3, bucket, "k")
    assert isinstance(got.pop("LastModified"), dt.datetime)
    assert got == {
        "ETag": md5_hex(data),  # no quotes here
        "Checksum": {"ChecksumSHA256": sha256_b64(data), "ChecksumType": "FULL_OBJECT"},
        "StorageClass": "STANDARD",
        "ObjectSize": len(data),
    }
    assert put["ETag"] == f'"{got["ETag"]}"'
    # only what is asked for
    assert attributes(s3, bucket, "k", ObjectAttributes=["ObjectSize"]) == {
        "LastModified": s3.head_object(Bucket=bucket, Key="k")["LastModified"],
        "ObjectSize": len(data),
    }
    # uploaded without any checksum (boto3 would add a CRC32): S3's default CRC64NVME
    assert request(any_server, "PUT", bucket, "plain", body=data).status == 200
    checksum = attributes(s3, bucket, "plain", ObjectAttributes=["Checksum"])["Checksum"]
    assert set(checksum) == {"ChecksumCRC64NVME", "ChecksumType"}


def test_attributes_of_a_multipart_object(s3: Any, bucket: str) -> None:
    parts = [random_bytes(PART_MIN, seed=2), random_bytes(PART_MIN, seed=3), b"tail" * 1000]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ChecksumAlgorithm="CRC32")[
        "UploadId"
    ]
    done = []
    for number, body in enumerate(parts, start=1):
        resp = s3.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=upload,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
        )
        assert resp["ChecksumCRC32"] == crc32_b64(body)
        done.append({"PartNumber": number, "ETag": resp["ETag"], "ChecksumCRC32": crc32_b64(body)})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": done}
    )
    got = attributes(s3, bucket, "mp")
    got.pop("LastModified")
    assert got["ETag"] == multipart_etag(parts).strip('"')
    assert got["Checksum"]["ChecksumType"] == "COMPOSITE"
    # as on S3: HEAD gives the composite checksum with its -N, GetObjectAttributes without
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"].endswith("-3")
    assert got["Checksum"]["ChecksumCRC32"] == head["ChecksumCRC32"].removesuffix("-3")
    assert got["StorageClass"] == "STANDARD"
    assert got["ObjectSize"] == sum(len(p) for p in parts)
    assert got["ObjectParts"] == {
        "TotalPartsCount": 3,
        "PartNumberMarker": 0,
        "NextPartNumberMarker": 3,
        "MaxParts": 1000,
        "IsTruncated": False,
        "Parts": [
            {"PartNumber": n, "Size": len(p), "ChecksumCRC32": crc32_b64(p)}
            for n, p in enumerate(parts, start=1)
        ],
    }
    # pages of parts
    first = attributes(s3, bucket, "mp", ObjectAttributes=["ObjectParts"], MaxParts=2)
    assert first["ObjectParts"]["IsTruncated"] is True
    assert first["ObjectParts"]["NextPartNumberMarker"] == 2
    assert [p["PartNumber"] for p in first["ObjectParts"]["Parts"]] == [1, 2]
    rest = attributes(
        s3, bucket, "mp", ObjectAttributes=["ObjectParts"], MaxParts=2, PartNumberMarker=2
    )
    assert rest["ObjectParts"]["IsTruncated"] is False
    assert rest["ObjectParts"]["PartNumberMarker"] == 2
    assert rest["ObjectParts"]["Parts"] == [
        {"PartNumber": 3, "Size": len(parts[2]), "ChecksumCRC32": crc32_b64(parts[2])}
    ]
    beyond = attributes(s3, bucket, "mp", ObjectAttributes=["ObjectParts"], PartNumberMarker=3)
    assert beyond["ObjectParts"]["TotalPartsCount"] == 3
    assert "Parts" not in beyond["ObjectParts"]
    assert beyond["ObjectParts"]["IsTruncated"] is False


def test_attributes_of_versions(s3: Any, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="v", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="v", Body=b"newer")["VersionId"]
    got = s3.get_object_attributes(Bucket=bucket, Key="v", ObjectAttributes=["ObjectSize"])
    assert (got["VersionId"], got["ObjectSize"]) == (new, 5)
    got = s3.get_object_attributes(
        Bucket=bucket, Key="v", VersionId=old, ObjectAttributes=["ObjectSize"]
    )
    assert (got["VersionId"], got["ObjectSize"]) == (old, 3)


def test_unversioned_objects_have_no_version_header(any_server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    resp = request(
        any_server,
        "GET",
        bucket,
        "k",
        query={"attributes": ""},
        headers={"x-amz-object-attributes": "ETag,ObjectSize"},
    )
    assert resp.status == 200, resp
    assert resp.header("x-amz-version-id") is None
    assert resp.header("Last-Modified")
    assert b"<ETag>9dd4e461268c8034f5c8564e155c67a6</ETag>" in resp.body
    assert b"<GetObjectAttributesResponse" in resp.body


def test_attributes_errors(any_server: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for headers in ({}, {"x-amz-object-attributes": ""}, {"x-amz-object-attributes": " , "}):
        resp = request(any_server, "GET", bucket, "k", query={"attributes": ""}, headers=headers)
        assert resp.status == 400, resp
        err = resp.error("InvalidRequest")
        assert "x-amz-object-attributes" in err["Message"]
    with raises_s3("InvalidArgument", 400) as info:
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag", "ETags"])
    error = info.value.response["Error"]
    assert (error["ArgumentName"], error["ArgumentValue"]) == ("x-amz-object-attributes", "ETags")
    with raises_s3("NoSuchKey", 404):
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=["ETag"])
    with raises_s3("NoSuchBucket", 404):
        s3.get_object_attributes(Bucket=bucket + "-nope", Key="k", ObjectAttributes=["ETag"])
    with raises_s3("NoSuchVersion", 404):
        s3.get_object_attributes(
            Bucket=bucket,
            Key="k",
            VersionId="0123456789abcdef0123456789abcdef",
            ObjectAttributes=["ETag"],
        )
    resp = request(
        any_server,
        "GET",
        bucket,
        "k",
        query={"attributes": ""},
        headers={"x-amz-object-attributes": "ETag"},
        signed=False,
    )
    assert resp.status == 403, resp
    resp.error("AccessDenied")
