"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, location, versioning."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, owner_id, xml_response
from ninefold.api.s3.handlers.acl import requested_acl
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.router import validate_bucket_name
from ninefold.api.s3.xml import child, element, iso8601, parse_xml, text_of

__all__ = ["HANDLERS"]


#: the most buckets one ListBuckets page may ask for (max-buckets)
MAX_BUCKETS = 10_000


def _max_buckets(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_BUCKETS:
        raise errors.InvalidArgument(
            f"Argument max-buckets must be an integer between 1 and {MAX_BUCKETS}",
            ArgumentName="max-buckets",
            ArgumentValue=raw,
        )
    return value


def _after(token: str | None) -> str:
    """The bucket name a continuation token continues after (tokens are the last name
    listed, base64url)."""
    if token is None:
        return ""
    try:
        after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        after = ""
    if not after:
        raise errors.InvalidArgument(
            "The continuation token provided is incorrect", ArgumentName="continuation-token"
        )
    return after


async def list_buckets(ctx: Context) -> web.StreamResponse:
    """The caller's account's buckets by name; with max-buckets, a page of them and a
    ContinuationToken when more follow; prefix and bucket-region filter them."""
    q = ctx.s3.query
    limit = _max_buckets(q.get("max-buckets"))
    prefix = q.get("prefix")
    region_filter = q.get("bucket-region")
    region = ctx.services.settings.region
    buckets, truncated = await ctx.services.buckets.list_for(
        ctx.account,
        prefix=prefix or "",
        after=_after(q.get("continuation-token")),
        limit=limit,
        region=region_filter,
    )
    await ctx.services.iam.resolve_names({ctx.account})
    display = ctx.services.iam.display_name(ctx.account)
    root = element(
        "ListAllMyBucketsResult",
        element("Owner", child("ID", owner_id(ctx.account)), child("DisplayName", display)),
        element(
            "Buckets",
            *(
                element(
                    "Bucket",
                    child("Name", b.name),
                    child("CreationDate", iso8601(b.created_at)),
                    child("BucketRegion", b.region or region),
                )
                for b in buckets
            ),
        ),
    )
    if truncated:
        token = base64.urlsafe_b64encode(buckets[-1].name.encode()).decode()
        root.append(child("ContinuationToken", token))
    if prefix is not None:
        root.append(child("Prefix", prefix))
    return xml_response(root)


async def create_bucket(ctx: Context) -> web.StreamResponse:
    validate_bucket_name(ctx.bucket)
    region = ctx.services.settings.region
    plan = plan_body(ctx.request.headers, ctx.auth)
    body = await read_small_body(ctx.request.content, plan, ctx.auth)
    if body.strip():
        config = parse_xml(body, "CreateBucketConfiguration")
        location = text_of(config, "LocationConstraint")
        if location and location != region:
            raise errors.IllegalLocationConstraintException(
                f"The {location} location constraint is incompatible with the region "
                f"{region} of this endpoint.",
            )
    headers = ctx.request.headers
    lock = headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true"
    acl = await requested_acl(ctx, headers, ctx.account) or "private"
    await ctx.services.buckets.create(
        ctx.bucket,
        ctx.account,
        object_lock=lock,
        acl=acl,
        ownership=headers.get("x-amz-object-ownership"),
    )
    return web.Response(status=200, headers={"Location": f"/{ctx.bucket}"})


async def head_bucket(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    return web.Response(status=200, headers={"x-amz-bucket-region": bucket.region})


async def delete_bucket(ctx: Context) -> web.StreamResponse:
    await ctx.services.buckets.delete(ctx.bucket)
    return web.Response(status=204)


async def get_bucket_location(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    # S3 answers an empty constraint for us-east-1
    value = "" if bucket.region == "us-east-1" else bucket.region
    return xml_response(element("LocationConstraint", text=value))


async def get_bucket_versioning(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    root = element("VersioningConfiguration")
    if bucket.versioning:
        root.append(child("Status", bucket.versioning))
    return xml_response(root)


async def put_bucket_versioning(ctx: Context) -> web.StreamResponse:
    plan = plan_body(ctx.request.headers, ctx.auth)
    root = parse_xml(
        await read_small_body(ctx.request.content, plan, ctx.auth), "VersioningConfiguration"
    )
    status = text_of(root, "Status") or ""
    if status not in ("Enabled", "Suspended"):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate: Status must be "
            "Enabled or Suspended."
        )
    if (text_of(root, "MfaDelete") or "Disabled") != "Disabled":
        raise errors.NotImplementedOp("MFA delete is not supported.")
    await ctx.services.buckets.set_versioning(ctx.require_bucket(), status)
    return web.Response(status=200)


HANDLERS = {
    Operation.ListBuckets: list_buckets,
    Operation.CreateBucket: create_bucket,
    Operation.HeadBucket: head_bucket,
    Operation.DeleteBucket: delete_bucket,
    Operation.GetBucketLocation: get_bucket_location,
    Operation.GetBucketVersioning: get_bucket_versioning,
    Operation.PutBucketVersioning: put_bucket_versioning,
}
