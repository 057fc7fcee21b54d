"""SigV2 verification (``ninefold.api.auth.sigv2``) against requests signed by botocore's
HmacV1Auth (``Authorization: AWS AK:SIG``) and HmacV1QueryAuth (the presigned URLs boto3 still
makes for a custom us-east-1 endpoint). Every refusal asserts the S3 error code and status."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from multidict import CIMultiDict, CIMultiDictProxy

from ninefold.api.auth.sigv2 import verify_v2
from ninefold.api.auth.sigv4 import AuthResult, Credentials, HttpRequestParts, Principal
from ninefold.api.s3 import errors

ROOT = Credentials("AKROOT0000000000", "root-secret/with+odd=chars", "root", is_root=True)
ALICE = Credentials("AKALICE000000000", "alice-secret", "alice", is_root=False)
KEYS = {c.access_key: c for c in (ROOT, ALICE)}
ENDPOINT = "http://127.0.0.1:9000"


def lookup(access_key: str) -> Credentials | None:
    return KEYS.get(access_key)


def parts_of(request: AWSRequest, *, url_only: bool = False) -> HttpRequestParts:
    """The parts the server sees: the path as sent, the query decoded into pairs, the headers
    plus Host. ``url_only``: a presigned URL fetched by a client that adds no header."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers: CIMultiDict[str] = CIMultiDict()
    if not url_only:
        for name, value in prepared.headers.items():
            headers[name] = value.decode() if isinstance(value, bytes) else value
    headers.setdefault("Host", url.netloc)
    return HttpRequestParts(
        method=prepared.method,
        raw_path=url.path,
        query=parse_qsl(url.query, keep_blank_values=True),
        headers=CIMultiDictProxy(headers),
    )


def signed(
    method: str = "GET",
    path: str = "/bucket/key",
    *,
    creds: Credentials = ROOT,
    secret: str | None = None,
    **headers: str,
) -> HttpRequestParts:
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    request = AWSRequest(method, ENDPOINT + path, headers=headers)
    boto = BotoCredentials(creds.access_key, secret if secret is not None else creds.secret_key)
    HmacV1Auth(boto).add_auth(request)
    return parts_of(request)


def presigned(
    method: str = "GET",
    path: str = "/bucket/key",
    *,
    creds: Credentials = ROOT,
    secret: str | None = None,
    expires: int = 3600,
) -> HttpRequestParts:
    request = AWSRequest(method, ENDPOINT + path)
    boto = BotoCredentials(creds.access_key, secret if secret is not None else creds.secret_key)
    HmacV1QueryAuth(boto, expires=expires).add_auth(request)
    return parts_of(request, url_only=True)


def signed_at(parts: HttpRequestParts) -> dt.datetime:
    """When a header-signed request was signed (its Date), or when a presigned URL expires."""
    query = dict(parts.query)
    if "Expires" in query:
        return dt.datetime.fromtimestamp(int(query["Expires"]), dt.UTC)
    return parsedate_to_datetime(parts.headers.get("x-amz-date") or parts.headers["date"])


def check(
    parts: HttpRequestParts,
    *,
    after_s: float = 0,
    max_skew_s: int = 900,
    resource_path: str | None = None,
) -> AuthResult | None:
    """Verify ``parts`` ``after_s`` seconds after signing (for a presigned URL: after expiry);
    the V2 resource is the path as sent unless ``resource_path`` (virtual-host style) says."""
    now = signed_at(parts) + dt.timedelta(seconds=after_s)
    resource = resource_path if resource_path is not None else parts.raw_path
    return verify_v2(parts, lookup, now=now, max_skew_s=max_skew_s, resource_path=resource)


def edit(
    parts: HttpRequestParts,
    *,
    method: str | None = None,
    raw_path: str | None = None,
    query: list[tuple[str, str]] | None = None,
    **headers: str | None,
) -> HttpRequestParts:
    """``parts`` changed in transit; a header given None is dropped. Header names use _ for -."""
    new: CIMultiDict[str] = CIMultiDict(parts.headers)
    for name, value in headers.items():
        header = name.replace("_", "-")
        new.popall(header, None)
        if value is not None:
            new[header] = value
    return HttpRequestParts(
        method=method if method is not None else parts.method,
        raw_path=raw_path if raw_path is not None else parts.raw_path,
        query=query if query is not None else list(parts.query),
        headers=CIMultiDictProxy(new),
    )


