"""Bucket policies against the live server (HTTP and HTTPS): the API with every error path, and a
matrix of (principal, action, resource, condition) -> allow/deny cases run as real requests,
anonymous ones as plain unsigned HTTP requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .helpers import raises_s3, request

ANYONE: dict[str, Any] = {"AWS": "*"}


def policy(bucket: str, *statements: dict[str, Any]) -> str:
    out = []
    for st in statements:
        st = dict(st)
        if "NotPrincipal" not in st:
            st.setdefault("Principal", "*")
        out.append(st)
    # BUCKET stands for the bucket's name in resources and condition values
    return json.dumps({"Version": "2012-10-17", "Statement": out}).replace("BUCKET", bucket)


@pytest.fixture
def filled(s3: Any, bucket: str) -> str:
    for key in ("public/a.txt", "secret/b.txt", "docs/c.txt", "docs/d.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.put_object(Bucket=bucket, Key="tagged.txt", Body=b"t", Tagging="class=public")
    s3.put_object(Bucket=bucket, Key="private-tag.txt", Body=b"p", Tagging="class=secret")
    return bucket


# -- the API ------------------------------------------------------------------------------------


def test_put_get_delete_policy(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)
    with raises_s3("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy_status(Bucket=bucket)
    doc = policy(
        bucket,
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::BUCKET/*"]},
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(doc)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_policy(Bucket=bucket)
    with raises_s3("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)


def test_policy_status_is_computed_from_the_policy(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy_status(Bucket=bucket)
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::BUCKET/*"]}
    cases = [
        ({**read, "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"}}, False),
        ({**read, "Principal": {"AWS": "arn:aws:iam::000000000000:root"}}, False),
        ({**read, "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, False),
        ({**read, "Effect": "Deny"}, False),
        (read, True),
        ({**read, "Principal": {"AWS": "*"}}, True),
    ]
    for statement, public in cases:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, statement))
        got = s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"]
        assert got is public, statement
    s3.delete_bucket_policy(Bucket=bucket)
    with raises_s3("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy_status(Bucket=bucket)


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[]",
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Version": "1999-01-01", "Statement": []}),
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Maybe", "Principal": "*", "Action": "s3:*", "Resource": "*"}
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": "ec2:Run", "Resource": "*"}
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::some-other-bucket/*",
                    }
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "*",
                        "Condition": {"Fuzzy": {"a": "b"}},
                    }
                ]
            }
        ),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:root"},
                        "Action": "s3:GetObject",
                        "Resource": "*",
                    }
                ]
            }
        ),
        json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "NotAction": "s3:PutObject",
                        "Resource": "*",
                    }
                ]
            }
        ),
    ],
    ids=[
        "not-json",
        "array",
        "no-statement",
        "version",
        "effect",
        "action",
        "foreign-resource",
        "operator",
        "no-principal",
        "notprincipal-with-allow",
        "action-and-notaction",
    ],
)
def test_malformed_policies_are_refused(s3: Any, bucket: str, bad: str) -> None:
    with raises_s3("MalformedPolicy", 400):
        s3.put_bucket_policy(Bucket=bucket, Policy=bad)
    with raises_s3("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)


def test_block_public_policy(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    )
    public = policy(
        bucket, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::BUCKET/*"]}
    )
    with raises_s3("AccessDenied", 403):
        s3.put_bucket_policy(Bucket=bucket, Policy=public)


def test_restrict_public_buckets_stops_anonymous_reads(
    s3: Any, filled: str, any_server: Any
) -> None:
    s3.put_bucket_policy(
        Bucket=filled,
        Policy=policy(
            filled,
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::BUCKET/*"]},
        ),
    )
    assert request(any_server, "GET", filled, "public/a.txt", signed=False).status == 200
    s3.put_public_access_block(
        Bucket=filled,
        PublicAccessBlockConfiguration={"RestrictPublicBuckets": True},
    )
    assert request(any_server, "GET", filled, "public/a.txt", signed=False).status == 403


def test_a_deny_all_policy_cannot_lock_root_out(s3: Any, filled: str) -> None:
    s3.put_bucket_policy(
        Bucket=filled,
        Policy=policy(filled, {"Effect": "Deny", "Action": "s3:*", "Resource": ["*"]}),
    )
    with raises_s3("AccessDenied", 403):
        s3.get_object(Bucket=filled, Key="public/a.txt")
    s3.delete_bucket_policy(Bucket=filled)  # always possible for root
    assert s3.get_object(Bucket=filled, Key="public/a.txt")["Body"].read() == b"public/a.txt"


# -- the matrix ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Req:
    method: str
    key: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


GET_PUBLIC = Req("GET", "public/a.txt")
GET_SECRET = Req("GET", "secret/b.txt")
GET_DOCS = Req("GET", "docs/c.txt")
HEAD_PUBLIC = Req("HEAD", "public/a.txt")
PUT_UPLOAD = Req("PUT", "uploads/new.txt", body=b"new")
PUT_PUBLIC = Req("PUT", "public/new.txt", body=b"new")
DELETE_DOCS = Req("DELETE", "docs/d.txt")
LIST = Req("GET", None, (("list-type", "2"),))
LIST_DOCS = Req("GET", None, (("list-type", "2"), ("prefix", "docs/")))
LIST_DOCS_DELIM = Req("GET", None, (("list-type", "2"), ("prefix", "docs/"), ("delimiter", "/")))
LIST_SMALL = Req("GET", None, (("list-type", "2"), ("max-keys", "2")))
LIST_BIG = Req("GET", None, (("list-type", "2"), ("max-keys", "500")))
GET_TAGGED = Req("GET", "tagged.txt")
GET_PRIVATE_TAG = Req("GET", "private-tag.txt")
GET_TAGGING = Req("GET", "public/a.txt", (("tagging", ""),))
GET_LOCATION = Req("GET", None, (("location", ""),))


def _tagging(value: str) -> bytes:
    return (
        b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>class</Key>'
        b"<Value>" + value.encode() + b"</Value></Tag></TagSet></Tagging>"
    )


def _put(*headers: tuple[str, str], key: str = "uploads/new.txt") -> Req:
    return Req("PUT", key, body=b"" if key.startswith("uploads/copy") else b"new", headers=headers)


PUT_ACL_PRIVATE = _put(("x-amz-acl", "private"))
PUT_ACL_PUBLIC = _put(("x-amz-acl", "public-read"))
PUT_TAG_PUBLIC = _put(("x-amz-tagging", "class=public"))
PUT_TAG_SECRET = _put(("x-amz-tagging", "class=secret"))
PUT_TAG_TEAM = _put(("x-amz-tagging", "class=public&team=web"))
COPY_PUBLIC = _put(("x-amz-copy-source", "BUCKET/public/a.txt"), key="uploads/copy.txt")
COPY_SECRET = _put(("x-amz-copy-source", "/BUCKET/secret/b.txt"), key="uploads/copy.txt")
COPY_REPLACE = _put(
    ("x-amz-copy-source", "BUCKET/public/a.txt"),
    ("x-amz-metadata-directive", "REPLACE"),
    key="uploads/copy.txt",
)
PUT_TAGGING_PUBLIC = Req("PUT", "public/a.txt", (("tagging", ""),), body=_tagging("public"))
PUT_TAGGING_SECRET = Req("PUT", "public/a.txt", (("tagging", ""),), body=_tagging("secret"))
PUT_TAGGING_TAGGED = Req("PUT", "private-tag.txt", (("tagging", ""),), body=_tagging("public"))
GRANTS = ("read", "write", "read-acp", "write-acp", "full-control")

ALL_OBJECTS = ["arn:aws:s3:::BUCKET/*"]
BUCKET_ARN = ["arn:aws:s3:::BUCKET"]


def allow(action: Any, resource: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource or ALL_OBJECTS, **extra}


def deny(action: Any, resource: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource or ALL_OBJECTS, **extra}


Expect = bool | Callable[[str], bool]
ON_HTTPS: Expect = lambda scheme: scheme == "https"  # noqa: E731
ON_HTTP: Expect = lambda scheme: scheme == "http"  # noqa: E731

#: (name, statements, anonymous?, request, allowed?)
CASES: list[tuple[str, list[dict[str, Any]], bool, Req, Expect]] = [
    # no policy at all
    ("anon-no-policy-get", [], True, GET_PUBLIC, False),
    ("anon-no-policy-list", [], True, LIST, False),
    ("anon-no-policy-put", [], True, PUT_UPLOAD, False),
    ("root-no-policy-get", [], False, GET_PUBLIC, True),
    # public read of every object
    ("public-read-get", [allow("s3:GetObject")], True, GET_PUBLIC, True),
    ("public-read-head", [allow("s3:GetObject")], True, HEAD_PUBLIC, True),
    ("public-read-no-list", [allow("s3:GetObject")], True, LIST, False),
    ("public-read-no-put", [allow("s3:GetObject")], True, PUT_UPLOAD, False),
    ("public-read-no-delete", [allow("s3:GetObject")], True, DELETE_DOCS, False),
    ("public-read-no-tagging", [allow("s3:GetObject")], True, GET_TAGGING, False),
    ("public-read-root-still", [allow("s3:GetObject")], False, PUT_UPLOAD, True),
    # resources with wildcards
    (
        "prefix-resource-in",
        [allow("s3:GetObject", ["arn:aws:s3:::BUCKET/public/*"])],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "prefix-resource-out",
        [allow("s3:GetObject", ["arn:aws:s3:::BUCKET/public/*"])],
        True,
        GET_SECRET,
        False,
    ),
    (
        "question-mark",
        [allow("s3:GetObject", ["arn:aws:s3:::BUCKET/docs/?.txt"])],
        True,
        GET_DOCS,
        True,
    ),
    (
        "exact-key",
        [allow("s3:GetObject", ["arn:aws:s3:::BUCKET/docs/c.txt"])],
        True,
        GET_DOCS,
        True,
    ),
    (
        "exact-key-other",
        [allow("s3:GetObject", ["arn:aws:s3:::BUCKET/docs/c.txt"])],
        True,
        Req("GET", "docs/d.txt"),
        False,
    ),
    ("star-resource", [allow("s3:GetObject", ["*"])], True, GET_SECRET, True),
    ("bucket-arn-not-objects", [allow("s3:GetObject", BUCKET_ARN)], True, GET_PUBLIC, False),
    # actions with wildcards and lists
    ("action-star", [allow("s3:*", [*ALL_OBJECTS, *BUCKET_ARN])], True, LIST, True),
    ("action-get-star", [allow("s3:Get*")], True, GET_PUBLIC, True),
    ("action-get-star-no-put", [allow("s3:Get*")], True, PUT_UPLOAD, False),
    ("action-list", [allow(["s3:GetObject", "s3:PutObject"])], True, PUT_UPLOAD, True),
    ("action-case", [allow("S3:getobject")], True, GET_PUBLIC, True),
    ("list-bucket", [allow("s3:ListBucket", BUCKET_ARN)], True, LIST, True),
    ("list-bucket-not-get", [allow("s3:ListBucket", BUCKET_ARN)], True, GET_PUBLIC, False),
    ("location", [allow("s3:GetBucketLocation", BUCKET_ARN)], True, GET_LOCATION, True),
    ("put-anywhere", [allow("s3:PutObject")], True, PUT_UPLOAD, True),
    (
        "put-prefix-in",
        [allow("s3:PutObject", ["arn:aws:s3:::BUCKET/uploads/*"])],
        True,
        PUT_UPLOAD,
        True,
    ),
    (
        "put-prefix-out",
        [allow("s3:PutObject", ["arn:aws:s3:::BUCKET/uploads/*"])],
        True,
        PUT_PUBLIC,
        False,
    ),
    ("delete", [allow("s3:DeleteObject")], True, DELETE_DOCS, True),
    # explicit deny wins
    (
        "deny-beats-allow",
        [allow("s3:GetObject"), deny("s3:GetObject", ["arn:aws:s3:::BUCKET/secret/*"])],
        True,
        GET_SECRET,
        False,
    ),
    (
        "deny-elsewhere",
        [allow("s3:GetObject"), deny("s3:GetObject", ["arn:aws:s3:::BUCKET/secret/*"])],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "deny-root-too",
        [deny("s3:GetObject", ["arn:aws:s3:::BUCKET/secret/*"])],
        False,
        GET_SECRET,
        False,
    ),
    (
        "deny-root-elsewhere",
        [deny("s3:GetObject", ["arn:aws:s3:::BUCKET/secret/*"])],
        False,
        GET_PUBLIC,
        True,
    ),
    ("deny-put-root", [deny("s3:PutObject")], False, PUT_UPLOAD, False),
    (
        "deny-star-action",
        [allow("s3:GetObject"), deny("s3:*", ["arn:aws:s3:::BUCKET/docs/*"])],
        True,
        GET_DOCS,
        False,
    ),
    # NotAction / NotResource
    (
        "notaction-allow",
        [{"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": ALL_OBJECTS}],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "notaction-excluded",
        [{"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": ALL_OBJECTS}],
        True,
        PUT_UPLOAD,
        False,
    ),
    (
        "notresource-allow",
        [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "NotResource": ["arn:aws:s3:::BUCKET/secret/*"],
            }
        ],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "notresource-excluded",
        [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "NotResource": ["arn:aws:s3:::BUCKET/secret/*"],
            }
        ],
        True,
        GET_SECRET,
        False,
    ),
    (
        "deny-notresource",
        [
            allow("s3:GetObject"),
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "NotResource": ["arn:aws:s3:::BUCKET/public/*"],
            },
        ],
        True,
        GET_DOCS,
        False,
    ),
    # principals
    ("principal-aws-star", [allow("s3:GetObject", Principal=ANYONE)], True, GET_PUBLIC, True),
    (
        "principal-other-user",
        [allow("s3:GetObject", Principal={"AWS": "arn:aws:iam::111122223333:user/bob"})],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "principal-root-arn-deny",
        [deny("s3:GetObject", Principal={"AWS": "arn:aws:iam::000000000000:root"})],
        False,
        GET_PUBLIC,
        False,
    ),
    (
        "principal-root-arn-anon",
        [
            allow("s3:GetObject"),
            deny("s3:GetObject", Principal={"AWS": "arn:aws:iam::000000000000:root"}),
        ],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "notprincipal-deny",
        [
            allow("s3:GetObject"),
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": ALL_OBJECTS,
                "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:root"},
            },
        ],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "notprincipal-root-ok",
        [
            {
                "Effect": "Deny",
                "Action": "s3:GetObject",
                "Resource": ALL_OBJECTS,
                "NotPrincipal": {"AWS": "arn:aws:iam::000000000000:root"},
            }
        ],
        False,
        GET_PUBLIC,
        True,
    ),
    # conditions: transport and addresses
    (
        "secure-only",
        [allow("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": "true"}})],
        True,
        GET_PUBLIC,
        ON_HTTPS,
    ),
    (
        "deny-insecure",
        [
            allow("s3:GetObject"),
            deny("s3:GetObject", Condition={"Bool": {"aws:SecureTransport": "false"}}),
        ],
        True,
        GET_PUBLIC,
        ON_HTTPS,
    ),
    (
        "deny-insecure-root",
        [
            deny(
                "s3:*",
                [*ALL_OBJECTS, *BUCKET_ARN],
                Condition={"Bool": {"aws:SecureTransport": False}},
            )
        ],
        False,
        GET_PUBLIC,
        ON_HTTPS,
    ),
    (
        "ip-loopback",
        [allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "ip-elsewhere",
        [allow("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "not-ip",
        [
            allow(
                "s3:GetObject",
                Condition={"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.1"]}},
            )
        ],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "deny-ip-root",
        [deny("s3:GetObject", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}})],
        False,
        GET_PUBLIC,
        False,
    ),
    # conditions: time
    (
        "time-window-open",
        [
            allow(
                "s3:GetObject",
                Condition={
                    "DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                    "DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"},
                },
            )
        ],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "time-window-closed",
        [
            allow(
                "s3:GetObject",
                Condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
            )
        ],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "epoch-numeric",
        [allow("s3:GetObject", Condition={"NumericGreaterThan": {"aws:EpochTime": "1600000000"}})],
        True,
        GET_PUBLIC,
        True,
    ),
    # conditions: user name (root's), principal type
    (
        "username-root",
        [deny("s3:GetObject", Condition={"StringEquals": {"aws:username": "root"}})],
        False,
        GET_PUBLIC,
        False,
    ),
    (
        "username-other",
        [deny("s3:GetObject", Condition={"StringEquals": {"aws:username": "alice"}})],
        False,
        GET_PUBLIC,
        True,
    ),
    (
        "username-missing-anon",
        [allow("s3:GetObject", Condition={"StringLike": {"aws:username": "*"}})],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "username-ifexists",
        [allow("s3:GetObject", Condition={"StringLikeIfExists": {"aws:username": "root"}})],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "null-username",
        [allow("s3:GetObject", Condition={"Null": {"aws:username": "true"}})],
        True,
        GET_PUBLIC,
        True,
    ),
    # conditions: listing keys
    (
        "prefix-equals",
        [allow("s3:ListBucket", BUCKET_ARN, Condition={"StringEquals": {"s3:prefix": "docs/"}})],
        True,
        LIST_DOCS,
        True,
    ),
    (
        "prefix-equals-other",
        [allow("s3:ListBucket", BUCKET_ARN, Condition={"StringEquals": {"s3:prefix": "docs/"}})],
        True,
        LIST,
        False,
    ),
    (
        "prefix-like",
        [allow("s3:ListBucket", BUCKET_ARN, Condition={"StringLike": {"s3:prefix": "doc*"}})],
        True,
        LIST_DOCS,
        True,
    ),
    (
        "prefix-not-like",
        [
            allow("s3:ListBucket", BUCKET_ARN),
            deny("s3:ListBucket", BUCKET_ARN, Condition={"StringNotLike": {"s3:prefix": "docs/*"}}),
        ],
        True,
        LIST_DOCS,
        True,
    ),
    (
        "delimiter-required",
        [allow("s3:ListBucket", BUCKET_ARN, Condition={"StringEquals": {"s3:delimiter": "/"}})],
        True,
        LIST_DOCS_DELIM,
        True,
    ),
    (
        "delimiter-missing",
        [allow("s3:ListBucket", BUCKET_ARN, Condition={"StringEquals": {"s3:delimiter": "/"}})],
        True,
        LIST_DOCS,
        False,
    ),
    (
        "max-keys-small",
        [
            allow(
                "s3:ListBucket",
                BUCKET_ARN,
                Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}},
            )
        ],
        True,
        LIST_SMALL,
        True,
    ),
    (
        "max-keys-big",
        [
            allow(
                "s3:ListBucket",
                BUCKET_ARN,
                Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}},
            )
        ],
        True,
        LIST_BIG,
        False,
    ),
    # conditions: existing object tags
    (
        "tag-public",
        [
            allow(
                "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}}
            )
        ],
        True,
        GET_TAGGED,
        True,
    ),
    (
        "tag-secret",
        [
            allow(
                "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}}
            )
        ],
        True,
        GET_PRIVATE_TAG,
        False,
    ),
    (
        "tag-untagged",
        [
            allow(
                "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "public"}}
            )
        ],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "deny-secret-tag-root",
        [
            deny(
                "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/class": "secret"}}
            )
        ],
        False,
        GET_PRIVATE_TAG,
        False,
    ),
    # conditions combine: all must hold
    (
        "two-conditions",
        [
            allow(
                "s3:GetObject",
                Condition={
                    "IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
                    "DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                },
            )
        ],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "user-agent",
        [allow("s3:GetObject", Condition={"StringLike": {"aws:UserAgent": "*ninefold-test*"}})],
        True,
        Req("GET", "public/a.txt", headers=(("User-Agent", "x ninefold-test y"),)),
        True,
    ),
    (
        "referer",
        [allow("s3:GetObject", Condition={"StringLike": {"aws:Referer": "https://example.com/*"}})],
        True,
        Req("GET", "public/a.txt", headers=(("Referer", "https://evil.example/"),)),
        False,
    ),
    # conditions: the canned ACL and the grants of a write
    (
        "acl-equals",
        [allow("s3:PutObject", Condition={"StringEquals": {"s3:x-amz-acl": "private"}})],
        True,
        PUT_ACL_PRIVATE,
        True,
    ),
    (
        "acl-equals-absent",
        [allow("s3:PutObject", Condition={"StringEquals": {"s3:x-amz-acl": "private"}})],
        True,
        PUT_UPLOAD,
        False,
    ),
    (
        "acl-ifexists-absent",
        [allow("s3:PutObject", Condition={"StringEqualsIfExists": {"s3:x-amz-acl": "private"}})],
        True,
        PUT_UPLOAD,
        True,
    ),
    (
        "acl-ifexists-other",
        [allow("s3:PutObject", Condition={"StringEqualsIfExists": {"s3:x-amz-acl": "private"}})],
        True,
        PUT_ACL_PUBLIC,
        False,
    ),
    (
        "acl-deny-public-root",
        [deny("s3:PutObject", Condition={"StringLike": {"s3:x-amz-acl": "public-*"}})],
        False,
        PUT_ACL_PUBLIC,
        False,
    ),
    (
        "acl-deny-public-root-private",
        [deny("s3:PutObject", Condition={"StringLike": {"s3:x-amz-acl": "public-*"}})],
        False,
        PUT_ACL_PRIVATE,
        True,
    ),
    *(
        (
            f"grant-{grant}-denied",
            [deny("s3:PutObject", Condition={"Null": {f"s3:x-amz-grant-{grant}": "false"}})],
            False,
            _put((f"x-amz-grant-{grant}", 'id="0123456789abcdef"')),
            False,
        )
        for grant in GRANTS
    ),
    # conditions: the source and metadata directive of a copy
    (
        "copy-source-denied",
        [
            deny(
                "s3:PutObject",
                Condition={"StringLike": {"s3:x-amz-copy-source": "BUCKET/secret/*"}},
            )
        ],
        False,
        COPY_SECRET,
        False,
    ),
    (
        "copy-source-elsewhere",
        [
            deny(
                "s3:PutObject",
                Condition={"StringLike": {"s3:x-amz-copy-source": "BUCKET/secret/*"}},
            )
        ],
        False,
        COPY_PUBLIC,
        True,
    ),
    (
        "metadata-directive-denied",
        [
            deny(
                "s3:PutObject",
                Condition={"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}},
            )
        ],
        False,
        COPY_REPLACE,
        False,
    ),
    (
        "metadata-directive-copy",
        [
            deny(
                "s3:PutObject",
                Condition={"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}},
            )
        ],
        False,
        COPY_PUBLIC,
        True,
    ),
    # conditions: the tags a request sets (x-amz-tagging, or PutObjectTagging's body)
    (
        "request-tag",
        [
            allow(
                "s3:PutObject", Condition={"StringEquals": {"s3:RequestObjectTag/class": "public"}}
            )
        ],
        True,
        PUT_TAG_PUBLIC,
        True,
    ),
    (
        "request-tag-other",
        [
            allow(
                "s3:PutObject", Condition={"StringEquals": {"s3:RequestObjectTag/class": "public"}}
            )
        ],
        True,
        PUT_TAG_SECRET,
        False,
    ),
    (
        "request-tag-untagged",
        [
            allow(
                "s3:PutObject", Condition={"StringEquals": {"s3:RequestObjectTag/class": "public"}}
            )
        ],
        True,
        PUT_UPLOAD,
        False,
    ),
    (
        "request-tag-keys-all",
        [
            allow(
                "s3:PutObject",
                Condition={"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["class"]}},
            )
        ],
        True,
        PUT_TAG_TEAM,
        False,
    ),
    (
        "request-tag-keys-all-ok",
        [
            allow(
                "s3:PutObject",
                Condition={"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["class"]}},
            )
        ],
        True,
        PUT_TAG_PUBLIC,
        True,
    ),
    (
        "request-tag-keys-any",
        [
            allow(
                "s3:PutObject",
                Condition={"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "team"}},
            )
        ],
        True,
        PUT_TAG_TEAM,
        True,
    ),
    (
        "tagging-body",
        [
            allow(
                "s3:PutObjectTagging",
                Condition={"StringEquals": {"s3:RequestObjectTag/class": "public"}},
            )
        ],
        True,
        PUT_TAGGING_PUBLIC,
        True,
    ),
    (
        "tagging-body-other",
        [
            allow(
                "s3:PutObjectTagging",
                Condition={"StringEquals": {"s3:RequestObjectTag/class": "public"}},
            )
        ],
        True,
        PUT_TAGGING_SECRET,
        False,
    ),
    (
        "tagging-body-deny-root",
        [
            deny(
                "s3:PutObjectTagging",
                Condition={"StringEquals": {"s3:RequestObjectTag/class": "secret"}},
            )
        ],
        False,
        PUT_TAGGING_SECRET,
        False,
    ),
    (
        "tagging-body-deny-root-other",
        [
            deny(
                "s3:PutObjectTagging",
                Condition={"StringEquals": {"s3:RequestObjectTag/class": "secret"}},
            )
        ],
        False,
        PUT_TAGGING_PUBLIC,
        True,
    ),
    (
        "tagging-existing-tag-root",
        [
            deny(
                "s3:PutObjectTagging",
                Condition={"StringEquals": {"s3:ExistingObjectTag/class": "secret"}},
            )
        ],
        False,
        PUT_TAGGING_TAGGED,
        False,
    ),
    # policy variables
    (
        "variable-default",
        [allow("s3:GetObject", ["arn:aws:s3:::BUCKET/${aws:username, 'public'}/*"])],
        True,
        GET_PUBLIC,
        True,
    ),
    (
        "variable-anonymous",
        [allow("s3:GetObject", ["arn:aws:s3:::BUCKET/${aws:username}/*"])],
        True,
        GET_PUBLIC,
        False,
    ),
    (
        "variable-root",
        [deny("s3:*", ["arn:aws:s3:::BUCKET/${aws:username}*"])],
        False,
        Req("PUT", "root.txt", body=b"r"),
        False,
    ),
    (
        "variable-in-condition",
        [
            allow(
                "s3:ListBucket",
                BUCKET_ARN,
                Condition={"StringLike": {"s3:prefix": "${aws:username, 'docs'}/*"}},
            )
        ],
        True,
        LIST_DOCS,
        True,
    ),
]


def test_matrix_has_enough_cases() -> None:
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("statements", "anonymous", "req", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_policy_matrix(
    s3: Any,
    filled: str,
    any_server: Any,
    statements: list[dict[str, Any]],
    anonymous: bool,
    req: Req,
    expected: Expect,
) -> None:
    if statements:
        s3.put_bucket_policy(Bucket=filled, Policy=policy(filled, *statements))
    resp = request(
        any_server,
        req.method,
        filled,
        req.key,
        query=req.query,
        body=req.body,
        headers={name: value.replace("BUCKET", filled) for name, value in req.headers},
        signed=not anonymous,
    )
    scheme = any_server.endpoint.split(":", 1)[0]
    want = expected(scheme) if callable(expected) else expected
    if want:
        assert resp.status in (200, 204), (resp.status, resp.body[:300])
    else:
        assert resp.status == 403, (resp.status, resp.body[:300])
        if req.method != "HEAD":
            assert b"<Code>AccessDenied</Code>" in resp.body
    s3.delete_bucket_policy(Bucket=filled)


def test_tags_read_for_a_policy_are_still_applied(s3: Any, filled: str, any_server: Any) -> None:
    """PutObjectTagging's body is read before the operation when a policy names
    s3:RequestObjectTag: the tags it carries are still set, and a bad document is still
    refused with its own error, changing nothing."""
    s3.put_bucket_policy(
        Bucket=filled,
        Policy=policy(
            filled,
            deny(
                "s3:PutObjectTagging",
                Condition={"StringEquals": {"s3:RequestObjectTag/class": "secret"}},
            ),
        ),
    )
    key = "public/a.txt"
    s3.put_object_tagging(
        Bucket=filled, Key=key, Tagging={"TagSet": [{"Key": "class", "Value": "public"}]}
    )
    assert s3.get_object_tagging(Bucket=filled, Key=key)["TagSet"] == [
        {"Key": "class", "Value": "public"}
    ]
    with raises_s3("AccessDenied", 403):
        s3.put_object_tagging(
            Bucket=filled, Key=key, Tagging={"TagSet": [{"Key": "class", "Value": "secret"}]}
        )
    with raises_s3("InvalidTag", 400):
        s3.put_object_tagging(
            Bucket=filled, Key=key, Tagging={"TagSet": [{"Key": "aws:x", "Value": "y"}]}
        )
    resp = request(
        any_server, "PUT", filled, key, query=(("tagging", ""),), body=b"<Tagging><TagSet>"
    )
    assert resp.status == 400 and b"<Code>MalformedXML</Code>" in resp.body
    assert s3.get_object_tagging(Bucket=filled, Key=key)["TagSet"] == [
        {"Key": "class", "Value": "public"}
    ]
