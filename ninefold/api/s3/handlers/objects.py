"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from ninefold.api.s3 import errors
from ninefold.api.s3.body import make_check, open_body, plan_body, read_small_body
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.handlers.acl import acl_for_write
from ninefold.api.s3.handlers.object_lock import bypass_governance, lock_for_put, lock_headers
from ninefold.api.s3.headers import (
    STORED_HEADERS,
    ByteRange,
    check_conditions,
    delete_condition,
    encode_meta_value,
    http_date,
    parse_range,
    user_metadata,
    write_condition,
)
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.router import MAX_KEY_BYTES
from ninefold.api.s3.tagging import parse_tagging_header
from ninefold.api.s3.xml import child, children, element, iso8601, parse_xml, text_of
from ninefold.core.errors import DomainError
from ninefold.domain.models import NULL_VERSION, DeleteOutcome, ObjectVersion
from ninefold.domain.objects import PutSpec

__all__ = ["HANDLERS", "copy_source", "put_spec"]

log = logging.getLogger("ninefold.api")

_OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}
MAX_DELETE_KEYS = 1000
#: deletes of one DeleteObjects request in flight at once
DELETE_OBJECTS_CONCURRENCY = 64


def put_spec(ctx: Context, headers: Mapping[str, str]) -> PutSpec:
    stored = {h: headers[h] for h in STORED_HEADERS if h in headers}
    if "content-encoding" in stored:
        # aws-chunked is transfer framing, not a property of the object
        codings = [c.strip() for c in stored["content-encoding"].split(",")]
        codings = [c for c in codings if c and c != "aws-chunked"]
        if codings:
            stored["content-encoding"] = ", ".join(codings)
        else:
            del stored["content-encoding"]
    storage_class = headers.get("x-amz-storage-class", "STANDARD")
    if storage_class not in ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA"):
        raise errors.InvalidStorageClass(StorageClassRequested=storage_class)
    tagging = headers.get("x-amz-tagging")
    return PutSpec(
        content_type=headers.get("content-type") or "binary/octet-stream",
        headers=stored,
        user_meta=user_metadata(headers),
        storage_class=storage_class,
        owner=ctx.account,
        tags=parse_tagging_header(tagging) if tagging is not None else {},
    )


def object_headers(obj: ObjectVersion, *, checksums: bool) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    headers["ETag"] = f'"{obj.etag}"'
    headers["Last-Modified"] = http_date(obj.last_modified)
    headers["Content-Type"] = obj.content_type
    headers["Accept-Ranges"] = "bytes"
    for name, value in obj.headers.items():
        headers[name] = value
    for name, value in obj.user_meta.items():
        headers[f"x-amz-meta-{name}"] = encode_meta_value(value)
    if obj.storage_class != "STANDARD":
        headers["x-amz-storage-class"] = obj.storage_class
    if obj.tags:
        headers["x-amz-tagging-count"] = str(len(obj.tags))
    if checksums:
        for algorithm, value in obj.checksums.items():
            if algorithm == "type":
                headers["x-amz-checksum-type"] = value
            else:
                headers[f"x-amz-checksum-{algorithm}"] = value
    return headers


async def put_object(ctx: Context) -> web.StreamResponse:
    headers = ctx.request.headers
    plan = plan_body(headers, ctx.auth)
    if (
        plan.content_length is None
        and not plan.chunked
        and "chunked" not in headers.get("transfer-encoding", "")
    ):
        raise errors.MissingContentLength()
    declared = plan.decoded_length if plan.chunked else plan.content_length
    if declared is not None and declared > ctx.services.objects.settings.max_put_size_bytes:
        raise errors.EntityTooLarge(
            ProposedSize=str(declared),
            MaxSizeAllowed=str(ctx.services.objects.settings.max_put_size_bytes),
        )
    acl, owner = await acl_for_write(ctx, headers)
    spec = replace(put_spec(ctx, headers), lock=lock_for_put(ctx, headers), acl=acl, owner=owner)
    condition = write_condition(headers)
    body = open_body(ctx.request.content, plan, ctx.auth)
    obj = await ctx.services.objects.put_object(
        ctx.require_bucket(),
        ctx.key,
        body,
        spec,
        plan.algorithms,
        make_check(plan, body),
        condition,
    )
    out = {"ETag": f'"{obj.etag}"'}
    if obj.version_id:
        out["x-amz-version-id"] = obj.version_id
    for algorithm, value in obj.checksums.items():
        if algorithm != "type" and algorithm in plan.declared:
            out[f"x-amz-checksum-{algorithm}"] = value
    return web.Response(status=200, headers=out)


