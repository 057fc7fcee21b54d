"""Bucket configuration sub-resources: Get/Put/DeleteBucketCors,
Get/Put/DeleteBucketOwnershipControls, Get/Put/DeletePublicAccessBlock.

The XML of each document is read and written here; the values and their rules are the
bucket's settings (``ninefold.domain.buckets``). CORS rules take effect at once (the app
reads them for preflights and requests with an ``Origin``); BucketOwnerEnforced disables
ACLs, and the public access block flags block or ignore public ACLs and policies.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aiohttp import web

from ninefold.api.s3 import cors, errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, children, element, parse_xml, strip_ns, text_of
from ninefold.domain.settings import OWNERSHIP_VALUES, PublicAccessBlock

__all__ = ["HANDLERS"]


async def _body(ctx: Context) -> bytes:
    body = await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )
    if not body.strip():
        raise errors.MissingRequestBodyError()
    return body


# --------------------------------------------------------------------------------------------
# CORS
# --------------------------------------------------------------------------------------------


async def get_bucket_cors(ctx: Context) -> web.StreamResponse:
    return xml_response(cors.cors_xml(ctx.services.buckets.cors_of(ctx.require_bucket())))


async def put_bucket_cors(ctx: Context) -> web.StreamResponse:
    rules = cors.parse_cors_xml(await _body(ctx))
    await ctx.services.buckets.set_cors(ctx.require_bucket(), rules)
    return web.Response(status=200)


async def delete_bucket_cors(ctx: Context) -> web.StreamResponse:
    await ctx.services.buckets.set_cors(ctx.require_bucket(), None)
    return web.Response(status=204)


# --------------------------------------------------------------------------------------------
# ownership controls
# --------------------------------------------------------------------------------------------


def _parse_ownership(body: bytes) -> str:
    root = parse_xml(body, "OwnershipControls")
    rules = list(children(root, "Rule"))
    if len(rules) != 1 or len(root) != 1 or len(rules[0]) != 1:
        raise errors.MalformedXML()
    value = text_of(rules[0], "ObjectOwnership")
    if value is None or value.strip() not in OWNERSHIP_VALUES:
        raise errors.MalformedXML()
    return value.strip()


async def get_bucket_ownership_controls(ctx: Context) -> web.StreamResponse:
    value = ctx.services.buckets.ownership_of(ctx.require_bucket())
    return xml_response(
        element("OwnershipControls", element("Rule", child("ObjectOwnership", value)))
    )


async def put_bucket_ownership_controls(ctx: Context) -> web.StreamResponse:
    value = _parse_ownership(await _body(ctx))
    await ctx.services.buckets.set_ownership(ctx.require_bucket(), value)
    return web.Response(status=200)


async def delete_bucket_ownership_controls(ctx: Context) -> web.StreamResponse:
    await ctx.services.buckets.set_ownership(ctx.require_bucket(), None)
    return web.Response(status=204)


# --------------------------------------------------------------------------------------------
# public access block
# --------------------------------------------------------------------------------------------


def _parse_public_access_block(body: bytes) -> PublicAccessBlock:
    root = parse_xml(body, "PublicAccessBlockConfiguration")
    flags = dict.fromkeys(PublicAccessBlock.FLAGS, False)
    seen: set[str] = set()
    for el in root:
        tag = strip_ns(el.tag)
        value = (el.text or "").strip().lower()
        if tag not in flags or tag in seen or value not in ("true", "false"):
            raise errors.MalformedXML()
        seen.add(tag)
        flags[tag] = value == "true"
    return PublicAccessBlock(**flags)


def _public_access_block_xml(flags: PublicAccessBlock) -> ET.Element:
    return element(
        "PublicAccessBlockConfiguration",
        *(child(name, getattr(flags, name)) for name in PublicAccessBlock.FLAGS),
    )


async def get_public_access_block(ctx: Context) -> web.StreamResponse:
    flags = ctx.services.buckets.public_access_block_of(ctx.require_bucket())
    return xml_response(_public_access_block_xml(flags))


async def put_public_access_block(ctx: Context) -> web.StreamResponse:
    flags = _parse_public_access_block(await _body(ctx))
    await ctx.services.buckets.set_public_access_block(ctx.require_bucket(), flags)
    return web.Response(status=200)


async def delete_public_access_block(ctx: Context) -> web.StreamResponse:
    await ctx.services.buckets.set_public_access_block(ctx.require_bucket(), None)
    return web.Response(status=204)


HANDLERS = {
    Operation.GetBucketCors: get_bucket_cors,
    Operation.PutBucketCors: put_bucket_cors,
    Operation.DeleteBucketCors: delete_bucket_cors,
    Operation.GetBucketOwnershipControls: get_bucket_ownership_controls,
    Operation.PutBucketOwnershipControls: put_bucket_ownership_controls,
    Operation.DeleteBucketOwnershipControls: delete_bucket_ownership_controls,
    Operation.GetPublicAccessBlock: get_public_access_block,
    Operation.PutPublicAccessBlock: put_public_access_block,
    Operation.DeletePublicAccessBlock: delete_public_access_block,
}
