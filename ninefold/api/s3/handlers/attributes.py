"""GetObjectAttributes: what HeadObject and ListParts would say about a version, in one document.

Only the attributes named in ``x-amz-object-attributes`` are returned. The ETag has no quotes
here (unlike every header). ``ObjectParts`` exists for multipart objects only; their parts are
numbered 1..N in the order they were completed (as ``GetObject?partNumber`` counts them) and
listed with their sizes, paginated by ``x-amz-max-parts`` and ``x-amz-part-number-marker``
(values that are not numbers are ignored, as S3 does).

Checksums of multipart objects follow S3: a COMPOSITE checksum is given without its ``-N``
suffix (HEAD and GET keep it), and its parts are listed with their checksums; a FULL_OBJECT
object's ``ObjectParts`` carries only ``PartsCount`` (its part checksums are not what its
checksum is made of). A multipart object without a checksum lists its parts with their sizes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aiohttp import web
from multidict import MultiMapping

from ninefold.api.s3 import errors
from ninefold.api.s3.context import Context, xml_response
from ninefold.api.s3.headers import http_date
from ninefold.api.s3.operations import Operation
from ninefold.api.s3.xml import child, element
from ninefold.domain.models import NULL_VERSION, ObjectVersion

__all__ = ["ATTRIBUTES", "HANDLERS", "requested_attributes"]

ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")
DEFAULT_MAX_PARTS = 1000
HEADER = "x-amz-object-attributes"


def requested_attributes(headers: MultiMapping[str]) -> set[str]:
    """The names in ``x-amz-object-attributes`` (comma-separated; the header may repeat)."""
    names = [n.strip() for v in headers.getall(HEADER, []) for n in v.split(",") if n.strip()]
    if not names:
        raise errors.InvalidRequest(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is "
            "either missing or empty"
        )
    for name in names:
        if name not in ATTRIBUTES:
            raise errors.InvalidArgument(
                "Invalid attribute name specified.", ArgumentName=HEADER, ArgumentValue=name
            )
    return set(names)


def _int_header(headers: MultiMapping[str], name: str, default: int) -> int:
    try:
        value = int(headers.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


def _checksum_xml(obj: ObjectVersion) -> ET.Element | None:
    sums = {name: value for name, value in obj.checksums.items() if name != "type"}
    if not sums:
        return None
    kind = obj.checksums.get("type")
    if kind == "COMPOSITE" and obj.part_sizes:
        sums = {name: value.rsplit("-", 1)[0] for name, value in sums.items()}
    return element(
        "Checksum",
        *(child("Checksum" + name.upper(), value) for name, value in sums.items()),
        child("ChecksumType", kind) if kind else None,
    )


def _parts_xml(obj: ObjectVersion, headers: MultiMapping[str]) -> ET.Element | None:
    if not obj.part_sizes:
        return None
    if obj.checksums.get("type") == "FULL_OBJECT":
        return element("ObjectParts", child("PartsCount", len(obj.part_sizes)))
    max_parts = _int_header(headers, "x-amz-max-parts", DEFAULT_MAX_PARTS)
    marker = _int_header(headers, "x-amz-part-number-marker", 0)
    after = [(n, size) for n, size in enumerate(obj.part_sizes, start=1) if n > marker]
    page = after[:max_parts]
    return element(
        "ObjectParts",
        child("PartsCount", len(obj.part_sizes)),
        child("PartNumberMarker", marker),
        child("NextPartNumberMarker", page[-1][0] if page else marker),
        child("MaxParts", max_parts),
        child("IsTruncated", len(after) > len(page)),
        *(_part_xml(obj, n, size) for n, size in page),
    )


def _part_xml(obj: ObjectVersion, number: int, size: int) -> ET.Element:
    sums = obj.part_checksums[number - 1] if number <= len(obj.part_checksums) else {}
    return element(
        "Part",
        child("PartNumber", number),
        child("Size", size),
        *(child("Checksum" + name.upper(), value) for name, value in sums.items()),
    )


async def get_object_attributes(ctx: Context) -> web.StreamResponse:
    wanted = requested_attributes(ctx.request.headers)
    obj = await ctx.services.objects.head_object(
        ctx.require_bucket(), ctx.key, ctx.s3.query.get("versionId")
    )
    root = element(
        "GetObjectAttributesResponse",
        child("ETag", obj.etag) if "ETag" in wanted else None,
        _checksum_xml(obj) if "Checksum" in wanted else None,
        _parts_xml(obj, ctx.request.headers) if "ObjectParts" in wanted else None,
        child("StorageClass", obj.storage_class) if "StorageClass" in wanted else None,
        child("ObjectSize", obj.size) if "ObjectSize" in wanted else None,
    )
    response = xml_response(root)
    response.headers["Last-Modified"] = http_date(obj.last_modified)
    if obj.version_id and obj.version_id != NULL_VERSION:
        response.headers["x-amz-version-id"] = obj.version_id
    return response


HANDLERS = {Operation.GetObjectAttributes: get_object_attributes}
