"""Placement with fewer placeable stores than fragments (nodes or a whole zone down).

The write policy (docs/design.md, "Writes with a zone down"): every fragment of a new chunk is
written, always. With at least ``width`` placeable stores that is :func:`place` exactly. With
fewer, every store takes one fragment and the rest go to *substitute* stores, which then hold
two (or more) fragments of the chunk: the chunk keeps its full erasure-code redundancy against
drive loss, with less zone spread, until rebalance moves the extra fragments back to their ring
placement when the stores return.

What may be acknowledged is decided by :func:`acknowledgeable`, counted per store (a store's
fragments are lost together): the durable fragments minus the most that any one store holds
must be at least ``write_quorum - 1``. With one fragment per store that is the usual rule,
``write_quorum`` durable fragments; in both cases an acknowledged chunk is still readable after
losing any one more store.

Pure functions of their inputs, like the rest of ``placement``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from ninefold.placement.rendezvous import StoreInfo, place, score

__all__ = ["acknowledgeable", "place_all", "place_substitutes"]


def place_all(chunk_id: str, stores: Sequence[StoreInfo], width: int) -> list[str]:
    """A store for each of the ``width`` fragments of ``chunk_id``, in fragment index order.

    Enough stores (weight > 0): exactly :func:`place`. Fewer: all of them take one fragment
    (in :func:`place` order) and fragments ``len(stores) .. width - 1`` go to
    :func:`place_substitutes`, so no store holds more than ``ceil(width / len(stores))``.
    ValueError when there is no store at all.

    >>> six = [StoreInfo(f"d{i}", zone=f"z{i % 2}") for i in range(6)]
    >>> placed = place_all("0" * 32, six, 9)
    >>> len(placed), sorted(set(placed)) == sorted(s.store_id for s in six)
    (9, True)
    >>> max(placed.count(s) for s in placed)
    2
    >>> nine = [StoreInfo(f"d{i}", zone=f"z{i % 3}") for i in range(9)]
    >>> place_all("0" * 32, nine, 9) == place("0" * 32, nine, 9)
    True
    """
    candidates = [s for s in stores if s.weight > 0]
    if not candidates:
        raise ValueError(f"need at least one store for {width} fragments, have none")
    if len(candidates) >= width:
        return place(chunk_id, candidates, width)
    placed = place(chunk_id, candidates, len(candidates))
    placed += [""] * (width - len(candidates))
    for index, store_id in place_substitutes(
        chunk_id, candidates, placed, range(len(candidates), width)
    ).items():
        placed[index] = store_id
    return placed


def place_substitutes(
    chunk_id: str,
    stores: Sequence[StoreInfo],
    current: Sequence[str],
    missing: Iterable[int],
    exclude: Iterable[str] = (),
) -> dict[int, str]:
    """A store for each fragment index in ``missing`` of a chunk whose fragment ``i`` is on
    ``current[i]`` (``""``: none), where a store may take a second fragment of the chunk.

    Each fragment, in index order, goes to the store that holds the fewest fragments of the
    chunk so far; among those, to the one whose zone holds the fewest; then the best rendezvous
    score. So stores that hold nothing are used before any store takes a second fragment, and
    the extra fragments are spread over zones and stores as evenly as they can be. Stores with
    weight 0 and the ids in ``exclude`` (e.g. stores that just refused this write) are never
    chosen. Returns ``{}`` when no store is left to choose.

    >>> six = [StoreInfo(f"d{i}", zone=f"z{i % 2}") for i in range(6)]
    >>> current = [s.store_id for s in six] + ["", "", ""]
    >>> chosen = place_substitutes("0" * 32, six, current, [6, 7, 8])
    >>> sorted(chosen), len(set(chosen.values()))
    ([6, 7, 8], 3)
    >>> placed = current[:6] + list(chosen.values())  # zone z0 is d0, d2, d4; z1 the others
    >>> sorted(sum(1 for s in placed if int(s[1]) % 2 == zone) for zone in (0, 1))
    [4, 5]
    >>> place_substitutes("0" * 32, six, current, [6], exclude=[s.store_id for s in six])
    {}
    """
    excluded = set(exclude)
    candidates = [s for s in stores if s.weight > 0 and s.store_id not in excluded]
    if not candidates:
        return {}
    zone_of = {s.store_id: s.zone for s in stores}
    rank = {s.store_id: -score(chunk_id, s) for s in candidates}
    todo = sorted(set(missing))
    todo_set = set(todo)
    per_store: Counter[str] = Counter(s for i, s in enumerate(current) if s and i not in todo_set)
    per_zone: Counter[str] = Counter(zone_of.get(s, "?") for s in per_store.elements())
    chosen: dict[int, str] = {}
    for index in todo:
        best = min(
            candidates,
            key=lambda s: (per_store[s.store_id], per_zone[s.zone], rank[s.store_id]),
        )
        chosen[index] = best.store_id
        per_store[best.store_id] += 1
        per_zone[best.zone] += 1
    return chosen


def acknowledgeable(stores: Sequence[str], write_quorum: int) -> bool:
    """The acknowledgement rule for a chunk whose fragment ``i`` is durable on ``stores[i]``
    (``""``: not durable): the durable fragments minus the most any one store holds is at least
    ``write_quorum - 1``, i.e. losing any one more store still leaves what the usual quorum
    leaves after one loss (``k`` fragments for erasure coding, two copies for ``rep:4``).

    >>> acknowledgeable(["a", "b", "c", "d", "e", "f", "g", "", ""], 7)  # 7 of 9, one each
    True
    >>> acknowledgeable(["a", "b", "c", "d", "e", "f", "", "", ""], 7)  # 6 of 9
    False
    >>> acknowledgeable(["a", "b", "c", "d", "e", "f", "a", "b", "c"], 7)  # 9 on 6 stores
    True
    >>> acknowledgeable(["a", "b", "c", "d", "e", "f", "a", "", ""], 7)  # 7, one store has 2
    False
    >>> acknowledgeable(["a", "b", "a", "b"], 3), acknowledgeable(["a", "a", "a", "a"], 3)
    (True, False)
    """
    held = Counter(s for s in stores if s)
    if not held:
        return False
    return sum(held.values()) - max(held.values()) >= write_quorum - 1
