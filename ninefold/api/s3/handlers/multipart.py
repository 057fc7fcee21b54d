"""Multipart uploads: create, upload part (and part copy), complete, abort, list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from aiohttp import web
from multidict import CIMultiDict

from ninefold.api.s3 import errors
from ninefold.api.s3.body import (
    checksum_headers,
    make_check,
    open_body,
    plan_body,
    read_small_body,
)
from ninefold.api.s3.context import Context, owner_id, xml_response
from ninefold.api.s3.handlers.acl import acl_for_write
from ninefold.api.s3.handlers.listing import parse_max
from ninefold.api.s3.handlers.object_lock import lock_for_put
from ninefold.api.s3.handlers.objects import copy_source, put_spec
from ninefold.api.s3.headers import check_conditions, write_condition
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, children, element, iso8601, parse_xml, text_of
from ninefold.core.checksums import ALGORITHMS, MultiHasher
from ninefold.domain.models import Upload, prefix_successor
from ninefold.domain.multipart import CompleteChecks, checksum_type_of

__all__ = ["HANDLERS"]


def _part_number(ctx: Context) -> int:
    raw = ctx.s3.query.get("partNumber", "")
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if not 1 <= number <= 10_000:
        raise errors.InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw,
        )
    return number


async def _upload(ctx: Context) -> Upload:
    return await ctx.services.multipart.require_upload(
        ctx.require_bucket(), ctx.key, ctx.s3.query.get("uploadId", "")
    )


async def create_upload(ctx: Context) -> web.StreamResponse:
    headers = ctx.request.headers
    algorithm = headers.get("x-amz-checksum-algorithm", "").lower()
    if algorithm and algorithm not in ALGORITHMS:
        raise errors.InvalidRequest("Checksum algorithm provided is unsupported.")
    checksum_type = headers.get("x-amz-checksum-type", "").strip().upper()
    acl, owner = await acl_for_write(ctx, headers)
    spec = replace(put_spec(ctx, headers), lock=lock_for_put(ctx, headers), acl=acl, owner=owner)
    upload = await ctx.services.multipart.create(
        ctx.require_bucket(), ctx.key, spec, algorithm, checksum_type
    )
    root = element(
        "InitiateMultipartUploadResult",
        child("Bucket", ctx.bucket),
        child("Key", ctx.key),
        child("UploadId", upload.upload_id),
    )
    response = xml_response(root)
    if algorithm:
        response.headers["x-amz-checksum-algorithm"] = algorithm.upper()
        response.headers["x-amz-checksum-type"] = upload.checksum_type
    return response


async def upload_part(ctx: Context) -> web.StreamResponse:
    number = _part_number(ctx)
    upload = await _upload(ctx)
    plan = plan_body(ctx.request.headers, ctx.auth)
    if (
        plan.content_length is None
        and not plan.chunked
        and "chunked" not in (ctx.request.headers.get("transfer-encoding", ""))
    ):
        raise errors.MissingContentLength()
    ctx.services.multipart.check_part_checksums(upload, plan.declared)
    body = open_body(ctx.request.content, plan, ctx.auth)
    algorithms = plan.algorithms
    if upload.checksum_algorithm and upload.checksum_algorithm not in algorithms:
        algorithms = (*algorithms, upload.checksum_algorithm)
    declared_check = make_check(plan, body)

    def check(hasher: MultiHasher) -> dict[str, str]:
        stored = declared_check(hasher)
        if upload.checksum_algorithm and upload.checksum_algorithm not in stored:
            stored[upload.checksum_algorithm] = hasher.checksums_b64()[upload.checksum_algorithm]
        return stored

    part = await ctx.services.multipart.upload_part(upload, number, body, algorithms, check)
    out = {"ETag": f'"{part.etag}"'}
    for algorithm, value in part.checksums.items():
        if algorithm in plan.declared or algorithm == upload.checksum_algorithm:
            out[f"x-amz-checksum-{algorithm}"] = value
    return web.Response(status=200, headers=out)


def _copy_range(raw: str | None, size: int) -> tuple[int, int]:
    if raw is None:
        return 0, size
    first, dash, last = raw.removeprefix("bytes=").partition("-")
    try:
        start, end = int(first), int(last)
    except ValueError:
        start, end = -1, -1
    if not raw.startswith("bytes=") or not dash or start < 0 or start > end:
        # as S3: a malformed range is an InvalidArgument (400), only one past the source's
        # end is unsatisfiable
        raise errors.InvalidArgument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=raw,
        )
    if end >= size:
        raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=raw)
    return start, end - start + 1


async def upload_part_copy(ctx: Context) -> web.StreamResponse:
    number = _part_number(ctx)
    upload = await _upload(ctx)
    src_bucket, src_key, src_version = copy_source(ctx)
    source = await ctx.services.objects.head_object(
        await ctx.bucket_named(src_bucket), src_key, src_version
    )
    check_conditions(
        ctx.request.headers, source.etag, source.last_modified, prefix="x-amz-copy-source-"
    )
    start, length = _copy_range(ctx.request.headers.get("x-amz-copy-source-range"), source.size)
    part = await ctx.services.multipart.upload_part_copy(upload, number, source, start, length)
    result = element(
        "CopyPartResult",
        child("LastModified", iso8601(part.last_modified)),
        child("ETag", f'"{part.etag}"'),
    )
    for algorithm, value in part.checksums.items():
        result.append(child(f"Checksum{algorithm.upper()}", value))
    return xml_response(result)


def _complete_checks(headers: Mapping[str, str]) -> CompleteChecks:
    """The object checksum, checksum type and size a CompleteMultipartUpload states."""
    stated = checksum_headers(headers)
    if len(stated) > 1:
        raise errors.InvalidRequest("Expecting a single x-amz-checksum- header.")
    checksum_type = headers.get("x-amz-checksum-type", "").strip().upper()
    if checksum_type and checksum_type not in ("COMPOSITE", "FULL_OBJECT"):
        raise errors.InvalidRequest("Value for x-amz-checksum-type header is invalid.")
    size_text = headers.get("x-amz-mp-object-size")
    size = None
    if size_text is not None:
        try:
            size = int(size_text)
        except ValueError:
            size = -1
        if size < 0:
            raise errors.InvalidArgument(
                "x-amz-mp-object-size must be a non-negative integer.",
                ArgumentName="x-amz-mp-object-size",
                ArgumentValue=size_text,
            )
    return CompleteChecks(
        checksum=next(iter(stated.items()), None), checksum_type=checksum_type, object_size=size
    )


async def complete_upload(ctx: Context) -> web.StreamResponse:
    upload = await ctx.services.multipart.upload_to_complete(
        ctx.require_bucket(), ctx.key, ctx.s3.query.get("uploadId", "")
    )
    expected = _complete_checks(ctx.request.headers)
    # the x-amz-checksum-* headers of a completion are the object's, not the XML body's (whose
    # own checksum can only come as an aws-chunked trailer)
    object_headers = ("x-amz-checksum-", "x-amz-sdk-checksum-algorithm")
    trailer = "x-amz-trailer" in ctx.request.headers
    body_headers = CIMultiDict(
        (name, value)
        for name, value in ctx.request.headers.items()
        if not name.lower().startswith(object_headers[0])
        and (trailer or name.lower() != object_headers[1])
    )
    plan = plan_body(body_headers, ctx.auth)
    body = await read_small_body(ctx.request.content, plan, ctx.auth)
    root = parse_xml(body, "CompleteMultipartUpload")
    requested: list[tuple[int, str, dict[str, str]]] = []
    for part in children(root, "Part"):
        number_text, etag = text_of(part, "PartNumber"), text_of(part, "ETag")
        if number_text is None or etag is None:
            raise errors.MalformedXML()
        try:
            number = int(number_text)
        except ValueError:
            raise errors.MalformedXML() from None
        sums = {}
        for algorithm in ALGORITHMS:
            value = text_of(part, f"Checksum{algorithm.upper()}")
            if value:
                sums[algorithm] = value
        requested.append((number, etag, sums))
    obj = await ctx.services.multipart.complete(
        upload, requested, write_condition(ctx.request.headers), expected=expected
    )
    result = element(
        "CompleteMultipartUploadResult",
        child("Location", f"/{ctx.bucket}/{ctx.key}"),
        child("Bucket", ctx.bucket),
        child("Key", ctx.key),
        child("ETag", f'"{obj.etag}"'),
    )
    for algorithm, value in obj.checksums.items():
        if algorithm == "type":
            result.append(child("ChecksumType", value))
        else:
            result.append(child(f"Checksum{algorithm.upper()}", value))
    response = xml_response(result)
    if obj.version_id:
        response.headers["x-amz-version-id"] = obj.version_id
    return response


async def abort_upload(ctx: Context) -> web.StreamResponse:
    upload = await _upload(ctx)
    await ctx.services.multipart.abort(upload)
    return web.Response(status=204)


async def list_parts(ctx: Context) -> web.StreamResponse:
    upload = await _upload(ctx)
    max_parts = parse_max(ctx.s3.query, "max-parts")
    marker_raw = ctx.s3.query.get("part-number-marker", "0") or "0"
    try:
        marker = int(marker_raw)
    except ValueError:
        raise errors.InvalidArgument(
            "Invalid part-number-marker.", ArgumentName="part-number-marker"
        ) from None
    parts = await ctx.services.multipart.list_parts(upload, after=marker, max_parts=max_parts + 1)
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    await ctx.services.iam.resolve_names({upload.owner})
    name = ctx.services.iam.display_name
    root = element(
        "ListPartsResult",
        child("Bucket", ctx.bucket),
        child("Key", ctx.key),
        child("UploadId", upload.upload_id),
        element(
            "Initiator",
            child("ID", owner_id(upload.owner)),
            child("DisplayName", name(upload.owner)),
        ),
        element(
            "Owner", child("ID", owner_id(upload.owner)), child("DisplayName", name(upload.owner))
        ),
        child("StorageClass", upload.storage_class),
        child("PartNumberMarker", marker),
        child("NextPartNumberMarker", parts[-1].part_number if parts else marker),
        child("MaxParts", max_parts),
        child("IsTruncated", truncated),
    )
    if upload.checksum_algorithm:
        root.append(child("ChecksumAlgorithm", upload.checksum_algorithm.upper()))
        root.append(child("ChecksumType", checksum_type_of(upload)))
    for p in parts:
        item = element(
            "Part",
            child("PartNumber", p.part_number),
            child("LastModified", iso8601(p.last_modified)),
            child("ETag", f'"{p.etag}"'),
            child("Size", p.size),
        )
        for algorithm, value in p.checksums.items():
            item.append(child(f"Checksum{algorithm.upper()}", value))
        root.append(item)
    return xml_response(root)


async def _uploads_page(
    ctx: Context, prefix: str, delimiter: str, key_marker: str, id_marker: str, limit: int
) -> tuple[list[Upload], list[str], bool]:
    """Uploads and common prefixes after the markers, at most ``limit`` of them together."""
    uploads: list[Upload] = []
    prefixes: list[str] = []
    while True:
        batch = await ctx.services.multipart.list_uploads(
            ctx.require_bucket(),
            prefix=prefix,
            key_marker=key_marker,
            upload_id_marker=id_marker,
            max_uploads=limit + 1,
        )
        if not batch:
            return uploads, prefixes, False
        for upload in batch:
            if len(uploads) + len(prefixes) >= limit:
                return uploads, prefixes, True
            cut = upload.key.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = upload.key[: cut + len(delimiter)]
                prefixes.append(common)
                successor = prefix_successor(common)
                if successor is None:
                    return uploads, prefixes, False
                # skip every upload under this prefix: continue from its successor
                key_marker, id_marker = successor, ""
                break
            uploads.append(upload)
            key_marker, id_marker = upload.key, upload.upload_id
        else:
            if len(batch) <= limit:
                return uploads, prefixes, False


async def list_uploads(ctx: Context) -> web.StreamResponse:
    q = ctx.s3.query
    max_uploads = parse_max(q, "max-uploads")
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    key_marker = q.get("key-marker", "")
    id_marker = q.get("upload-id-marker", "") if key_marker else ""
    start_key, start_id = key_marker, id_marker
    if key_marker and not id_marker:
        # a key marker alone means: uploads of keys after it
        start_key, start_id = key_marker + "\x00", ""
    uploads, prefixes, truncated = await _uploads_page(
        ctx, prefix, delimiter, start_key, start_id, max_uploads
    )
    root = element(
        "ListMultipartUploadsResult",
        child("Bucket", ctx.bucket),
        child("KeyMarker", key_marker),
        child("UploadIdMarker", id_marker),
        child("NextKeyMarker", uploads[-1].key if uploads else ""),
        child("NextUploadIdMarker", uploads[-1].upload_id if uploads else ""),
        child("Delimiter", delimiter) if delimiter else None,
        child("Prefix", prefix),
        child("MaxUploads", max_uploads),
        child("IsTruncated", truncated),
    )
    await ctx.services.iam.resolve_names({u.owner for u in uploads})
    name = ctx.services.iam.display_name
    for u in uploads:
        root.append(
            element(
                "Upload",
                child("Key", u.key),
                child("UploadId", u.upload_id),
                element(
                    "Initiator", child("ID", owner_id(u.owner)), child("DisplayName", name(u.owner))
                ),
                element(
                    "Owner", child("ID", owner_id(u.owner)), child("DisplayName", name(u.owner))
                ),
                child("StorageClass", u.storage_class),
                child("Initiated", iso8601(u.created_at)),
            )
        )
    root.extend(element("CommonPrefixes", child("Prefix", p)) for p in prefixes)
    return xml_response(root)


HANDLERS = {
    Operation.CreateMultipartUpload: create_upload,
    Operation.UploadPart: upload_part,
    Operation.UploadPartCopy: upload_part_copy,
    Operation.CompleteMultipartUpload: complete_upload,
    Operation.AbortMultipartUpload: abort_upload,
    Operation.ListParts: list_parts,
    Operation.ListMultipartUploads: list_uploads,
}
