"""Placement with fewer live stores than fragments (placement/spread.py): every fragment gets a
store, substitutes spread evenly over stores and zones, and the acknowledgement rule counts a
store's fragments as lost together."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ninefold.erasure.scheme import EC_6_3, REP_4
from ninefold.placement.rendezvous import StoreInfo, place
from ninefold.placement.spread import acknowledgeable, place_all, place_substitutes

CHUNK_IDS = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


def zoned(count: int, zones: int) -> list[StoreInfo]:
    return [StoreInfo(f"n{i}", zone=f"z{i % zones}") for i in range(count)]


@given(CHUNK_IDS, st.integers(9, 14))
def test_with_enough_stores_it_is_exactly_place(chunk_id: str, count: int) -> None:
    stores = zoned(count, 3)
    assert place_all(chunk_id, stores, 9) == place(chunk_id, stores, 9)


@given(CHUNK_IDS, st.integers(1, 8), st.integers(1, 3))
def test_fewer_stores_every_fragment_placed_evenly(chunk_id: str, count: int, zones: int) -> None:
    stores = zoned(count, zones)
    placed = place_all(chunk_id, stores, 9)
    assert len(placed) == 9 and "" not in placed
    held = Counter(placed)
    assert set(held) == {s.store_id for s in stores}  # every live store takes one first
    assert max(held.values()) == math.ceil(9 / count)
    assert min(held.values()) >= 9 // count
    # deterministic, and independent of the order the map lists the stores in
    assert placed == place_all(chunk_id, list(reversed(stores)), 9)


@given(CHUNK_IDS)
def test_a_zone_of_three_down_leaves_five_and_four_fragments_per_zone(chunk_id: str) -> None:
    """9 single-drive nodes in 3 zones, zone z0 down: the 6 stores of z1 and z2 take all 9
    fragments, three of them a second one, and neither zone takes more than 5."""
    live = [s for s in zoned(9, 3) if s.zone != "z0"]
    placed = place_all(chunk_id, live, 9)
    zone_of = {s.store_id: s.zone for s in live}
    assert sorted(Counter(zone_of[s] for s in placed).values()) == [4, 5]
    assert sorted(Counter(placed).values()) == [1, 1, 1, 2, 2, 2]
    assert acknowledgeable(placed, EC_6_3.write_quorum)


def test_weight_zero_stores_are_never_chosen() -> None:
    stores = [*zoned(5, 2), StoreInfo("drained", zone="z0", weight=0.0)]
    placed = place_all("ab" * 16, stores, 9)
    assert "drained" not in placed and len(set(placed)) == 5


def test_no_store_at_all_is_an_error() -> None:
    with pytest.raises(ValueError):
        place_all("ab" * 16, [], 9)
    with pytest.raises(ValueError):
        place_all("ab" * 16, [StoreInfo("drained", weight=0.0)], 9)


@given(CHUNK_IDS)
def test_substitutes_prefer_stores_that_hold_nothing(chunk_id: str) -> None:
    """Two fragments of a 9-store placement lost their store while 3 other stores are free:
    the substitutes are free stores, never a second fragment on a store."""
    stores = zoned(12, 3)
    current = place(chunk_id, stores, 9)
    failed = [current[2], current[5]]
    missing_current = ["" if s in failed else s for s in current]
    chosen = place_substitutes(chunk_id, stores, missing_current, [2, 5], exclude=failed)
    assert sorted(chosen) == [2, 5]
    assert not set(chosen.values()) & (set(current) | set(failed))
    assert len(set(chosen.values())) == 2


@given(CHUNK_IDS)
def test_substitutes_double_up_only_when_no_store_is_free(chunk_id: str) -> None:
    stores = zoned(6, 2)
    current = [*place(chunk_id, stores, 6), "", "", ""]
    chosen = place_substitutes(chunk_id, stores, current, [6, 7, 8], exclude=["n0"])
    assert sorted(chosen) == [6, 7, 8]
    assert "n0" not in chosen.values()
    assert len(set(chosen.values())) == 3  # three different stores take a second fragment


def test_substitutes_with_nothing_to_choose_from() -> None:
    stores = zoned(3, 3)
    current = ["n0", "n1", ""]
    assert place_substitutes("ab" * 16, stores, current, [2], exclude=["n0", "n1", "n2"]) == {}
    assert place_substitutes("ab" * 16, [], current, [2]) == {}


@pytest.mark.parametrize(
    ("stores", "quorum", "ok"),
    [
        (["a", "b", "c", "d", "e", "f", "g", "h", "i"], 7, True),
        (["a", "b", "c", "d", "e", "f", "g", "", ""], 7, True),
        (["a", "b", "c", "d", "e", "f", "", "", ""], 7, False),
        (["a", "b", "c", "d", "e", "f", "a", "b", "c"], 7, True),  # a zone of three down
        (["a", "b", "c", "d", "e", "f", "a", "b", ""], 7, True),  # ... and one write failed
        (["a", "b", "c", "d", "e", "f", "a", "", ""], 7, False),  # 7 durable, 5 without "a"
        (["a", "b", "c", "a", "b", "c", "a", "b", "c"], 7, True),  # 6 left after any one
        (["a", "b", "a", "b", "a", "b", "a", "b", "a"], 7, False),
        (["", "", "", "", "", "", "", "", ""], 7, False),
        (["a", "b", "c", ""], 3, True),
        (["a", "b", "", ""], 3, False),
        (["a", "b", "a", "b"], 3, True),
        (["a", "a", "a", "a"], 3, False),
    ],
)
def test_acknowledgement_rule(stores: list[str], quorum: int, ok: bool) -> None:
    assert acknowledgeable(stores, quorum) is ok


@given(
    st.lists(
        st.sampled_from(["", "a", "b", "c", "d", "e", "f", "g", "h", "i"]), min_size=9, max_size=9
    )
)
def test_an_acknowledged_chunk_survives_losing_any_one_store(stores: list[str]) -> None:
    if acknowledgeable(stores, EC_6_3.write_quorum):
        for lost in set(stores) - {""}:
            assert sum(1 for s in stores if s and s != lost) >= EC_6_3.k


@given(CHUNK_IDS, st.integers(2, 3))
def test_rep4_on_two_or_three_stores_is_acknowledged(chunk_id: str, count: int) -> None:
    placed = place_all(chunk_id, zoned(count, 2), REP_4.width)
    assert acknowledgeable(placed, REP_4.write_quorum)
    assert not acknowledgeable(place_all(chunk_id, zoned(1, 1), REP_4.width), REP_4.write_quorum)
