"""The cluster map table of the admin commands."""

from __future__ import annotations

from rich.console import Console

from ninefold.cli.maptable import cluster_map_table, seen_ago
from ninefold.meta.models import ClusterMap, NodeRecord


def test_seen_ago() -> None:
    assert seen_ago(0.0, 100.0) == "never"
    assert seen_ago(99.2, 100.0) == "0.8s ago"
    assert seen_ago(40.0, 100.0) == "60s ago"
    assert seen_ago(1.0, 7300.0) == "2h01m ago"
    assert seen_ago(101.0, 100.0) == "0.0s ago"  # a clock a little ahead is not the future


def test_table_shows_state_health_and_last_seen() -> None:
    cluster = ClusterMap(
        7,
        (
            NodeRecord("n1", "http://h:1", "z1", ("d1", "d2"), 1.0, "up", "ok", 998.0),
            NodeRecord("n2", "http://h:2", "z2", ("d1",), 0.0, "draining", "down", 900.0),
        ),
    )
    console = Console(width=200, record=True)
    console.print(cluster_map_table(cluster, 1000.0))
    text = console.export_text()
    assert "cluster map v7" in text
    assert "last seen" in text
    n1 = next(line for line in text.splitlines() if "n1" in line)
    n2 = next(line for line in text.splitlines() if "n2" in line)
    assert "up" in n1 and "ok" in n1 and "2.0s ago" in n1
    assert "draining" in n2 and "down" in n2 and "100s ago" in n2