def refused(
    error: type[errors.S3Error], code: str, status: int, attempt: Callable[[], Any]
) -> errors.S3Error:
    with pytest.raises(error) as caught:
        attempt()
    assert (caught.value.code, caught.value.status) == (code, status)
    return caught.value


# -- what is accepted ---------------------------------------------------------------------------


def test_a_request_without_v2_credentials_is_not_v2() -> None:
    anonymous = parts_of(AWSRequest("GET", ENDPOINT + "/bucket/key"))
    v4 = AWSRequest("GET", ENDPOINT + "/bucket/key")
    S3SigV4Auth(BotoCredentials(ROOT.access_key, ROOT.secret_key), "s3", "us-east-1").add_auth(v4)
    # a query with only one of AWSAccessKeyId and Signature is no V2 presigned URL either
    half = parts_of(AWSRequest("GET", ENDPOINT + f"/bucket/key?AWSAccessKeyId={ROOT.access_key}"))
    now = dt.datetime.now(dt.UTC)
    for parts in (anonymous, parts_of(v4), half):
        assert (
            verify_v2(parts, lookup, now=now, max_skew_s=900, resource_path="/bucket/key") is None
        )


@pytest.mark.parametrize("creds", [ROOT, ALICE], ids=["root", "user"])
def test_a_header_signed_request_names_its_principal(creds: Credentials) -> None:
    result = check(signed(creds=creds))
    assert result is not None
    assert result.principal == Principal(creds.access_key, creds.user, creds.is_root)
    # V2 signs no body: it is taken as unsigned, and there is no chunk-signing key
    assert result.payload == "UNSIGNED-PAYLOAD"
    assert (result.signing_key, result.scope, result.seed_signature) == (b"", "", "")


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/", {}),
        ("GET", "/bucket", {}),
        ("GET", "/bucket/key?acl", {}),
        ("PUT", "/bucket/key?tagging", {"Content-Type": "application/xml"}),
        ("GET", "/bucket/key?versionId=3%2B4&response-content-type=text%2Fplain", {}),
        ("POST", "/bucket/key?uploads", {}),
        ("PUT", "/bucket/key?partNumber=2&uploadId=abc", {"Content-MD5": "1B2M2Y8AsgTpgAmY7Ph=="}),
        ("DELETE", "/bucket?delete", {}),
        ("GET", "/bucket/a%20b/caf%C3%A9+x~y", {}),
        # x-amz-* headers are signed, lower-cased, sorted, their values' spaces folded
        ("PUT", "/bucket/key", {"X-Amz-Meta-Zeta": "  z   z ", "x-amz-acl": "private"}),
        # a query parameter that is not a sub-resource is not part of the signed resource
        ("GET", "/bucket?prefix=a&max-keys=2", {}),
    ],
)  # fmt: skip
def test_signed_requests_of_every_shape_verify(
    method: str, path: str, headers: dict[str, str]
) -> None:
    result = check(signed(method, path, **headers))
    assert result is not None
    assert result.principal.user == "root"


def v2_signature(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_x_amz_date_replaces_date_in_the_string_to_sign() -> None:
    """AWS (REST authentication, V2): "When an x-amz-date header is present in a request, the
    system will ignore any Date header when computing the request signature", and the Date
    line of the string to sign is empty. (botocore never sends x-amz-date with V2: signed by
    hand here.)"""
    when = "Sat, 01 Jun 2024 12:00:00 GMT"
    to_sign = f"GET\n\n\n\nx-amz-date:{when}\nx-amz-meta-a:b\n/bucket/key"
    headers = {
        "Host": "127.0.0.1:9000",
        "Date": "Thu, 01 Jan 1970 00:00:00 GMT",  # ignored, whatever it says
        "x-amz-date": when,
        "x-amz-meta-a": "b",
        "Authorization": f"AWS {ROOT.access_key}:{v2_signature(ROOT.secret_key, to_sign)}",
    }
    parts = HttpRequestParts("GET", "/bucket/key", [], CIMultiDictProxy(CIMultiDict(headers)))
    noon = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)

    def at(parts: HttpRequestParts, now: dt.datetime = noon) -> AuthResult | None:
        return verify_v2(parts, lookup, now=now, max_skew_s=900, resource_path="/bucket/key")

    result = at(parts)
    assert result is not None
    assert result.principal.user == "root"
    # the time checked is x-amz-date's, not Date's
    refused(
        errors.RequestTimeTooSkewed,
        "RequestTimeTooSkewed",
        403,
        lambda: at(parts, noon + dt.timedelta(hours=1)),
    )
    later = edit(parts, x_amz_date="Sat, 01 Jun 2024 12:00:01 GMT")
    refused(errors.SignatureDoesNotMatch, "SignatureDoesNotMatch", 403, lambda: at(later))


