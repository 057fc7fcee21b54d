"""Canned ACLs with boto3 (HTTP and HTTPS): x-amz-acl on writes, Get/PutBucketAcl,
Get/PutObjectAcl, anonymous access through public ACLs (plain unsigned HTTP), and the controls
that disable or ignore them."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.conftest import purge_bucket

from .helpers import raises_s3, request
from .test_iam import admin, client_for

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


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


# -- grants to accounts and groups, enforced (several accounts: `ninefold admin account`) --------

AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"


def new_account(server: Any) -> tuple[str, str, Any]:
    """A new account (name, account id, a boto3 client signing as its root user)."""
    name = "acct-" + secrets.token_hex(4)
    out = admin(server, "account", "create", name).stdout
    fields = dict(line.split(": ", 1) for line in out.strip().splitlines())
    client = client_for(server, (fields["AccessKeyId"], fields["SecretAccessKey"]))
    return name, fields["AccountId"], client


def canonical(client: Any) -> str:
    return str(client.list_buckets()["Owner"]["ID"])


def grant_list(resp: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(type, ID or URI, permission) of each grant, in the order given."""
    return [
        (g["Grantee"]["Type"], g["Grantee"].get("ID") or g["Grantee"]["URI"], g["Permission"])
        for g in resp["Grants"]
    ]


