"""Canned ACLs with boto3 (HTTP and HTTPS): x-amz-acl on writes, Get/PutBucketAcl,
Get/PutObjectAcl, anonymous access through public ACLs (plain unsigned HTTP), and the controls
that disable or ignore them."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import raises_s3, request

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def grants(resp: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for g in resp["Grants"]:
        grantee = g["Grantee"]
        out.add((grantee.get("URI") or grantee["Type"], g["Permission"]))
    return out


def test_private_by_default(s3: Any, bucket: str, any_server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert grants(acl) == {("CanonicalUser", "FULL_CONTROL")}
    assert acl["Owner"]["ID"]
    assert grants(s3.get_object_acl(Bucket=bucket, Key="k")) == {("CanonicalUser", "FULL_CONTROL")}
    assert request(any_server, "GET", bucket, "k", signed=False).status == 403


def test_public_read_object(s3: Any, bucket: str, any_server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="pub", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="priv", Body=b"secret")
    assert (ALL_USERS, "READ") in grants(s3.get_object_acl(Bucket=bucket, Key="pub"))
    anon = request(any_server, "GET", bucket, "pub", signed=False)
    assert anon.status == 200 and anon.body == b"hello"
    assert request(any_server, "GET", bucket, "priv", signed=False).status == 403
    # the object's ACL does not open the bucket listing or writes
    assert (
        request(any_server, "GET", bucket, None, query={"list-type": "2"}, signed=False).status
        == 403
    )
    assert request(any_server, "PUT", bucket, "pub", body=b"x", signed=False).status == 403
    # back to private
    s3.put_object_acl(Bucket=bucket, Key="pub", ACL="private")
    assert request(any_server, "GET", bucket, "pub", signed=False).status == 403


def test_public_read_write_bucket(s3: Any, bucket: str, any_server: Any) -> None:
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert (ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket=bucket))
    listed = request(any_server, "GET", bucket, None, query={"list-type": "2"}, signed=False)
    assert listed.status == 200
    assert request(any_server, "PUT", bucket, "anon.txt", body=b"a", signed=False).status == 403
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    assert request(any_server, "PUT", bucket, "anon.txt", body=b"a", signed=False).status == 200
    assert s3.get_object(Bucket=bucket, Key="anon.txt")["Body"].read() == b"a"
    assert request(any_server, "DELETE", bucket, "anon.txt", signed=False).status == 204


def test_acl_document_equal_to_a_canned_acl(s3: Any, bucket: str) -> None:
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]
    s3.put_bucket_acl(
        Bucket=bucket,
        AccessControlPolicy={
            "Owner": owner,
            "Grants": [
                {
                    "Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]},
                    "Permission": "FULL_CONTROL",
                },
                {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
            ],
        },
    )
    assert (ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket=bucket))
    # a canonical id of no account is refused as S3 refuses it
    with raises_s3("InvalidArgument", 400):
        s3.put_bucket_acl(
            Bucket=bucket,
            AccessControlPolicy={
                "Owner": owner,
                "Grants": [
                    {
                        "Grantee": {"Type": "CanonicalUser", "ID": "someone-else"},
                        "Permission": "READ",
                    },
                ],
            },
        )


def test_bad_acls(s3: Any, bucket: str) -> None:
    with raises_s3("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="world-writable")  # type: ignore[arg-type]
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="k")
    with raises_s3("InvalidArgument", 400):
        s3.create_bucket(Bucket=bucket + "-x", ACL="nonsense")  # type: ignore[arg-type]
    with raises_s3("NoSuchKey", 404):
        s3.get_object_acl(Bucket=bucket, Key="absent")
    with raises_s3("NoSuchBucket", 404):
        s3.get_bucket_acl(Bucket=bucket + "-missing")


@pytest.mark.parametrize("flag", ["BlockPublicAcls", "IgnorePublicAcls"])
def test_public_access_block(s3: Any, bucket: str, any_server: Any, flag: str) -> None:
    s3.put_object(Bucket=bucket, Key="pub", Body=b"p", ACL="public-read")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={flag: True})
    if flag == "BlockPublicAcls":
        with raises_s3("AccessDenied", 403):
            s3.put_object(Bucket=bucket, Key="new", Body=b"x", ACL="public-read")
        with raises_s3("AccessDenied", 403):
            s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    else:
        assert request(any_server, "GET", bucket, "pub", signed=False).status == 403


def test_bucket_owner_enforced_disables_acls(s3: Any, bucket: str) -> None:
    s3.put_bucket_ownership_controls(
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    with raises_s3("AccessControlListNotSupported", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="k2", Body=b"x")