def test_virtual_host_style_signs_the_bucket_into_the_resource() -> None:
    """For bucket.host/key the path is /key but the client signed /bucket/key: the caller
    passes the resource it rebuilt."""
    request = AWSRequest("GET", "http://bucket.s3.example.com/key")
    request.auth_path = "/bucket/key"  # what botocore signs for a virtual-hosted bucket
    HmacV1Auth(BotoCredentials(ROOT.access_key, ROOT.secret_key)).add_auth(request)
    parts = parts_of(request)
    assert parts.raw_path == "/key"
    assert check(parts, resource_path="/bucket/key") is not None
    refused(
        errors.SignatureDoesNotMatch,
        "SignatureDoesNotMatch",
        403,
        lambda: check(parts, resource_path="/other/key"),
    )


@pytest.mark.parametrize("after_s", [-900, 0, 900])
def test_clock_skew_up_to_the_limit_is_allowed(after_s: int) -> None:
    assert check(signed(), after_s=after_s) is not None


@pytest.mark.parametrize("creds", [ROOT, ALICE], ids=["root", "user"])
def test_a_presigned_url_verifies_until_it_expires(creds: Credentials) -> None:
    parts = presigned("GET", "/bucket/a%20b?versionId=7", creds=creds)
    for after_s in (-3600, -1, 0):
        result = check(parts, after_s=after_s)
        assert result is not None
        assert result.principal == Principal(creds.access_key, creds.user, creds.is_root)


# -- what is refused ------------------------------------------------------------------------------


def test_a_wrong_secret_is_signature_does_not_match() -> None:
    for parts in (signed(secret="wrong"), presigned(secret="wrong")):
        error = refused(
            errors.SignatureDoesNotMatch, "SignatureDoesNotMatch", 403, lambda p=parts: check(p)
        )
        assert error.extra["AWSAccessKeyId"] == ROOT.access_key


def test_an_unknown_access_key_is_invalid_access_key_id() -> None:
    stranger = Credentials("AKUNKNOWN0000000", "x", "nobody", is_root=False)
    for parts in (signed(creds=stranger), presigned(creds=stranger)):
        error = refused(
            errors.InvalidAccessKeyId, "InvalidAccessKeyId", 403, lambda p=parts: check(p)
        )
        assert error.extra["AWSAccessKeyId"] == "AKUNKNOWN0000000"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"method": "DELETE"}, id="method"),
        pytest.param({"raw_path": "/bucket/other"}, id="path"),
        pytest.param({"raw_path": "/bucket/Key"}, id="path-case"),
        pytest.param({"query": [("acl", "")]}, id="subresource-added"),
        pytest.param({"query": [("versionId", "8")]}, id="subresource-changed"),
        pytest.param({"Content_Type": "text/html"}, id="content-type"),
        pytest.param({"Content_MD5": "XrY7u+Ae7tCTyyK7j1rNww=="}, id="content-md5"),
        pytest.param({"x_amz_meta_owner": "mallory"}, id="amz-header-changed"),
        pytest.param({"x_amz_acl": "public-read"}, id="amz-header-added"),
        pytest.param({"Date": "Mon, 01 Jan 2024 00:00:00 GMT"}, id="date"),
    ],
)
def test_a_tampered_request_is_signature_does_not_match(change: dict[str, Any]) -> None:
    parts = signed(
        "PUT",
        "/bucket/key?versionId=7",
        Content_Type="text/plain",
        Content_MD5="1B2M2Y8AsgTpgAmY7PhCfg==",
        X_Amz_Meta_Owner="alice",
    )
    # (check verifies at the tampered Date's own time: a mismatch, not a skew)
    tampered = edit(parts, **change)
    refused(errors.SignatureDoesNotMatch, "SignatureDoesNotMatch", 403, lambda: check(tampered))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"method": "PUT"}, id="method"),
        pytest.param({"raw_path": "/bucket/other"}, id="path"),
        pytest.param({"extra": [("acl", "")]}, id="subresource-added"),
        pytest.param({"extra": [("response-content-type", "text/html")]}, id="response-override"),
    ],
)
def test_a_tampered_presigned_url_is_signature_does_not_match(change: dict[str, Any]) -> None:
    parts = presigned()
    extra = change.pop("extra", [])
    tampered = edit(parts, query=list(parts.query) + extra, **change)
    refused(
        errors.SignatureDoesNotMatch,
        "SignatureDoesNotMatch",
        403,
        lambda: check(tampered, after_s=-60),
    )


