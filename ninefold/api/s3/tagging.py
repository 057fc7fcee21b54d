"""Object and bucket tags: the ``Tagging`` XML document, the ``x-amz-tagging`` header, limits.

Limits as S3 has them: at most 10 tags on an object and 50 on a bucket, keys of 1 to 128 and
values of up to 256 Unicode characters, no key twice, no key starting with ``aws:``. Any breach
is 400 InvalidTag and changes nothing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode

from ninefold.api.s3 import errors
from ninefold.api.s3.xml import child, children, element, parse_xml, text_of

__all__ = [
    "MAX_BUCKET_TAGS",
    "MAX_OBJECT_TAGS",
    "parse_tagging_header",
    "parse_tagging_xml",
    "tagging_header",
    "tagging_xml",
]

MAX_OBJECT_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 256


def _validate(pairs: list[tuple[str, str]], limit: int) -> dict[str, str]:
    if len(pairs) > limit:
        raise errors.InvalidTag(f"Object tags cannot be greater than {limit}")
    tags: dict[str, str] = {}
    for key, value in pairs:
        if not 1 <= len(key) <= MAX_KEY_CHARS:
            raise errors.InvalidTag("The TagKey you have provided is invalid", TagKey=key)
        if len(value) > MAX_VALUE_CHARS:
            raise errors.InvalidTag("The TagValue you have provided is invalid", TagKey=key)
        if key.lower().startswith("aws:"):
            raise errors.InvalidTag("System tags cannot be added/updated by requester")
        if key in tags:
            raise errors.InvalidTag("Cannot provide multiple Tags with the same key", TagKey=key)
        tags[key] = value
    return tags


def parse_tagging_xml(body: bytes, limit: int) -> dict[str, str]:
    root = parse_xml(body, "Tagging")
    tag_sets = list(children(root, "TagSet"))
    if len(tag_sets) != 1:
        raise errors.MalformedXML()
    pairs = []
    for tag in children(tag_sets[0], "Tag"):
        key, value = text_of(tag, "Key"), text_of(tag, "Value")
        if key is None or value is None:
            raise errors.MalformedXML()
        pairs.append((key, value))
    return _validate(pairs, limit)


def parse_tagging_header(value: str) -> dict[str, str]:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL-encoded, as on PutObject and CreateMultipartUpload)."""
    try:
        pairs = parse_qsl(value, keep_blank_values=True, strict_parsing=bool(value))
    except ValueError as exc:
        raise errors.InvalidArgument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
            "parameters without tag name duplicates.",
            ArgumentName="x-amz-tagging",
        ) from exc
    return _validate(pairs, MAX_OBJECT_TAGS)


def tagging_header(tags: dict[str, str]) -> str:
    return urlencode(list(tags.items()))


def tagging_xml(tags: dict[str, str]) -> ET.Element:
    return element(
        "Tagging",
        element(
            "TagSet",
            *(element("Tag", child("Key", k), child("Value", v)) for k, v in tags.items()),
        ),
    )
