"""What authorization needs to know of an HTTP request, for ``ninefold.domain.access``.

The rules live in the domain; this module only reads the request: the operation's IAM action,
the bucket resolved for the request, and the condition keys only HTTP knows (source IP, TLS,
user agent, referer, the listing parameters, and the S3 keys read from headers:
``s3:x-amz-acl``, ``s3:x-amz-grant-*``, ``s3:x-amz-copy-source``,
``s3:x-amz-metadata-directive``, ``s3:RequestObjectTag/<key>`` and ``s3:RequestObjectTagKeys``
from ``x-amz-tagging``). PutObjectTagging's request tags are in its body: that is read (and
kept for the handler) only when a policy names ``s3:RequestObjectTag``.

A header that does not parse (a bad ``x-amz-tagging``) gives no key here; the operation
refuses it after authorization with its own error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from urllib.parse import unquote

from aiohttp import web

from ninefold.api.auth import ANONYMOUS, AuthResult
from ninefold.api.s3 import errors
from ninefold.api.s3.body import read_small_body_once
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.router import S3Request
from ninefold.api.s3.tagging import MAX_OBJECT_TAGS, parse_tagging_header, parse_tagging_xml
from ninefold.domain.access import AccessRequest
from ninefold.domain.buckets import Bucket

__all__ = ["access_request", "condition_keys", "request_tag_keys"]

_LISTING_KEYS = ("prefix", "delimiter", "max-keys")
#: headers whose value is the condition key ``s3:<header>``
_HEADER_KEYS = (
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
    "x-amz-metadata-directive",
)

Keys = dict[str, str | list[str]]


def access_request(
    request: web.BaseRequest, s3: S3Request, auth: AuthResult | None, bucket: Bucket | None
) -> AccessRequest:
    """``auth`` None: an anonymous request. The condition keys are read from the request only
    if a policy is evaluated."""
    version_id = s3.query.get("versionId")

    async def body_keys() -> Keys:
        return await tagging_body_keys(request, auth or ANONYMOUS)

    return AccessRequest(
        principal=None if auth is None else auth.principal,
        action=s3.op.action_for(version_id),
        bucket_name=s3.bucket,
        bucket=bucket,
        key=s3.key,
        version_id=version_id,
        lazy_context=lambda: condition_keys(request, s3),
        body_context=body_keys if s3.op is Operation.PutObjectTagging else None,
        manages_policy=s3.op.manages_policy,
    )


def request_tag_keys(tags: Mapping[str, str]) -> Keys:
    """``s3:RequestObjectTag/<key>`` (key names lower-cased, as every condition key here) and
    ``s3:RequestObjectTagKeys`` of the tags a request sets."""
    keys: Keys = {f"s3:requestobjecttag/{name.lower()}": value for name, value in tags.items()}
    keys["s3:requestobjecttagkeys"] = list(tags)
    return keys


def condition_keys(request: web.BaseRequest, s3: S3Request) -> Keys:
    """The condition keys only HTTP knows: TLS, source IP, user agent, referer, the listing
    parameters of a listing, and the S3 keys of the request headers."""
    context: Keys = {
        "aws:securetransport": "true" if request.secure else "false",
    }
    headers = request.headers
    if request.remote:
        context["aws:sourceip"] = request.remote
    for header, key in (("user-agent", "aws:useragent"), ("referer", "aws:referer")):
        if header in headers:
            context[key] = headers[header]
    if s3.op.is_listing:
        for name in _LISTING_KEYS:
            if name in s3.query:
                context[f"s3:{name}"] = s3.query[name]
    for header in _HEADER_KEYS:
        if header in headers:
            context[f"s3:{header}"] = headers[header]
    source = headers.get("x-amz-copy-source")
    if source is not None:
        # "bucket/key" as policies write it: decoded, no leading slash, no ?versionId=
        context["s3:x-amz-copy-source"] = unquote(source.partition("?")[0]).lstrip("/")
    tagging = headers.get("x-amz-tagging")
    if tagging is not None:
        with contextlib.suppress(errors.S3Error):  # the operation refuses the header
            context.update(request_tag_keys(parse_tagging_header(tagging)))
    return context


async def tagging_body_keys(request: web.BaseRequest, auth: AuthResult) -> Keys:
    """The request tags of a PutObjectTagging, from its body (read once, kept for the
    handler); none when the document does not parse (the handler refuses it)."""
    body = await read_small_body_once(request, auth)
    try:
        return request_tag_keys(parse_tagging_xml(body, MAX_OBJECT_TAGS))
    except errors.S3Error:
        return {}
