"""Buckets: creation, deletion, listing, and every bucket-level setting with its rules.

A request resolves its bucket once (:meth:`BucketService.get`) and carries the :class:`Bucket`
from then on: authorization, CORS, Object Lock defaults, ACL checks and the operation itself
all read the same value. Every change goes through a method here, which checks the rules
that S3 attaches to it (Object Lock keeps versioning on; BucketOwnerEnforced disables ACLs; a
public access block refuses public ACLs and policies) and stores the document the metadata
store keeps for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ninefold.core import errors
from ninefold.domain.acl import CANNED, grants_of, is_public
from ninefold.domain.cors import CorsRule, rules_to_json
from ninefold.domain.iam import account_of
from ninefold.domain.settings import (
    ACL_DOC,
    CORS_DOC,
    LOCK_DOC,
    OWNERSHIP_DOC,
    OWNERSHIP_VALUES,
    PUBLIC_ACCESS_DOC,
    TAGS_DOC,
    BucketSettings,
    PublicAccessBlock,
    RetentionRule,
    parsed_policy,
    settings_of,
)
from ninefold.iam.policy import Policy, parse_policy
from ninefold.meta.models import Bucket as BucketRecord
from ninefold.meta.store import MetaStore

__all__ = ["Bucket", "BucketService"]

#: S3's limit on a bucket policy document
MAX_POLICY_BYTES = 20 * 1024
#: the longest default retention a bucket takes (a retain-until date stays representable)
MAX_RETENTION_DAYS = 36500
MAX_RETENTION_YEARS = 100


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket as a request sees it: identity and typed settings."""

    name: str
    owner: str
    created_at: float
    region: str
    settings: BucketSettings

    @property
    def versioning(self) -> str:
        return self.settings.versioning

    @property
    def object_lock(self) -> bool:
        return self.settings.object_lock

    @classmethod
    def of(cls, record: BucketRecord) -> Bucket:
        """The Bucket of ``record``, built once per record object: the metadata store's bucket
        cache hands out the same record until the bucket changes, so the request path does not
        parse settings documents again. (A plain dict: its get and set are atomic under the
        GIL, and a race only builds the same value twice.)"""
        hit = _BUCKETS.get(id(record))
        if hit is not None and hit[0] is record:
            return hit[1]
        bucket = cls(
            name=record.name,
            owner=record.owner,
            created_at=record.created_at,
            region=record.region,
            settings=settings_of(record),
        )
        if len(_BUCKETS) >= _MAX_CACHED:
            _BUCKETS.clear()
        _BUCKETS[id(record)] = (record, bucket)
        return bucket


#: record id -> (the record, its Bucket); the record is kept so its id cannot be reused
_BUCKETS: dict[int, tuple[BucketRecord, Bucket]] = {}
_MAX_CACHED = 4096


