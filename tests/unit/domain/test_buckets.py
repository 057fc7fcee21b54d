"""Bucket rules of ``ninefold.domain.buckets``, on the in-memory metadata store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from ninefold.core import errors
from ninefold.domain.buckets import BucketService
from ninefold.domain.cors import CorsRule
from ninefold.domain.settings import PublicAccessBlock, RetentionRule
from ninefold.meta.memory import MemoryMetaStore


def run(test: Callable[[BucketService], Awaitable[None]]) -> None:
    asyncio.run(test(BucketService(MemoryMetaStore(), "us-east-1")))


ALICE = "111111111111"
BOB = "222222222222"


def test_a_new_bucket_has_default_settings_and_one_owner() -> None:
    async def go(buckets: BucketService) -> None:
        # owners are accounts (12 digits); ALICE and BOB are two of them
        await buckets.create("b", ALICE, object_lock=False, acl="private")
        bucket = await buckets.require("b")
        assert (bucket.owner, bucket.region, bucket.versioning) == (ALICE, "us-east-1", "")
        assert bucket.settings.acl == "private"
        assert bucket.settings.cors is None and bucket.settings.tags is None
        with pytest.raises(errors.BucketAlreadyOwnedByYou):
            await buckets.create("b", ALICE, object_lock=False, acl="private")
        with pytest.raises(errors.BucketAlreadyExists):
            await buckets.create("b", BOB, object_lock=False, acl="private")
        assert [b.name for b in (await buckets.list_for(BOB))[0]] == []
        assert [b.name for b in (await buckets.list_for(ALICE))[0]] == ["b"]

    run(go)


def test_object_lock_keeps_versioning_on() -> None:
    async def go(buckets: BucketService) -> None:
        await buckets.create("locked", "a", object_lock=True, acl="private")
        bucket = await buckets.require("locked")
        assert bucket.versioning == "Enabled" and bucket.object_lock
        with pytest.raises(errors.InvalidBucketState):
            await buckets.set_versioning(bucket, "Suspended")
        await buckets.create("plain", "a", object_lock=False, acl="private")
        with pytest.raises(errors.InvalidBucketState):
            await buckets.set_lock_configuration(
                await buckets.require("plain"), RetentionRule("GOVERNANCE", days=1)
            )
        with pytest.raises(errors.InvalidArgument):
            await buckets.set_lock_configuration(bucket, RetentionRule("GOVERNANCE", days=0))
        await buckets.set_lock_configuration(bucket, RetentionRule("COMPLIANCE", years=2))
        rule = buckets.lock_configuration_of(await buckets.require("locked"))
        assert rule == RetentionRule("COMPLIANCE", years=2)

    run(go)


def test_settings_come_back_typed_and_unset_ones_are_not_found() -> None:
    async def go(buckets: BucketService) -> None:
        await buckets.create("b", "a", object_lock=False, acl="public-read")
        bucket = await buckets.require("b")
        assert bucket.settings.acl == "public-read"
        for getter, name in (
            (buckets.cors_of, "cors"),
            (buckets.tags_of, "tagging"),
            (buckets.ownership_of, "ownership"),
            (buckets.public_access_block_of, "public-access-block"),
            (buckets.policy_of, "policy"),
        ):
            with pytest.raises(errors.ConfigurationNotFound) as caught:
                getter(bucket)
            assert caught.value.name == name
        rule = CorsRule(methods=("GET",), origins=("*",))
        await buckets.set_cors(bucket, [rule])
        await buckets.set_tags(bucket, {"team": "x"})
        await buckets.set_ownership(bucket, "BucketOwnerEnforced")
        await buckets.set_public_access_block(bucket, PublicAccessBlock(BlockPublicPolicy=True))
        bucket = await buckets.require("b")
        assert buckets.cors_of(bucket) == (rule,)
        assert buckets.tags_of(bucket) == {"team": "x"}
        assert buckets.ownership_of(bucket) == "BucketOwnerEnforced"
        assert buckets.public_access_block_of(bucket).BlockPublicPolicy
        with pytest.raises(errors.AclsDisabled):
            buckets.check_acl(bucket, "public-read")
        buckets.check_acl(bucket, "bucket-owner-full-control")
        with pytest.raises(errors.InvalidArgument):
            buckets.check_acl(bucket, "no-such-acl")

    run(go)


def test_policies_are_validated_and_public_ones_blocked() -> None:
    async def go(buckets: BucketService) -> None:
        await buckets.create("b", "a", object_lock=False, acl="private")
        public = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::b/*",
                    }
                ],
            }
        ).encode()
        with pytest.raises(errors.MalformedPolicy):
            await buckets.set_policy(await buckets.require("b"), b"   ")
        with pytest.raises(errors.MalformedPolicy):
            await buckets.set_policy(await buckets.require("b"), b"{" + b" " * 21000 + b"}")
        await buckets.set_public_access_block(
            await buckets.require("b"), PublicAccessBlock(BlockPublicPolicy=True)
        )
        with pytest.raises(errors.AccessDenied):
            await buckets.set_policy(await buckets.require("b"), public)
        await buckets.set_public_access_block(await buckets.require("b"), None)
        await buckets.set_policy(await buckets.require("b"), public)
        bucket = await buckets.require("b")
        assert buckets.policy_is_public(bucket)
        assert json.loads(buckets.policy_of(bucket)) == json.loads(public)
        await buckets.delete_policy(bucket)
        with pytest.raises(errors.ConfigurationNotFound):
            buckets.policy_of(await buckets.require("b"))

    run(go)


def test_deleting_a_bucket_takes_its_settings_along() -> None:
    async def go(buckets: BucketService) -> None:
        await buckets.create("b", "a", object_lock=False, acl="private")
        await buckets.set_tags(await buckets.require("b"), {"k": "v"})
        await buckets.delete("b")
        assert await buckets.get("b") is None
        with pytest.raises(errors.NoSuchBucket):
            await buckets.delete("b")
        await buckets.create("b", "a", object_lock=False, acl="private")
        assert (await buckets.require("b")).settings.tags is None

    run(go)
