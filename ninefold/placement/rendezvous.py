"""Placement: which stores hold the fragments of a chunk. Pure functions, no I/O.

Weighted rendezvous (highest-random-weight) hashing: every (chunk, store) pair gets a stable
score ``-weight / ln(u)`` with ``u`` uniform in (0, 1) from BLAKE2b; the highest scores win.
Stores are spread across zones first: no zone receives more than ``ceil(width / zones)``
fragments while another zone still has room, so with 3 zones and 6+3 coding a whole zone can
be lost. Adding a store moves only the placements it now wins (about 1/(N+1) of them).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["StoreInfo", "place", "place_replacements", "score"]


@dataclass(frozen=True, slots=True)
class StoreInfo:
    store_id: str
    zone: str = "default"
    weight: float = 1.0


def score(chunk_id: str, store: StoreInfo) -> float:
    """The rendezvous score of ``store`` for ``chunk_id`` (deterministic).

    >>> score("a" * 32, StoreInfo("d1")) == score("a" * 32, StoreInfo("d1"))
    True
    """
    digest = hashlib.blake2b(f"{chunk_id}/{store.store_id}".encode(), digest_size=8).digest()
    u = (int.from_bytes(digest, "big") + 1) / (2**64 + 2)  # strictly inside (0, 1)
    return -store.weight / math.log(u)


def place(chunk_id: str, stores: Sequence[StoreInfo], width: int) -> list[str]:
    """``width`` distinct store ids for ``chunk_id``, fragment index order.

    >>> stores = [StoreInfo(f"d{i}") for i in range(1, 10)]
    >>> sorted(place("0" * 32, stores, 9)) == sorted(s.store_id for s in stores)
    True
    >>> len(set(place("0" * 32, stores, 4)))
    4
    """
    candidates = [s for s in stores if s.weight > 0]
    if len(candidates) < width:
        raise ValueError(f"need {width} stores, have {len(candidates)}")
    ranked = sorted(candidates, key=lambda s: score(chunk_id, s), reverse=True)
    zones = {s.zone for s in candidates}
    cap = math.ceil(width / len(zones))
    chosen: list[StoreInfo] = []
    per_zone: dict[str, int] = {}
    while len(chosen) < width:
        for store in ranked:
            if len(chosen) == width:
                break
            if store in chosen or per_zone.get(store.zone, 0) >= cap:
                continue
            chosen.append(store)
            per_zone[store.zone] = per_zone.get(store.zone, 0) + 1
        cap += 1  # only reached when the zones cannot be balanced any better
    return [s.store_id for s in chosen]


def place_replacements(
    chunk_id: str,
    stores: Sequence[StoreInfo],
    current: Sequence[str],
    missing: Sequence[int],
    *,
    share: bool = False,
) -> dict[int, str]:
    """New stores for the fragments ``missing`` of a chunk whose fragment ``i`` is on
    ``current[i]`` (repair, drain): the best-scoring stores that hold no fragment of the chunk
    yet, keeping the zone rule (at most ``ceil(width / zones)`` per zone while others have room).
    Fewer stores than needed -> as many as there are (the rest stays missing), unless ``share``:
    then the fragments left over go to the stores holding the fewest fragments of the chunk
    (best score first), so a chunk is whole again on fewer stores than its width (8 drives
    left for 9 fragments: one drive holds two). That is never worse than leaving the fragment
    missing: losing the store that holds two costs what losing any store costs without the
    second, and losing any other store costs one fragment fewer.

    >>> stores = [StoreInfo(f"d{i}") for i in range(1, 9)]
    >>> new = place_replacements("0" * 32, stores, [f"d{i}" for i in range(1, 10)], [8], share=True)
    >>> new[8] in {s.store_id for s in stores}
    True

    >>> stores = [StoreInfo(f"d{i}", zone=f"z{i % 3}") for i in range(1, 11)]
    >>> current = place("0" * 32, stores[:9], 9)
    >>> live = [s for s in stores if s.store_id != current[4]]  # fragment 4's store is lost
    >>> new = place_replacements("0" * 32, live, current, [4])
    >>> new[4] not in current
    True
    """
    missing_set = set(missing)
    kept = {s for i, s in enumerate(current) if s and i not in missing_set}
    zone_of = {s.store_id: s.zone for s in stores}
    candidates = [s for s in stores if s.weight > 0 and s.store_id not in kept]
    zones = {s.zone for s in stores if s.weight > 0} or {"default"}
    cap = math.ceil(len(current) / len(zones))
    per_zone: dict[str, int] = {}
    for store_id in kept:
        zone = zone_of.get(store_id, "?")
        per_zone[zone] = per_zone.get(zone, 0) + 1
    ranked = sorted(candidates, key=lambda s: score(chunk_id, s), reverse=True)
    chosen: dict[int, str] = {}
    todo = sorted(missing_set)
    used: set[str] = set()
    while todo and len(used) < len(ranked):
        for store in ranked:
            if not todo:
                break
            if store.store_id in used or per_zone.get(store.zone, 0) >= cap:
                continue
            chosen[todo.pop(0)] = store.store_id
            used.add(store.store_id)
            per_zone[store.zone] = per_zone.get(store.zone, 0) + 1
        cap += 1
    if share and todo:
        pool = [s for s in stores if s.weight > 0]
        load: dict[str, int] = {}
        held = [s for i, s in enumerate(current) if s and i not in missing_set]
        for store_id in [*held, *chosen.values()]:
            load[store_id] = load.get(store_id, 0) + 1
        for index in todo:
            if not pool:
                break
            best = max(pool, key=lambda s: (-load.get(s.store_id, 0), score(chunk_id, s)))
            chosen[index] = best.store_id
            load[best.store_id] = load.get(best.store_id, 0) + 1
    return chosen
