"""Authentication: SigV4 headers, presigned URLs, anonymous access, clock skew."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.compat import get_current_datetime

from .helpers import (
    assert_s3_error_body,
    make_client,
    raises_s3,
    request,
    ssl_context,
)


def urlopen(server: Any, req: urllib.request.Request | str) -> tuple[int, bytes, Any]:
    """(status, body, headers) of a urllib request, error statuses included."""
    ctx = ssl_context(server) if str(server.endpoint).startswith("https") else None
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, err.read(), err.headers


@pytest.fixture
def obj(s3: Any, bucket: str) -> bytes:
    data = b"secret object body"
    s3.put_object(Bucket=bucket, Key="auth/obj", Body=data)
    return data


def test_wrong_secret(any_server: Any, bucket: str, obj: bytes) -> None:
    bad = make_client(any_server, secret_key="not-the-secret-key-0123456789")
    with raises_s3("SignatureDoesNotMatch", 403):
        bad.list_buckets()
    with raises_s3("SignatureDoesNotMatch", 403):
        bad.get_object(Bucket=bucket, Key="auth/obj")
    with raises_s3("SignatureDoesNotMatch", 403):
        bad.put_object(Bucket=bucket, Key="auth/new", Body=b"nope")
    good = any_server.boto3_client()
    with raises_s3("NoSuchKey", 404):
        good.get_object(Bucket=bucket, Key="auth/new")


def test_unknown_access_key(any_server: Any, bucket: str, obj: bytes) -> None:
    bad = make_client(any_server, access_key="AKIDOESNOTEXIST00000", secret_key="whatever")
    with raises_s3("InvalidAccessKeyId", 403):
        bad.list_buckets()
    with raises_s3("InvalidAccessKeyId", 403):
        bad.get_object(Bucket=bucket, Key="auth/obj")


@pytest.mark.parametrize("path", ["/", "/{bucket}", "/{bucket}/auth/obj", "/{bucket}?list-type=2"])
def test_anonymous_request_denied(any_server: Any, bucket: str, obj: bytes, path: str) -> None:
    url = any_server.endpoint + path.format(bucket=bucket)
    status, body, headers = urlopen(any_server, url)
    assert status == 403, (status, body)
    err = assert_s3_error_body(body, "AccessDenied")
    assert "Resource" in err, err
    assert headers.get("x-amz-request-id") == err["RequestId"]
    assert headers.get("Content-Type", "").startswith(("application/xml", "text/xml"))


def test_anonymous_put_denied(any_server: Any, s3: Any, bucket: str) -> None:
    req = urllib.request.Request(
        f"{any_server.endpoint}/{bucket}/anon-put", data=b"data", method="PUT"
    )
    status, body, _ = urlopen(any_server, req)
    assert status == 403
    assert_s3_error_body(body, "AccessDenied")
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="anon-put")


def v4_presigner(server: Any) -> Any:
    return make_client(server, signature_version="s3v4")


def test_presigned_get(any_server: Any, bucket: str, obj: bytes) -> None:
    url = v4_presigner(any_server).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "auth/obj"}, ExpiresIn=300
    )
    assert "X-Amz-Signature=" in url
    status, body, _ = urlopen(any_server, url)
    assert status == 200
    assert body == obj


def test_presigned_get_special_key(any_server: Any, s3: Any, bucket: str) -> None:
    key = "spaced key/ünï+%?#"
    s3.put_object(Bucket=bucket, Key=key, Body=b"special")
    url = v4_presigner(any_server).generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key, "ResponseContentType": "text/x-special"},
        ExpiresIn=300,
    )
    status, body, headers = urlopen(any_server, url)
    assert (status, body) == (200, b"special")
    assert headers.get("Content-Type") == "text/x-special"


def test_presigned_put(any_server: Any, s3: Any, bucket: str) -> None:
    url = v4_presigner(any_server).generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "auth/presigned-put"}, ExpiresIn=300
    )
    req = urllib.request.Request(url, data=b"uploaded via presigned url", method="PUT")
    status, body, _ = urlopen(any_server, req)
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="auth/presigned-put")["Body"].read() == (
        b"uploaded via presigned url"
    )


def test_presigned_expired(any_server: Any, bucket: str, obj: bytes) -> None:
    url = v4_presigner(any_server).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "auth/obj"}, ExpiresIn=1
    )
    time.sleep(2.1)
    status, body, _ = urlopen(any_server, url)
    assert status == 403, body
    assert_s3_error_body(body, "AccessDenied")


def test_presigned_tampered(any_server: Any, bucket: str, obj: bytes) -> None:
    url = v4_presigner(any_server).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "auth/obj"}, ExpiresIn=300
    )
    status, body, _ = urlopen(any_server, url.replace("auth/obj", "auth/other"))
    assert status == 403, body
    assert_s3_error_body(body, "SignatureDoesNotMatch")
    sig_at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = "0" if url[sig_at] != "0" else "1"
    status, body, _ = urlopen(any_server, url[:sig_at] + flipped + url[sig_at + 1 :])
    assert status == 403, body
    assert_s3_error_body(body, "SignatureDoesNotMatch")


def test_presigned_expires_too_long(any_server: Any, bucket: str, obj: bytes) -> None:
    url = v4_presigner(any_server).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "auth/obj"}, ExpiresIn=604801
    )
    status, body, _ = urlopen(any_server, url)
    assert status in (400, 403), body
    assert_s3_error_body(body, ("AuthorizationQueryParametersError", "AccessDenied"))


def test_presigned_default_boto3_config(any_server: Any, bucket: str, obj: bytes) -> None:
    """generate_presigned_url with boto3's default settings (for a custom us-east-1 endpoint
    botocore 1.43 emits SigV2 query auth: AWSAccessKeyId/Signature/Expires)."""
    url = make_client(any_server).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "auth/obj"}, ExpiresIn=300
    )
    status, body, _ = urlopen(any_server, url)
    assert status == 200, (url, body)
    assert body == obj


@contextlib.contextmanager
def _skewed(minutes: int) -> Iterator[None]:
    """Shift the client clock of botocore's signers (pure-Python and, when awscrt is installed,
    the CRT signer boto3 then uses) by ``minutes``; the server's clock is untouched."""

    def shifted(*args: Any, **kwargs: Any) -> dt.datetime:
        return get_current_datetime(*args, **kwargs) + dt.timedelta(minutes=minutes)

    targets = ["botocore.auth.get_current_datetime"]
    if importlib.util.find_spec("awscrt") is not None:
        targets.append("botocore.crt.auth.get_current_datetime")
    with contextlib.ExitStack() as stack:
        for target in targets:
            stack.enter_context(mock.patch(target, side_effect=shifted))
        yield


