"""PostgreSQL: the cluster map (nodes, health, its version) and the background jobs' status.

Map changes lock the version row first, then node rows (one order: no deadlock); a heartbeat
that changes no health is one autocommitted statement on the node's row."""

from __future__ import annotations

import json
import time
from typing import Any

from ninefold.meta.models import NODE_HEALTH, ClusterMap, NodeRecord
from ninefold.meta.postgres.engine import PostgresEngine
from ninefold.meta.postgres.pool import Conn
from ninefold.meta.rows import NODE_COLS, node_from_row, node_values

__all__ = ["PostgresCluster"]


class PostgresCluster(PostgresEngine):
    # -- cluster map --------------------------------------------------------------------------

    @staticmethod
    async def _map(conn: Conn) -> ClusterMap:
        version = await conn.fetchval("SELECT version FROM cluster_version WHERE id = 1")
        rows = await conn.fetch(f"SELECT {NODE_COLS} FROM cluster_nodes ORDER BY node_id")
        return ClusterMap(version, tuple(node_from_row(tuple(r)) for r in rows))

    async def get_cluster_map(self) -> ClusterMap:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            return await self._map(conn)

    async def put_node(self, node: NodeRecord) -> ClusterMap:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT version FROM cluster_version WHERE id = 1 FOR UPDATE")
            # an existing node keeps its health and last_seen: those are the monitor's
            await conn.execute(
                f"INSERT INTO cluster_nodes ({NODE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (node_id) DO UPDATE SET url = $2, zone = $3, drives = $4, "
                "weight = $5, state = $6",
                *node_values(node),
            )
            await conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")
            return await self._map(conn)

    async def set_node_health(self, node_id: str, health: str, last_seen: float) -> ClusterMap:
        if health not in NODE_HEALTH:
            raise ValueError(f"node health must be one of {NODE_HEALTH}, not {health!r}")
        async with self._pool.acquire() as conn:
            # A heartbeat (health unchanged) is one autocommitted statement on the node's row.
            # It must not share a transaction with the change below: an UPDATE that meets a
            # concurrently changed row locks it before re-checking WHERE, and keeps the lock
            # even when the row no longer matches; taking the version row after that would
            # invert put_node's order (version row, then node row) and deadlock.
            updated = await conn.execute(
                "UPDATE cluster_nodes SET last_seen = $3 WHERE node_id = $1 AND health = $2",
                node_id,
                health,
                last_seen,
            )
            if updated.endswith(" 0"):
                async with conn.transaction():
                    await conn.execute(
                        "SELECT version FROM cluster_version WHERE id = 1 FOR UPDATE"
                    )
                    old = await conn.fetchval(
                        "SELECT health FROM cluster_nodes WHERE node_id = $1 FOR UPDATE", node_id
                    )
                    if old is None:
                        raise KeyError(node_id)
                    await conn.execute(
                        "UPDATE cluster_nodes SET health = $2, last_seen = $3 WHERE node_id = $1",
                        node_id,
                        health,
                        last_seen,
                    )
                    if old != health:
                        await conn.execute(
                            "UPDATE cluster_version SET version = version + 1 WHERE id = 1"
                        )
            async with conn.transaction(isolation="repeatable_read"):
                return await self._map(conn)

    async def remove_node(self, node_id: str) -> ClusterMap:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT version FROM cluster_version WHERE id = 1 FOR UPDATE")
            deleted = await conn.execute("DELETE FROM cluster_nodes WHERE node_id = $1", node_id)
            if deleted.endswith(" 0"):
                raise KeyError(node_id)
            await conn.execute("UPDATE cluster_version SET version = version + 1 WHERE id = 1")
            return await self._map(conn)

    # -- job status ---------------------------------------------------------------------------

    async def put_job_status(self, job: str, status: dict[str, Any]) -> None:
        await self._pool.execute(
            "INSERT INTO job_status (job, status, updated_at) VALUES ($1, $2, $3) "
            "ON CONFLICT (job) DO UPDATE SET status = excluded.status, "
            "updated_at = excluded.updated_at",
            job,
            json.dumps(status),
            time.time(),
        )

    async def get_job_status(self) -> dict[str, tuple[dict[str, Any], float]]:
        rows = await self._pool.fetch("SELECT job, status, updated_at FROM job_status")
        return {r[0]: (json.loads(r[1]), r[2]) for r in rows}
