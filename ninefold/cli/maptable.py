"""The cluster map as a table for the admin commands: operator state and observed health."""

from __future__ import annotations

from rich.table import Table

from ninefold.cli.compose import ClusterMap

__all__ = ["cluster_map_table", "seen_ago"]


def seen_ago(last_seen: float, now: float) -> str:
    """``last_seen`` (epoch s, 0: never) as an age.

    >>> seen_ago(0.0, 100.0), seen_ago(99.2, 100.0), seen_ago(40.0, 100.0), seen_ago(1.0, 7300.0)
    ('never', '0.8s ago', '60s ago', '2h01m ago')
    """
    if last_seen <= 0:
        return "never"
    age = max(0.0, now - last_seen)
    if age < 10:
        return f"{age:.1f}s ago"
    if age < 3600:
        return f"{age:.0f}s ago"
    return f"{int(age // 3600)}h{int(age % 3600 // 60):02d}m ago"


def cluster_map_table(cluster: ClusterMap, now: float) -> Table:
    table = Table(title=f"cluster map v{cluster.version}")
    for column in ("node", "url", "zone", "drives", "weight", "state", "health", "last seen"):
        table.add_column(column)
    for n in cluster.nodes:
        health = n.health if n.health == "ok" else f"[bold red]{n.health}[/]"
        table.add_row(
            n.node_id,
            n.url,
            n.zone,
            ",".join(n.drives),
            f"{n.weight:g}",
            n.state,
            health,
            seen_ago(n.last_seen, now),
        )
    return table
