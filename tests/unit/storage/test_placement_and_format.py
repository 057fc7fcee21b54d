"""Placement properties and the fragment format's corruption detection."""

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
from ninefold.placement.rendezvous import StoreInfo, place

CHUNK_IDS = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@given(CHUNK_IDS, st.integers(4, 9))
def test_placement_is_deterministic_and_distinct(chunk_id: str, width: int) -> None:
    stores = [StoreInfo(f"n{i}") for i in range(12)]
    first = place(chunk_id, stores, width)
    assert first == place(chunk_id, list(reversed(stores)), width)
    assert len(set(first)) == width


@given(CHUNK_IDS)
def test_no_zone_holds_more_than_three_of_nine(chunk_id: str) -> None:
    stores = [StoreInfo(f"n{i}", zone=f"z{i % 3}") for i in range(12)]
    zones = [s.split("n")[1] for s in place(chunk_id, stores, 9)]
    counts = {z: sum(1 for s in zones if int(s) % 3 == z) for z in range(3)}
    assert max(counts.values()) == 3


def test_adding_a_store_moves_about_its_share() -> None:
    stores = [StoreInfo(f"n{i}") for i in range(10)]
    grown = [*stores, StoreInfo("n10")]
    ids = [f"{i:032x}" for i in range(3000)]
    moved = sum(len(set(place(c, stores, 9)) - set(place(c, grown, 9))) for c in ids)
    share = moved / (len(ids) * 9)
    assert abs(share - 1 / 11) < 0.03, share


def test_balanced_by_weight() -> None:
    stores = [StoreInfo(f"n{i}") for i in range(12)]
    counts = dict.fromkeys((s.store_id for s in stores), 0)
    for i in range(4000):
        for s in place(f"{i:032x}", stores, 4):
            counts[s] += 1
    ideal = 4000 * 4 / 12
    assert all(abs(c - ideal) / ideal < 0.10 for c in counts.values()), counts


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
