"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, location, versioning."""

from __future__ import annotations

import time

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, owner_id, xml_response
from ninefold.api.s3.handlers.acl import BUCKET_ACL, CANNED
from ninefold.api.s3.router import validate_bucket_name
from ninefold.api.s3.xml import child, element, iso8601, parse_xml, text_of
from ninefold.meta.models import Bucket

__all__ = ["HANDLERS"]


async def list_buckets(ctx: Context) -> web.StreamResponse:
    buckets = await ctx.services.objects.meta.list_buckets()
    region = ctx.services.settings.region
    root = element(
        "ListAllMyBucketsResult",
        element("Owner", child("ID", owner_id(ctx.user)), child("DisplayName", ctx.user)),
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
                if b.owner == ctx.user or ctx.auth.principal.is_root
            ),
        ),
    )
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
    lock = ctx.request.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true"
    acl = ctx.request.headers.get("x-amz-acl", "private")
    if acl not in CANNED:
        raise errors.InvalidArgument(f"Invalid canned ACL {acl!r}", ArgumentName="x-amz-acl")
    await ctx.services.objects.meta.create_bucket(
        Bucket(
            name=ctx.bucket,
            created_at=time.time(),
            owner=ctx.user,
            region=region,
            # Object Lock needs versioning, and it can never be suspended afterwards
            versioning="Enabled" if lock else "",
            object_lock=lock,
        )
    )
    if acl != "private":
        await ctx.services.objects.meta.put_bucket_config(ctx.bucket, BUCKET_ACL, acl)
    return web.Response(status=200, headers={"Location": f"/{ctx.bucket}"})


async def head_bucket(ctx: Context) -> web.StreamResponse:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    return web.Response(status=200, headers={"x-amz-bucket-region": bucket.region})


async def delete_bucket(ctx: Context) -> web.StreamResponse:
    await ctx.services.objects.meta.delete_bucket(ctx.bucket)
    return web.Response(status=204)


async def get_bucket_location(ctx: Context) -> web.StreamResponse:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    # S3 answers an empty constraint for us-east-1
    value = "" if bucket.region == "us-east-1" else bucket.region
    return xml_response(element("LocationConstraint", text=value))


async def get_bucket_versioning(ctx: Context) -> web.StreamResponse:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    root = element("VersioningConfiguration")
    if bucket.versioning:
        root.append(child("Status", bucket.versioning))
    return xml_response(root)


async def put_bucket_versioning(ctx: Context) -> web.StreamResponse:
    plan = plan_body(ctx.request.headers, ctx.auth)
    root = parse_xml(
        await read_small_body(ctx.request.content, plan, ctx.auth), "VersioningConfiguration"
    )
    status = text_of(root, "Status")
    if status not in ("Enabled", "Suspended"):
        raise errors.MalformedXML(
            "The XML you provided was not well-formed or did not validate: Status must be "
            "Enabled or Suspended."
        )
    if (text_of(root, "MfaDelete") or "Disabled") != "Disabled":
        raise errors.NotImplementedOp("MFA delete is not supported.")
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    if bucket.object_lock and status == "Suspended":
        raise errors.InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning state "
            "cannot be changed."
        )
    await ctx.services.objects.meta.set_bucket_versioning(ctx.bucket, status)
    return web.Response(status=200)


HANDLERS = {
    "ListBuckets": list_buckets,
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "DeleteBucket": delete_bucket,
    "GetBucketLocation": get_bucket_location,
    "GetBucketVersioning": get_bucket_versioning,
    "PutBucketVersioning": put_bucket_versioning,
}