def _part_range(obj: ObjectVersion, part_number: int) -> ByteRange:
    sizes = obj.part_sizes or (obj.size,)
    if part_number > len(sizes):
        raise errors.InvalidPartNumber(
            PartNumberRequested=str(part_number), ActualPartCount=str(len(sizes))
        )
    start = sum(sizes[: part_number - 1])
    return ByteRange(start, sizes[part_number - 1])


def _requested_range(ctx: Context, obj: ObjectVersion) -> tuple[ByteRange | None, int | None]:
    raw_part = ctx.s3.query.get("partNumber")
    if raw_part is None:
        return parse_range(ctx.request.headers.get("range"), obj.size), None
    try:
        part_number = int(raw_part)
    except ValueError:
        part_number = 0
    if not 1 <= part_number <= 10_000:
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw_part,
        )
    if "range" in ctx.request.headers:
        raise errors.InvalidRequest("Cannot specify both Range header and partNumber query.")
    return _part_range(obj, part_number), part_number


async def _head_or_get(ctx: Context, *, with_body: bool) -> web.StreamResponse:
    version_id = ctx.s3.query.get("versionId")
    obj = await ctx.services.objects.head_object(ctx.require_bucket(), ctx.key, version_id)
    try:
        check_conditions(ctx.request.headers, obj.etag, obj.last_modified)
    except errors.NotModified:
        return web.Response(
            status=304,
            headers={"ETag": f'"{obj.etag}"', "Last-Modified": http_date(obj.last_modified)},
        )
    byte_range, part_number = _requested_range(ctx, obj)
    whole = byte_range is None or (part_number is not None and not obj.part_sizes)
    want_checksums = ctx.request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED"
    headers = object_headers(obj, checksums=want_checksums and whole)
    if version_id is not None or obj.version_id != NULL_VERSION:
        headers["x-amz-version-id"] = obj.version_id
    headers.update(lock_headers(obj))
    for param, header in _OVERRIDES.items():
        if param in ctx.s3.query:
            headers[header] = ctx.s3.query[param]
    if part_number is not None and obj.part_sizes:
        headers["x-amz-mp-parts-count"] = str(len(obj.part_sizes))
        if want_checksums and obj.checksums.get("type") == "COMPOSITE":
            # a part of a COMPOSITE object has the checksum its upload gave it
            sums = obj.part_checksums[part_number - 1] if obj.part_checksums else {}
            for algorithm, value in sums.items():
                headers[f"x-amz-checksum-{algorithm}"] = value
                headers["x-amz-checksum-type"] = "COMPOSITE"
    status = 200
    start, length = 0, obj.size
    if byte_range is not None and not whole:
        status = 206
        start, length = byte_range.start, byte_range.length
        headers["Content-Range"] = byte_range.content_range(obj.size)
    if not with_body:
        headers["Content-Length"] = str(length)
        return web.Response(status=status, headers=headers)
    return await _stream(ctx, obj, headers, status, start, length)


