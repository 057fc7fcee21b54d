"""Placement properties (placement/rendezvous.py): deterministic, zone-spread, balanced by
weight, moving about 1/N when a store joins; and choosing replacement stores for repair."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ninefold.placement.rendezvous import StoreInfo, place, place_replacements

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


def test_replacements_keep_the_zone_rule_and_avoid_holders() -> None:
    stores = [StoreInfo(f"s{i}", zone=f"z{i % 3}") for i in range(12)]
    for n in range(200):
        chunk_id = f"{n:032x}"
        current = place(chunk_id, stores, 9)
        lost = current[n % 9]
        live = [s for s in stores if s.store_id != lost]
        new = place_replacements(chunk_id, live, current, [n % 9])
        assert set(new) == {n % 9}
        after = list(current)
        after[n % 9] = new[n % 9]
        assert len(set(after)) == 9
        zone = {s.store_id: s.zone for s in stores}
        per_zone = [sum(1 for s in after if zone[s] == z) for z in ("z0", "z1", "z2")]
        assert max(per_zone) <= 3


def test_replacements_with_no_room_leave_fragments_missing() -> None:
    stores = [StoreInfo(f"s{i}") for i in range(9)]
    current = place("a" * 32, stores, 9)
    live = [s for s in stores if s.store_id not in current[:2]]
    assert place_replacements("a" * 32, live, current, [0, 1]) == {}


def test_replacements_may_share_a_store_when_asked_and_no_free_one_is_left() -> None:
    stores = [StoreInfo(f"s{i}") for i in range(9)]
    for n in range(50):
        chunk_id = f"{n:032x}"
        current = place(chunk_id, stores, 9)
        lost = current[n % 9]
        live = [s for s in stores if s.store_id != lost]
        assert place_replacements(chunk_id, live, current, [n % 9]) == {}
        new = place_replacements(chunk_id, live, current, [n % 9], share=True)
        assert set(new) == {n % 9} and new[n % 9] != lost
        # two lost: the two fragments go to two different stores (the least loaded first)
        lost2 = {current[n % 9], current[(n + 1) % 9]}
        live2 = [s for s in stores if s.store_id not in lost2]
        new2 = place_replacements(chunk_id, live2, current, [n % 9, (n + 1) % 9], share=True)
        assert len(new2) == 2 and len(set(new2.values())) == 2
        assert not set(new2.values()) & lost2
    # with a free store, sharing changes nothing
    current = place("b" * 32, stores, 9)
    extra = [*(s for s in stores if s.store_id != current[3]), StoreInfo("s9")]
    assert place_replacements("b" * 32, extra, current, [3], share=True) == {3: "s9"}
