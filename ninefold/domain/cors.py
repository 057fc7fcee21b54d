"""A bucket's CORS rules as values, and how an origin and method are matched against them.

Pure: no I/O, no HTTP library. The S3 edge parses and renders the ``CORSConfiguration`` XML
(``ninefold.api.s3.cors``); the rules are stored as JSON in the bucket's ``cors`` document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = ["VARY", "CorsRule", "rules_from_json", "rules_to_json"]

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


@dataclass(frozen=True, slots=True)
class CorsRule:
    """One ``CORSRule``; lists keep the order and case they were given in."""

    methods: tuple[str, ...]
    origins: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    rule_id: str | None = None
    max_age_s: int | None = None

    def matching_origin(self, origin: str) -> str | None:
        """The first ``AllowedOrigin`` pattern ``origin`` matches, or None."""
        for pattern in self.origins:
            if matches(pattern, origin):
                return pattern
        return None

    def allows_header(self, name: str) -> bool:
        """``name`` (lower case) matches an ``AllowedHeader`` pattern, ignoring case."""
        return any(matches(pattern.lower(), name) for pattern in self.headers)

    def response_headers(self, origin: str, pattern: str) -> dict[str, str]:
        """The CORS headers of a request from ``origin`` that matched this rule by ``pattern``."""
        out = {
            "Access-Control-Allow-Origin": "*" if pattern == "*" else origin,
            "Access-Control-Allow-Methods": ", ".join(self.methods),
        }
        if self.expose:
            out["Access-Control-Expose-Headers"] = ", ".join(self.expose)
        if self.max_age_s is not None:
            out["Access-Control-Max-Age"] = str(self.max_age_s)
        if pattern != "*":
            out["Access-Control-Allow-Credentials"] = "true"
        out["Vary"] = VARY
        return out


def matches(pattern: str, value: str) -> bool:
    """``pattern`` with at most one ``*`` (any run of characters, possibly none), anchored.

    >>> matches("https://*.example.com", "https://a.b.example.com")
    True
    >>> matches("start*end", "startend"), matches("prefix*", "bla.prefix")
    (True, False)
    """
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def rules_to_json(rules: Sequence[CorsRule]) -> str:
    return json.dumps({"rules": [asdict(r) for r in rules]})


def rules_from_json(raw: str) -> list[CorsRule]:
    return [
        CorsRule(
            methods=tuple(r["methods"]),
            origins=tuple(r["origins"]),
            headers=tuple(r["headers"]),
            expose=tuple(r["expose"]),
            rule_id=r["rule_id"],
            max_age_s=r["max_age_s"],
        )
        for r in json.loads(raw)["rules"]
    ]
