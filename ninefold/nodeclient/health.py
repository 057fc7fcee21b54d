"""Probing a storage node: one signed ``GET /v1/health`` with a short, hard deadline.

A probe either returns what the node says about itself or raises StorageError; it never waits
longer than ``timeout_s`` (a hung node counts as not answering). Deciding what a failed probe
means (how many, for how long) is the health monitor's business, not this module's.
"""

from __future__ import annotations

import aiohttp

from ninefold.core.errors import StorageError
from ninefold.fragments import wire
from ninefold.fragments.wire import HEALTH_PATH, NodeStatus

__all__ = ["HEALTH_PATH", "NodeStatus", "probe_node"]


async def probe_node(
    session: aiohttp.ClientSession, base_url: str, secret: bytes, *, timeout_s: float = 1.0
) -> NodeStatus:
    """Ask the node at ``base_url`` for its health; StorageError unless it answers in time."""
    url = base_url.rstrip("/") + HEALTH_PATH
    headers = wire.signed_headers(secret, "GET", HEALTH_PATH)
    try:
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            if response.status != wire.STATUS_OK:
                raise StorageError(f"{base_url}: health -> {response.status}")
            body = await response.read()
        return wire.decode_health(body)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise StorageError(f"{base_url}: no answer ({_describe(exc)})") from exc
    except ValueError as exc:
        why = _describe(exc.__cause__ or exc)  # what was wrong with the body, as it was found
        raise StorageError(f"{base_url}: unreadable health answer ({why})") from exc


def _describe(exc: BaseException) -> str:
    """``Type: message`` (a timeout's message is empty; aiohttp's reprs run to a screenful)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
