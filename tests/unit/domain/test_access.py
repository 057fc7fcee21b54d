"""Authorization rules of ``ninefold.domain.access``, on the in-memory metadata store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ninefold.core import errors
from ninefold.domain.access import Access, AccessRequest
from ninefold.domain.buckets import Bucket, BucketService
from ninefold.domain.iam import IamService, Principal
from ninefold.domain.settings import PublicAccessBlock
from ninefold.meta.memory import MemoryMetaStore
from ninefold.meta.models import ObjectVersion

ROOT = Principal("ROOTKEY", "root", True)
ALICE = Principal("ALICEKEY", "alice", False)


class World:
    def __init__(self) -> None:
        self.meta = MemoryMetaStore()
        self.iam = IamService(self.meta)
        self.buckets = BucketService(self.meta, "us-east-1")
        self.access = Access(self.meta, self.iam)

    async def bucket(self, name: str = "b") -> Bucket:
        return await self.buckets.require(name)

    async def allowed(
        self,
        principal: Principal | None,
        action: str,
        bucket: str | None = "b",
        key: str | None = None,
        **extra: Any,
    ) -> bool:
        found = await self.buckets.get(bucket) if bucket is not None else None
        try:
            await self.access.authorize(
                AccessRequest(principal, action, bucket, found, key, **extra)
            )
        except errors.AccessDenied:
            return False
        return True


def run(test: Callable[[World], Awaitable[None]]) -> None:
    asyncio.run(test(World()))


def policy(*statements: dict[str, Any]) -> bytes:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}).encode()


def test_root_may_do_anything_without_a_policy_and_anonymous_nothing() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        assert await w.allowed(ROOT, "s3:PutObject", key="k")
        assert await w.allowed(ROOT, "s3:ListAllMyBuckets", bucket=None)
        assert not await w.allowed(None, "s3:GetObject", key="k")
        assert not await w.allowed(None, "s3:ListAllMyBuckets", bucket=None)
        # a bucket that does not exist: root goes on (the operation says NoSuchBucket)
        assert await w.allowed(ROOT, "s3:GetObject", bucket="absent", key="k")
        assert not await w.allowed(None, "s3:GetObject", bucket="absent", key="k")

    run(go)


def test_an_explicit_deny_stops_root_except_for_the_policy_operations() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        deny_all = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["*"]}
        await w.buckets.set_policy(await w.bucket(), policy(deny_all))
        assert not await w.allowed(ROOT, "s3:GetObject", key="k")
        assert await w.allowed(ROOT, "s3:PutBucketPolicy", manages_policy=True)

    run(go)


def test_a_public_policy_admits_anonymous_reads_unless_restricted() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        read = {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
        }
        await w.buckets.set_policy(await w.bucket(), policy(read))
        assert await w.allowed(None, "s3:GetObject", key="k")
        assert not await w.allowed(None, "s3:PutObject", key="k")
        await w.buckets.set_public_access_block(
            await w.bucket(), PublicAccessBlock(RestrictPublicBuckets=True)
        )
        assert not await w.allowed(None, "s3:GetObject", key="k")

    run(go)


def test_canned_acls_admit_anonymous_requests_unless_ignored() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="public-read-write")
        assert await w.allowed(None, "s3:ListBucket")
        assert await w.allowed(None, "s3:PutObject", key="k")
        assert not await w.allowed(None, "s3:DeleteBucket")
        # reading an object needs the object's own ACL
        assert not await w.allowed(None, "s3:GetObject", key="k")
        await w.meta.put_object(
            ObjectVersion(
                bucket="b", key="k", size=0, etag="e", last_modified=1.0, acl="public-read"
            )
        )
        assert await w.allowed(None, "s3:GetObject", key="k")
        await w.buckets.set_public_access_block(
            await w.bucket(), PublicAccessBlock(IgnorePublicAcls=True)
        )
        assert not await w.allowed(None, "s3:GetObject", key="k")
        assert not await w.allowed(None, "s3:ListBucket")

    run(go)


def test_a_user_needs_an_allow_and_no_deny() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        await w.iam.create_user("alice")
        assert not await w.allowed(ALICE, "s3:GetObject", key="k")
        await w.iam.put_policy(
            "read",
            policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}).decode(),
        )
        await w.iam.create_group("readers")
        await w.iam.attach("read", kind="group", target="readers", attached=True)
        await w.iam.set_membership("readers", "alice", member=True)
        assert await w.allowed(ALICE, "s3:GetObject", key="k")
        assert not await w.allowed(ALICE, "s3:PutObject", key="k")
        deny = {
            "Effect": "Deny",
            "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/secret/*",
        }
        await w.buckets.set_policy(await w.bucket(), policy(deny))
        assert not await w.allowed(ALICE, "s3:GetObject", key="secret/x")
        assert await w.allowed(ALICE, "s3:GetObject", key="public/x")

    run(go)


def test_conditions_see_the_front_doors_context_and_existing_tags() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        statements = (
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::b/*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/secret": "yes"}},
            },
        )
        await w.buckets.set_policy(await w.bucket(), policy(*statements))
        tls = {"aws:securetransport": "true"}
        plain = {"aws:securetransport": "false"}
        assert not await w.allowed(ROOT, "s3:GetObject", key="k", context=plain)
        assert await w.allowed(ROOT, "s3:GetObject", key="k", context=tls)
        await w.meta.put_object(
            ObjectVersion(
                bucket="b", key="k", size=0, etag="e", last_modified=1.0, tags={"secret": "yes"}
            )
        )
        assert not await w.allowed(ROOT, "s3:GetObject", key="k", context=tls)

    run(go)


@pytest.mark.parametrize("acl", ["public-read", "public-read-write", "authenticated-read"])
def test_public_acls_are_refused_under_block_public_acls(acl: str) -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        await w.buckets.set_public_access_block(
            await w.bucket(), PublicAccessBlock(BlockPublicAcls=True)
        )
        with pytest.raises(errors.AccessDenied):
            w.buckets.check_acl(await w.bucket(), acl)
        w.buckets.check_acl(await w.bucket(), "private")

    run(go)


class CountingMeta(MemoryMetaStore):
    """The in-memory store, counting the object reads authorization makes."""

    def __init__(self) -> None:
        super().__init__()
        self.object_reads = 0

    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        self.object_reads += 1
        return await super().get_object(bucket, key)

    async def get_object_version(
        self, bucket: str, key: str, version_id: str | None
    ) -> ObjectVersion | None:
        self.object_reads += 1
        return await super().get_object_version(bucket, key, version_id)


def test_existing_object_tags_are_read_only_when_a_policy_names_them() -> None:
    async def go(w: World) -> None:
        meta = CountingMeta()
        w.meta, w.iam = meta, IamService(meta)
        w.buckets, w.access = BucketService(meta, "us-east-1"), Access(meta, w.iam)
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        await w.iam.create_user("alice")
        read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
        await w.iam.put_policy("read", policy(read).decode())
        await w.iam.attach("read", kind="user", target="alice", attached=True)
        assert await w.allowed(ALICE, "s3:GetObject", key="k")
        assert await w.allowed(ROOT, "s3:GetObject", key="k")
        assert meta.object_reads == 0
        tagged = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}},
        }
        await w.buckets.set_policy(await w.bucket(), policy(tagged))
        assert await w.allowed(ALICE, "s3:GetObject", key="k")
        assert meta.object_reads == 1

    run(go)


def test_existing_object_tags_are_those_of_the_version_named() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        await w.meta.set_bucket_versioning("b", "Enabled")
        old = await w.meta.put_object(
            ObjectVersion(
                bucket="b", key="k", size=0, etag="e", last_modified=1.0, tags={"class": "secret"}
            )
        )
        new = await w.meta.put_object(
            ObjectVersion(bucket="b", key="k", size=0, etag="f", last_modified=2.0, tags={})
        )
        assert old and new and old != new
        deny = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject*",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}},
        }
        await w.buckets.set_policy(await w.bucket(), policy(deny))
        assert await w.allowed(ROOT, "s3:GetObject", key="k")
        assert await w.allowed(ROOT, "s3:GetObjectVersion", key="k", version_id=new)
        assert not await w.allowed(ROOT, "s3:GetObjectVersion", key="k", version_id=old)

    run(go)


def test_body_condition_keys_are_read_only_when_a_policy_names_them() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        reads: list[str] = []

        async def body() -> dict[str, str | list[str]]:
            reads.append("body")
            return {"s3:requestobjecttag/class": "secret", "s3:requestobjecttagkeys": ["class"]}

        put_tags: dict[str, Any] = {"key": "k", "body_context": body}
        assert await w.allowed(ROOT, "s3:PutObjectTagging", **put_tags)
        other = {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "*"}
        await w.buckets.set_policy(await w.bucket(), policy(other))
        assert await w.allowed(ROOT, "s3:PutObjectTagging", **put_tags)
        assert reads == []
        deny = {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObjectTagging",
            "Resource": "arn:aws:s3:::b/*",
            "Condition": {"StringEquals": {"s3:RequestObjectTag/class": "secret"}},
        }
        await w.buckets.set_policy(await w.bucket(), policy(deny))
        assert not await w.allowed(ROOT, "s3:PutObjectTagging", **put_tags)
        assert reads == ["body"]

    run(go)


def test_principal_keys_of_a_user() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        await w.iam.create_user("alice")
        mine = {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/${aws:PrincipalAccount}/${aws:username}/*",
            "Condition": {"StringEquals": {"aws:PrincipalType": "User"}},
        }
        await w.iam.put_policy("home", policy(mine).decode())
        await w.iam.attach("home", kind="user", target="alice", attached=True)
        assert await w.allowed(ALICE, "s3:GetObject", key="000000000000/alice/x")
        assert not await w.allowed(ALICE, "s3:GetObject", key="000000000000/bob/x")


OTHER = "111122223333"
OTHER_ROOT = Principal("OTHERKEY", "root", True, OTHER)
OTHER_USER = Principal("CAROLKEY", "carol", False, OTHER)


def test_another_account_needs_the_buckets_consent() -> None:
    async def go(w: World) -> None:
        await w.buckets.create("b", "root", object_lock=False, acl="private")
        await w.meta.put_object(
            ObjectVersion(bucket="b", key="k", size=0, etag="e", last_modified=1.0, owner="root")
        )
        for action, key in (("s3:GetObject", "k"), ("s3:ListBucket", None), ("s3:PutObject", "x")):
            assert not await w.allowed(OTHER_ROOT, action, key=key)
        assert not await w.allowed(OTHER_ROOT, "s3:DeleteBucket")
        # CreateBucket of a taken name is decided by the operation (BucketAlreadyExists)
        assert await w.allowed(OTHER_ROOT, "s3:CreateBucket")
        # a grant to the account: its root is in; its users also need their own policies
        grants = f'{{"grants":[["account","{OTHER}","READ"]]}}'
        await w.buckets.set_acl(await w.bucket(), grants)
        assert await w.allowed(OTHER_ROOT, "s3:ListBucket")
        assert not await w.allowed(OTHER_ROOT, "s3:PutObject", key="x")
        assert not await w.allowed(OTHER_ROOT, "s3:GetObject", key="k")  # the object's ACL
        await w.iam.create_user("carol")
        assert not await w.allowed(OTHER_USER, "s3:ListBucket")
        await w.iam.put_policy(
            "lister",
            policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}).decode(),
        )
        await w.iam.attach("lister", kind="user", target="carol", attached=True)
        assert await w.allowed(OTHER_USER, "s3:ListBucket")
        # or a bucket policy naming the account; an explicit Deny wins over a grant
        allow = {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "s3:PutObject",
            "Resource": ["arn:aws:s3:::b/*"],
        }
        deny = {**allow, "Effect": "Deny", "Action": "s3:ListBucket", "Resource": ["*"]}
        await w.buckets.set_policy(await w.bucket(), policy(allow, deny))
        assert await w.allowed(OTHER_ROOT, "s3:PutObject", key="x")
        assert not await w.allowed(OTHER_ROOT, "s3:ListBucket")
        # the default account's root is still the owner
        assert await w.allowed(ROOT, "s3:DeleteBucket")

    run(go)
