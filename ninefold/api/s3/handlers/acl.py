"""ACLs: x-amz-acl and x-amz-grant-* on writes, Get/PutBucketAcl, Get/PutObjectAcl.

An ACL is a canned name or a list of grants to accounts (by canonical user id) and to the
groups AllUsers, AuthenticatedUsers and LogDelivery; grants by e-mail address are
NotImplemented. ``ninefold.domain.acl`` keeps and evaluates them; this module reads them from
headers and AccessControlPolicy documents and renders them. OwnershipControls
BucketOwnerEnforced disables ACLs (AccessControlListNotSupported) and a PublicAccessBlock
refuses (BlockPublicAcls) or ignores (IgnorePublicAcls) public ones.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.body import plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, element, parse_xml, strip_ns, text_of
from ninefold.domain.acl import PERMISSIONS, Grant, GrantSpec, build_acl, grants_of
from ninefold.domain.buckets import Bucket
from ninefold.domain.iam import account_of, canonical_id

__all__ = ["HANDLERS", "acl_for_write", "requested_acl"]

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("xsi", XSI)

#: x-amz-grant-* header -> permission, in the order grants are listed
GRANT_HEADERS = {
    "x-amz-grant-full-control": "FULL_CONTROL",
    "x-amz-grant-write": "WRITE",
    "x-amz-grant-write-acp": "WRITE_ACP",
    "x-amz-grant-read": "READ",
    "x-amz-grant-read-acp": "READ_ACP",
}
_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"([^"]*)"\s*(?:,|$)', re.IGNORECASE)
_XSI_TYPES = {"CanonicalUser": "id", "Group": "uri", "AmazonCustomerByEmail": "emailAddress"}


def _header_specs(headers: Mapping[str, str]) -> list[GrantSpec] | None:
    """The grants of the x-amz-grant-* headers (None: there are none); InvalidRequest with
    x-amz-acl as well, InvalidArgument for a value that is not ``type="value", ...``."""
    present = [h for h in GRANT_HEADERS if h in headers]
    if not present:
        return None
    if "x-amz-acl" in headers:
        raise errors.InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed")
    specs = []
    for header in present:
        value = headers[header]
        pos = 0
        while pos < len(value):
            match = _GRANTEE.match(value, pos)
            if match is None or match.end() == pos:
                raise errors.InvalidArgument(
                    "Invalid grant header", ArgumentName=header, ArgumentValue=value
                )
            kind = {"id": "id", "uri": "uri"}.get(match[1].lower(), "emailAddress")
            specs.append(GrantSpec(kind, match[2], GRANT_HEADERS[header]))
            pos = match.end()
        if not value.strip():
            raise errors.InvalidArgument(
                "Invalid grant header", ArgumentName=header, ArgumentValue=value
            )
    return specs


async def acl_for_write(ctx: Context, headers: Mapping[str, str]) -> tuple[str, str]:
    """The ACL (stored text) a PutObject/CopyObject/CreateMultipartUpload asks for (default
    private) and the account that will own the object, checked against the bucket's
    ownership controls and public access block."""
    bucket = ctx.require_bucket()
    acl = headers.get("x-amz-acl", "private")
    owner = ctx.services.buckets.object_owner(bucket, ctx.account, acl)
    specs = _header_specs(headers)
    if specs is not None:
        acl = await build_acl(specs, ctx.services.iam, owner)
    ctx.services.buckets.check_acl(bucket, acl)
    return acl, owner


async def requested_acl(ctx: Context, headers: Mapping[str, str], owner: str) -> str | None:
    """The ACL a CreateBucket asks for with x-amz-acl or x-amz-grant-* (None: private)."""
    specs = _header_specs(headers)
    if specs is not None:
        return await build_acl(specs, ctx.services.iam, owner)
    return headers.get("x-amz-acl")


async def _policy_xml(ctx: Context, owner: str, grants: tuple[Grant, ...]) -> ET.Element:
    accounts = {owner} | {g.grantee for g in grants if g.kind == "account"}
    await ctx.services.iam.resolve_names(accounts)
    name = ctx.services.iam.display_name

    def owner_el(tag: str, account: str) -> ET.Element:
        return element(tag, child("ID", canonical_id(account)), child("DisplayName", name(account)))

    out = []
    for grant in grants:
        if grant.kind == "account":
            grantee = owner_el("Grantee", grant.grantee)
            grantee.set(f"{{{XSI}}}type", "CanonicalUser")
        else:
            grantee = element("Grantee", child("URI", grant.grantee))
            grantee.set(f"{{{XSI}}}type", "Group")
        out.append(element("Grant", grantee, child("Permission", grant.permission)))
    return element(
        "AccessControlPolicy", owner_el("Owner", owner), element("AccessControlList", *out)
    )


def _document_specs(body: bytes) -> list[GrantSpec]:
    """The grants of an AccessControlPolicy document; MalformedACLError when it is not one."""
    root = parse_xml(body, "AccessControlPolicy")
    acl_list = [c for c in root if strip_ns(c.tag) == "AccessControlList"]
    if len(acl_list) != 1:
        raise errors.MalformedACLError()
    specs = []
    for grant in acl_list[0]:
        if strip_ns(grant.tag) != "Grant":
            raise errors.MalformedACLError()
        permission = text_of(grant, "Permission")
        grantees = [c for c in grant if strip_ns(c.tag) == "Grantee"]
        if len(grantees) != 1 or permission not in PERMISSIONS:
            raise errors.MalformedACLError()
        grantee = grantees[0]
        kind = _XSI_TYPES.get(grantee.get(f"{{{XSI}}}type", ""))
        if kind is None:
            raise errors.MalformedACLError()
        value = text_of(grantee, {"id": "ID", "uri": "URI"}.get(kind, "EmailAddress"))
        if not value:
            raise errors.MalformedACLError()
        assert permission is not None
        specs.append(GrantSpec(kind, value.strip(), permission))
    return specs


async def _put_acl(ctx: Context, owner: str) -> str:
    """The ACL of a PUT ?acl: x-amz-acl, x-amz-grant-* headers, or an AccessControlPolicy
    document (not more than one of them)."""
    body = await read_small_body(
        ctx.request.content, plan_body(ctx.request.headers, ctx.auth), ctx.auth
    )
    headers = ctx.request.headers
    specs = _header_specs(headers)
    if specs is not None or "x-amz-acl" in headers:
        if body.strip():
            raise errors.UnexpectedContent(
                "This request does not support content when x-amz-acl or x-amz-grant-* is given"
            )
        if specs is None:
            return headers["x-amz-acl"]
    else:
        if not body.strip():
            raise errors.MissingSecurityHeader(MissingHeaderName="x-amz-acl")
        specs = _document_specs(body)
    return await build_acl(specs, ctx.services.iam, owner)


def _bucket_grants(bucket: Bucket) -> tuple[str, tuple[Grant, ...]]:
    owner = account_of(bucket.owner)
    if bucket.settings.acls_disabled:
        return owner, grants_of("private", owner)
    return owner, grants_of(bucket.settings.acl, owner)


async def get_bucket_acl(ctx: Context) -> web.StreamResponse:
    owner, grants = _bucket_grants(ctx.require_bucket())
    return xml_response(await _policy_xml(ctx, owner, grants))


async def put_bucket_acl(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    await ctx.services.buckets.set_acl(bucket, await _put_acl(ctx, account_of(bucket.owner)))
    return web.Response(status=200)


async def get_object_acl(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    obj = await ctx.services.objects.head_object(bucket, ctx.key, ctx.s3.query.get("versionId"))
    bucket_owner = account_of(bucket.owner)
    if bucket.settings.acls_disabled:
        # reading ACLs of a bucket without them shows the bucket owner's full control
        return xml_response(
            await _policy_xml(ctx, bucket_owner, grants_of("private", bucket_owner))
        )
    owner = account_of(obj.owner) if obj.owner else bucket_owner
    return xml_response(await _policy_xml(ctx, owner, grants_of(obj.acl, owner, bucket_owner)))


async def put_object_acl(ctx: Context) -> web.StreamResponse:
    bucket = ctx.require_bucket()
    obj = await ctx.services.objects.head_object(bucket, ctx.key, ctx.s3.query.get("versionId"))
    owner = account_of(obj.owner) if obj.owner else account_of(bucket.owner)
    acl = await _put_acl(ctx, owner)
    ctx.services.buckets.check_acl(bucket, acl)
    await ctx.services.objects.set_acl(obj, acl)
    return web.Response(status=200)


HANDLERS = {
    Operation.GetBucketAcl: get_bucket_acl,
    Operation.PutBucketAcl: put_bucket_acl,
    Operation.GetObjectAcl: get_object_acl,
    Operation.PutObjectAcl: put_object_acl,
}
