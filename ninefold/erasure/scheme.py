"""Redundancy schemes: erasure coding ``ec:K+M`` or replication ``rep:N``, recorded per chunk."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["EC_6_3", "REP_4", "Scheme"]

_EC = re.compile(r"^ec:(\d+)\+(\d+)$")
_REP = re.compile(r"^rep:(\d+)$")


@dataclass(frozen=True, slots=True)
class Scheme:
    """``kind="ec"``: k data + m parity fragments; ``kind="rep"``: k=1 and m extra copies.

    >>> Scheme.parse("ec:6+3").width, Scheme.parse("rep:4").width
    (9, 4)
    >>> Scheme.parse("ec:6+3").write_quorum, Scheme.parse("rep:4").write_quorum
    (7, 3)
    """

    kind: Literal["ec", "rep"]
    k: int
    m: int

    @property
    def name(self) -> str:
        return f"ec:{self.k}+{self.m}" if self.kind == "ec" else f"rep:{self.k + self.m}"

    @property
    def width(self) -> int:
        return self.k + self.m

    @property
    def read_quorum(self) -> int:
        return self.k

    @property
    def write_quorum(self) -> int:
        """Fragments that must be durable before a write is acknowledged (ARCHITECTURE §3)."""
        if self.kind == "ec":
            return min(self.k + 1, self.width)
        return max(2, self.width - 1) if self.width > 2 else self.width

    @classmethod
    def parse(cls, name: str) -> Scheme:
        if match := _EC.match(name):
            k, m = int(match[1]), int(match[2])
            if k >= 1 and m >= 0:
                return cls("ec", k, m)
        if match := _REP.match(name):
            copies = int(match[1])
            if copies >= 1:
                return cls("rep", 1, copies - 1)
        raise ValueError(f"unknown redundancy scheme {name!r}")


EC_6_3 = Scheme("ec", 6, 3)
REP_4 = Scheme("rep", 1, 3)