@pytest.mark.parametrize("minutes", [-20, 20])
def test_request_time_too_skewed_raw(any_server: Any, bucket: str, minutes: int) -> None:
    with _skewed(minutes):
        resp = request(any_server, "GET", bucket, "auth/obj")
    assert resp.status == 403, resp
    resp.error("RequestTimeTooSkewed")


def test_request_time_too_skewed_boto3(any_server: Any, bucket: str) -> None:
    client = make_client(any_server, retries={"max_attempts": 1, "mode": "standard"})
    with _skewed(-20), raises_s3("RequestTimeTooSkewed", 403):
        client.put_object(Bucket=bucket, Key="auth/skewed", Body=b"late")
    with raises_s3("NoSuchKey", 404):
        client.get_object(Bucket=bucket, Key="auth/skewed")


def test_small_skew_is_accepted(any_server: Any, bucket: str, obj: bytes) -> None:
    with _skewed(-3):
        resp = request(any_server, "GET", bucket, "auth/obj")
    assert resp.status == 200, resp
    assert resp.body == obj


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256 garbage",
        "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=abc",
        "Bearer token",
    ],
)
def test_malformed_authorization_header(any_server: Any, bucket: str, authorization: str) -> None:
    resp = request(
        any_server,
        "GET",
        bucket,
        "auth/obj",
        signed=False,
        headers={
            "Authorization": authorization,
            "x-amz-date": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        },
    )
    assert resp.status in (400, 403), resp
    resp.error(
        (
            "AuthorizationHeaderMalformed",
            "InvalidArgument",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "InvalidRequest",
        )
    )


def test_signed_header_tampered_after_signing(any_server: Any, s3: Any, bucket: str) -> None:
    """Changing a signed header value (x-amz-meta-*) after signing breaks the signature."""
    from .helpers import encode_path, send, sign

    path = encode_path(bucket, "auth/tamper")
    signed = sign(any_server, "PUT", path, headers={"x-amz-meta-a": "1"}, body=b"body")
    headers = dict(signed.headers)
    headers["x-amz-meta-a"] = "2"
    resp = send(any_server, "PUT", path, headers, b"body")
    assert resp.status == 403, resp
    resp.error("SignatureDoesNotMatch")
    with raises_s3("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="auth/tamper")
