"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus."""

from __future__ import annotations

import json

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.xml import child, element
from ninefold.iam.policy import parse_policy

__all__ = ["HANDLERS"]

MAX_POLICY_BYTES = 20 * 1024


async def put_bucket_policy(ctx: Context) -> web.StreamResponse:
    body = await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )
    if not body.strip():
        raise errors.MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    if len(body) > MAX_POLICY_BYTES:
        raise errors.MalformedPolicy("Policy exceeds the maximum allowed document size.")
    policy = parse_policy(body, bucket=ctx.bucket)
    await ctx.services.objects.require_bucket(ctx.bucket)
    raw = await ctx.services.objects.meta.get_bucket_config(ctx.bucket, "public-access-block")
    if policy.is_public and raw and json.loads(raw).get("BlockPublicPolicy"):
        raise errors.AccessDenied("Access Denied: the bucket's public access block forbids it.")
    await ctx.services.objects.meta.set_bucket_policy(ctx.bucket, body.decode())
    return web.Response(status=204)


async def get_bucket_policy(ctx: Context) -> web.StreamResponse:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    if not bucket.policy:
        raise errors.NoSuchBucketPolicy(BucketName=ctx.bucket)
    return web.Response(status=200, body=bucket.policy.encode(), content_type="application/json")


async def delete_bucket_policy(ctx: Context) -> web.StreamResponse:
    await ctx.services.objects.require_bucket(ctx.bucket)
    await ctx.services.objects.meta.set_bucket_policy(ctx.bucket, None)
    return web.Response(status=204)


async def get_bucket_policy_status(ctx: Context) -> web.StreamResponse:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    if not bucket.policy:
        raise errors.NoSuchBucketPolicy(BucketName=ctx.bucket)
    public = parse_policy(bucket.policy).is_public
    return xml_response(element("PolicyStatus", child("IsPublic", public)))


HANDLERS = {
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "GetBucketPolicyStatus": get_bucket_policy_status,
}
