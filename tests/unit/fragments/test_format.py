"""The fragment format (fragments/format.py): any damage to a record or a header is detected."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninefold.core.errors import CorruptFragment
from ninefold.fragments.format import (
    HEADER_BYTES,
    build_header,
    frame_block,
    parse_header,
    unframe_record,
)


@given(st.binary(min_size=1, max_size=2000), st.data())
def test_any_flipped_byte_is_detected(payload: bytes, data: st.DataObject) -> None:
    record = frame_block(payload) + payload
    assert unframe_record(record, len(payload)) == (payload, len(record))
    pos = data.draw(st.integers(0, len(record) - 1))
    damaged = bytearray(record)
    damaged[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CorruptFragment):
        unframe_record(bytes(damaged), len(payload))


@given(st.integers(0, HEADER_BYTES - 1))
def test_header_corruption_is_detected(pos: int) -> None:
    header = bytearray(build_header(262224))
    assert parse_header(bytes(header)) == 262224
    header[pos] ^= 0x01
    with pytest.raises(CorruptFragment):
        parse_header(bytes(header))
