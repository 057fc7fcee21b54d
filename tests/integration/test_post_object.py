"""POST Object (browser uploads): multipart/form-data POSTs to a bucket URL, signed by a policy
document, against a real server. Forms come from boto3's ``generate_presigned_post`` (SigV2 on
default settings, SigV4 with ``signature_version="s3v4"``) or are signed here by hand, and are
sent as raw bytes so that a test controls every field and its order. Every refusal asserts its
code and status, and that nothing was stored."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest

from .helpers import (
    REGION,
    SMALL_OBJECT_MAX,
    RawResponse,
    md5_hex,
    random_bytes,
    read_all,
    send,
    signing_key,
)

Field = tuple[str, str]
ORIGIN = "https://upload.example.com"


# ------------------------------------------------------------------------------- form helpers


def encode_form(
    fields: Iterable[Field],
    file: bytes | None,
    *,
    filename: str = "photo.jpg",
    after: Iterable[Field] = (),
) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data form: ``fields``, then the file (if any),
    then ``after`` (fields S3 ignores, since the file must come last)."""
    boundary = "----NinefoldForm" + secrets.token_hex(8)
    out = bytearray()

    def part(name: str, value: bytes, extra: str = "") -> None:
        out.extend(f"--{boundary}\r\n".encode())
        out.extend(f'Content-Disposition: form-data; name="{name}"{extra}\r\n'.encode())
        if extra:
            out.extend(b"Content-Type: application/octet-stream\r\n")
        out.extend(b"\r\n" + value + b"\r\n")

    for name, value in fields:
        part(name, value.encode())
    if file is not None:
        part("file", file, f'; filename="{filename}"')
    for name, value in after:
        part(name, value.encode())
    out.extend(f"--{boundary}--\r\n".encode())
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post_form(
    server: Any,
    bucket: str,
    fields: Iterable[Field] | dict[str, str],
    file: bytes | None = b"hello, browser",
    *,
    filename: str = "photo.jpg",
    after: Iterable[Field] = (),
    headers: dict[str, str] | None = None,
) -> RawResponse:
    items = list(fields.items()) if isinstance(fields, dict) else list(fields)
    body, content_type = encode_form(items, file, filename=filename, after=after)
    return send(
        server, "POST", f"/{bucket}", {"Content-Type": content_type, **(headers or {})}, body
    )


def signed_fields(
    server: Any,
    conditions: list[Any],
    fields: dict[str, str],
    *,
    v4: bool = True,
    expires_in_s: int = 600,
    secret_key: str | None = None,
    access_key: str | None = None,
) -> dict[str, str]:
    """``fields`` plus a policy with ``conditions`` (the auth fields' conditions added) signed
    for ``server`` (with ``secret_key`` when given, to forge a bad signature)."""
    now = dt.datetime.now(dt.UTC)
    access = access_key or server.access_key
    auth: dict[str, str] = {}
    if v4:
        auth = {
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": f"{access}/{now:%Y%m%d}/{REGION}/s3/aws4_request",
            "x-amz-date": f"{now:%Y%m%dT%H%M%SZ}",
        }
    expiration = now + dt.timedelta(seconds=expires_in_s)
    document = {
        "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "conditions": [*conditions, *({k: v} for k, v in auth.items())],
    }
    policy = base64.b64encode(json.dumps(document).encode()).decode()
    secret = secret_key or server.secret_key
    out = {**fields, **auth, "policy": policy}
    if v4:
        key = signing_key(secret, f"{now:%Y%m%d}")
        out["x-amz-signature"] = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
    else:
        out["AWSAccessKeyId"] = access
        digest = hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()
        out["signature"] = base64.b64encode(digest).decode()
    return out


def presigned_post(client: Any, bucket: str, key: str, **kwargs: Any) -> dict[str, str]:
    fields: dict[str, str] = client.generate_presigned_post(bucket, key, **kwargs)["fields"]
    return fields