async def _stream(
    ctx: Context,
    obj: ObjectVersion,
    headers: CIMultiDict[str],
    status: int,
    start: int,
    length: int,
) -> web.StreamResponse:
    pieces = ctx.services.objects.read(obj, start, length)
    # read the first stripe before answering, so a lost object gets a clean S3 error
    first: bytes | memoryview = b""
    if length:
        first = await anext(pieces)
    if len(first) == length:
        # the whole body in one piece (inline and replicated objects): one plain response,
        # headers and body in a single write, and the common response headers added after
        await anext(pieces, None)  # lets the reader finish (there is nothing more)
        return web.Response(status=status, headers=headers, body=bytes(first))
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = length
    await response.prepare(ctx.request)
    sent = 0
    try:
        if first:
            await response.write(first)
            sent = len(first)
        async for piece in pieces:
            await response.write(piece)
            sent += len(piece)
    except ConnectionError as exc:
        # the client went away (closed or reset its connection): nothing is wrong here
        log.info(
            "GET %s/%s: client went away after %d of %d bytes (request %s): %s",
            ctx.bucket,
            ctx.key,
            sent,
            length,
            ctx.request_id,
            exc,
        )
        if ctx.request.transport is not None:
            ctx.request.transport.abort()
        return response
    except OSError:
        raise
    except Exception:
        # headers are gone: the only honest signal left is to cut the connection short
        log.exception(
            "GET %s/%s failed mid-stream (request %s)", ctx.bucket, ctx.key, ctx.request_id
        )
        if ctx.request.transport is not None:
            ctx.request.transport.abort()
        return response
    await response.write_eof()
    return response


async def get_object(ctx: Context) -> web.StreamResponse:
    return await _head_or_get(ctx, with_body=True)


async def head_object(ctx: Context) -> web.StreamResponse:
    return await _head_or_get(ctx, with_body=False)


async def delete_object(ctx: Context) -> web.StreamResponse:
    outcome = await ctx.services.objects.delete_object(
        ctx.require_bucket(),
        ctx.key,
        ctx.s3.query.get("versionId"),
        ctx.account,
        bypass_governance=await bypass_governance(ctx),
        condition=delete_condition(ctx.request.headers),
    )
    headers = {}
    if outcome.version_id is not None:
        headers["x-amz-version-id"] = outcome.version_id
    if outcome.delete_marker:
        headers["x-amz-delete-marker"] = "true"
    elif outcome.existed and ctx.s3.query.get("versionId") is not None:
        # a version deleted for good answers whether it was a delete marker
        headers["x-amz-delete-marker"] = "false"
    return web.Response(status=204, headers=headers)


async def delete_objects(ctx: Context) -> web.StreamResponse:
    plan = plan_body(ctx.request.headers, ctx.auth)
    body = await read_small_body(ctx.request.content, plan, ctx.auth)
    root = parse_xml(body, "Delete")
    quiet = (text_of(root, "Quiet") or "").strip().lower() == "true"
    targets = [(text_of(o, "Key"), text_of(o, "VersionId")) for o in children(root, "Object")]
    if not targets or len(targets) > MAX_DELETE_KEYS or any(k is None for k, _ in targets):
        raise errors.MalformedXML()
    bucket = ctx.require_bucket()
    bypass = await bypass_governance(ctx)
    # the deletes run concurrently (bounded), so the metadata store commits them in groups
    # instead of one transaction after another; results keep the request's order
    limit = asyncio.Semaphore(DELETE_OBJECTS_CONCURRENCY)

    def invalid(key: str) -> bool:
        return not key or len(key.encode()) > MAX_KEY_BYTES or "\x00" in key

    async def one(key: str, version_id: str | None) -> DeleteOutcome | errors.S3Error:
        if invalid(key):
            return errors.InvalidArgument("Invalid key")
        async with limit:
            try:
                return await ctx.services.objects.delete_object(
                    bucket, key, version_id, ctx.account, bypass_governance=bypass
                )
            except (errors.S3Error, DomainError) as exc:
                return errors.translate(exc, ctx.request_id)

    outcomes = await asyncio.gather(*(one(k or "", v) for k, v in targets))
    result = element("DeleteResult")
    for (key, version_id), outcome in zip(targets, outcomes, strict=True):
        assert key is not None
        if isinstance(outcome, errors.S3Error):
            result.append(
                element(
                    "Error",
                    child("Key", key),
                    *([child("VersionId", version_id)] if version_id and not invalid(key) else []),
                    child("Code", outcome.code),
                    child("Message", outcome.message),
                )
            )
            continue
        if quiet:
            continue
        deleted = element("Deleted", child("Key", key))
        if version_id is not None:
            deleted.append(child("VersionId", version_id))
        if outcome.delete_marker:
            deleted.append(child("DeleteMarker", "true"))
            if outcome.version_id is not None:
                deleted.append(child("DeleteMarkerVersionId", outcome.version_id))
        result.append(deleted)
    return xml_response(result)


