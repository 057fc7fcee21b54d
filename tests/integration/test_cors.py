"""CORS with boto3 and raw requests (HTTP and HTTPS): Put/Get/DeleteBucketCors and their errors,
anonymous preflights (OPTIONS) allowed and refused, and the CORS headers on actual requests,
errors and streamed GETs included."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import SMALL_OBJECT_MAX, raises_s3, random_bytes, raw_headers, request

ORIGIN = "https://app.example.com"
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)
SITE_RULE = {
    "ID": "site",
    "AllowedHeaders": ["x-amz-*", "Content-Type"],
    "AllowedMethods": ["GET", "PUT"],
    "AllowedOrigins": ["https://*.example.com"],
    "ExposeHeaders": ["ETag", "x-amz-version-id"],
    "MaxAgeSeconds": 600,
}
EVERYONE_RULE = {"AllowedMethods": ["HEAD"], "AllowedOrigins": ["*"]}
#: the CORS headers of a request from ORIGIN that matched SITE_RULE
SITE = {
    "access-control-allow-origin": ORIGIN,
    "access-control-allow-methods": "GET, PUT",
    "access-control-expose-headers": "ETag, x-amz-version-id",
    "access-control-max-age": "600",
    "access-control-allow-credentials": "true",
    "vary": VARY,
}
EVERYONE = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "HEAD",
    "vary": VARY,
}


def cors_headers(headers: list[tuple[str, str]] | dict[str, str]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, dict) else headers
    return {
        k.lower(): v
        for k, v in items
        if k.lower().startswith("access-control-") or k.lower() == "vary"
    }


@pytest.fixture
def cors_bucket(s3: Any, bucket: str) -> str:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [SITE_RULE, EVERYONE_RULE]})
    return bucket


def preflight(server: Any, bucket: str, key: str | None, headers: dict[str, str]) -> Any:
    return request(server, "OPTIONS", bucket, key, headers=headers, signed=False)


# --------------------------------------------------------------------------------------------
# Put/Get/DeleteBucketCors
# --------------------------------------------------------------------------------------------


def test_put_get_delete_bucket_cors(s3: Any, bucket: str) -> None:
    with raises_s3("NoSuchCORSConfiguration", 404) as info:
        s3.get_bucket_cors(Bucket=bucket)
    assert info.value.response["Error"]["BucketName"] == bucket
    resp = s3.put_bucket_cors(
        Bucket=bucket, CORSConfiguration={"CORSRules": [SITE_RULE, EVERYONE_RULE]}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [SITE_RULE, EVERYONE_RULE]
    # replaced as a whole; origins come back as given
    only = {"AllowedMethods": ["DELETE", "POST"], "AllowedOrigins": ["http://a:80", "null"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [only]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [only]
    resp = s3.delete_bucket_cors(Bucket=bucket)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with raises_s3("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=bucket)
    # deleting what is not there is fine
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_a_hundred_rules_and_not_one_more(s3: Any, bucket: str) -> None:
    rule = {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule] * 100})
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100
    with raises_s3("MalformedXML", 400):
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule] * 101})
    assert len(s3.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 100


@pytest.mark.parametrize(
    ("rule", "code", "message"),
    [
        (
            {"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]},
            "InvalidRequest",
            "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
        ),
        (
            {"AllowedMethods": ["OPTIONS"], "AllowedOrigins": ["*"]},
            "InvalidRequest",
            "Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS",
        ),
        (
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["*example*.com"]},
            "InvalidRequest",
            'AllowedOrigin "*example*.com" can not have more than one wildcard.',
        ),
        (
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "AllowedHeaders": ["x-*-*"]},
            "InvalidRequest",
            'AllowedHeader "x-*-*" can not have more than one wildcard.',
        ),
        ({"AllowedMethods": [], "AllowedOrigins": ["*"]}, "MalformedXML", None),
        ({"AllowedMethods": ["GET"], "AllowedOrigins": []}, "MalformedXML", None),
    ],
    ids=["method", "options", "origin-wildcards", "header-wildcards", "no-method", "no-origin"],
)
def test_invalid_rules(
    s3: Any, bucket: str, rule: dict[str, Any], code: str, message: str | None
) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [EVERYONE_RULE]})
    with raises_s3(code, 400) as info:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    if message is not None:
        assert info.value.response["Error"]["Message"] == message
    # nothing changed
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [EVERYONE_RULE]


def test_malformed_and_empty_documents(s3: Any, bucket: str, any_server: Any) -> None:
    with raises_s3("MalformedXML", 400):
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": []})
    for body in (b"<CORSConfiguration><CORSRule>", b"<Tagging/>", b"not xml"):
        resp = request(any_server, "PUT", bucket, query={"cors": ""}, body=body)
        assert resp.status == 400, resp
        resp.error("MalformedXML")
    resp = request(any_server, "PUT", bucket, query={"cors": ""}, body=b"")
    assert resp.status == 400, resp
    resp.error("MissingRequestBodyError")
    with raises_s3("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=bucket)


def test_cors_of_a_missing_bucket(s3: Any, bucket: str) -> None:
    missing = bucket + "-nope"
    with raises_s3("NoSuchBucket", 404):
        s3.get_bucket_cors(Bucket=missing)
    with raises_s3("NoSuchBucket", 404):
        s3.put_bucket_cors(Bucket=missing, CORSConfiguration={"CORSRules": [EVERYONE_RULE]})
    with raises_s3("NoSuchBucket", 404):
        s3.delete_bucket_cors(Bucket=missing)


def test_cors_operations_need_authentication(any_server: Any, cors_bucket: str) -> None:
    resp = request(any_server, "GET", cors_bucket, query={"cors": ""}, signed=False)
    assert resp.status == 403, resp
    resp.error("AccessDenied")


# --------------------------------------------------------------------------------------------
# preflight
# --------------------------------------------------------------------------------------------


def test_preflight_allowed(any_server: Any, cors_bucket: str) -> None:
    resp = preflight(
        any_server,
        cors_bucket,
        "some/key",
        {
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Name,x-amz-date",
        },
    )
    assert resp.status == 200, resp
    assert resp.body == b""
    assert cors_headers(resp.headers) == {
        **SITE,
        "access-control-allow-headers": "content-type, x-amz-meta-name, x-amz-date",
    }
    assert resp.header("x-amz-request-id")
    # on the bucket itself, without requested headers
    resp = preflight(
        any_server, cors_bucket, None, {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert resp.status == 200, resp
    assert cors_headers(resp.headers) == SITE
    # the second rule: any origin, HEAD only, no credentials
    resp = preflight(
        any_server, cors_bucket, "k", {"Origin": "null", "Access-Control-Request-Method": "HEAD"}
    )
    assert resp.status == 200, resp
    assert cors_headers(resp.headers) == EVERYONE


def test_preflight_via_virtual_host(any_server: Any, cors_bucket: str) -> None:
    resp = request(
        any_server,
        "OPTIONS",
        path="/some/key",
        host=f"{cors_bucket}.s3.local:{any_server.port}",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
        signed=False,
    )
    assert resp.status == 200, resp
    assert cors_headers(resp.headers) == SITE


@pytest.mark.parametrize(
    ("key", "headers", "method", "resource_type"),
    [
        ("k", {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}, "DELETE", "OBJECT"),
        (None, {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}, "GET",
         "BUCKET"),
        ("k", {"Origin": "https://example.com.evil", "Access-Control-Request-Method": "GET"},
         "GET", "OBJECT"),
        ("k", {"Origin": ORIGIN, "Access-Control-Request-Method": "GET",
               "Access-Control-Request-Headers": "authorization"}, "GET", "OBJECT"),
        ("k", {"Origin": "https://x.org", "Access-Control-Request-Method": "HEAD",
               "Access-Control-Request-Headers": "x-amz-date"}, "HEAD", "OBJECT"),
    ],
    ids=["method", "origin", "origin-suffix", "header", "header-on-wildcard-rule"],
)  # fmt: skip
def test_preflight_refused(
    any_server: Any,
    cors_bucket: str,
    key: str | None,
    headers: dict[str, str],
    method: str,
    resource_type: str,
) -> None:
    resp = preflight(any_server, cors_bucket, key, headers)
    assert resp.status == 403, resp
    err = resp.error("AccessForbidden")
    assert err["Message"] == NOT_ALLOWED
    assert (err["Method"], err["ResourceType"]) == (method, resource_type)
    assert cors_headers(resp.headers) == {}


def test_preflight_bad_requests(any_server: Any, cors_bucket: str) -> None:
    cases = [
        ({}, "Insufficient information. Origin request header needed."),
        ({"Access-Control-Request-Method": "GET"}, "Insufficient information. Origin request "
         "header needed."),
        ({"Origin": ORIGIN}, "Invalid Access-Control-Request-Method: null"),
        ({"Origin": ORIGIN, "Access-Control-Request-Method": "PATCH"},
         "Invalid Access-Control-Request-Method: PATCH"),
    ]  # fmt: skip
    for headers, message in cases:
        resp = preflight(any_server, cors_bucket, "k", headers)
        assert resp.status == 400, (headers, str(resp))
        assert resp.error("BadRequest")["Message"] == message
        assert cors_headers(resp.headers) == {}


def test_preflight_without_configuration_or_bucket(any_server: Any, bucket: str) -> None:
    allowed = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    resp = preflight(any_server, bucket, "k", allowed)
    assert resp.status == 403, resp
    err = resp.error("AccessForbidden")
    assert err["Message"] == "CORSResponse: CORS is not enabled for this bucket."
    assert (err["Method"], err["ResourceType"]) == ("PUT", "BUCKET")
    resp = preflight(any_server, bucket, None, {"Origin": ORIGIN})
    assert resp.status == 403, resp
    assert resp.error("AccessForbidden")["Method"] == "OPTIONS"
    for path in (bucket + "-nope", None):
        resp = preflight(any_server, path, "k" if path else None, allowed)
        assert resp.status == 403, resp
        err = resp.error("AccessForbidden")
        assert err["Message"] == "CORSResponse: Bucket not found"
        assert cors_headers(resp.headers) == {}


def test_deleted_configuration_stops_preflights(s3: Any, any_server: Any, cors_bucket: str) -> None:
    allowed = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    assert preflight(any_server, cors_bucket, "k", allowed).status == 200
    s3.delete_bucket_cors(Bucket=cors_bucket)
    resp = preflight(any_server, cors_bucket, "k", allowed)
    assert resp.status == 403, resp
    resp.error("AccessForbidden")


# --------------------------------------------------------------------------------------------
# actual requests
# --------------------------------------------------------------------------------------------


def test_cors_headers_on_signed_requests(s3: Any, any_server: Any, cors_bucket: str) -> None:
    s3.put_object(Bucket=cors_bucket, Key="k", Body=b"data")
    # no Origin: no CORS headers, no Vary
    resp = request(any_server, "GET", cors_bucket, "k")
    assert resp.status == 200, resp
    assert cors_headers(resp.headers) == {}
    # a matching origin and method
    resp = request(any_server, "GET", cors_bucket, "k", headers={"Origin": ORIGIN})
    assert (resp.status, resp.body) == (200, b"data"), resp
    assert cors_headers(resp.headers) == SITE
    # the second rule (HEAD from anywhere)
    resp = request(any_server, "HEAD", cors_bucket, "k", headers={"Origin": "https://x.org"})
    assert resp.status == 200, resp
    assert cors_headers(resp.headers) == EVERYONE
    # served, but without CORS headers: an origin or a method no rule allows
    for method, origin in (("GET", "https://x.org"), ("DELETE", ORIGIN)):
        resp = request(any_server, method, cors_bucket, "k", headers={"Origin": origin})
        assert resp.status in (200, 204), resp
        assert cors_headers(resp.headers) == {}
    # the method is taken from Access-Control-Request-Method when present, as on S3
    s3.put_object(Bucket=cors_bucket, Key="k", Body=b"data")
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "DELETE"}
    resp = request(any_server, "GET", cors_bucket, "k", headers=headers)
    assert resp.status == 200, resp
    assert cors_headers(resp.headers) == {}
    # boto3 sends no Origin: nothing is added
    got = s3.list_objects_v2(Bucket=cors_bucket)
    assert "access-control-allow-origin" not in raw_headers(got)


def test_cors_headers_on_errors(any_server: Any, cors_bucket: str) -> None:
    resp = request(any_server, "GET", cors_bucket, "missing", headers={"Origin": ORIGIN})
    assert resp.status == 404, resp
    resp.error("NoSuchKey")
    assert cors_headers(resp.headers) == SITE
    # anonymous: refused, but the browser may read the refusal
    resp = request(any_server, "PUT", cors_bucket, "k", headers={"Origin": ORIGIN}, signed=False)
    assert resp.status == 403, resp
    resp.error("AccessDenied")
    assert cors_headers(resp.headers) == SITE
    # a bucket that does not exist has no rules
    resp = request(any_server, "GET", cors_bucket + "-nope", "k", headers={"Origin": ORIGIN})
    assert resp.status == 404, resp
    resp.error("NoSuchBucket")
    assert cors_headers(resp.headers) == {}


def test_cors_headers_on_a_streamed_get(s3: Any, any_server: Any, cors_bucket: str) -> None:
    data = random_bytes(SMALL_OBJECT_MAX * 3, seed=7)  # erasure-coded, streamed
    s3.put_object(Bucket=cors_bucket, Key="big", Body=data)
    resp = request(any_server, "GET", cors_bucket, "big", headers={"Origin": ORIGIN})
    assert resp.status == 200, resp
    assert resp.body == data
    assert cors_headers(resp.headers) == SITE
    resp = request(
        any_server,
        "GET",
        cors_bucket,
        "big",
        headers={"Origin": ORIGIN, "Range": "bytes=10-19"},
    )
    assert (resp.status, resp.body) == (206, data[10:20]), resp
    assert cors_headers(resp.headers) == SITE
