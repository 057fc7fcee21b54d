"""The listing reads checksum algorithm names out of the stored JSON without parsing it."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from ninefold.core.checksums import ALGORITHMS
from ninefold.meta.listing import _algorithms


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
