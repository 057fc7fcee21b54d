"""A bucket's settings as typed values, read from the bucket's record in one piece.

The metadata store keeps each setting as a small document next to the bucket row (the names
below) and returns them all with the bucket (``Bucket.configs``); :func:`settings_of` turns
them into :class:`BucketSettings` once per record. Front doors read these values, never the
documents. A new bucket-level setting (encryption, lifecycle, replication ...) is one more
document name, one field here, and its rules in :mod:`ninefold.domain.buckets`.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ninefold.domain.cors import CorsRule, rules_from_json
from ninefold.iam.policy import Policy, parse_policy
from ninefold.meta.models import Bucket as BucketRecord

__all__ = [
    "ACL_DOC",
    "CORS_DOC",
    "LOCK_DOC",
    "OWNERSHIP_DOC",
    "OWNERSHIP_VALUES",
    "PUBLIC_ACCESS_DOC",
    "TAGS_DOC",
    "BucketSettings",
    "PublicAccessBlock",
    "RetentionRule",
    "parsed_policy",
    "settings_of",
]

#: configuration document names (one row each in the metadata store)
ACL_DOC = "acl"
CORS_DOC = "cors"
LOCK_DOC = "object-lock"
OWNERSHIP_DOC = "ownership"
PUBLIC_ACCESS_DOC = "public-access-block"
TAGS_DOC = "tagging"
#: reserved for the issues that add them: "encryption", "lifecycle", "replication"

OWNERSHIP_VALUES = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    """The four PublicAccessBlock flags, by their S3 names."""

    BlockPublicAcls: bool = False
    IgnorePublicAcls: bool = False
    BlockPublicPolicy: bool = False
    RestrictPublicBuckets: bool = False

    FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in self.FLAGS})

    @classmethod
    def from_json(cls, raw: str) -> PublicAccessBlock:
        doc = json.loads(raw)
        return cls(**{name: bool(doc.get(name, False)) for name in cls.FLAGS})


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """An Object Lock default retention: ``mode`` for ``days`` or ``years`` (one of them)."""

    mode: str
    days: int | None = None
    years: int | None = None

    @property
    def seconds(self) -> int:
        return (self.days or 0) * 86400 + (self.years or 0) * 365 * 86400


@dataclass(frozen=True, slots=True)
class BucketSettings:
    """Everything a bucket is configured with besides its identity.

    ``None`` means "not configured" where S3 distinguishes it from an empty value (GET of an
    unset CORS, tagging, ownership or public-access-block configuration is a 404)."""

    versioning: str = ""
    object_lock: bool = False
    acl: str = "private"
    public_access_block: PublicAccessBlock | None = None
    ownership: str | None = None
    #: the Object Lock configuration was put (``lock_default`` may still be None: no rule)
    lock_configured: bool = False
    lock_default: RetentionRule | None = None
    cors: tuple[CorsRule, ...] | None = None
    tags: dict[str, str] | None = None
    #: the bucket policy as it was put ("" for none), and parsed
    policy_text: str = ""
    policy: Policy | None = None

    @property
    def public_flags(self) -> PublicAccessBlock:
        return self.public_access_block or _NO_BLOCK

    @property
    def acls_disabled(self) -> bool:
        return self.ownership == "BucketOwnerEnforced"


_NO_BLOCK = PublicAccessBlock()

_POLICIES: OrderedDict[tuple[str, bool], Policy] = OrderedDict()
_lock = threading.Lock()


def parsed_policy(text: str, *, identity: bool = False) -> Policy:
    """``text`` parsed, kept per process: a policy is parsed once, not per request."""
    key = (text, identity)
    with _lock:
        policy = _POLICIES.get(key)
        if policy is not None:
            _POLICIES.move_to_end(key)
            return policy
    policy = parse_policy(text, identity=identity)
    with _lock:
        _POLICIES[key] = policy
        if len(_POLICIES) > 512:
            _POLICIES.popitem(last=False)
    return policy


def _retention(doc: dict[str, Any]) -> RetentionRule | None:
    if not doc.get("mode"):
        return None
    return RetentionRule(doc["mode"], days=doc.get("days"), years=doc.get("years"))


def _build(record: BucketRecord) -> BucketSettings:
    docs = record.configs
    lock_doc = docs.get(LOCK_DOC)
    cors_doc = docs.get(CORS_DOC)
    tags_doc = docs.get(TAGS_DOC)
    ownership_doc = docs.get(OWNERSHIP_DOC)
    pab_doc = docs.get(PUBLIC_ACCESS_DOC)
    return BucketSettings(
        versioning=record.versioning,
        object_lock=record.object_lock,
        acl=docs.get(ACL_DOC) or "private",
        public_access_block=PublicAccessBlock.from_json(pab_doc) if pab_doc else None,
        ownership=json.loads(ownership_doc)["ObjectOwnership"] if ownership_doc else None,
        lock_configured=lock_doc is not None,
        lock_default=_retention(json.loads(lock_doc)) if lock_doc else None,
        cors=tuple(rules_from_json(cors_doc)) if cors_doc is not None else None,
        tags=dict(json.loads(tags_doc)) if tags_doc is not None else None,
        policy_text=record.policy,
        policy=parsed_policy(record.policy) if record.policy else None,
    )


def settings_of(record: BucketRecord) -> BucketSettings:
    """The typed settings of ``record`` (the domain caches them with the record it builds a
    Bucket from: see ``ninefold.domain.buckets.Bucket.of``)."""
    return _build(record)
