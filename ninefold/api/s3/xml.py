"""S3 XML: rendering responses and parsing (untrusted) request bodies.

Parsing goes through defusedxml only (no entity expansion, no external entities); any parse
failure or schema mismatch is ``MalformedXML``. Rendering builds ElementTree elements in the S3
namespace; the handlers never format XML by hand. Long lists (a listing page's 1,000 entries)
are rendered by :func:`leaf` into a ``tail`` of text with the same escaping as ElementTree,
which costs a fifth of building and serializing an element per field.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from defusedxml import ElementTree as SafeET

from ninefold.api.s3 import errors

__all__ = [
    "S3_NS",
    "child",
    "children",
    "element",
    "escape",
    "iso8601",
    "leaf",
    "parse_xml",
    "render",
    "strip_ns",
    "text_of",
]

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def iso8601(ts: float) -> str:
    """S3's timestamp format in XML: ``2026-11-24T12:00:00.000Z``."""
    seconds = int(ts // 1)
    micros = round((ts - seconds) * 1_000_000)  # as datetime.fromtimestamp rounds
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    head = _SECONDS.get(seconds)
    if head is None:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        head = _SECONDS[seconds] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds))
    return f"{head}{micros // 1000:03d}Z"


#: formatted whole seconds (listings show many objects written in the same second)
_SECONDS: dict[int, str] = {}


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


def escape(text: str) -> str:
    """``text`` escaped as ElementTree escapes element text (``&``, ``<``, ``>``)."""
    if "&" in text or "<" in text or ">" in text:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def leaf(tag: str, value: Any) -> str:
    """``child(tag, value)`` as text, escaped as ElementTree escapes element text."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    if not text:
        return f"<{tag} />"
    return f"<{tag}>{escape(text)}</{tag}>"


def render(root: ET.Element, *, namespace: bool = True, tail: Sequence[str] = ()) -> bytes:
    """The document; ``tail`` (from :func:`leaf`) goes after ``root``'s own children."""
    if namespace:
        root.set("xmlns", S3_NS)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    if tail:
        closing = f"</{root.tag}>".encode()
        head = body[: -len(closing)] if body.endswith(closing) else body[:-3] + b">"
        body = head + "".join(tail).encode() + closing
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