def test_a_presigned_url_cannot_be_stretched_by_editing_expires() -> None:
    parts = presigned(expires=60)
    later = int(dict(parts.query)["Expires"]) + 86400
    query = [(k, str(later) if k == "Expires" else v) for k, v in parts.query]
    stretched = edit(parts, query=query)
    # an hour after the real expiry: only the edited Expires would still let it in
    now = signed_at(parts) + dt.timedelta(hours=1)
    refused(
        errors.SignatureDoesNotMatch,
        "SignatureDoesNotMatch",
        403,
        lambda: verify_v2(stretched, lookup, now=now, max_skew_s=900, resource_path="/bucket/key"),
    )


def test_an_expired_presigned_url_is_access_denied() -> None:
    parts = presigned(expires=60)
    error = refused(errors.AccessDenied, "AccessDenied", 403, lambda: check(parts, after_s=1))
    assert error.message == "Request has expired"
    assert error.extra["Expires"] == dict(parts.query)["Expires"]


@pytest.mark.parametrize("expires", [None, "", "soon", "-5", "1.5e9"])
def test_a_presigned_url_needs_a_numeric_expires(expires: str | None) -> None:
    parts = presigned()
    query = [(k, v) for k, v in parts.query if k != "Expires"]
    if expires is not None:
        query.append(("Expires", expires))
    bad = edit(parts, query=query)
    now = dt.datetime.now(dt.UTC)
    refused(
        errors.AccessDenied,
        "AccessDenied",
        403,
        lambda: verify_v2(bad, lookup, now=now, max_skew_s=900, resource_path="/bucket/key"),
    )


@pytest.mark.parametrize("after_s", [-901, 901, -86400])
def test_a_request_outside_the_clock_skew_is_request_time_too_skewed(after_s: int) -> None:
    parts = signed()
    refused(
        errors.RequestTimeTooSkewed,
        "RequestTimeTooSkewed",
        403,
        lambda: check(parts, after_s=after_s),
    )


@pytest.mark.parametrize("date", [None, "", "yesterday", "2024-06-01T12:00:00Z"])
def test_a_missing_or_unreadable_date_is_access_denied(date: str | None) -> None:
    parts = edit(signed(), Date=date)
    now = dt.datetime.now(dt.UTC)
    refused(
        errors.AccessDenied,
        "AccessDenied",
        403,
        lambda: verify_v2(parts, lookup, now=now, max_skew_s=900, resource_path="/bucket/key"),
    )


@pytest.mark.parametrize(
    "date",
    ["Sat, 01 Jun 2024 12:00:00 -0000", "Sat, 01 Jun 2024 12:00:00"],
    ids=["zone-unknown", "no-zone"],
)
def test_a_date_without_a_known_zone_is_taken_as_utc(date: str) -> None:
    """RFC 5322 "-0000" (and a date with no zone at all) parse to a naive datetime: it is
    taken as UTC, neither crashing the check (a 500) nor dodging the skew limit."""
    to_sign = f"GET\n\n\n{date}\n/bucket/key"
    headers = {
        "Host": "127.0.0.1:9000",
        "Date": date,
        "Authorization": f"AWS {ROOT.access_key}:{v2_signature(ROOT.secret_key, to_sign)}",
    }
    parts = HttpRequestParts("GET", "/bucket/key", [], CIMultiDictProxy(CIMultiDict(headers)))
    noon = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)

    def at(now: dt.datetime) -> AuthResult | None:
        return verify_v2(parts, lookup, now=now, max_skew_s=900, resource_path="/bucket/key")

    assert at(noon) is not None
    refused(
        errors.RequestTimeTooSkewed,
        "RequestTimeTooSkewed",
        403,
        lambda: at(noon + dt.timedelta(days=1)),
    )


@pytest.mark.parametrize("authorization", ["AWS ", "AWS AKROOT0000000000", "AWS no-colon-here"])
def test_a_malformed_authorization_header_is_refused(authorization: str) -> None:
    parts = edit(signed(), Authorization=authorization)
    refused(
        errors.AuthorizationHeaderMalformed,
        "AuthorizationHeaderMalformed",
        400,
        lambda: check(parts),
    )
