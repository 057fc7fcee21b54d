"""ListObjects (v1), ListObjectsV2 and ListObjectVersions."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from aiohttp import web

from ninefold.api.s3 import errors
from ninefold.api.s3.context import Context, owner_id, xml_response
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, element, escape, iso8601, leaf
from ninefold.domain.models import ListPage

__all__ = ["HANDLERS", "parse_max"]

MAX_KEYS = 1000


def parse_max(query: dict[str, str], name: str, default: int = MAX_KEYS) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.InvalidArgument(
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=raw,
        ) from None
    if value < 0:
        raise errors.InvalidArgument(
            f"Argument {name} must be an integer between 0 and 2147483647",
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return min(value, default)


def _encoder(query: dict[str, str]) -> tuple[str | None, object]:
    encoding = query.get("encoding-type")
    if encoding is None:
        return None, lambda s: s
    if encoding != "url":
        raise errors.InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=encoding,
        )
    return "url", lambda s: quote(s, safe="/")


async def _entries(ctx: Context, page: ListPage, enc: object, fetch_owner: bool) -> list[str]:
    """The page's Contents and CommonPrefixes, rendered as ElementTree would render them
    (``xml.leaf``/``xml.escape``): one format per entry, the hot loop of a listing."""
    assert callable(enc)
    out: list[str] = []
    if fetch_owner:
        await ctx.services.iam.resolve_names({e[5] for e in page.entries})
    name = ctx.services.iam.display_name
    for key, size, etag, last_modified, storage_class, owner, algorithms in page.entries:
        who = (
            f"<Owner>{leaf('ID', owner_id(owner))}{leaf('DisplayName', name(owner))}</Owner>"
            if fetch_owner
            else ""
        )
        checksums = _ALGORITHM_TAGS.get(algorithms)
        if checksums is None:
            checksums = "".join(leaf("ChecksumAlgorithm", a.upper()) for a in algorithms)
            _ALGORITHM_TAGS[algorithms] = checksums
        out.append(
            f"<Contents><Key>{escape(enc(key))}</Key><LastModified>{iso8601(last_modified)}"
            f'</LastModified><ETag>"{escape(etag)}"</ETag>{checksums}<Size>{size}</Size>'
            f"<StorageClass>{escape(storage_class)}</StorageClass>{who}</Contents>"
        )
    out.extend(
        f"<CommonPrefixes>{leaf('Prefix', enc(p))}</CommonPrefixes>" for p in page.common_prefixes
    )
    return out


#: rendered ChecksumAlgorithm elements by algorithm tuple (a handful of combinations)
_ALGORITHM_TAGS: dict[tuple[str, ...], str] = {}


async def list_objects_v2(ctx: Context) -> web.StreamResponse:
    q = ctx.s3.query
    encoding, enc = _encoder(q)
    assert callable(enc)
    max_keys = parse_max(q, "max-keys")
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    token = q.get("continuation-token")
    start_after = q.get("start-after", "")
    after = start_after
    if token is not None:
        try:
            after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            raise errors.InvalidArgument(
                "The continuation token provided is incorrect",
                ArgumentName="continuation-token",
            ) from None
    page = await ctx.services.objects.list_objects(
        ctx.require_bucket(), prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
    )
    root = element(
        "ListBucketResult",
        child("Name", ctx.bucket),
        child("Prefix", enc(prefix)),
        child("Delimiter", enc(delimiter)) if delimiter else None,
        child("MaxKeys", max_keys),
        child("EncodingType", encoding) if encoding else None,
        child("KeyCount", len(page.entries) + len(page.common_prefixes)),
        child("IsTruncated", page.is_truncated),
        child("ContinuationToken", token) if token is not None else None,
        child("StartAfter", enc(start_after)) if start_after else None,
    )
    if page.is_truncated and page.next_marker is not None:
        next_token = base64.urlsafe_b64encode(page.next_marker.encode()).decode()
        root.append(child("NextContinuationToken", next_token))
    return xml_response(root, tail=await _entries(ctx, page, enc, q.get("fetch-owner") == "true"))


async def list_objects_v1(ctx: Context) -> web.StreamResponse:
    q = ctx.s3.query
    encoding, enc = _encoder(q)
    assert callable(enc)
    max_keys = parse_max(q, "max-keys")
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    marker = q.get("marker", "")
    page = await ctx.services.objects.list_objects(
        ctx.require_bucket(), prefix=prefix, delimiter=delimiter, after=marker, max_keys=max_keys
    )
    root = element(
        "ListBucketResult",
        child("Name", ctx.bucket),
        child("Prefix", enc(prefix)),
        child("Marker", enc(marker)),
        child("MaxKeys", max_keys),
        child("Delimiter", enc(delimiter)) if delimiter else None,
        child("EncodingType", encoding) if encoding else None,
        child("IsTruncated", page.is_truncated),
    )
    if page.is_truncated and page.next_marker is not None:
        root.append(child("NextMarker", enc(page.next_marker)))
    return xml_response(root, tail=await _entries(ctx, page, enc, True))


async def list_object_versions(ctx: Context) -> web.StreamResponse:
    q = ctx.s3.query
    encoding, enc = _encoder(q)
    assert callable(enc)
    max_keys = parse_max(q, "max-keys")
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    key_marker = q.get("key-marker", "")
    version_marker = q.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise errors.InvalidArgument(
            "A version-id marker cannot be specified without a key marker.",
            ArgumentName="version-id-marker",
        )
    page = await ctx.services.objects.list_versions(
        ctx.require_bucket(),
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        version_id_marker=version_marker,
        max_keys=max_keys,
    )
    root = element(
        "ListVersionsResult",
        child("Name", ctx.bucket),
        child("Prefix", enc(prefix)),
        child("KeyMarker", enc(key_marker)),
        child("VersionIdMarker", version_marker),
        child("MaxKeys", max_keys),
        child("Delimiter", enc(delimiter)) if delimiter else None,
        child("EncodingType", encoding) if encoding else None,
        child("IsTruncated", page.is_truncated),
    )
    if page.is_truncated:
        root.append(child("NextKeyMarker", enc(page.next_key_marker or "")))
        if page.next_version_id_marker is not None:
            root.append(child("NextVersionIdMarker", page.next_version_id_marker))
    await ctx.services.iam.resolve_names({v.owner for v in page.versions})
    name = ctx.services.iam.display_name
    for v in page.versions:
        owner = element(
            "Owner", child("ID", owner_id(v.owner)), child("DisplayName", name(v.owner))
        )
        if v.is_delete_marker:
            root.append(
                element(
                    "DeleteMarker",
                    child("Key", enc(v.key)),
                    child("VersionId", v.version_id),
                    child("IsLatest", v.is_latest),
                    child("LastModified", iso8601(v.last_modified)),
                    owner,
                )
            )
        else:
            root.append(
                element(
                    "Version",
                    child("Key", enc(v.key)),
                    child("VersionId", v.version_id),
                    child("IsLatest", v.is_latest),
                    child("LastModified", iso8601(v.last_modified)),
                    child("ETag", f'"{v.etag}"'),
                    child("Size", v.size),
                    child("StorageClass", v.storage_class),
                    owner,
                )
            )
    root.extend(element("CommonPrefixes", child("Prefix", enc(p))) for p in page.common_prefixes)
    return xml_response(root)


HANDLERS = {
    Operation.ListObjectsV2: list_objects_v2,
    Operation.ListObjects: list_objects_v1,
    Operation.ListObjectVersions: list_object_versions,
}