def copy_source(ctx: Context) -> tuple[str, str, str | None]:
    raw = ctx.request.headers["x-amz-copy-source"]
    path, _, query = raw.partition("?")
    if query and not query.startswith("versionId="):
        raise errors.InvalidArgument("Invalid copy source.", ArgumentName="x-amz-copy-source")
    version = unquote(query.removeprefix("versionId=")) if query else None
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        raise errors.InvalidArgument("Invalid copy source encoding.") from None
    bucket, _, key = decoded.lstrip("/").partition("/")
    if not bucket or not key:
        raise errors.InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=raw,
        )
    return bucket, key, version


async def copy_object(ctx: Context) -> web.StreamResponse:
    src_bucket, src_key, src_version = copy_source(ctx)
    headers = ctx.request.headers
    source = await ctx.services.objects.head_object(
        await ctx.bucket_named(src_bucket), src_key, src_version
    )
    check_conditions(headers, source.etag, source.last_modified, prefix="x-amz-copy-source-")
    directive = headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument(
            "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive"
        )
    tagging_directive = headers.get("x-amz-tagging-directive", "COPY").upper()
    if tagging_directive not in ("COPY", "REPLACE"):
        raise errors.InvalidArgument(
            "Unknown tagging directive.", ArgumentName="x-amz-tagging-directive"
        )
    if directive == "REPLACE":
        spec = put_spec(ctx, headers)
    else:
        spec = PutSpec(
            content_type=source.content_type,
            headers=source.headers,
            user_meta=source.user_meta,
            storage_class=headers.get("x-amz-storage-class", source.storage_class),
            owner=ctx.account,
        )
    tagging = headers.get("x-amz-tagging")
    acl, owner = await acl_for_write(ctx, headers)
    spec = replace(
        spec,
        lock=lock_for_put(ctx, headers),
        acl=acl,
        owner=owner,
        tags=source.tags
        if tagging_directive == "COPY"
        else (parse_tagging_header(tagging) if tagging is not None else {}),
    )
    if (
        (src_bucket, src_key) == (ctx.bucket, ctx.key)
        and directive == "COPY"
        and (spec.storage_class == source.storage_class)
    ):
        raise errors.InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes."
        )
    obj = await ctx.services.objects.copy_object(
        source, ctx.require_bucket(), ctx.key, spec, write_condition(ctx.request.headers)
    )
    result = element(
        "CopyObjectResult",
        child("LastModified", iso8601(obj.last_modified)),
        child("ETag", f'"{obj.etag}"'),
    )
    for algorithm, value in obj.checksums.items():
        if algorithm != "type":
            result.append(child(f"Checksum{algorithm.upper()}", value))
    response = xml_response(result)
    if src_version is not None or source.version_id != NULL_VERSION:
        response.headers["x-amz-copy-source-version-id"] = source.version_id
    if obj.version_id:
        response.headers["x-amz-version-id"] = obj.version_id
    return response


HANDLERS = {
    Operation.PutObject: put_object,
    Operation.GetObject: get_object,
    Operation.HeadObject: head_object,
    Operation.DeleteObject: delete_object,
    Operation.DeleteObjects: delete_objects,
    Operation.CopyObject: copy_object,
}
