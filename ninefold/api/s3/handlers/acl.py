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

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, owner_id, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, element, parse_xml, strip_ns, text_of
from ninefold.domain.acl import CANNED, canned_for_grants

__all__ = ["HANDLERS", "acl_for_write"]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("xsi", XSI)


def acl_for_write(ctx: Context, headers: Mapping[str, str]) -> str:
    """The canned ACL a PutObject/CopyObject/CreateMultipartUpload asks for (default private),
    checked against the bucket's ownership controls and public access block."""
    acl = headers.get("x-amz-acl", "private")
    ctx.services.buckets.check_acl(ctx.require_bucket(), acl)
    return acl


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
    name = canned_for_grants(groups)
    if name is None:
        raise errors.NotImplementedOp("Only the grants of a canned ACL are supported.")
    return name


async def get_bucket_acl(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    return xml_response(_policy_xml(bucket.owner, bucket.settings.acl))


async def put_bucket_acl(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    await ctx.services.buckets.set_acl(bucket, await _requested_acl(ctx))
    return web.Response(status=200)


async def get_object_acl(ctx: Context) -> web.StreamResponse:
    obj = await ctx.services.objects.head_object(
        ctx.require_bucket(), ctx.key, ctx.s3.query.get("versionId")
    )
    return xml_response(_policy_xml(obj.owner or ctx.user, obj.acl))


async def put_object_acl(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    obj = await ctx.services.objects.head_object(bucket, ctx.key, ctx.s3.query.get("versionId"))
    acl = await _requested_acl(ctx)
    ctx.services.buckets.check_acl(bucket, acl)
    await ctx.services.objects.set_acl(obj, acl)
    return web.Response(status=200)


HANDLERS = {
    Operation.GetBucketAcl: get_bucket_acl,
    Operation.PutBucketAcl: put_bucket_acl,
    Operation.GetObjectAcl: get_object_acl,
    Operation.PutObjectAcl: put_object_acl,
}
