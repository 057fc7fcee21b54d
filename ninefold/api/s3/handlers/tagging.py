"""Object and bucket tagging: Get/Put/DeleteObjectTagging, Get/Put/DeleteBucketTagging."""

from __future__ import annotations

from aiohttp import web

from ninefold.api.s3.body import plan_body, read_small_body, read_small_body_once
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.tagging import (
    MAX_BUCKET_TAGS,
    MAX_OBJECT_TAGS,
    parse_tagging_xml,
    tagging_xml,
)

__all__ = ["HANDLERS"]


async def _body(ctx: Context) -> bytes:
    return await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )


async def get_object_tagging(ctx: Context) -> web.StreamResponse:
    obj = await ctx.services.objects.head_object(ctx.require_bucket(), ctx.key)
    return xml_response(tagging_xml(obj.tags))


async def put_object_tagging(ctx: Context) -> web.StreamResponse:
    # authorization may have read the body already (s3:RequestObjectTag conditions)
    tags = parse_tagging_xml(await read_small_body_once(ctx.request, ctx.auth), MAX_OBJECT_TAGS)
    await ctx.services.objects.set_tags(ctx.require_bucket(), ctx.key, tags)
    return web.Response(status=200)


async def delete_object_tagging(ctx: Context) -> web.StreamResponse:
    await ctx.services.objects.set_tags(ctx.require_bucket(), ctx.key, {})
    return web.Response(status=204)


async def get_bucket_tagging(ctx: Context) -> web.StreamResponse:
    return xml_response(tagging_xml(ctx.services.buckets.tags_of(ctx.require_bucket())))


async def put_bucket_tagging(ctx: Context) -> web.StreamResponse:
    tags = parse_tagging_xml(await _body(ctx), MAX_BUCKET_TAGS)
    await ctx.services.buckets.set_tags(ctx.require_bucket(), tags)
    return web.Response(status=204)


async def delete_bucket_tagging(ctx: Context) -> web.StreamResponse:
    await ctx.services.buckets.set_tags(ctx.require_bucket(), None)
    return web.Response(status=204)


HANDLERS = {
    Operation.GetObjectTagging: get_object_tagging,
    Operation.PutObjectTagging: put_object_tagging,
    Operation.DeleteObjectTagging: delete_object_tagging,
    Operation.GetBucketTagging: get_bucket_tagging,
    Operation.PutBucketTagging: put_bucket_tagging,
    Operation.DeleteBucketTagging: delete_bucket_tagging,
}
