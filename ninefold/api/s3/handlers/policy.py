"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus."""

from __future__ import annotations

from aiohttp import web

from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, element

__all__ = ["HANDLERS"]


async def put_bucket_policy(ctx: Context) -> web.StreamResponse:
    body = await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )
    if ctx.found is None:
        # a bad document is reported before the missing bucket, as S3 does
        ctx.services.buckets.parse_policy(ctx.bucket, body)
    await ctx.services.buckets.set_policy(ctx.require_bucket(), body)
    return web.Response(status=204)


async def get_bucket_policy(ctx: Context) -> web.StreamResponse:
    text = ctx.services.buckets.policy_of(ctx.require_bucket())
    return web.Response(status=200, body=text.encode(), content_type="application/json")


async def delete_bucket_policy(ctx: Context) -> web.StreamResponse:
    await ctx.services.buckets.delete_policy(ctx.require_bucket())
    return web.Response(status=204)


async def get_bucket_policy_status(ctx: Context) -> web.StreamResponse:
    public = ctx.services.buckets.policy_is_public(ctx.require_bucket())
    return xml_response(element("PolicyStatus", child("IsPublic", public)))


HANDLERS = {
    Operation.PutBucketPolicy: put_bucket_policy,
    Operation.GetBucketPolicy: get_bucket_policy,
    Operation.DeleteBucketPolicy: delete_bucket_policy,
    Operation.GetBucketPolicyStatus: get_bucket_policy_status,
}