def keys_in(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def refused(
    resp: RawResponse, code: str, status: int, s3: Any, bucket: str, message: str | None = None
) -> dict[str, str]:
    """``resp`` is the S3 error ``code``/``status`` (with ``message`` in its Message) and the
    bucket is still empty."""
    assert resp.status == status, str(resp)
    err = resp.error(code)
    if message is not None:
        assert message in err["Message"], err
    assert keys_in(s3, bucket) == []
    return err


@pytest.fixture
def v4_client(server: Any) -> Any:
    return server.boto3_client(signature_version="s3v4")


# ------------------------------------------------------------------------------- success


def test_boto3_default_presigned_post_is_sigv2_and_answers_204(
    any_server: Any, s3: Any, bucket: str
) -> None:
    fields = presigned_post(s3, bucket, "docs/report.txt")
    assert "AWSAccessKeyId" in fields and "signature" in fields  # what boto3 emits today
    resp = post_form(any_server, bucket, fields, b"quarterly numbers")
    assert resp.status == 204, str(resp)
    assert resp.body == b""
    assert resp.header("ETag") == f'"{md5_hex(b"quarterly numbers")}"'
    assert read_all(s3, bucket, "docs/report.txt") == b"quarterly numbers"
    head = s3.head_object(Bucket=bucket, Key="docs/report.txt")
    assert head["ContentType"] == "binary/octet-stream"


def test_sigv4_post_with_status_201_returns_post_response(
    server: Any, v4_client: Any, http_bucket: str
) -> None:
    data = random_bytes(1000)
    fields = presigned_post(
        v4_client,
        http_bucket,
        "uploads/${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}, ["content-length-range", 1, 4096]],
    )
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
    resp = post_form(server, http_bucket, fields, data, filename="cat.png")
    assert resp.status == 201, str(resp)
    root = ElementTree.fromstring(resp.body)
    assert root.tag == "PostResponse"
    doc = {child.tag: child.text for child in root}
    assert doc["Bucket"] == http_bucket
    assert doc["Key"] == "uploads/cat.png"
    assert doc["ETag"] == f'"{md5_hex(data)}"'
    assert doc["Location"] == f"{server.endpoint}/{http_bucket}/uploads/cat.png"
    assert resp.header("ETag") == doc["ETag"]
    assert read_all(v4_client, http_bucket, "uploads/cat.png") == data


def test_success_action_status_200_and_unknown_values(
    server: Any, s3_http: Any, http_bucket: str
) -> None:
    for status, expected in (("200", 200), ("204", 204), ("302", 204)):
        key = f"status-{status}"
        fields = signed_fields(
            server,
            [{"bucket": http_bucket}, {"key": key}, {"success_action_status": status}],
            {"key": key, "success_action_status": status},
        )
        resp = post_form(server, http_bucket, fields)
        assert resp.status == expected, str(resp)
        assert resp.body == b""
        assert resp.header("ETag")
    assert sorted(keys_in(s3_http, http_bucket)) == ["status-200", "status-204", "status-302"]


def test_success_action_redirect_answers_303_with_bucket_key_and_etag(
    server: Any, http_bucket: str
) -> None:
    redirect = "https://app.example.com/done?session=7"
    fields = signed_fields(
        server,
        [
            {"bucket": http_bucket},
            ["starts-with", "$key", "in/"],
            ["starts-with", "$success_action_redirect", "https://app.example.com/"],
        ],
        {"key": "in/${filename}", "success_action_redirect": redirect},
        v4=False,
    )
    resp = post_form(server, http_bucket, fields, b"redirected", filename="a b.txt")
    assert resp.status == 303, str(resp)
    location = resp.header("Location")
    assert location is not None and location.startswith(redirect + "&")
    query = parse_qs(urlsplit(location).query)
    assert query["bucket"] == [http_bucket]
    assert query["key"] == ["in/a b.txt"]
    assert query["etag"] == [f'"{md5_hex(b"redirected")}"']
    assert query["session"] == ["7"]


def test_filename_substitution_metadata_and_headers(
    server: Any, s3_http: Any, http_bucket: str
) -> None:
    fields = signed_fields(
        server,
        [
            {"bucket": http_bucket},
            ["starts-with", "$key", "user/42/"],
            ["starts-with", "$Content-Type", "image/"],
            ["eq", "$x-amz-meta-owner", "alice"],
            ["starts-with", "$x-amz-meta-note", ""],
            {"Cache-Control": "max-age=60"},
            {"Content-Disposition": 'attachment; filename="holiday.jpg"'},
            {"acl": "private"},
        ],
        {
            "key": "user/42/${filename}",
            "Content-Type": "image/jpeg",
            "x-amz-meta-owner": "alice",
            "X-Amz-Meta-Note": "from the browser",
            "Cache-Control": "max-age=60",
            "Content-Disposition": 'attachment; filename="holiday.jpg"',
            "acl": "private",
            "x-ignore-tracking": "anything",  # x-ignore-* needs no condition
        },
    )
    resp = post_form(server, http_bucket, fields, b"\xff\xd8jpeg", filename="holiday.jpg")
    assert resp.status == 204, str(resp)
    head = s3_http.head_object(Bucket=http_bucket, Key="user/42/holiday.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["Metadata"] == {"owner": "alice", "note": "from the browser"}
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="holiday.jpg"'


def test_fields_after_the_file_are_ignored(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(server, [{"bucket": http_bucket}, {"key": "last"}], {"key": "last"})
    # an uncovered field after the file would be an "extra input field" before it
    resp = post_form(server, http_bucket, fields, b"data", after=[("x-amz-meta-late", "1")])
    assert resp.status == 204, str(resp)
    assert s3_http.head_object(Bucket=http_bucket, Key="last")["Metadata"] == {}


def test_large_file_is_streamed_into_an_erasure_coded_object(
    server: Any, s3_http: Any, http_bucket: str
) -> None:
    data = random_bytes(3 * 1024 * 1024 + 17, seed=7)
    fields = signed_fields(
        server,
        [{"bucket": http_bucket}, {"key": "big.bin"}, ["content-length-range", 0, len(data)]],
        {"key": "big.bin"},
    )
    resp = post_form(server, http_bucket, fields, data)
    assert resp.status == 204, str(resp)
    assert resp.header("ETag") == f'"{md5_hex(data)}"'
    assert read_all(s3_http, http_bucket, "big.bin") == data


def test_post_from_an_allowed_origin_carries_cors_headers(
    server: Any, s3_http: Any, http_bucket: str
) -> None:
    s3_http.put_bucket_cors(
        Bucket=http_bucket,
        CORSConfiguration={"CORSRules": [{"AllowedMethods": ["POST"], "AllowedOrigins": [ORIGIN]}]},
    )
    fields = signed_fields(server, [{"bucket": http_bucket}, {"key": "c"}], {"key": "c"})
    resp = post_form(server, http_bucket, fields, headers={"Origin": ORIGIN})
    assert resp.status == 204, str(resp)
    assert resp.header("Access-Control-Allow-Origin") == ORIGIN
    # refusals carry them too, so that the page can read the error
    bad = signed_fields(server, [{"bucket": http_bucket}], {"key": "c"})
    resp = post_form(server, http_bucket, bad, headers={"Origin": ORIGIN})
    assert resp.status == 403, str(resp)
    assert resp.header("Access-Control-Allow-Origin") == ORIGIN


# ------------------------------------------------------------------------------- refusals


def test_expired_policy(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(
        server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"}, expires_in_s=-1
    )
    resp = post_form(server, http_bucket, fields)
    refused(
        resp,
        "AccessDenied",
        403,
        s3_http,
        http_bucket,
        "Invalid according to Policy: Policy expired.",
    )


@pytest.mark.parametrize(
    ("condition", "fields", "quoted"),
    [
        (
            ["starts-with", "$key", "uploads/"],
            {"key": "other/x"},
            '["starts-with", "$key", "uploads/"]',
        ),
        ({"key": "exact"}, {"key": "exactly"}, '["eq", "$key", "exact"]'),
        ({"bucket": "another-bucket"}, {"key": "k"}, '["eq", "$bucket", "another-bucket"]'),
        (
            ["starts-with", "$Content-Type", "image/"],
            {"key": "k", "Content-Type": "image/png,text/html"},
            '["starts-with", "$Content-Type", "image/"]',
        ),
        (
            ["eq", "$success_action_status", "201"],
            {"key": "k"},  # an absent field is ""
            '["eq", "$success_action_status", "201"]',
        ),
    ],
    ids=["starts-with", "eq-object", "bucket", "content-type-list", "absent-field"],
)
def test_failed_condition(
    server: Any,
    s3_http: Any,
    http_bucket: str,
    condition: Any,
    fields: dict[str, str],
    quoted: str,
) -> None:
    covered = [["starts-with", f"${name}", ""] for name in fields]
    signed = signed_fields(server, [condition, *covered], fields)
    resp = post_form(server, http_bucket, signed)
    refused(
        resp,
        "AccessDenied",
        403,
        s3_http,
        http_bucket,
        f"Invalid according to Policy: Policy Condition failed: {quoted}",
    )


def test_extra_input_fields(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(
        server,
        [{"bucket": http_bucket}, {"key": "k"}],
        {"key": "k", "x-amz-meta-color": "red", "Content-Type": "text/plain"},
    )
    resp = post_form(server, http_bucket, fields)
    refused(
        resp,
        "AccessDenied",
        403,
        s3_http,
        http_bucket,
        "Invalid according to Policy: Extra input fields: x-amz-meta-color, content-type",
    )


@pytest.mark.parametrize(
    ("size", "code", "detail"),
    [
        (SMALL_OBJECT_MAX * 4, "EntityTooLarge", {"MaxSizeAllowed": "2048"}),
        (10, "EntityTooSmall", {"ProposedSize": "10", "MinSizeAllowed": "100"}),
    ],
    ids=["too-large", "too-small"],
)
def test_content_length_range(
    server: Any, s3_http: Any, http_bucket: str, size: int, code: str, detail: dict[str, str]
) -> None:
    fields = signed_fields(
        server,
        [{"bucket": http_bucket}, {"key": "k"}, ["content-length-range", 100, 2048]],
        {"key": "k"},
    )
    resp = post_form(server, http_bucket, fields, random_bytes(size))
    err = refused(resp, code, 400, s3_http, http_bucket)
    assert detail.items() <= err.items(), err


@pytest.mark.parametrize("v4", [True, False], ids=["sigv4", "sigv2"])
def test_bad_signature(server: Any, s3_http: Any, http_bucket: str, v4: bool) -> None:
    fields = signed_fields(
        server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"}, v4=v4, secret_key="wrong"
    )
    resp = post_form(server, http_bucket, fields)
    refused(resp, "SignatureDoesNotMatch", 403, s3_http, http_bucket)


def test_tampered_policy(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"})
    document = json.loads(base64.b64decode(fields["policy"]))
    document["conditions"][1] = ["starts-with", "$key", ""]
    fields["policy"] = base64.b64encode(json.dumps(document).encode()).decode()
    resp = post_form(server, http_bucket, {**fields, "key": "anything"})
    refused(resp, "SignatureDoesNotMatch", 403, s3_http, http_bucket)


def test_unknown_access_key(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(
        server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"}, access_key="NOSUCHKEY"
    )
    resp = post_form(server, http_bucket, fields)
    refused(resp, "InvalidAccessKeyId", 403, s3_http, http_bucket)


def test_unsigned_form_is_anonymous_and_denied(server: Any, s3_http: Any, http_bucket: str) -> None:
    resp = post_form(server, http_bucket, {"key": "k"})
    refused(resp, "AccessDenied", 403, s3_http, http_bucket)
    s3_http.put_bucket_acl(Bucket=http_bucket, ACL="public-read")  # public reads, not writes
    resp = post_form(server, http_bucket, {"key": "k"})
    refused(resp, "AccessDenied", 403, s3_http, http_bucket)


def test_anonymous_post_into_a_public_read_write_bucket(
    server: Any, s3_http: Any, http_bucket: str
) -> None:
    """S3: the policy (and so the signature) is optional when the bucket is publicly
    writable; an unsigned form then uploads as an anonymous PutObject."""
    s3_http.put_bucket_acl(Bucket=http_bucket, ACL="public-read-write")
    resp = post_form(
        server,
        http_bucket,
        {"key": "drop/${filename}", "Content-Type": "text/plain", "success_action_status": "201"},
        b"from a browser",
        filename="note.txt",
    )
    assert resp.status == 201, str(resp)
    assert read_all(s3_http, http_bucket, "drop/note.txt") == b"from a browser"
    assert s3_http.head_object(Bucket=http_bucket, Key="drop/note.txt")["ContentType"] == (
        "text/plain"
    )
    # the form's own checks still apply without a policy
    resp = post_form(server, http_bucket, {"key": "bad", "acl": "bogus"})
    assert resp.status == 400, str(resp)
    resp.error("InvalidArgument")
    # a policy without its signature is not an anonymous form
    policy = base64.b64encode(b'{"expiration": "2099-01-01T00:00:00Z", "conditions": []}')
    resp = post_form(server, http_bucket, {"key": "p", "policy": policy.decode()})
    assert resp.status == 400, str(resp)
    resp.error("InvalidArgument")
    assert keys_in(s3_http, http_bucket) == ["drop/note.txt"]


def test_anonymous_post_allowed_by_a_bucket_policy(
    server: Any, s3_http: Any, http_bucket: str
) -> None:
    s3_http.put_bucket_policy(
        Bucket=http_bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{http_bucket}/inbox/*",
                    }
                ],
            }
        ),
    )
    assert post_form(server, http_bucket, {"key": "inbox/a"}, b"a").status == 204
    assert read_all(s3_http, http_bucket, "inbox/a") == b"a"
    resp = post_form(server, http_bucket, {"key": "elsewhere/b"}, b"b")
    assert resp.status == 403, str(resp)
    resp.error("AccessDenied")
    assert keys_in(s3_http, http_bucket) == ["inbox/a"]
    s3_http.delete_bucket_policy(Bucket=http_bucket)


TAGGING = (
    "<Tagging><TagSet><Tag><Key>class</Key><Value>public</Value></Tag>"
    "<Tag><Key>team</Key><Value>web &amp; mobile</Value></Tag></TagSet></Tagging>"
)


def test_tagging_field_tags_the_object(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(
        server,
        [{"bucket": http_bucket}, {"key": "tagged"}, {"tagging": TAGGING}],
        {"key": "tagged", "tagging": TAGGING},
    )
    resp = post_form(server, http_bucket, fields, b"tagged body")
    assert resp.status == 204, str(resp)
    tags = s3_http.get_object_tagging(Bucket=http_bucket, Key="tagged")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [
        ("class", "public"),
        ("team", "web & mobile"),
    ]
    assert read_all(s3_http, http_bucket, "tagged") == b"tagged body"


@pytest.mark.parametrize(
    ("tagging", "code"),
    [
        ("<Tagging><TagSet>", "MalformedXML"),
        ("<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>", "MalformedXML"),
        ("<Tagging><TagSet><Tag><Key>aws:x</Key><Value>v</Value></Tag></TagSet></Tagging>",
         "InvalidTag"),
        ("<Tagging><TagSet>"
         + "".join(f"<Tag><Key>k{i}</Key><Value>v</Value></Tag>" for i in range(11))
         + "</TagSet></Tagging>", "InvalidTag"),
    ],
    ids=["not-xml", "no-value", "system-key", "eleven-tags"],
)  # fmt: skip
def test_bad_tagging_field(
    server: Any, s3_http: Any, http_bucket: str, tagging: str, code: str
) -> None:
    fields = signed_fields(
        server,
        [{"bucket": http_bucket}, {"key": "t"}, {"tagging": tagging}],
        {"key": "t", "tagging": tagging},
    )
    refused(post_form(server, http_bucket, fields), code, 400, s3_http, http_bucket)


def test_signature_without_policy(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"})
    del fields["policy"]
    resp = post_form(server, http_bucket, fields)
    err = refused(resp, "InvalidArgument", 400, s3_http, http_bucket)
    assert err["ArgumentName"] == "policy"


@pytest.mark.parametrize(
    "policy",
    [
        "not base64!",
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(b'{"conditions": []}').decode(),
        base64.b64encode(
            b'{"expiration": "2099-01-01T00:00:00Z", "conditions": [["in", 1]]}'
        ).decode(),
        # S3 wants an ISO 8601 date and time with its zone ("2099-01-01T00:00:00.000Z")
        *(
            base64.b64encode(
                json.dumps({"expiration": expiration, "conditions": []}).encode()
            ).decode()
            for expiration in (
                "2099-01-01",
                "2099-01-01T00:00:00",
                "2099-01-01 00:00:00Z",
                "20990101T000000Z",
                "2099-13-01T00:00:00Z",
                "next year",
            )
        ),
    ],
    ids=[
        "not-base64",
        "not-an-object",
        "no-expiration",
        "bad-condition",
        "expiration-date-only",
        "expiration-no-zone",
        "expiration-space",
        "expiration-basic-format",
        "expiration-month-13",
        "expiration-words",
    ],
)
def test_malformed_policy_document(
    server: Any, s3_http: Any, http_bucket: str, policy: str
) -> None:
    fields = {"key": "k", "AWSAccessKeyId": server.access_key, "policy": policy}
    digest = hmac.new(server.secret_key.encode(), policy.encode(), hashlib.sha1).digest()
    fields["signature"] = base64.b64encode(digest).decode()
    resp = post_form(server, http_bucket, fields)
    refused(resp, "InvalidPolicyDocument", 400, s3_http, http_bucket)


def test_missing_file(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"})
    resp = post_form(server, http_bucket, fields, file=None)
    err = refused(resp, "InvalidArgument", 400, s3_http, http_bucket)
    assert err["ArgumentName"] == "file"


def test_key_after_the_file_is_missing(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"})
    del fields["key"]
    resp = post_form(server, http_bucket, fields, after=[("key", "k")])
    err = refused(resp, "InvalidArgument", 400, s3_http, http_bucket)
    assert err["ArgumentName"] == "key"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\n\r\n--x--\r\n"),  # no boundary parameter
        ("multipart/form-data; boundary=abc", b"this is not a multipart body at all"),
        (
            "multipart/form-data; boundary=abc",
            b'--abc\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n--zzz\r\n',
        ),
        ("multipart/form-data; boundary=abc", b"--abc\r\nContent-Disposition: form-data\r\n\r\n"),
    ],
    ids=["no-boundary", "garbage", "wrong-boundary", "unnamed-part"],
)
def test_malformed_form(
    server: Any, s3_http: Any, http_bucket: str, content_type: str, body: bytes
) -> None:
    resp = send(server, "POST", f"/{http_bucket}", {"Content-Type": content_type}, body)
    refused(resp, "MalformedPOSTRequest", 400, s3_http, http_bucket)


def test_fields_before_the_file_are_limited(server: Any, s3_http: Any, http_bucket: str) -> None:
    fields = signed_fields(server, [{"bucket": http_bucket}, {"key": "k"}], {"key": "k"})
    resp = post_form(server, http_bucket, {**fields, "x-ignore-pad": "p" * 25_000})
    refused(resp, "MaxPostPreDataLengthExceededError", 400, s3_http, http_bucket)


def test_only_the_private_acl(server: Any, s3_http: Any, http_bucket: str) -> None:
    for acl, code, status in (
        ("public-read", "NotImplemented", 501),
        ("bogus", "InvalidArgument", 400),
    ):
        fields = signed_fields(
            server, [{"bucket": http_bucket}, {"key": "k"}, {"acl": acl}], {"key": "k", "acl": acl}
        )
        refused(post_form(server, http_bucket, fields), code, status, s3_http, http_bucket)


def test_no_such_bucket(server: Any) -> None:
    fields = signed_fields(server, [{"bucket": "nf-no-such-bucket"}, {"key": "k"}], {"key": "k"})
    resp = post_form(server, "nf-no-such-bucket", fields)
    assert resp.status == 404, str(resp)
    resp.error("NoSuchBucket")


def test_virtual_hosted_style_post(server: Any, s3_http: Any, http_bucket: str) -> None:
    host = f"{http_bucket}.s3.local:{server.port}"
    fields = signed_fields(
        server,
        [{"bucket": http_bucket}, {"key": "v/k"}, {"success_action_status": "201"}],
        {"key": "v/k", "success_action_status": "201"},
    )
    body, content_type = encode_form(list(fields.items()), b"virtual")
    resp = send(server, "POST", "/", {"Content-Type": content_type, "Host": host}, body)
    assert resp.status == 201, str(resp)
    location = ElementTree.fromstring(resp.body).findtext("Location")
    assert location == f"http://{host}/v/k"
    assert read_all(s3_http, http_bucket, "v/k") == b"virtual"


def test_bucket_policy_deny_applies_to_form_uploads(any_server: Any, s3: Any, bucket: str) -> None:
    import json

    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{bucket}/locked/*",
                    }
                ],
            }
        ),
    )
    fields = presigned_post(s3, bucket, "locked/x.txt")
    refused(post_form(any_server, bucket, fields, b"nope"), "AccessDenied", 403, s3, bucket)
    fields = presigned_post(s3, bucket, "open/x.txt")
    assert post_form(any_server, bucket, fields, b"fine").status == 204
    s3.delete_bucket_policy(Bucket=bucket)
