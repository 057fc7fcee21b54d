"""The pure CORS module: the CORSConfiguration document and rule evaluation (as S3 answers)."""

from __future__ import annotations

import pytest

from ninefold.api.s3 import cors, errors
from ninefold.api.s3.cors import CorsRule
from ninefold.api.s3.xml import render


def doc(*rules: str) -> bytes:
    inner = "".join(f"<CORSRule>{r}</CORSRule>" for r in rules)
    return f'<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</CORSConfiguration>'.encode()


SITE = CorsRule(
    methods=("GET", "PUT"),
    origins=("https://*.example.com",),
    headers=("x-amz-*", "Content-Type"),
    expose=("ETag", "x-amz-version-id"),
    rule_id="site",
    max_age_s=600,
)
EVERYONE = CorsRule(methods=("HEAD",), origins=("*",))


def test_parse_render_and_store_round_trip() -> None:
    body = doc(
        "<ID>site</ID><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod>"
        "<AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedHeader>x-amz-*</AllowedHeader>"
        "<AllowedHeader>Content-Type</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
        "<ExposeHeader>x-amz-version-id</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds>",
        "<AllowedMethod>HEAD</AllowedMethod><AllowedOrigin>*</AllowedOrigin>",
    )
    rules = cors.parse_cors_xml(body)
    assert rules == [SITE, EVERYONE]
    assert cors.rules_from_json(cors.rules_to_json(rules)) == rules
    assert cors.parse_cors_xml(render(cors.cors_xml(rules))) == rules


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (doc(), errors.MalformedXML, None),
        (doc(""), errors.MalformedXML, None),
        (doc("<AllowedOrigin>*</AllowedOrigin>"), errors.MalformedXML, None),
        (doc("<AllowedMethod>GET</AllowedMethod>"), errors.MalformedXML, None),
        (
            doc("<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin><Bogus/>"),
            errors.MalformedXML,
            None,
        ),
        (
            doc(
                "<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
                "<MaxAgeSeconds>soon</MaxAgeSeconds>"
            ),
            errors.MalformedXML,
            None,
        ),
        (
            b"<CORSConfiguration><Rule><AllowedMethod>GET</AllowedMethod></Rule>"
            b"</CORSConfiguration>",
            errors.MalformedXML,
            None,
        ),
        (
            doc(*["<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"] * 101),
            errors.MalformedXML,
            None,
        ),
        (
            doc("<AllowedMethod>PATCH</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"),
            errors.InvalidRequest,
            "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
        ),
        (
            doc("<AllowedMethod>get</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"),
            errors.InvalidRequest,
            "Found unsupported HTTP method in CORS config. Unsupported method is get",
        ),
        (
            doc("<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*example*.com</AllowedOrigin>"),
            errors.InvalidRequest,
            'AllowedOrigin "*example*.com" can not have more than one wildcard.',
        ),
        (
            doc(
                "<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
                "<AllowedHeader>x-*-*</AllowedHeader>"
            ),
            errors.InvalidRequest,
            'AllowedHeader "x-*-*" can not have more than one wildcard.',
        ),
        (
            doc(
                "<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
                f"<ID>{'i' * 256}</ID>"
            ),
            errors.InvalidArgument,
            None,
        ),
        (b"<CORSConfiguration><CORSRule>", errors.MalformedXML, None),
    ],
)
def test_invalid_documents(body: bytes, error: type[errors.S3Error], message: str | None) -> None:
    with pytest.raises(error) as info:
        cors.parse_cors_xml(body)
    if message is not None:
        assert info.value.message == message


def test_a_hundred_rules_are_allowed() -> None:
    rules = cors.parse_cors_xml(
        doc(*["<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"] * 100)
    )
    assert len(rules) == 100


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        # s3-tests' test_cors_origin_response: patterns are anchored, '*' may match nothing
        ("foo.suffix", True),
        ("startend", True),
        ("start1end", True),
        ("start12end", True),
        ("prefix", True),
        ("prefix.suffix", True),
        ("foo.bar", False),
        ("foo.suffix.get", False),
        ("0start12end", False),
        ("bla.prefix", False),
    ],
)
def test_origin_patterns(origin: str, allowed: bool) -> None:
    rules = [
        CorsRule(methods=("GET",), origins=("*suffix",)),
        CorsRule(methods=("GET",), origins=("start*end",)),
        CorsRule(methods=("GET",), origins=("prefix*",)),
    ]
    assert bool(cors.actual_headers(rules, origin, "GET")) is allowed


