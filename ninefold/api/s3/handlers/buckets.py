"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, location, versioning."""

from __future__ import annotations

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, owner_id, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.router import validate_bucket_name
from ninefold.api.s3.xml import child, element, iso8601, parse_xml, text_of

__all__ = ["HANDLERS"]


async def list_buckets(ctx: Context) -> web.StreamResponse:
    buckets = await ctx.services.buckets.list_for(ctx.user, is_root=ctx.auth.principal.is_root)
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
    await ctx.services.buckets.create(ctx.bucket, ctx.user, object_lock=lock, acl=acl)
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
