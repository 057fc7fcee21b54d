"""Object Lock: bucket configuration (default retention), per-version retention and legal hold.

A bucket gets Object Lock at creation (``x-amz-bucket-object-lock-enabled: true``), which also
turns versioning on for good. A version's lock lives with it in metadata
(``ObjectVersion.lock``: mode, retain-until date, legal hold) and is enforced by the metadata
store in the transaction that would delete the version: a legal hold or an unexpired
COMPLIANCE retention stops everyone, root included; an unexpired GOVERNANCE retention stops
whoever does not send ``x-amz-bypass-governance-retention: true``. Overwriting a locked key
just adds a version, leaving the locked one untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.xml import child, element, parse_xml, text_of
from ninefold.meta.models import Bucket, ObjectVersion, lock_refusal, parse_iso8601

__all__ = ["HANDLERS", "lock_for_put", "lock_headers"]

#: the bucket configuration document with the default retention rule (JSON)
LOCK_CONFIG = "object-lock"
MODES = ("GOVERNANCE", "COMPLIANCE")


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def _until(text: str, argument: str) -> str:
    """A valid, future retain-until date in canonical form; InvalidArgument otherwise."""
    try:
        ts = parse_iso8601(text)
    except ValueError:
        raise errors.InvalidArgument(
            "The retain until date must be a valid ISO 8601 date.", ArgumentName=argument
        ) from None
    if ts <= time.time():
        raise errors.InvalidArgument(
            "The retain until date must be in the future!", ArgumentName=argument
        )
    return _iso(ts)


def _bypass(headers: Mapping[str, str]) -> bool:
    return headers.get("x-amz-bypass-governance-retention", "").lower() == "true"


async def _locked_bucket(ctx: Context) -> Bucket:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    if not bucket.object_lock:
        raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
    return bucket


async def _body(ctx: Context) -> bytes:
    return await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )


async def lock_for_put(ctx: Context, headers: Mapping[str, str]) -> dict[str, str]:
    """The lock a new version gets: the x-amz-object-lock-* headers, else the bucket's default
    retention; {} for a bucket without Object Lock (where the headers are an error)."""
    mode = headers.get("x-amz-object-lock-mode")
    until = headers.get("x-amz-object-lock-retain-until-date")
    hold = headers.get("x-amz-object-lock-legal-hold")
    asked = mode is not None or until is not None or hold is not None
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    if not bucket.object_lock:
        if asked:
            raise errors.InvalidRequest("Bucket is missing Object Lock Configuration")
        return {}
    lock: dict[str, str] = {}
    if (mode is None) != (until is None):
        raise errors.InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ArgumentName="x-amz-object-lock-mode"
            if mode is None
            else "x-amz-object-lock-retain-until-date",
        )
    if mode is not None and until is not None:
        if mode not in MODES:
            raise errors.InvalidArgument(
                "Unknown wormMode directive.", ArgumentName="x-amz-object-lock-mode"
            )
        lock = {"mode": mode, "until": _until(until, "x-amz-object-lock-retain-until-date")}
    else:
        raw = await ctx.services.objects.meta.get_bucket_config(ctx.bucket, LOCK_CONFIG)
        rule = json.loads(raw) if raw else {}
        if rule.get("mode"):
            seconds = int(rule.get("days", 0)) * 86400 + int(rule.get("years", 0)) * 365 * 86400
            lock = {"mode": rule["mode"], "until": _iso(time.time() + seconds)}
    if hold is not None:
        if hold not in ("ON", "OFF"):
            raise errors.InvalidArgument(
                "Legal Hold must be either of 'ON' or 'OFF'",
                ArgumentName="x-amz-object-lock-legal-hold",
            )
        lock["legal_hold"] = hold
    return lock


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
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    if not bucket.object_lock:
        raise errors.InvalidBucketState(
            "Object Lock configuration cannot be enabled on existing buckets"
        )
    rule: dict[str, object] = {}
    rules = [r for r in root if r.tag.endswith("Rule")]
    if rules:
        retention = [d for d in rules[0] if d.tag.endswith("DefaultRetention")]
        if not retention:
            raise errors.MalformedXML()
        mode = text_of(retention[0], "Mode")
        days, years = text_of(retention[0], "Days"), text_of(retention[0], "Years")
        if mode not in MODES or (days is None) == (years is None):
            raise errors.MalformedXML()
        try:
            count = int(days if days is not None else years)  # type: ignore[arg-type]
        except ValueError:
            raise errors.MalformedXML() from None
        if count <= 0:
            raise errors.InvalidArgument(
                "Default retention period must be a positive integer value"
            )
        rule = {"mode": mode, "days" if days is not None else "years": count}
    await ctx.services.objects.meta.put_bucket_config(ctx.bucket, LOCK_CONFIG, json.dumps(rule))
    return web.Response(status=200)


async def get_object_lock_configuration(ctx: Context) -> web.StreamResponse:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    if not bucket.object_lock:
        raise errors.ObjectLockConfigurationNotFoundError(BucketName=ctx.bucket)
    raw = await ctx.services.objects.meta.get_bucket_config(ctx.bucket, LOCK_CONFIG)
    rule = json.loads(raw) if raw else {}
    root = element("ObjectLockConfiguration", child("ObjectLockEnabled", "Enabled"))
    if rule.get("mode"):
        period = child("Days", rule["days"]) if "days" in rule else child("Years", rule["years"])
        root.append(
            element("Rule", element("DefaultRetention", child("Mode", rule["mode"]), period))
        )
    return xml_response(root)


# -- per version --------------------------------------------------------------------------------


async def _version(ctx: Context) -> ObjectVersion:
    await _locked_bucket(ctx)
    return await ctx.services.objects.head_object(
        ctx.bucket, ctx.key, ctx.s3.query.get("versionId")
    )


async def put_object_retention(ctx: Context) -> web.StreamResponse:
    root = parse_xml(await _body(ctx), "Retention")
    mode, until_text = text_of(root, "Mode"), text_of(root, "RetainUntilDate")
    obj = await _version(ctx)
    new: dict[str, str] = {k: v for k, v in obj.lock.items() if k == "legal_hold"}
    if mode is not None or until_text is not None:
        if mode not in MODES or not until_text:
            raise errors.MalformedXML()
        new.update(mode=mode, until=_until(until_text, "RetainUntilDate"))
    old_until = parse_iso8601(obj.lock["until"]) if obj.lock.get("until") else 0.0
    new_until = parse_iso8601(new["until"]) if new.get("until") else 0.0
    weaker = new_until < old_until or (
        obj.lock.get("mode") == "COMPLIANCE" and new.get("mode") != "COMPLIANCE"
    )
    if weaker:
        # shortening or loosening a retention is deleting protection: the same rules apply
        current = {k: v for k, v in obj.lock.items() if k != "legal_hold"}
        refusal = lock_refusal(current, time.time(), _bypass(ctx.request.headers))
        if refusal is not None:
            raise errors.AccessDenied(f"Access Denied because {refusal}.")
    if not await ctx.services.objects.meta.set_object_lock(
        ctx.bucket, ctx.key, obj.version_id, new
    ):
        raise errors.NoSuchKey(Key=ctx.key)
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
    if not await ctx.services.objects.meta.set_object_lock(
        ctx.bucket, ctx.key, obj.version_id, {**obj.lock, "legal_hold": status}
    ):
        raise errors.NoSuchKey(Key=ctx.key)
    return web.Response(status=200)


async def get_object_legal_hold(ctx: Context) -> web.StreamResponse:
    obj = await _version(ctx)
    if not obj.lock.get("legal_hold"):
        raise errors.NoSuchObjectLockConfiguration()
    return xml_response(element("LegalHold", child("Status", obj.lock["legal_hold"])))


HANDLERS = {
    "PutObjectLockConfiguration": put_object_lock_configuration,
    "GetObjectLockConfiguration": get_object_lock_configuration,
    "PutObjectRetention": put_object_retention,
    "GetObjectRetention": get_object_retention,
    "PutObjectLegalHold": put_object_legal_hold,
    "GetObjectLegalHold": get_object_legal_hold,
}
