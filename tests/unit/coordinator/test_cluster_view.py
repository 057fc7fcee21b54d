"""ClusterView (coordinator/cluster.py): an immutable answer to "which store, may I place there,
is it down", and ChunkIO swapping it whole."""

from __future__ import annotations

import pytest

from ninefold.coordinator.chunks import ChunkIO
from ninefold.coordinator.cluster import ClusterView
from ninefold.fragments.memory import MemoryFragmentStore
from ninefold.placement.rendezvous import StoreInfo


def make_view() -> ClusterView:
    stores = {s: MemoryFragmentStore(s) for s in ("a:d1", "a:d2", "b:d1", "c:d1")}
    infos = [StoreInfo("a:d1"), StoreInfo("a:d2", weight=0.0), StoreInfo("c:d1")]
    return ClusterView(stores, infos, {"b:d1"}, version=7)


def test_lookups() -> None:
    view = make_view()
    assert view.version == 7
    assert view.store("a:d1") is view.stores["a:d1"]
    assert view.store("b:d1") is None  # down
    assert view.store("z:d9") is None  # not in the map
    assert view.readable("a:d2") and not view.readable("b:d1") and not view.readable("z:d9")
    assert view.known("b:d1") and not view.known("z:d9")
    assert view.is_unreachable("b:d1") and not view.is_unreachable("a:d1")
    assert [i.store_id for i in view.placeable()] == ["a:d1", "c:d1"]  # draining: weight 0
    assert [s for s, _ in view.reachable()] == ["a:d1", "a:d2", "c:d1"]


def test_immutable_and_independent_of_its_inputs() -> None:
    stores = {"a:d1": MemoryFragmentStore("a:d1")}
    infos = [StoreInfo("a:d1")]
    down: set[str] = set()
    view = ClusterView(stores, infos, down)
    stores["x"] = MemoryFragmentStore("x")
    infos.clear()
    down.add("a:d1")
    assert list(view.stores) == ["a:d1"] and len(view.infos) == 1 and view.readable("a:d1")
    with pytest.raises(TypeError):
        view.stores["y"] = MemoryFragmentStore("y")  # type: ignore[index]
    with pytest.raises(AttributeError):
        view.version = 8  # type: ignore[misc]
    fewer = view.with_infos([])
    assert fewer.placeable() == () and fewer.stores == view.stores and view.placeable()


def test_chunkio_swaps_the_view_whole() -> None:
    first = make_view()
    io = ChunkIO(first)
    assert io.view is first
    second = ClusterView.local({"n:d1": MemoryFragmentStore("n:d1")})
    io.use(second)
    assert io.view is second
    assert [i.store_id for i in second.infos] == ["n:d1"] and second.unreachable == frozenset()
