"""ClusterView: the fragment stores the coordinator may use, as one immutable value.

A view is built from the cluster map (``cli/compose.py``) or from local drives (the embedded
server) and handed to :class:`~ninefold.coordinator.chunks.ChunkIO`, which swaps it whole when
the map changes. Every chunk operation takes the view once when it starts and uses that one
throughout, so a map change mid-operation never mixes two maps' stores.

It answers three questions: which store holds an id (:meth:`ClusterView.store` -- None when the
store is unknown or unreachable), which stores placement may choose (:attr:`infos`, of which
:meth:`placeable` have weight > 0), and which stores are down (:attr:`unreachable`: never read,
written or counted as deleted, while their fragments still count as existing) and which of
those are lost (:attr:`lost`: a drive whose identity is gone -- removed, unmounted, replaced --
so its fragments count as gone: repair rebuilds them elsewhere at once and GC counts them
deleted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from ninefold.fragments.protocol import FragmentStore
from ninefold.placement.rendezvous import StoreInfo

__all__ = ["ClusterView"]


@dataclass(frozen=True, eq=False)
class ClusterView:
    """Stores by id, placement infos, stores known to be down, and the map version they came
    from. Immutable: the mappings and sequences are copied on construction."""

    #: every store in the map, reachable or not, by store id
    stores: Mapping[str, FragmentStore]
    #: the stores placement may choose from (down nodes are left out; draining ones weigh 0)
    infos: Sequence[StoreInfo]
    #: store ids known to be down (health monitor or operator)
    unreachable: AbstractSet[str] = frozenset()
    #: the cluster map version this view was built from (0: not from a map)
    version: int = 0
    #: unreachable stores whose data is gone for good (failed drives)
    lost: AbstractSet[str] = frozenset()
    _readable: Mapping[str, FragmentStore] = field(init=False, repr=False)
    _placeable: tuple[StoreInfo, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        stores = dict(self.stores)
        lost = frozenset(self.lost)
        down = frozenset(self.unreachable) | lost
        readable = {s: store for s, store in stores.items() if s not in down}
        infos = tuple(self.infos)
        object.__setattr__(self, "stores", MappingProxyType(stores))
        object.__setattr__(self, "infos", infos)
        object.__setattr__(self, "unreachable", down)
        object.__setattr__(self, "lost", lost)
        object.__setattr__(self, "_readable", MappingProxyType(readable))
        object.__setattr__(self, "_placeable", tuple(i for i in infos if i.weight > 0))

    @classmethod
    def local(cls, stores: Mapping[str, FragmentStore]) -> ClusterView:
        """Every store placeable with default zone and weight (one machine's drives)."""
        return cls(stores, [StoreInfo(store_id) for store_id in stores])

    def store(self, store_id: str) -> FragmentStore | None:
        """The store to read, write or delete through; None when it is unknown or down."""
        return self._readable.get(store_id)

    def readable(self, store_id: str) -> bool:
        """The store is in the map and not down."""
        return store_id in self._readable

    def known(self, store_id: str) -> bool:
        """The store is in the map (down or not)."""
        return store_id in self.stores

    def is_unreachable(self, store_id: str) -> bool:
        return store_id in self.unreachable

    def is_lost(self, store_id: str) -> bool:
        """The store's fragments are gone for good (a failed drive)."""
        return store_id in self.lost

    def placeable(self) -> tuple[StoreInfo, ...]:
        """The placement infos with weight > 0: where new fragments can go."""
        return self._placeable

    def reachable(self) -> Iterator[tuple[str, FragmentStore]]:
        """(store id, store) of every store that is not down, in map order."""
        return iter(self._readable.items())

    def with_infos(self, infos: Sequence[StoreInfo]) -> ClusterView:
        """This view with other placement infos (the same stores; e.g. fewer live ones)."""
        return replace(self, infos=infos)
