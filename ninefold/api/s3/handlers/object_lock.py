"""Object Lock over S3: the bucket configuration (default retention), per-version retention and
legal hold, and the ``x-amz-object-lock-*`` headers of writes. The rules are
``ninefold.domain.locks``; this module reads and writes the XML and headers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aiohttp import web

from ninefold.api.auth import ANONYMOUS
from ninefold.api.s3 import errors
from ninefold.api.s3.authz import access_request
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, element, parse_xml, text_of
from ninefold.core import errors as domain_errors
from ninefold.domain import locks
from ninefold.domain.models import ObjectVersion
from ninefold.domain.settings import RetentionRule

__all__ = ["HANDLERS", "bypass_governance", "lock_for_put", "lock_headers"]


async def bypass_governance(ctx: Context) -> bool:
    """``x-amz-bypass-governance-retention: true`` from a caller allowed
    s3:BypassGovernanceRetention on the object (S3's rule); from anyone else the header counts
    for nothing, so a GOVERNANCE retention still stops them."""
    if ctx.request.headers.get("x-amz-bypass-governance-retention", "").lower() != "true":
        return False
    auth = None if ctx.auth is ANONYMOUS else ctx.auth
    request = access_request(ctx.request, ctx.s3, auth, ctx.found)
    try:
        await ctx.services.access.authorize(replace(request, action="s3:BypassGovernanceRetention"))
    except domain_errors.AccessDenied:
        return False
    return True


async def _body(ctx: Context) -> bytes:
    return await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )


def lock_for_put(ctx: Context, headers: Mapping[str, str]) -> dict[str, str]:
    """The lock a new version gets from the x-amz-object-lock-* headers (or form fields)."""
    return locks.lock_for_new_version(
        ctx.require_bucket(),
        headers.get("x-amz-object-lock-mode"),
        headers.get("x-amz-object-lock-retain-until-date"),
        headers.get("x-amz-object-lock-legal-hold"),
    )


def lock_headers(obj: ObjectVersion) -> dict[str, str]:
    out = {}
    if obj.lock.get("mode"):
        out["x-amz-object-lock-mode"] = obj.lock["mode"]
        out["x-amz-object-lock-retain-until-date"] = obj.lock["until"]
    if obj.lock.get("legal_hold"):
        out["x-amz-object-lock-legal-hold"] = obj.lock["legal_hold"]
    return out


# -- bucket configuration -----------------------------------------------------------------------


async def put_object_lock_configuration(ctx: Context) -> web.StreamResponse:
    root = parse_xml(await _body(ctx), "ObjectLockConfiguration")
    if text_of(root, "ObjectLockEnabled") not in (None, "Enabled"):
        raise errors.MalformedXML()
    bucket = ctx.require_bucket()
    rule: RetentionRule | None = None
    rules = [r for r in root if r.tag.endswith("Rule")]
    if rules:
        retention = [d for d in rules[0] if d.tag.endswith("DefaultRetention")]
        if not retention:
            raise errors.MalformedXML()
        mode = text_of(retention[0], "Mode")
        days, years = text_of(retention[0], "Days"), text_of(retention[0], "Years")
        if mode not in locks.MODES or (days is None) == (years is None):
            raise errors.MalformedXML()
        try:
            count = int(days if days is not None else years)  # type: ignore[arg-type]
        except ValueError:
            raise errors.MalformedXML() from None
        rule = (
            RetentionRule(mode, days=count)
            if days is not None
            else RetentionRule(mode, years=count)
        )
    await ctx.services.buckets.set_lock_configuration(bucket, rule)
    return web.Response(status=200)


async def get_object_lock_configuration(ctx: Context) -> web.StreamResponse:
    rule = ctx.services.buckets.lock_configuration_of(ctx.require_bucket())
    root = element("ObjectLockConfiguration", child("ObjectLockEnabled", "Enabled"))
    if rule is not None:
        period = child("Days", rule.days) if rule.days is not None else child("Years", rule.years)
        root.append(element("Rule", element("DefaultRetention", child("Mode", rule.mode), period)))
    return xml_response(root)


# -- per version --------------------------------------------------------------------------------


async def _version(ctx: Context) -> ObjectVersion:
    bucket = ctx.require_bucket()
    locks.require_lock(bucket)
    return await ctx.services.objects.head_object(bucket, ctx.key, ctx.s3.query.get("versionId"))


async def put_object_retention(ctx: Context) -> web.StreamResponse:
    root = parse_xml(await _body(ctx), "Retention")
    mode, until_text = text_of(root, "Mode"), text_of(root, "RetainUntilDate")
    obj = await _version(ctx)
    new = locks.retention_change(
        obj, mode, until_text, bypass_governance=await bypass_governance(ctx)
    )
    await ctx.services.objects.set_lock(obj, new)
    return web.Response(status=200)


async def get_object_retention(ctx: Context) -> web.StreamResponse:
    obj = await _version(ctx)
    if not obj.lock.get("mode"):
        raise errors.NoSuchObjectLockConfiguration()
    return xml_response(
        element(
            "Retention",
            child("Mode", obj.lock["mode"]),
            child("RetainUntilDate", obj.lock["until"]),
        )
    )


async def put_object_legal_hold(ctx: Context) -> web.StreamResponse:
    root = parse_xml(await _body(ctx), "LegalHold")
    status = text_of(root, "Status")
    if status not in ("ON", "OFF"):
        raise errors.MalformedXML()
    obj = await _version(ctx)
    await ctx.services.objects.set_lock(obj, locks.legal_hold_change(obj, status))
    return web.Response(status=200)


async def get_object_legal_hold(ctx: Context) -> web.StreamResponse:
    obj = await _version(ctx)
    if not obj.lock.get("legal_hold"):
        raise errors.NoSuchObjectLockConfiguration()
    return xml_response(element("LegalHold", child("Status", obj.lock["legal_hold"])))


HANDLERS = {
    Operation.PutObjectLockConfiguration: put_object_lock_configuration,
    Operation.GetObjectLockConfiguration: get_object_lock_configuration,
    Operation.PutObjectRetention: put_object_retention,
    Operation.GetObjectRetention: get_object_retention,
    Operation.PutObjectLegalHold: put_object_legal_hold,
    Operation.GetObjectLegalHold: get_object_legal_hold,
}