class BucketService:
    """The one door to buckets for every front end (S3, JSON API, console, workers)."""

    def __init__(self, meta: MetaStore, region: str) -> None:
        self._meta = meta
        self.region = region

    # -- identity -------------------------------------------------------------------------------

    async def get(self, name: str) -> Bucket | None:
        """The bucket with all its settings, in one metadata read; None when absent."""
        record = await self._meta.get_bucket(name)
        return None if record is None else Bucket.of(record)

    async def require(self, name: str) -> Bucket:
        bucket = await self.get(name)
        if bucket is None:
            raise errors.NoSuchBucket(BucketName=name)
        return bucket

    async def list_for(
        self,
        account: str,
        *,
        prefix: str = "",
        after: str = "",
        limit: int | None = None,
        region: str | None = None,
    ) -> tuple[list[Bucket], bool]:
        """The buckets of ``account`` whose names start with ``prefix``, after ``after``, (in
        ``region``), by name, at most ``limit``; and whether more follow. Settings are not
        loaded."""
        records = await self._meta.list_buckets()
        out = [
            Bucket(r.name, r.owner, r.created_at, r.region, BucketSettings(versioning=r.versioning))
            for r in sorted(records, key=lambda r: r.name)
            if account_of(r.owner) == account
            and r.name.startswith(prefix)
            and r.name > after
            and (region is None or (r.region or self.region) == region)
        ]
        if limit is not None and len(out) > limit:
            return out[:limit], True
        return out, False

    async def create(
        self,
        name: str,
        owner: str,
        *,
        object_lock: bool,
        acl: str,
        ownership: str | None = None,
    ) -> None:
        """A new bucket owned by the account ``owner``, with ``acl`` (canned or built by
        ``domain.acl.build_acl``) and ObjectOwnership ``ownership`` (None: not configured);
        Object Lock turns versioning on for good."""
        if ownership is not None and ownership not in OWNERSHIP_VALUES:
            raise errors.InvalidArgument(
                "Invalid x-amz-object-ownership header",
                ArgumentName="x-amz-object-ownership",
                ArgumentValue=ownership,
            )
        if not acl.startswith("{"):
            check_canned(acl)
        if ownership == "BucketOwnerEnforced" and not _owner_only(acl, account_of(owner)):
            raise errors.InvalidBucketAclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            )
        try:
            await self._meta.create_bucket(
                BucketRecord(
                    name=name,
                    created_at=time.time(),
                    owner=owner,
                    region=self.region,
                    versioning="Enabled" if object_lock else "",
                    object_lock=object_lock,
                )
            )
        except errors.BucketAlreadyExists:
            existing = await self.get(name)
            if existing is not None and account_of(existing.owner) == account_of(owner):
                raise errors.BucketAlreadyOwnedByYou(BucketName=name) from None
            raise
        if acl != "private":
            await self._meta.put_bucket_config(name, ACL_DOC, acl)
        if ownership is not None:
            doc = json.dumps({"ObjectOwnership": ownership})
            await self._meta.put_bucket_config(name, OWNERSHIP_DOC, doc)

    async def delete(self, name: str) -> None:
        await self._meta.delete_bucket(name)

    # -- versioning -----------------------------------------------------------------------------

    async def set_versioning(self, bucket: Bucket, status: str) -> None:
        if status not in ("Enabled", "Suspended"):
            raise errors.InvalidDocument(
                "The XML you provided was not well-formed or did not validate: Status must be "
                "Enabled or Suspended."
            )
        # Object Lock keeps versioning Enabled: the metadata store refuses a suspension in
        # the transaction that would write it (meta.rules.check_versioning_change)
        await self._meta.set_bucket_versioning(bucket.name, status)

    # -- ACL ------------------------------------------------------------------------------------

    def check_acl(self, bucket: Bucket, acl: str) -> None:
        """Refuse ``acl`` (canned, or built by ``domain.acl.build_acl``) where the bucket
        disables ACLs (anything but the bucket owner's full control) or blocks public ones."""
        if not acl.startswith("{"):
            check_canned(acl)
        if acl in ("private", "bucket-owner-full-control"):
            return
        if bucket.settings.acls_disabled and not _owner_only(acl, account_of(bucket.owner)):
            raise errors.AclsDisabled()
        if is_public(acl) and bucket.settings.public_flags.BlockPublicAcls:
            raise errors.AccessDenied("Access Denied: the bucket's public access block forbids it.")

    @staticmethod
    def object_owner(bucket: Bucket, writer: str, acl: str) -> str:
        """The account that owns an object the account ``writer`` writes with ``acl``: the
        bucket's owner under BucketOwnerEnforced, and under BucketOwnerPreferred when the
        writer gives it bucket-owner-full-control; else the writer (ObjectWriter). What an
        anonymous request (``writer`` "") writes belongs to the bucket's owner."""
        ownership = bucket.settings.ownership
        if (
            not writer
            or ownership == "BucketOwnerEnforced"
            or (ownership == "BucketOwnerPreferred" and acl == "bucket-owner-full-control")
        ):
            return account_of(bucket.owner)
        return writer

    async def set_acl(self, bucket: Bucket, acl: str) -> None:
        self.check_acl(bucket, acl)
        await self._meta.put_bucket_config(bucket.name, ACL_DOC, acl)

    # -- policy ---------------------------------------------------------------------------------

    @staticmethod
    def parse_policy(bucket_name: str, text: bytes) -> Policy:
        """A bucket policy document for ``bucket_name``; MalformedPolicy when it is not one."""
        if not text.strip():
            raise errors.MalformedPolicy(
                "Policies must be valid JSON and the first byte must be '{'"
            )
        if len(text) > MAX_POLICY_BYTES:
            raise errors.MalformedPolicy("Policy exceeds the maximum allowed document size.")
        return parse_policy(text, bucket=bucket_name)

    async def set_policy(self, bucket: Bucket, text: bytes) -> None:
        policy = self.parse_policy(bucket.name, text)
        if policy.is_public and bucket.settings.public_flags.BlockPublicPolicy:
            raise errors.AccessDenied("Access Denied: the bucket's public access block forbids it.")
        await self._meta.set_bucket_policy(bucket.name, text.decode())

    async def delete_policy(self, bucket: Bucket) -> None:
        await self._meta.set_bucket_policy(bucket.name, None)

    @staticmethod
    def policy_of(bucket: Bucket) -> str:
        if not bucket.settings.policy_text:
            raise errors.ConfigurationNotFound("policy", BucketName=bucket.name)
        return bucket.settings.policy_text

    def policy_is_public(self, bucket: Bucket) -> bool:
        return parsed_policy(self.policy_of(bucket)).is_public

    # -- CORS, tags, ownership, public access block ---------------------------------------------

    async def set_cors(self, bucket: Bucket, rules: Sequence[CorsRule] | None) -> None:
        await self._put(bucket, CORS_DOC, None if rules is None else rules_to_json(rules))

    @staticmethod
    def cors_of(bucket: Bucket) -> tuple[CorsRule, ...]:
        if bucket.settings.cors is None:
            raise errors.ConfigurationNotFound("cors", BucketName=bucket.name)
        return bucket.settings.cors

    async def set_tags(self, bucket: Bucket, tags: dict[str, str] | None) -> None:
        await self._put(bucket, TAGS_DOC, None if tags is None else json.dumps(tags))

    @staticmethod
    def tags_of(bucket: Bucket) -> dict[str, str]:
        if bucket.settings.tags is None:
            raise errors.ConfigurationNotFound("tagging", BucketName=bucket.name)
        return bucket.settings.tags

    async def set_ownership(self, bucket: Bucket, value: str | None) -> None:
        if value is not None and value not in OWNERSHIP_VALUES:
            raise errors.InvalidDocument()
        doc = None if value is None else json.dumps({"ObjectOwnership": value})
        await self._put(bucket, OWNERSHIP_DOC, doc)

    @staticmethod
    def ownership_of(bucket: Bucket) -> str:
        if bucket.settings.ownership is None:
            raise errors.ConfigurationNotFound("ownership", BucketName=bucket.name)
        return bucket.settings.ownership

    async def set_public_access_block(
        self, bucket: Bucket, flags: PublicAccessBlock | None
    ) -> None:
        await self._put(bucket, PUBLIC_ACCESS_DOC, None if flags is None else flags.to_json())

    @staticmethod
    def public_access_block_of(bucket: Bucket) -> PublicAccessBlock:
        if bucket.settings.public_access_block is None:
            raise errors.ConfigurationNotFound("public-access-block", BucketName=bucket.name)
        return bucket.settings.public_access_block

    # -- Object Lock configuration --------------------------------------------------------------

    async def set_lock_configuration(self, bucket: Bucket, rule: RetentionRule | None) -> None:
        """Set the default retention. A bucket created without Object Lock gets it here when
        its versioning is Enabled (as S3 allows since 2023); otherwise InvalidBucketState."""
        doc: dict[str, object] = {}
        if rule is not None:
            days = rule.days if rule.days is not None else 0
            years = rule.years if rule.years is not None else 0
            if (rule.days is None) == (rule.years is None) or not (
                0 < days <= MAX_RETENTION_DAYS or 0 < years <= MAX_RETENTION_YEARS
            ):
                raise errors.InvalidRetentionPeriod(
                    "Default retention period must be a positive integer value of at most "
                    f"{MAX_RETENTION_DAYS} days or {MAX_RETENTION_YEARS} years."
                )
            doc = {"mode": rule.mode, "days" if rule.days is not None else "years": days or years}
        if not bucket.object_lock:
            await self._meta.enable_object_lock(bucket.name)
        await self._put(bucket, LOCK_DOC, json.dumps(doc))

    @staticmethod
    def lock_configuration_of(bucket: Bucket) -> RetentionRule | None:
        """The default retention (None: none); a bucket without Object Lock has no
        configuration at all."""
        if not bucket.object_lock:
            raise errors.ConfigurationNotFound("object-lock", BucketName=bucket.name)
        return bucket.settings.lock_default

    async def _put(self, bucket: Bucket, name: str, doc: str | None) -> None:
        await self._meta.put_bucket_config(bucket.name, name, doc)


def _owner_only(acl: str, owner: str) -> bool:
    """Does ``acl`` grant nothing but the bucket owner's full control?"""
    if acl in ("private", "bucket-owner-full-control"):
        return True
    if not acl.startswith("{"):
        return False
    return grants_of(acl, owner) in ((), grants_of("private", owner))


def check_canned(acl: str) -> None:
    if acl not in CANNED:
        raise errors.InvalidArgument(f"Invalid canned ACL {acl!r}", ArgumentName="x-amz-acl")
