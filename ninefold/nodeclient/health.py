"""Probing a storage node: one signed ``GET /v1/health`` with a short, hard deadline.

A probe either returns what the node says about itself or raises StorageError; it never waits
longer than ``timeout_s`` (a hung node counts as not answering). Deciding what a failed probe
means (how many, for how long) is the health monitor's business, not this module's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiohttp

from ninefold.core.errors import StorageError
from ninefold.fragments.protocol import StoreHealth
from ninefold.fragments.signing import sign_request

__all__ = ["HEALTH_PATH", "NodeStatus", "probe_node"]

HEALTH_PATH = "/v1/health"


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A node's answer to a health probe: who it is and how its drives are."""

    node_id: str
    zone: str
    drives: dict[str, StoreHealth]


async def probe_node(
    session: aiohttp.ClientSession, base_url: str, secret: bytes, *, timeout_s: float = 1.0
) -> NodeStatus:
    """Ask the node at ``base_url`` for its health; StorageError unless it answers in time."""
    url = base_url.rstrip("/") + HEALTH_PATH
    headers = {"Authorization": sign_request(secret, "GET", HEALTH_PATH)}
    try:
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            if response.status != 200:
                raise StorageError(f"{base_url}: health -> {response.status}")
            body = json.loads(await response.read())
        drives = {
            name: StoreHealth(
                str(d["store_id"]),
                bool(d["online"]),
                int(d["capacity_bytes"]),
                int(d["free_bytes"]),
            )
            for name, d in body["drives"].items()
        }
        return NodeStatus(str(body["node_id"]), str(body["zone"]), drives)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise StorageError(f"{base_url}: no answer ({_describe(exc)})") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StorageError(f"{base_url}: unreadable health answer ({_describe(exc)})") from exc


def _describe(exc: BaseException) -> str:
    """``Type: message`` (a timeout's message is empty; aiohttp's reprs run to a screenful)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
