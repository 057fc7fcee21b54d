"""Listing internals: algorithm names read out of the stored JSON without parsing it, and flat
pages cut right however the store bounds its range."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from ninefold.core.checksums import ALGORITHMS
from ninefold.meta.listing import RangeQuery, _algorithms, list_page


@given(
    st.dictionaries(st.sampled_from(ALGORITHMS), st.binary(min_size=4, max_size=32)),
    st.sampled_from(["FULL_OBJECT", "COMPOSITE", None]),
)
def test_same_names_as_parsing_the_json(values: dict[str, bytes], kind: str | None) -> None:
    stored: dict[str, str] = {a: base64.b64encode(v).decode() for a, v in values.items()}
    if kind is not None and stored:
        stored["type"] = kind
    text = json.dumps(stored)
    parsed = [a for a in json.loads(text) if a != "type"]
    assert sorted(_algorithms(text)) == sorted(parsed)


@given(
    keys=st.lists(st.text(alphabet="ab/\U0010ffff", min_size=1, max_size=4), unique=True),
    prefix=st.sampled_from(["", "a", "b/", "\U0010ffff"]),
    after=st.sampled_from(["", "a", "b", "b/a"]),
    max_keys=st.integers(0, 5),
)
def test_flat_pages_even_when_the_store_ignores_the_upper_bound(
    keys: list[str], prefix: str, after: str, max_keys: int
) -> None:
    """Without a delimiter, a page holds the next keys under the prefix, whether or not the
    store cut the range at the prefix's end (the cursor checks either way)."""
    ordered = sorted(keys, key=lambda k: k.encode())

    def fetch(query: RangeQuery) -> list[tuple[object, ...]]:
        lower = query.lower.encode()
        rows = [
            k for k in ordered if (k.encode() >= lower if query.inclusive else k.encode() > lower)
        ]
        return [(k, 1, "e", 0.0, "STANDARD", "", "{}") for k in rows[: query.limit]]

    page = list_page(fetch, prefix=prefix, delimiter="", after=after, max_keys=max_keys)
    wanted = [k for k in ordered if k.startswith(prefix) and k.encode() > after.encode()]
    assert [e.key for e in page.entries] == wanted[:max_keys]
    assert page.is_truncated == (len(wanted) > max_keys)
