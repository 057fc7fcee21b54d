"""xml.leaf/render(tail=...) produce exactly what ElementTree would for the same elements."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from ninefold.api.s3.xml import child, element, iso8601, leaf, render

TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=40,
)


@given(st.lists(TEXT, max_size=5), st.booleans(), st.integers())
def test_tail_renders_like_elements(keys: list[str], flag: bool, number: int) -> None:
    fields = [("Key", k) for k in keys] + [("IsTruncated", flag), ("Size", number)]
    as_elements = element("ListBucketResult", child("Name", "b"))
    as_elements.extend(child(tag, value) for tag, value in fields)
    as_text = element("ListBucketResult", child("Name", "b"))
    assert render(as_text, tail=[leaf(tag, value) for tag, value in fields]) == render(as_elements)


def test_tail_after_an_empty_root() -> None:
    assert render(ET.Element("R"), namespace=False, tail=["<A>1</A>"]).endswith(b"<R><A>1</A></R>")


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_iso8601_matches_datetime(ts: float) -> None:
    t = dt.datetime.fromtimestamp(ts, dt.UTC)
    assert iso8601(ts) == t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
