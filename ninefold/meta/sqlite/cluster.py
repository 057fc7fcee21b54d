"""SQLite: the cluster map (nodes, health, its version) and the background jobs' status."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ninefold.meta.models import NODE_HEALTH, ClusterMap, NodeRecord
from ninefold.meta.rows import NODE_COLS, node_from_row, node_values
from ninefold.meta.sqlite import tx
from ninefold.meta.sqlite.writer import SqliteEngine

__all__ = ["SqliteCluster"]


def _map(conn: sqlite3.Connection) -> ClusterMap:
    version = conn.execute("SELECT version FROM cluster_version WHERE id = 1").fetchone()[0]
    rows = conn.execute(f"SELECT {NODE_COLS} FROM cluster_nodes ORDER BY node_id").fetchall()
    return ClusterMap(version, tuple(node_from_row(r) for r in rows))


def _bump(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")


class SqliteCluster(SqliteEngine):
    async def get_cluster_map(self) -> ClusterMap:
        return await self._read(_map)

    async def put_node(self, node: NodeRecord) -> ClusterMap:
        def fn(conn: sqlite3.Connection) -> ClusterMap:
            # an existing node keeps its health and last_seen: those are the monitor's
            conn.execute(
                f"INSERT INTO cluster_nodes ({NODE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET url = excluded.url, zone = excluded.zone, "
                "drives = excluded.drives, weight = excluded.weight, state = excluded.state",
                node_values(node),
            )
            _bump(conn)
            return _map(conn)

        return await self._write(fn)

    async def set_node_health(self, node_id: str, health: str, last_seen: float) -> ClusterMap:
        if health not in NODE_HEALTH:
            raise ValueError(f"node health must be one of {NODE_HEALTH}, not {health!r}")

        def fn(conn: sqlite3.Connection) -> ClusterMap:
            row = conn.execute(
                "SELECT health FROM cluster_nodes WHERE node_id = ?", (node_id,)
            ).fetchone()
            if row is None:
                raise KeyError(node_id)
            conn.execute(
                "UPDATE cluster_nodes SET health = ?, last_seen = ? WHERE node_id = ?",
                (health, last_seen, node_id),
            )
            if row[0] != health:
                _bump(conn)
            return _map(conn)

        return await self._write(fn)

    async def remove_node(self, node_id: str) -> ClusterMap:
        def fn(conn: sqlite3.Connection) -> ClusterMap:
            if (
                conn.execute("DELETE FROM cluster_nodes WHERE node_id = ?", (node_id,)).rowcount
                == 0
            ):
                raise KeyError(node_id)
            _bump(conn)
            return _map(conn)

        return await self._write(fn)

    # -- job status ---------------------------------------------------------------------------

    async def put_job_status(self, job: str, status: dict[str, Any]) -> None:
        def fn(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO job_status (job, status, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (job) DO UPDATE SET status = excluded.status, "
                "updated_at = excluded.updated_at",
                (job, json.dumps(status), tx.now()),
            )

        await self._write(fn)

    async def get_job_status(self) -> dict[str, tuple[dict[str, Any], float]]:
        def fn(conn: sqlite3.Connection) -> dict[str, tuple[dict[str, Any], float]]:
            rows = conn.execute("SELECT job, status, updated_at FROM job_status").fetchall()
            return {r[0]: (json.loads(r[1]), r[2]) for r in rows}

        return await self._read(fn)