def test_grants_to_another_account_are_enforced(s3_http: Any, server: Any) -> None:
    s3 = s3_http
    other_name, _, other = new_account(server)
    _, _, stranger = new_account(server)
    me, them = canonical(s3), canonical(other)
    bucket = "nf-grants-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data")
        # another account's root user is not the bucket owner: nothing without a grant
        for call in (
            lambda c: c.get_object(Bucket=bucket, Key="k"),
            lambda c: c.list_objects_v2(Bucket=bucket),
            lambda c: c.put_object(Bucket=bucket, Key="x", Body=b"x"),
            lambda c: c.get_bucket_acl(Bucket=bucket),
            lambda c: c.delete_bucket(Bucket=bucket),
        ):
            with raises_s3("AccessDenied", 403):
                call(other)
        # READ on the object lets that account (only) read it
        s3.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'id="{them}"')
        assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
        with raises_s3("AccessDenied", 403):
            stranger.get_object(Bucket=bucket, Key="k")
        with raises_s3("AccessDenied", 403):
            other.get_object_acl(Bucket=bucket, Key="k")  # READ is not READ_ACP
        acl = s3.get_object_acl(Bucket=bucket, Key="k")
        assert acl["Owner"] == {"ID": me, "DisplayName": "root"}
        assert grant_list(acl) == [("CanonicalUser", them, "READ")]
        assert acl["Grants"][0]["Grantee"]["DisplayName"] == other_name
        # a bucket ACL document: READ (list) and WRITE for the account, READ_ACP for everyone
        # signed in; grants come back in the order given, with display names
        s3.put_bucket_acl(
            Bucket=bucket,
            AccessControlPolicy={
                "Owner": {"ID": me},
                "Grants": [
                    {"Grantee": {"Type": "CanonicalUser", "ID": me}, "Permission": "FULL_CONTROL"},
                    {"Grantee": {"Type": "CanonicalUser", "ID": them}, "Permission": "READ"},
                    {"Grantee": {"Type": "CanonicalUser", "ID": them}, "Permission": "WRITE"},
                    {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ_ACP"},
                ],
            },
        )
        acl = s3.get_bucket_acl(Bucket=bucket)
        assert grant_list(acl) == [
            ("CanonicalUser", me, "FULL_CONTROL"),
            ("CanonicalUser", them, "READ"),
            ("CanonicalUser", them, "WRITE"),
            ("Group", AUTHENTICATED, "READ_ACP"),
        ]
        assert [g["Grantee"].get("DisplayName") for g in acl["Grants"][:2]] == ["root", other_name]
        assert [o["Key"] for o in other.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
        other.put_object(Bucket=bucket, Key="theirs", Body=b"t")
        # the writer owns what it wrote (ObjectWriter): its ACL names it
        theirs = other.get_object_acl(Bucket=bucket, Key="theirs")
        assert theirs["Owner"]["ID"] == them
        assert grant_list(theirs) == [("CanonicalUser", them, "FULL_CONTROL")]
        assert grant_list(stranger.get_bucket_acl(Bucket=bucket))[1] == (
            "CanonicalUser",
            them,
            "READ",
        )
        with raises_s3("AccessDenied", 403):
            stranger.list_objects_v2(Bucket=bucket)
        with raises_s3("AccessDenied", 403):
            other.put_bucket_acl(Bucket=bucket, ACL="public-read")  # no WRITE_ACP
        with raises_s3("AccessDenied", 403):
            other.delete_bucket(Bucket=bucket)
        # anonymous requests are no authenticated users
        assert request(server, "GET", bucket, None, query={"acl": ""}, signed=False).status == 403
        # back to private: the grants are gone
        s3.put_bucket_acl(Bucket=bucket, ACL="private")
        with raises_s3("AccessDenied", 403):
            other.list_objects_v2(Bucket=bucket)
    finally:
        purge_bucket(s3, bucket)


def test_grant_headers_on_every_write(s3_http: Any, server: Any) -> None:
    s3 = s3_http
    _, _, other = new_account(server)
    them = canonical(other)
    bucket = "nf-grant-headers-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket, GrantRead=f'uri="{AUTHENTICATED}"')
    try:
        assert grant_list(s3.get_bucket_acl(Bucket=bucket)) == [("Group", AUTHENTICATED, "READ")]
        assert other.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
        assert request(server, "GET", bucket, None, signed=False).status == 403
        s3.put_object(
            Bucket=bucket,
            Key="put",
            Body=b"p",
            GrantFullControl=f'id="{canonical(s3)}"',
            GrantRead=f'id="{them}", uri="{LOG_DELIVERY}"',
        )
        assert grant_list(s3.get_object_acl(Bucket=bucket, Key="put")) == [
            ("CanonicalUser", canonical(s3), "FULL_CONTROL"),
            ("CanonicalUser", them, "READ"),
            ("Group", LOG_DELIVERY, "READ"),
        ]
        assert other.get_object(Bucket=bucket, Key="put")["Body"].read() == b"p"
        s3.copy_object(
            Bucket=bucket,
            Key="copy",
            CopySource={"Bucket": bucket, "Key": "put"},
            GrantReadACP=f'id="{them}"',
        )
        assert grant_list(other.get_object_acl(Bucket=bucket, Key="copy")) == [
            ("CanonicalUser", them, "READ_ACP")
        ]
        with raises_s3("AccessDenied", 403):
            other.get_object(Bucket=bucket, Key="copy")
        up = s3.create_multipart_upload(Bucket=bucket, Key="mp", GrantRead=f'id="{them}"')
        part = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"m"
        )
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        assert other.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"m"
        s3.put_object_acl(Bucket=bucket, Key="mp", GrantWriteACP=f'id="{them}"')
        other.put_object_acl(Bucket=bucket, Key="mp", ACL="public-read")  # WRITE_ACP
        assert request(server, "GET", bucket, "mp", signed=False).status == 200
        s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{them}"')
        other.put_object(Bucket=bucket, Key="w", Body=b"w")
        with raises_s3("AccessDenied", 403):
            other.list_objects_v2(Bucket=bucket)  # WRITE alone does not list
    finally:
        purge_bucket(s3, bucket)


def test_bucket_owner_canned_acls_grant_the_bucket_owner(s3_http: Any, server: Any) -> None:
    s3 = s3_http
    _, _, other = new_account(server)
    me, them = canonical(s3), canonical(other)
    bucket = "nf-bucket-owner-acls-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket, GrantWrite=f'id="{them}"', GrantFullControl=f'id="{me}"')
    try:
        expected = {
            "private": [("CanonicalUser", them, "FULL_CONTROL")],
            "bucket-owner-read": [
                ("CanonicalUser", them, "FULL_CONTROL"),
                ("CanonicalUser", me, "READ"),
            ],
            "bucket-owner-full-control": [
                ("CanonicalUser", them, "FULL_CONTROL"),
                ("CanonicalUser", me, "FULL_CONTROL"),
            ],
        }
        for acl, grants_expected in expected.items():
            other.put_object(Bucket=bucket, Key=acl, Body=b"x", ACL=acl)  # type: ignore[arg-type]
            got = other.get_object_acl(Bucket=bucket, Key=acl)
            assert got["Owner"]["ID"] == them
            assert grant_list(got) == grants_expected, acl
        # the bucket owner's own objects: the grant to itself is its owner grant
        s3.put_object(Bucket=bucket, Key="mine", Body=b"x", ACL="bucket-owner-full-control")
        assert grant_list(s3.get_object_acl(Bucket=bucket, Key="mine")) == [
            ("CanonicalUser", me, "FULL_CONTROL")
        ]
    finally:
        purge_bucket(s3, bucket)


def _raw_acl(server: Any, bucket: str, key: str | None, body: bytes) -> Any:
    return request(server, "PUT", bucket, key, query={"acl": ""}, body=body)


def test_invalid_grants_are_refused_and_change_nothing(s3_http: Any, server: Any) -> None:
    s3 = s3_http
    _, _, other = new_account(server)
    them = canonical(other)
    bucket = "nf-invalid-grants-" + secrets.token_hex(4)
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"kept", GrantRead=f'id="{them}"')
        before = grant_list(s3.get_object_acl(Bucket=bucket, Key="k"))
        bad_headers = [
            ({"GrantRead": 'id="' + "0" * 64 + '"'}, "InvalidArgument", 400),  # no such account
            ({"GrantRead": 'uri="http://example.com/groups/Everyone"'}, "InvalidArgument", 400),
            ({"GrantRead": "everyone"}, "InvalidArgument", 400),
            ({"GrantReadACP": 'id="abc" uri="x"'}, "InvalidArgument", 400),
            ({"GrantRead": 'emailAddress="someone@example.com"'}, "NotImplemented", 501),
            ({"GrantRead": f'id="{them}"', "ACL": "public-read"}, "InvalidRequest", 400),
        ]
        for extra, code, status in bad_headers:
            with raises_s3(code, status):
                s3.put_object(Bucket=bucket, Key="new", Body=b"n", **extra)
            with raises_s3(code, status):
                s3.put_object_acl(Bucket=bucket, Key="k", **extra)
            with raises_s3(code, status):
                s3.put_bucket_acl(Bucket=bucket, **extra)
            with raises_s3(code, status):
                s3.create_bucket(Bucket=bucket + "-new", **extra)
        with raises_s3("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key="new")
        with raises_s3("404"):
            s3.head_bucket(Bucket=bucket + "-new")
        grantee = f'<Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser"><ID>{them}</ID></Grantee>'
        bad_documents = [
            # no such permission
            f"<AccessControlPolicy><AccessControlList><Grant>{grantee}"
            "<Permission>EVERYTHING</Permission></Grant></AccessControlList></AccessControlPolicy>",
            # a grantee without its xsi:type
            f"<AccessControlPolicy><AccessControlList><Grant><Grantee><ID>{them}</ID></Grantee>"
            "<Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>",
            # a grant without a grantee
            "<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission>"
            "</Grant></AccessControlList></AccessControlPolicy>",
            # no AccessControlList
            "<AccessControlPolicy><Owner><ID>x</ID></Owner></AccessControlPolicy>",
        ]
        for doc in bad_documents:
            for key in ("k", None):
                resp = _raw_acl(server, bucket, key, doc.encode())
                assert resp.status == 400, resp
                resp.error("MalformedACLError")
        assert grant_list(s3.get_object_acl(Bucket=bucket, Key="k")) == before
        assert grant_list(s3.get_bucket_acl(Bucket=bucket)) == [
            ("CanonicalUser", canonical(s3), "FULL_CONTROL")
        ]
        assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    finally:
        purge_bucket(s3, bucket)