def test_preflight_allowed_echoes_origin_and_lowercases_requested_headers() -> None:
    got = cors.preflight_headers(
        [SITE, EVERYONE],
        "https://app.example.com",
        "PUT",
        "Content-Type, X-Amz-Meta-Name,x-amz-date",
        on_object=True,
    )
    assert got == {
        "Access-Control-Allow-Origin": "https://app.example.com",
        "Access-Control-Allow-Methods": "GET, PUT",
        "Access-Control-Allow-Headers": "content-type, x-amz-meta-name, x-amz-date",
        "Access-Control-Expose-Headers": "ETag, x-amz-version-id",
        "Access-Control-Max-Age": "600",
        "Access-Control-Allow-Credentials": "true",
        "Vary": cors.VARY,
    }


def test_preflight_wildcard_origin_has_no_credentials() -> None:
    got = cors.preflight_headers([SITE, EVERYONE], "null", "HEAD", None, on_object=False)
    assert got == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "HEAD",
        "Vary": cors.VARY,
    }


@pytest.mark.parametrize(
    ("rules", "origin", "method", "headers", "error", "message", "extra"),
    [
        (None, "https://a.example.com", "GET", None, errors.AccessForbidden, cors.DISABLED,
         {"Method": "GET", "ResourceType": "BUCKET"}),
        (None, "https://a.example.com", None, None, errors.AccessForbidden, cors.DISABLED,
         {"Method": "OPTIONS", "ResourceType": "BUCKET"}),
        ([SITE], "https://a.example.com", None, None, errors.BadRequest,
         "Invalid Access-Control-Request-Method: null", {}),
        ([SITE], "https://a.example.com", "PATCH", None, errors.BadRequest,
         "Invalid Access-Control-Request-Method: PATCH", {}),
        ([SITE], "https://a.example.com", "DELETE", None, errors.AccessForbidden,
         cors.NOT_ALLOWED, {"Method": "DELETE", "ResourceType": "OBJECT"}),
        ([SITE], "https://example.org", "GET", None, errors.AccessForbidden, cors.NOT_ALLOWED,
         {"Method": "GET", "ResourceType": "OBJECT"}),
        ([SITE], "https://a.example.com", "GET", "authorization", errors.AccessForbidden,
         cors.NOT_ALLOWED, {"Method": "GET", "ResourceType": "OBJECT"}),
        ([EVERYONE], "https://a.example.com", "HEAD", "x-amz-date", errors.AccessForbidden,
         cors.NOT_ALLOWED, {"Method": "HEAD", "ResourceType": "OBJECT"}),
    ],
)  # fmt: skip
def test_preflight_refusals(
    rules: list[CorsRule] | None,
    origin: str,
    method: str | None,
    headers: str | None,
    error: type[errors.S3Error],
    message: str,
    extra: dict[str, str],
) -> None:
    with pytest.raises(error) as info:
        cors.preflight_headers(rules, origin, method, headers, on_object=True)
    assert info.value.message == message
    assert info.value.extra == extra


def test_actual_request_checks_origin_and_method_only() -> None:
    rules = [SITE, EVERYONE]
    site = cors.actual_headers(rules, "https://app.example.com", "GET")
    assert site["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert site["Vary"] == cors.VARY
    assert "Access-Control-Allow-Headers" not in site
    assert (
        cors.actual_headers(rules, "https://example.org", "HEAD")["Access-Control-Allow-Origin"]
        == "*"
    )
    assert cors.actual_headers(rules, "https://example.org", "GET") == {}
    assert cors.actual_headers(rules, "https://app.example.com", "DELETE") == {}
