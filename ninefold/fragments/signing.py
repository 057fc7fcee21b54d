"""HMAC request signing between cluster members (gateways, workers) and storage nodes.

``Authorization: NF-HMAC-SHA256 ts=<unix s>, nonce=<32 hex>, sig=<hex>`` where ``sig`` is
HMAC-SHA256(cluster secret, "NF1\\n{method}\\n{path}\\n{query}\\n{ts}\\n{nonce}"). A node refuses a
request that is unsigned, wrongly signed, outside the clock window, or whose nonce it has seen
within the window (replay). Fragment bodies carry a CRC32C per block, checked on both ends;
this signature authenticates who asks and what they ask for.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

__all__ = ["REPLAY_WINDOW_S", "NonceCache", "SignatureError", "sign_request", "verify_request"]

REPLAY_WINDOW_S = 300
_HEADER = re.compile(r"^NF-HMAC-SHA256 ts=(\d+), nonce=([0-9a-f]{32}), sig=([0-9a-f]{64})$")


class SignatureError(Exception):
    """The request is not signed by a cluster member, or it is a replay."""


def _digest(secret: bytes, method: str, path: str, query: str, ts: str, nonce: str) -> str:
    text = f"NF1\n{method}\n{path}\n{query}\n{ts}\n{nonce}"
    return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()


def sign_request(secret: bytes, method: str, path: str, query: str = "") -> str:
    """The Authorization header value for one request (a fresh nonce each time)."""
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    sig = _digest(secret, method, path, query, ts, nonce)
    return f"NF-HMAC-SHA256 ts={ts}, nonce={nonce}, sig={sig}"


class NonceCache:
    """Nonces seen within the replay window (bounded by the window, pruned as it slides)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def check_and_add(self, nonce: str, now: float) -> bool:
        if len(self._seen) > 10_000:
            self._seen = {n: t for n, t in self._seen.items() if t > now - REPLAY_WINDOW_S}
        if nonce in self._seen:
            return False
        self._seen[nonce] = now
        return True


def verify_request(
    secret: bytes, header: str | None, method: str, path: str, query: str, nonces: NonceCache
) -> None:
    """Raise SignatureError unless the request is signed with ``secret`` and fresh."""
    if not header:
        raise SignatureError("unsigned request")
    match = _HEADER.match(header)
    if match is None:
        raise SignatureError("malformed authorization")
    ts, nonce, sig = match.groups()
    now = time.time()
    if abs(now - int(ts)) > REPLAY_WINDOW_S:
        raise SignatureError("request time outside the allowed window")
    if not hmac.compare_digest(_digest(secret, method, path, query, ts, nonce), sig):
        raise SignatureError("signature mismatch")
    if not nonces.check_and_add(nonce, now):
        raise SignatureError("replayed request")
