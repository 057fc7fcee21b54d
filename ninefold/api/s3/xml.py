"""S3 XML: rendering responses and parsing (untrusted) request bodies.

Parsing goes through defusedxml only (no entity expansion, no external entities); any parse
failure or schema mismatch is ``MalformedXML``. Rendering builds ElementTree elements in the S3
namespace; the handlers never format XML by hand.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from defusedxml import ElementTree as SafeET

from ninefold.core import errors

__all__ = [
    "S3_NS",
    "child",
    "children",
    "element",
    "iso8601",
    "parse_xml",
    "render",
    "strip_ns",
    "text_of",
]

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def iso8601(ts: float) -> str:
    """S3's timestamp format in XML: ``2026-11-24T12:00:00.000Z``."""
    t = dt.datetime.fromtimestamp(ts, dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def element(tag: str, *children: ET.Element | None, text: str | None = None) -> ET.Element:
    el = ET.Element(tag)
    if text is not None:
        el.text = text
    el.extend(c for c in children if c is not None)
    return el


def child(tag: str, value: Any) -> ET.Element:
    """A leaf element; booleans render as ``true``/``false``."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return element(tag, text=str(value))


def render(root: ET.Element, *, namespace: bool = True) -> bytes:
    if namespace:
        root.set("xmlns", S3_NS)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml(body: bytes, root_tag: str) -> ET.Element:
    """Parse an untrusted request body whose root must be ``root_tag`` (namespace optional)."""
    if not body.strip():
        raise errors.MalformedXML()
    try:
        root = SafeET.fromstring(body)
    except Exception as exc:  # defusedxml raises several unrelated types
        raise errors.MalformedXML() from exc
    if strip_ns(root.tag) != root_tag:
        raise errors.MalformedXML()
    return root


def children(el: ET.Element, tag: str) -> Iterable[ET.Element]:
    return (c for c in el if strip_ns(c.tag) == tag)


def text_of(el: ET.Element, tag: str) -> str | None:
    for c in children(el, tag):
        return c.text or ""
    return None
