"""CORS: a bucket's ``CORSConfiguration`` document and how a request is matched against it.

Pure: parsing and validating the document, rendering it, storing it as JSON, and evaluating a
preflight (``OPTIONS``) or an actual request against the rules. The app loads the stored rules
and applies the answer; nothing here does I/O. As on S3:

* the first rule that matches wins; a rule matches when the ``Origin`` matches one of its
  ``AllowedOrigin`` patterns (at most one ``*``, anchored at both ends, ``*`` may match
  nothing), the method (``Access-Control-Request-Method`` when the request has it) is one of
  its ``AllowedMethod``, and, for a preflight only, every requested header matches one of its
  ``AllowedHeader`` patterns (case-insensitively);
* a refused preflight is ``403 AccessForbidden`` with no CORS header at all; an actual request
  that matches no rule is served as usual, without CORS headers;
* ``Access-Control-Allow-Origin`` is ``*`` for a rule whose origin is ``*`` (and then no
  ``Access-Control-Allow-Credentials``), else the request's origin, with credentials allowed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from ninefold.api.s3 import errors
from ninefold.api.s3.xml import child, element, parse_xml, strip_ns
from ninefold.domain.cors import VARY, CorsRule, rules_from_json, rules_to_json

__all__ = [
    "DISABLED",
    "METHODS",
    "NOT_ALLOWED",
    "NOT_FOUND",
    "NO_ORIGIN",
    "VARY",
    "CorsRule",
    "actual_headers",
    "cors_xml",
    "forbidden",
    "parse_cors_xml",
    "preflight_headers",
    "rules_from_json",
    "rules_to_json",
]

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100
MAX_ID_CHARS = 255

NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of "
    "Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    "are not whitelisted by the resource's CORS spec."
)
DISABLED = "CORSResponse: CORS is not enabled for this bucket."
NOT_FOUND = "CORSResponse: Bucket not found"
NO_ORIGIN = "Insufficient information. Origin request header needed."

_LISTS = {
    "AllowedHeader": "headers",
    "AllowedMethod": "methods",
    "AllowedOrigin": "origins",
    "ExposeHeader": "expose",
}


# --------------------------------------------------------------------------------------------
# the document
# --------------------------------------------------------------------------------------------


def _parse_rule(el: ET.Element) -> CorsRule:
    lists: dict[str, list[str]] = {name: [] for name in _LISTS.values()}
    singles: dict[str, str] = {}
    for c in el:
        tag = strip_ns(c.tag)
        value = (c.text or "").strip()
        if tag in _LISTS:
            lists[_LISTS[tag]].append(value)
        elif tag in ("ID", "MaxAgeSeconds") and tag not in singles:
            singles[tag] = value
        else:
            raise errors.MalformedXML()
    if not lists["methods"] or not lists["origins"]:
        raise errors.MalformedXML()
    for method in lists["methods"]:
        if method not in METHODS:
            raise errors.InvalidRequest(
                f"Found unsupported HTTP method in CORS config. Unsupported method is {method}"
            )
    for kind, name in (("AllowedOrigin", "origins"), ("AllowedHeader", "headers")):
        for pattern in lists[name]:
            if pattern.count("*") > 1:
                raise errors.InvalidRequest(
                    f'{kind} "{pattern}" can not have more than one wildcard.'
                )
    rule_id = singles.get("ID")
    if rule_id is not None and len(rule_id) > MAX_ID_CHARS:
        raise errors.InvalidArgument(
            f"The ID of a CORS rule cannot be longer than {MAX_ID_CHARS} characters.",
            ArgumentName="ID",
            ArgumentValue=rule_id,
        )
    max_age = singles.get("MaxAgeSeconds")
    try:
        max_age_s = int(max_age) if max_age is not None else None
    except ValueError as exc:
        raise errors.MalformedXML() from exc
    return CorsRule(
        methods=tuple(lists["methods"]),
        origins=tuple(lists["origins"]),
        headers=tuple(lists["headers"]),
        expose=tuple(lists["expose"]),
        rule_id=rule_id,
        max_age_s=max_age_s,
    )


def parse_cors_xml(body: bytes) -> list[CorsRule]:
    """A PutBucketCors body: 1 to 100 ``CORSRule``; schema breaches are MalformedXML, a method
    outside GET/PUT/POST/DELETE/HEAD or a pattern with two ``*`` is InvalidRequest."""
    root = parse_xml(body, "CORSConfiguration")
    rules = []
    for el in root:
        if strip_ns(el.tag) != "CORSRule":
            raise errors.MalformedXML()
        rules.append(_parse_rule(el))
    if not 1 <= len(rules) <= MAX_RULES:
        raise errors.MalformedXML()
    return rules


def cors_xml(rules: Sequence[CorsRule]) -> ET.Element:
    """The GetBucketCors document: only the members a rule has."""

    def rule_xml(rule: CorsRule) -> ET.Element:
        return element(
            "CORSRule",
            *(child("AllowedHeader", h) for h in rule.headers),
            *(child("AllowedMethod", m) for m in rule.methods),
            *(child("AllowedOrigin", o) for o in rule.origins),
            *(child("ExposeHeader", h) for h in rule.expose),
            child("ID", rule.rule_id) if rule.rule_id is not None else None,
            child("MaxAgeSeconds", rule.max_age_s) if rule.max_age_s is not None else None,
        )

    return element("CORSConfiguration", *(rule_xml(r) for r in rules))


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


def forbidden(message: str, method: str | None, resource_type: str) -> errors.S3Error:
    """S3's refusal of a preflight: 403 AccessForbidden naming the method and resource type."""
    return errors.AccessForbidden(message, Method=method or "OPTIONS", ResourceType=resource_type)


def preflight_headers(
    rules: Sequence[CorsRule] | None,
    origin: str,
    method: str | None,
    request_headers: str | None,
    *,
    on_object: bool,
) -> dict[str, str]:
    """The headers of a 200 answer to a preflight, or the S3 error refusing it.

    ``rules`` None: the bucket has no CORS configuration. ``request_headers`` is the raw
    ``Access-Control-Request-Headers`` value; allowed names come back lower case, in the
    order requested.
    """
    if rules is None:
        raise forbidden(DISABLED, method, "BUCKET")
    if method not in METHODS:
        raise errors.BadRequest(f"Invalid Access-Control-Request-Method: {method or 'null'}")
    names = [n.strip().lower() for n in (request_headers or "").split(",") if n.strip()]
    for rule in rules:
        pattern = rule.matching_origin(origin)
        if pattern is None or method not in rule.methods:
            continue
        if not all(rule.allows_header(name) for name in names):
            continue
        headers = rule.response_headers(origin, pattern)
        if names:
            headers["Access-Control-Allow-Headers"] = ", ".join(names)
        return headers
    raise forbidden(NOT_ALLOWED, method, "OBJECT" if on_object else "BUCKET")


def actual_headers(rules: Sequence[CorsRule], origin: str, method: str) -> dict[str, str]:
    """The CORS headers of an actual request (empty: no rule matches). Its headers are not
    checked; ``method`` is its ``Access-Control-Request-Method`` if it has one, as on S3."""
    for rule in rules:
        pattern = rule.matching_origin(origin)
        if pattern is not None and method in rule.methods:
            return rule.response_headers(origin, pattern)
    return {}
