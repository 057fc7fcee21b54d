"""Canned ACLs for client compatibility: x-amz-acl on writes, Get/PutBucketAcl, Get/PutObjectAcl.

Ninefold keeps ACLs as the canned names S3 defines (private, public-read, public-read-write,
authenticated-read, ...); GET ?acl renders the grants each implies. A PUT ?acl with an
AccessControlPolicy document is accepted when its grants are exactly those of a canned ACL;
arbitrary per-grantee grants are NotImplemented (bucket policies are the way to grant more).
Public ACLs let anonymous requests read (and, for public-read-write buckets, write) unless the
bucket's PublicAccessBlock ignores them (IgnorePublicAcls) or refuses them (BlockPublicAcls);
OwnershipControls BucketOwnerEnforced disables ACLs altogether (AccessControlListNotSupported).
The bucket's ACL is the bucket configuration document "acl"; an object's is stored with it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, owner_id, xml_response
from ninefold.api.s3.xml import child, element, parse_xml, strip_ns, text_of
from ninefold.meta.store import MetaStore

__all__ = ["BUCKET_ACL", "CANNED", "HANDLERS", "PUBLIC", "acl_for_write", "bucket_acl"]

BUCKET_ACL = "acl"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("xsi", XSI)

#: canned ACL -> the group grants it adds to the owner's FULL_CONTROL
CANNED: dict[str, tuple[tuple[str, str], ...]] = {
    "private": (),
    "public-read": ((ALL_USERS, "READ"),),
    "public-read-write": ((ALL_USERS, "READ"), (ALL_USERS, "WRITE")),
    "authenticated-read": ((AUTHENTICATED, "READ"),),
    "aws-exec-read": (),
    "bucket-owner-read": (),
    "bucket-owner-full-control": (),
    "log-delivery-write": (),
}
PUBLIC = frozenset({"public-read", "public-read-write", "authenticated-read"})


async def _public_flags(meta: MetaStore, bucket: str) -> dict[str, bool]:
    raw = await meta.get_bucket_config(bucket, "public-access-block")
    return json.loads(raw) if raw else {}


async def _check_allowed(meta: MetaStore, bucket: str, acl: str) -> None:
    """Refuse ``acl`` where the bucket disables ACLs or blocks public ones."""
    if acl not in CANNED:
        raise errors.InvalidArgument(f"Invalid canned ACL {acl!r}", ArgumentName="x-amz-acl")
    if acl in ("private", "bucket-owner-full-control"):
        return
    ownership = await meta.get_bucket_config(bucket, "ownership")
    if ownership and json.loads(ownership).get("ObjectOwnership") == "BucketOwnerEnforced":
        raise errors.AccessControlListNotSupported()
    if acl in PUBLIC and (await _public_flags(meta, bucket)).get("BlockPublicAcls"):
        raise errors.AccessDenied("Access Denied: the bucket's public access block forbids it.")


async def acl_for_write(ctx: Context, headers: Mapping[str, str]) -> str:
    """The canned ACL a PutObject/CopyObject/CreateMultipartUpload asks for (default private)."""
    acl = headers.get("x-amz-acl", "private")
    await _check_allowed(ctx.services.objects.meta, ctx.bucket, acl)
    return acl


async def bucket_acl(meta: MetaStore, bucket: str) -> str:
    return await meta.get_bucket_config(bucket, BUCKET_ACL) or "private"


def _policy_xml(owner: str, acl: str) -> ET.Element:
    def grantee_user() -> ET.Element:
        g = element("Grantee", child("ID", owner_id(owner)), child("DisplayName", owner))
        g.set(f"{{{XSI}}}type", "CanonicalUser")
        return g

    grants = [element("Grant", grantee_user(), child("Permission", "FULL_CONTROL"))]
    for uri, permission in CANNED.get(acl, ()):
        g = element("Grantee", child("URI", uri))
        g.set(f"{{{XSI}}}type", "Group")
        grants.append(element("Grant", g, child("Permission", permission)))
    return element(
        "AccessControlPolicy",
        element("Owner", child("ID", owner_id(owner)), child("DisplayName", owner)),
        element("AccessControlList", *grants),
    )


async def _requested_acl(ctx: Context) -> str:
    """The ACL of a PUT ?acl: the x-amz-acl header, or a document equal to a canned ACL."""
    body = await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )
    header = ctx.request.headers.get("x-amz-acl")
    if header is not None:
        if body.strip():
            raise errors.UnexpectedContent(
                "This request does not support content when x-amz-acl is given"
            )
        return header
    if not body.strip():
        raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")
    root = parse_xml(body, "AccessControlPolicy")
    acl_list = [c for c in root if strip_ns(c.tag) == "AccessControlList"]
    if len(acl_list) != 1:
        raise errors.MalformedACLError()
    groups = set()
    for grant in acl_list[0]:
        permission = text_of(grant, "Permission")
        grantee = [c for c in grant if strip_ns(c.tag) == "Grantee"]
        if not grantee or permission is None:
            raise errors.MalformedACLError()
        uri = text_of(grantee[0], "URI")
        if uri is not None:
            groups.add((uri, permission))
        elif permission != "FULL_CONTROL":
            raise errors.NotImplementedOp(
                "Grants to individual users are not supported; use a bucket policy."
            )
    for name, implied in CANNED.items():
        if set(implied) == groups:
            return name
    raise errors.NotImplementedOp("Only the grants of a canned ACL are supported.")


async def get_bucket_acl(ctx: Context) -> web.StreamResponse:
    bucket = await ctx.services.objects.require_bucket(ctx.bucket)
    acl = await bucket_acl(ctx.services.objects.meta, ctx.bucket)
    return xml_response(_policy_xml(bucket.owner, acl))


async def put_bucket_acl(ctx: Context) -> web.StreamResponse:
    await ctx.services.objects.require_bucket(ctx.bucket)
    acl = await _requested_acl(ctx)
    await _check_allowed(ctx.services.objects.meta, ctx.bucket, acl)
    await ctx.services.objects.meta.put_bucket_config(ctx.bucket, BUCKET_ACL, acl)
    return web.Response(status=200)


async def get_object_acl(ctx: Context) -> web.StreamResponse:
    obj = await ctx.services.objects.head_object(ctx.bucket, ctx.key, ctx.s3.query.get("versionId"))
    return xml_response(_policy_xml(obj.owner or ctx.user, obj.acl))


async def put_object_acl(ctx: Context) -> web.StreamResponse:
    obj = await ctx.services.objects.head_object(ctx.bucket, ctx.key, ctx.s3.query.get("versionId"))
    acl = await _requested_acl(ctx)
    await _check_allowed(ctx.services.objects.meta, ctx.bucket, acl)
    if not await ctx.services.objects.meta.set_object_acl(ctx.bucket, ctx.key, obj.version_id, acl):
        raise errors.NoSuchKey(Key=ctx.key)
    return web.Response(status=200)


HANDLERS = {
    "GetBucketAcl": get_bucket_acl,
    "PutBucketAcl": put_bucket_acl,
    "GetObjectAcl": get_object_acl,
    "PutObjectAcl": put_object_acl,
}
