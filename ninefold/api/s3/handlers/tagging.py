"""Object and bucket tagging: Get/Put/DeleteObjectTagging, Get/Put/DeleteBucketTagging."""

from __future__ import annotations

import json

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.tagging import (
    MAX_BUCKET_TAGS,
    MAX_OBJECT_TAGS,
    parse_tagging_xml,
    tagging_xml,
)

__all__ = ["HANDLERS"]

#: the bucket configuration document that holds a bucket's tags (JSON object)
BUCKET_TAGS = "tagging"


async def _body(ctx: Context) -> bytes:
    return await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )


async def get_object_tagging(ctx: Context) -> web.StreamResponse:
    obj = await ctx.services.objects.head_object(ctx.bucket, ctx.key)
    return xml_response(tagging_xml(obj.tags))


async def put_object_tagging(ctx: Context) -> web.StreamResponse:
    tags = parse_tagging_xml(await _body(ctx), MAX_OBJECT_TAGS)
    if not await ctx.services.objects.meta.put_object_tags(ctx.bucket, ctx.key, tags):
        raise errors.NoSuchKey(Key=ctx.key)
    return web.Response(status=200)


async def delete_object_tagging(ctx: Context) -> web.StreamResponse:
    if not await ctx.services.objects.meta.put_object_tags(ctx.bucket, ctx.key, {}):
        raise errors.NoSuchKey(Key=ctx.key)
    return web.Response(status=204)


async def get_bucket_tagging(ctx: Context) -> web.StreamResponse:
    raw = await ctx.services.objects.meta.get_bucket_config(ctx.bucket, BUCKET_TAGS)
    if raw is None:
        raise errors.NoSuchTagSet(BucketName=ctx.bucket)
    return xml_response(tagging_xml(json.loads(raw)))


async def put_bucket_tagging(ctx: Context) -> web.StreamResponse:
    tags = parse_tagging_xml(await _body(ctx), MAX_BUCKET_TAGS)
    await ctx.services.objects.meta.put_bucket_config(ctx.bucket, BUCKET_TAGS, json.dumps(tags))
    return web.Response(status=204)


async def delete_bucket_tagging(ctx: Context) -> web.StreamResponse:
    await ctx.services.objects.meta.put_bucket_config(ctx.bucket, BUCKET_TAGS, None)
    return web.Response(status=204)


HANDLERS = {
    "GetObjectTagging": get_object_tagging,
    "PutObjectTagging": put_object_tagging,
    "DeleteObjectTagging": delete_object_tagging,
    "GetBucketTagging": get_bucket_tagging,
    "PutBucketTagging": put_bucket_tagging,
    "DeleteBucketTagging": delete_bucket_tagging,
}
