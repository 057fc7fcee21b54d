"""Erasure codec adapter over pyeclib (ISA-L Reed-Solomon, Vandermonde, systematic).

Calls are CPU-bound C code that releases the GIL: callers run them in a thread pool, never on
the event loop. With all data fragments present, ``decode`` passes exactly those to pyeclib,
which then only concatenates payloads (no matrix decode).
"""

from __future__ import annotations

from pyeclib.ec_iface import ECDriver

from ninefold.core import errors

__all__ = ["ECCodec"]


class ECCodec:
    """Encodes one stripe (at most ``k * unit_bytes`` bytes) into ``k + m`` fragments."""

    def __init__(self, k: int, m: int, unit_bytes: int = 256 * 1024) -> None:
        self.k = k
        self.m = m
        self.unit_bytes = unit_bytes
        self._driver = ECDriver(k=k, m=m, ec_type="isa_l_rs_vand")

    @property
    def stripe_bytes(self) -> int:
        return self.k * self.unit_bytes

    def encode(self, stripe: bytes) -> list[bytes]:
        fragments: list[bytes] = self._driver.encode(stripe)
        return fragments

    def decode(self, fragments: dict[int, bytes]) -> bytes:
        """The stripe from any ``k`` fragments (index -> fragment bytes)."""
        if len(fragments) < self.k:
            raise errors.DataUnavailable(f"need {self.k} fragments, have {len(fragments)}")
        data = [fragments[i] for i in range(self.k) if i in fragments]
        chosen = data if len(data) == self.k else list(fragments.values())[: self.k + self.m]
        try:
            stripe: bytes = self._driver.decode(chosen)
        except Exception as exc:  # pyeclib raises its own error tree
            raise errors.DataUnavailable(f"erasure decode failed: {exc}") from exc
        return stripe

    def reconstruct(self, fragments: dict[int, bytes], missing: list[int]) -> list[bytes]:
        """Fragments ``missing`` (in that order) rebuilt from any ``k`` others (repair)."""
        if len(fragments) < self.k:
            raise errors.DataUnavailable(f"need {self.k} fragments, have {len(fragments)}")
        try:
            rebuilt: list[bytes] = self._driver.reconstruct(list(fragments.values()), missing)
        except Exception as exc:  # pyeclib raises its own error tree
            raise errors.DataUnavailable(f"erasure reconstruct failed: {exc}") from exc
        return rebuilt
