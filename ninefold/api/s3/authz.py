"""What authorization needs to know of an HTTP request, for ``ninefold.domain.access``.

The rules live in the domain; this module only reads the request: the operation's IAM action,
the bucket resolved for the request, and the condition keys only HTTP knows (source IP, TLS,
user agent, referer, the listing parameters).
"""

from __future__ import annotations

from aiohttp import web

from ninefold.api.auth import AuthResult
from ninefold.api.s3.router import S3Request
from ninefold.domain.access import AccessRequest
from ninefold.domain.buckets import Bucket

__all__ = ["access_request", "condition_keys"]

_LISTING_KEYS = ("prefix", "delimiter", "max-keys")


def access_request(
    request: web.BaseRequest, s3: S3Request, auth: AuthResult | None, bucket: Bucket | None
) -> AccessRequest:
    """``auth`` None: an anonymous request. The condition keys are read from the request only
    if a policy is evaluated."""
    version_id = s3.query.get("versionId")
    return AccessRequest(
        principal=None if auth is None else auth.principal,
        action=s3.op.action_for(version_id),
        bucket_name=s3.bucket,
        bucket=bucket,
        key=s3.key,
        version_id=version_id,
        lazy_context=lambda: condition_keys(request, s3),
        manages_policy=s3.op.manages_policy,
    )


def condition_keys(request: web.BaseRequest, s3: S3Request) -> dict[str, str | list[str]]:
    """The condition keys only HTTP knows: TLS, source IP, user agent, referer, and the
    listing parameters of a listing."""
    context: dict[str, str | list[str]] = {
        "aws:securetransport": "true" if request.secure else "false",
    }
    if request.remote:
        context["aws:sourceip"] = request.remote
    for header, key in (("user-agent", "aws:useragent"), ("referer", "aws:referer")):
        if header in request.headers:
            context[key] = request.headers[header]
    if s3.op.is_listing:
        for name in _LISTING_KEYS:
            if name in s3.query:
                context[f"s3:{name}"] = s3.query[name]
    return context
