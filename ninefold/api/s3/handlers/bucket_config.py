"""Bucket configuration sub-resources: Get/Put/DeleteBucketCors,
Get/Put/DeleteBucketOwnershipControls, Get/Put/DeletePublicAccessBlock.

Each document is stored as JSON under its own bucket configuration name (``cors``,
``ownership``, ``public-access-block``); the metadata store raises NoSuchBucket itself. CORS
rules take effect at once (``ninefold.api.app`` reads them for preflights and for requests
with an ``Origin``). Ownership controls and the public access block are stored and returned
for client compatibility; nothing is public yet (anonymous requests are denied), so they
restrict nothing today. When ACLs and bucket policies arrive, their enforcement must read
these stored documents: ``BucketOwnerEnforced`` disables ACLs, and the four public access
block flags block or ignore public ACLs and policies.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from aiohttp import web

from ninefold.api.s3 import cors, errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.xml import child, children, element, parse_xml, strip_ns, text_of

__all__ = ["HANDLERS", "OWNERSHIP", "OWNERSHIP_VALUES", "PUBLIC_ACCESS_BLOCK", "PUBLIC_FLAGS"]

#: bucket configuration names (JSON documents)
OWNERSHIP = "ownership"
PUBLIC_ACCESS_BLOCK = "public-access-block"

OWNERSHIP_VALUES = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
PUBLIC_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


async def _body(ctx: Context) -> bytes:
    body = await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )
    if not body.strip():
        raise errors.MissingRequestBodyError()
    return body


async def _get(ctx: Context, name: str, missing: type[errors.S3Error]) -> str:
    raw = await ctx.services.objects.meta.get_bucket_config(ctx.bucket, name)
    if raw is None:
        raise missing(BucketName=ctx.bucket)
    return raw


async def _put(ctx: Context, name: str, value: str | None) -> None:
    await ctx.services.objects.meta.put_bucket_config(ctx.bucket, name, value)


# --------------------------------------------------------------------------------------------
# CORS
# --------------------------------------------------------------------------------------------


async def get_bucket_cors(ctx: Context) -> web.StreamResponse:
    raw = await _get(ctx, cors.CONFIG_NAME, errors.NoSuchCORSConfiguration)
    return xml_response(cors.cors_xml(cors.rules_from_json(raw)))


async def put_bucket_cors(ctx: Context) -> web.StreamResponse:
    rules = cors.parse_cors_xml(await _body(ctx))
    await _put(ctx, cors.CONFIG_NAME, cors.rules_to_json(rules))
    return web.Response(status=200)


async def delete_bucket_cors(ctx: Context) -> web.StreamResponse:
    await _put(ctx, cors.CONFIG_NAME, None)
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
    stored = json.loads(await _get(ctx, OWNERSHIP, errors.OwnershipControlsNotFoundError))
    return xml_response(
        element(
            "OwnershipControls",
            element("Rule", child("ObjectOwnership", stored["ObjectOwnership"])),
        )
    )


async def put_bucket_ownership_controls(ctx: Context) -> web.StreamResponse:
    value = _parse_ownership(await _body(ctx))
    await _put(ctx, OWNERSHIP, json.dumps({"ObjectOwnership": value}))
    return web.Response(status=200)


async def delete_bucket_ownership_controls(ctx: Context) -> web.StreamResponse:
    await _put(ctx, OWNERSHIP, None)
    return web.Response(status=204)


# --------------------------------------------------------------------------------------------
# public access block
# --------------------------------------------------------------------------------------------


def _parse_public_access_block(body: bytes) -> dict[str, bool]:
    root = parse_xml(body, "PublicAccessBlockConfiguration")
    flags = dict.fromkeys(PUBLIC_FLAGS, False)
    seen: set[str] = set()
    for el in root:
        tag = strip_ns(el.tag)
        value = (el.text or "").strip().lower()
        if tag not in flags or tag in seen or value not in ("true", "false"):
            raise errors.MalformedXML()
        seen.add(tag)
        flags[tag] = value == "true"
    return flags


def _public_access_block_xml(flags: dict[str, bool]) -> ET.Element:
    return element(
        "PublicAccessBlockConfiguration",
        *(child(name, bool(flags.get(name, False))) for name in PUBLIC_FLAGS),
    )


async def get_public_access_block(ctx: Context) -> web.StreamResponse:
    raw = await _get(ctx, PUBLIC_ACCESS_BLOCK, errors.NoSuchPublicAccessBlockConfiguration)
    return xml_response(_public_access_block_xml(json.loads(raw)))


async def put_public_access_block(ctx: Context) -> web.StreamResponse:
    flags = _parse_public_access_block(await _body(ctx))
    await _put(ctx, PUBLIC_ACCESS_BLOCK, json.dumps(flags))
    return web.Response(status=200)


async def delete_public_access_block(ctx: Context) -> web.StreamResponse:
    await _put(ctx, PUBLIC_ACCESS_BLOCK, None)
    return web.Response(status=204)


HANDLERS = {
    "GetBucketCors": get_bucket_cors,
    "PutBucketCors": put_bucket_cors,
    "DeleteBucketCors": delete_bucket_cors,
    "GetBucketOwnershipControls": get_bucket_ownership_controls,
    "PutBucketOwnershipControls": put_bucket_ownership_controls,
    "DeleteBucketOwnershipControls": delete_bucket_ownership_controls,
    "GetPublicAccessBlock": get_public_access_block,
    "PutPublicAccessBlock": put_public_access_block,
    "DeletePublicAccessBlock": delete_public_access_block,
}
