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
from botocore.auth import HmacV1Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import get_current_datetime
from botocore.credentials import Credentials

from .helpers import (
    RawResponse,
    assert_s3_error_body,
    delete_bucket,
    make_client,
    raises_s3,
    request,
    send,
    ssl_context,
    status_of,
    unique_name,
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


# -------------------------------------------------------------------------- SigV2 headers


def _v2_client(server: Any) -> Any:
    """boto3 signing every request with SigV2 (``Authorization: AWS AK:SIG``)."""
    return make_client(server, signature_version="s3")


def test_sigv2_bucket_level_requests(any_server: Any, s3: Any) -> None:
    """botocore signs a path-style bucket request (``PUT /bucket``, ``GET /bucket?prefix=``)
    with the canonical resource ``/bucket/``, as AWS accepts; the server used to compute only
    ``/bucket`` and answered SignatureDoesNotMatch."""
    v2 = _v2_client(any_server)
    name = unique_name("nf-v2")
    try:
        assert status_of(v2.create_bucket(Bucket=name)) == 200
        v2.put_object(Bucket=name, Key="dir/a", Body=b"a")
        v2.put_object(Bucket=name, Key="other", Body=b"b")
        listed = v2.list_objects(Bucket=name, Prefix="dir/")
        assert [o["Key"] for o in listed["Contents"]] == ["dir/a"]
        listed2 = v2.list_objects_v2(Bucket=name, Delimiter="/")
        assert [p["Prefix"] for p in listed2["CommonPrefixes"]] == ["dir/"]
        # sub-resources of a bucket are part of the canonical resource
        v2.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        assert v2.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        assert [v["Key"] for v in v2.list_object_versions(Bucket=name)["Versions"]] == [
            "dir/a",
            "other",
        ]
        assert name in [b["Name"] for b in v2.list_buckets()["Buckets"]]
        assert v2.get_object(Bucket=name, Key="dir/a")["Body"].read() == b"a"
    finally:
        delete_bucket(s3, name)


def test_sigv2_bucket_level_wrong_secret(any_server: Any, bucket: str) -> None:
    """The looser bucket resource (with or without its trailing slash) still needs the key."""
    v2 = make_client(any_server, signature_version="s3", secret_key="not-the-secret")
    with raises_s3("SignatureDoesNotMatch", 403):
        v2.list_objects(Bucket=bucket, Prefix="x")


def _v2_raw(server: Any, method: str, path_qs: str, host: str, auth_path: str) -> RawResponse:
    """A request signed by botocore's HmacV1Auth, canonical resource ``auth_path`` (plus the
    sub-resources of ``path_qs``, which botocore appends)."""
    scheme = "https" if str(server.endpoint).startswith("https") else "http"
    req = AWSRequest(method=method, url=f"{scheme}://{host}{path_qs}", data=b"")
    req.auth_path = auth_path
    HmacV1Auth(Credentials(server.access_key, server.secret_key)).add_auth(req)
    headers = {k: v for k, v in req.headers.items()}
    headers["Host"] = host
    return send(server, method, path_qs, headers)


@pytest.mark.parametrize("auth_path", ["/{b}", "/{b}/"])
def test_sigv2_path_style_bucket_resource_with_or_without_slash(
    any_server: Any, bucket: str, auth_path: str
) -> None:
    """AWS's rule for path style is the path as sent (``/bucket``); botocore and s3cmd sign
    ``/bucket/``. Both are accepted."""
    host = f"{any_server.host}:{any_server.port}"
    resp = _v2_raw(any_server, "GET", f"/{bucket}?prefix=a", host, auth_path.format(b=bucket))
    assert resp.status == 200, resp
    resp = _v2_raw(any_server, "GET", f"/{bucket}?location", host, auth_path.format(b=bucket))
    assert resp.status == 200, resp


def test_sigv2_virtual_host_bucket_request(any_server: Any, bucket: str) -> None:
    """Virtual-hosted style: the bucket comes from the Host header, the resource is
    ``/bucket/`` (the bucket, then the path ``/``)."""
    host = f"{bucket}.s3.local:{any_server.port}"
    resp = _v2_raw(any_server, "GET", "/?prefix=a", host, f"/{bucket}/")
    assert resp.status == 200, resp
    assert b"<ListBucketResult" in resp.body
    bad = _v2_raw(any_server, "GET", "/?prefix=a", host, "/another-bucket/")
    assert bad.status == 403, bad
    bad.error("SignatureDoesNotMatch")
