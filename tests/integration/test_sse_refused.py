"""Server-side encryption is not implemented yet, so its request headers are refused, never
ignored: 501 NotImplemented for well-formed SSE-S3 / SSE-KMS / SSE-C requests, 400 as S3 answers
malformed ones, on every operation that takes them, and nothing is stored. SSE-C goes over HTTPS
(boto3's SSE-C parameters, as a client sends them); malformed headers are sent raw."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
from typing import Any

import pytest

from .helpers import MiB, encode_path, parse_error, raises_s3, raw_socket, request, sign
from .test_post_object import post_form, signed_fields

KEY = os.urandom(32)
KEY_B64 = base64.b64encode(KEY).decode()
KEY_MD5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
#: boto3 parameters of each kind of SSE
SSE_KINDS: dict[str, dict[str, Any]] = {
    "sse-s3": {"ServerSideEncryption": "AES256"},
    "sse-kms": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/ninefold"},
    "sse-c": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY},
}
SSE_C_HEADERS = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": KEY_B64,
    "x-amz-server-side-encryption-customer-key-MD5": KEY_MD5,
}
ALG, CKEY, CMD5 = SSE_C_HEADERS
SOURCE = "plain/source"


@pytest.fixture
def client(tls_server: Any) -> Any:
    return tls_server.boto3_client(retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture
def source(client: Any, tls_bucket: str) -> str:
    """A plaintext object to copy from (and to GET)."""
    client.put_object(Bucket=tls_bucket, Key=SOURCE, Body=b"plaintext")
    return SOURCE


def assert_not_implemented(info: Any) -> None:
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["Error"]["Code"] == "NotImplemented"
    assert "Server-side encryption is not implemented" in response["Error"]["Message"]


def assert_absent(client: Any, bucket: str, key: str) -> None:
    with raises_s3("404", 404):
        client.head_object(Bucket=bucket, Key=key)


def no_uploads(client: Any, bucket: str) -> None:
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def boto_kwargs(kind: str) -> dict[str, Any]:
    return dict(SSE_KINDS[kind])


# ------------------------------------------------------------------------- 501 per operation


@pytest.mark.parametrize("kind", list(SSE_KINDS))
def test_put_object(client: Any, tls_bucket: str, kind: str) -> None:
    with raises_s3("NotImplemented", 501) as info:
        client.put_object(Bucket=tls_bucket, Key="k", Body=b"secret", **boto_kwargs(kind))
    assert_not_implemented(info)
    assert_absent(client, tls_bucket, "k")


@pytest.mark.parametrize("kind", list(SSE_KINDS))
def test_copy_object(client: Any, tls_bucket: str, source: str, kind: str) -> None:
    with raises_s3("NotImplemented", 501) as info:
        client.copy_object(
            Bucket=tls_bucket,
            Key="copy",
            CopySource={"Bucket": tls_bucket, "Key": source},
            **boto_kwargs(kind),
        )
    assert_not_implemented(info)
    assert_absent(client, tls_bucket, "copy")


def test_copy_object_with_a_copy_source_customer_key(
    client: Any, tls_bucket: str, source: str
) -> None:
    with raises_s3("NotImplemented", 501) as info:
        client.copy_object(
            Bucket=tls_bucket,
            Key="copy",
            CopySource={"Bucket": tls_bucket, "Key": source},
            CopySourceSSECustomerAlgorithm="AES256",
            CopySourceSSECustomerKey=KEY,
        )
    assert_not_implemented(info)
    assert_absent(client, tls_bucket, "copy")


@pytest.mark.parametrize("kind", list(SSE_KINDS))
def test_create_multipart_upload(client: Any, tls_bucket: str, kind: str) -> None:
    with raises_s3("NotImplemented", 501) as info:
        client.create_multipart_upload(Bucket=tls_bucket, Key="mp", **boto_kwargs(kind))
    assert_not_implemented(info)
    no_uploads(client, tls_bucket)


@pytest.fixture
def upload(client: Any, tls_bucket: str) -> str:
    upload_id: str = client.create_multipart_upload(Bucket=tls_bucket, Key="mp")["UploadId"]
    return upload_id


def test_upload_part_with_a_customer_key(client: Any, tls_bucket: str, upload: str) -> None:
    with raises_s3("NotImplemented", 501) as info:
        client.upload_part(
            Bucket=tls_bucket,
            Key="mp",
            UploadId=upload,
            PartNumber=1,
            Body=b"part",
            **boto_kwargs("sse-c"),
        )
    assert_not_implemented(info)
    assert client.list_parts(Bucket=tls_bucket, Key="mp", UploadId=upload).get("Parts", []) == []


@pytest.mark.parametrize("copy_source_key", [False, True])
def test_upload_part_copy_with_a_customer_key(
    client: Any, tls_bucket: str, source: str, upload: str, copy_source_key: bool
) -> None:
    kwargs = (
        {
            "CopySourceSSECustomerAlgorithm": "AES256",
            "CopySourceSSECustomerKey": KEY,
        }
        if copy_source_key
        else boto_kwargs("sse-c")
    )
    with raises_s3("NotImplemented", 501) as info:
        client.upload_part_copy(
            Bucket=tls_bucket,
            Key="mp",
            UploadId=upload,
            PartNumber=1,
            CopySource={"Bucket": tls_bucket, "Key": source},
            **kwargs,
        )
    assert_not_implemented(info)
    assert client.list_parts(Bucket=tls_bucket, Key="mp", UploadId=upload).get("Parts", []) == []


def test_get_and_head_naming_a_customer_key_are_not_served(
    client: Any, tls_bucket: str, source: str
) -> None:
    with raises_s3("NotImplemented", 501) as info:
        client.get_object(Bucket=tls_bucket, Key=source, **boto_kwargs("sse-c"))
    assert_not_implemented(info)
    with raises_s3("501", 501):
        client.head_object(Bucket=tls_bucket, Key=source, **boto_kwargs("sse-c"))
    # without the key the plaintext object is served as before
    assert client.get_object(Bucket=tls_bucket, Key=source)["Body"].read() == b"plaintext"


# --------------------------------------------------------------------------- 400: malformed


def raw(
    tls_server: Any, method: str, bucket: str, key: str, headers: dict[str, str], **kw: Any
) -> Any:
    body = kw.pop("body", b"secret" if method == "PUT" else b"")
    return request(tls_server, method, bucket, key, headers=headers, body=body, **kw)


MALFORMED_WRITES: list[tuple[dict[str, str], str, str]] = [
    ({"x-amz-server-side-encryption": "AES512"}, "InvalidArgument", "not supported"),
    (
        {
            "x-amz-server-side-encryption": "AES256",
            "x-amz-server-side-encryption-aws-kms-key-id": "k",
        },
        "InvalidArgument",
        "requires HTTP header x-amz-server-side-encryption : aws:kms",
    ),
    (
        {"x-amz-server-side-encryption-aws-kms-key-id": "k"},
        "InvalidArgument",
        "requires HTTP header x-amz-server-side-encryption : aws:kms",
    ),
    ({ALG: "AES256"}, "InvalidArgument", "must provide an appropriate secret key"),
    ({ALG: "AES256", CKEY: KEY_B64}, "InvalidArgument", "MD5 of the secret key"),
    ({CKEY: KEY_B64, CMD5: KEY_MD5}, "InvalidArgument", "valid encryption algorithm"),
    ({**SSE_C_HEADERS, ALG: "aws:kms"}, "InvalidEncryptionAlgorithmError", "AES256"),
    (
        {**SSE_C_HEADERS, CMD5: base64.b64encode(hashlib.md5(b"x").digest()).decode()},
        "InvalidArgument",
        "did not match",
    ),
    ({**SSE_C_HEADERS, CKEY: "c2hvcnQ="}, "InvalidArgument", "secret key was invalid"),
    (
        {"x-amz-server-side-encryption": "AES256", **SSE_C_HEADERS},
        "InvalidArgument",
        "incompatible with the encryption method",
    ),
]
IDS = [
    "bad-method",
    "kms-key-with-aes256",
    "kms-key-alone",
    "no-key",
    "no-md5",
    "no-algorithm",
    "bad-algorithm",
    "md5-mismatch",
    "short-key",
    "sse-and-sse-c",
]


@pytest.mark.parametrize(("headers", "code", "message"), MALFORMED_WRITES, ids=IDS)
def test_malformed_put_object(
    tls_server: Any, client: Any, tls_bucket: str, headers: dict[str, str], code: str, message: str
) -> None:
    resp = raw(tls_server, "PUT", tls_bucket, "k", headers)
    assert resp.status == 400, str(resp)
    assert message in resp.error(code)["Message"]
    assert_absent(client, tls_bucket, "k")


@pytest.mark.parametrize(
    ("headers", "code", "status"),
    [
        ({"x-amz-server-side-encryption": "AES256"}, "NotImplemented", 501),
        (SSE_C_HEADERS, "NotImplemented", 501),
        ({ALG: "AES256", CKEY: KEY_B64}, "InvalidArgument", 400),
    ],
    ids=["sse-s3", "sse-c", "malformed"],
)
def test_refused_before_the_body_is_read(
    tls_server: Any, client: Any, tls_bucket: str, headers: dict[str, str], code: str, status: int
) -> None:
    """Only the head of an 8 MiB PUT is sent: the answer comes without the body, and the
    connection is closed (its unread body must not be parsed as a next request)."""
    path = encode_path(tls_bucket, "k")
    signed = sign(
        tls_server,
        "PUT",
        path,
        headers={"Content-Length": str(8 * MiB), **headers},
        payload_hash="UNSIGNED-PAYLOAD",
    )
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = raw_socket(tls_server)
    try:
        sock.sendall(head.encode() + b"\r\n")
        resp = http.client.HTTPResponse(sock, method="PUT")
        resp.begin()
        assert resp.status == status
        assert (resp.getheader("connection") or "").lower() == "close"
        assert parse_error(resp.read())["Code"] == code
    finally:
        sock.close()
    assert_absent(client, tls_bucket, "k")


@pytest.mark.parametrize(("headers", "code", "message"), MALFORMED_WRITES, ids=IDS)
def test_malformed_create_multipart_upload(
    tls_server: Any, client: Any, tls_bucket: str, headers: dict[str, str], code: str, message: str
) -> None:
    resp = raw(tls_server, "POST", tls_bucket, "mp", headers, query={"uploads": ""})
    assert resp.status == 400, str(resp)
    assert message in resp.error(code)["Message"]
    no_uploads(client, tls_bucket)


def test_malformed_copy_source_customer_key(
    tls_server: Any, client: Any, tls_bucket: str, source: str
) -> None:
    headers = {
        "x-amz-copy-source": f"/{tls_bucket}/{source}",
        "x-amz-copy-source-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-copy-source-server-side-encryption-customer-key": KEY_B64,
    }
    resp = raw(tls_server, "PUT", tls_bucket, "copy", headers, body=b"")
    assert resp.status == 400, str(resp)
    err = resp.error("InvalidArgument")
    assert err["ArgumentName"] == "x-amz-copy-source-server-side-encryption-customer-key-MD5"
    assert_absent(client, tls_bucket, "copy")


def test_malformed_upload_part(tls_server: Any, client: Any, tls_bucket: str, upload: str) -> None:
    query = {"partNumber": "1", "uploadId": upload}
    resp = raw(tls_server, "PUT", tls_bucket, "mp", {ALG: "AES256", CKEY: KEY_B64}, query=query)
    assert resp.status == 400, str(resp)
    resp.error("InvalidArgument")
    # UploadPart does not choose the encryption: S3 refuses the header there
    resp = raw(
        tls_server, "PUT", tls_bucket, "mp", {"x-amz-server-side-encryption": "AES256"}, query=query
    )
    assert resp.status == 400, str(resp)
    assert resp.error("InvalidArgument")["Message"] == (
        "x-amz-server-side-encryption header is not supported for this operation."
    )
    assert client.list_parts(Bucket=tls_bucket, Key="mp", UploadId=upload).get("Parts", []) == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_and_head_with_the_sse_header_are_bad_requests(
    tls_server: Any, tls_bucket: str, source: str, method: str
) -> None:
    resp = raw(tls_server, method, tls_bucket, source, {"x-amz-server-side-encryption": "AES256"})
    assert resp.status == 400, str(resp)
    if method == "GET":
        resp.error("InvalidArgument")
    resp = raw(tls_server, method, tls_bucket, source, {ALG: "AES256", CKEY: KEY_B64, CMD5: "bad"})
    assert resp.status == 400, str(resp)
    if method == "GET":
        assert "did not match" in resp.error("InvalidArgument")["Message"]


# ------------------------------------------------------------------------------ POST Object


POST_CASES: list[tuple[dict[str, str], str, int]] = [
    ({"x-amz-server-side-encryption": "AES256"}, "NotImplemented", 501),
    ({"x-amz-server-side-encryption": "aws:kms"}, "NotImplemented", 501),
    ({k.lower(): v for k, v in SSE_C_HEADERS.items()}, "NotImplemented", 501),
    ({"x-amz-server-side-encryption": "AES512"}, "InvalidArgument", 400),
    ({ALG: "AES256", CKEY: KEY_B64}, "InvalidArgument", 400),
    ({"x-amz-server-side-encryption-aws-kms-key-id": "k"}, "InvalidArgument", 400),
]


@pytest.mark.parametrize(
    ("extra", "code", "status"),
    POST_CASES,
    ids=["sse-s3", "sse-kms", "sse-c", "bad-method", "no-md5", "kms-key-alone"],
)
def test_post_object_form_fields(
    server: Any, s3_http: Any, http_bucket: str, extra: dict[str, str], code: str, status: int
) -> None:
    extra = {name.lower(): value for name, value in extra.items()}
    conditions: list[Any] = [
        {"bucket": http_bucket},
        {"key": "form"},
        *({k: v} for k, v in extra.items()),
    ]
    fields = signed_fields(server, conditions, {"key": "form", **extra})
    resp = post_form(server, http_bucket, fields)
    assert resp.status == status, str(resp)
    resp.error(code)
    with raises_s3("404", 404):
        s3_http.head_object(Bucket=http_bucket, Key="form")


# ----------------------------------------------------------- without SSE nothing changes


def test_plain_requests_are_unaffected(client: Any, tls_bucket: str) -> None:
    client.put_object(Bucket=tls_bucket, Key="plain", Body=b"data")
    client.copy_object(
        Bucket=tls_bucket, Key="plain2", CopySource={"Bucket": tls_bucket, "Key": "plain"}
    )
    assert client.get_object(Bucket=tls_bucket, Key="plain2")["Body"].read() == b"data"
    assert "ServerSideEncryption" not in client.head_object(Bucket=tls_bucket, Key="plain")
