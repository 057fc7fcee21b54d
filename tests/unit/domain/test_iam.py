"""Identity rules of ``ninefold.domain.iam``, on the in-memory metadata store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from ninefold.core import errors
from ninefold.domain.iam import IamService
from ninefold.meta.memory import MemoryMetaStore

READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


def run(test: Callable[[IamService], Awaitable[None]]) -> None:
    asyncio.run(test(IamService(MemoryMetaStore())))


def test_keys_authenticate_only_while_active_and_die_with_their_user() -> None:
    async def go(iam: IamService) -> None:
        with pytest.raises(errors.NoSuchEntity):
            await iam.create_key("alice")
        await iam.create_user("alice")
        with pytest.raises(errors.EntityAlreadyExists):
            await iam.create_user("alice")
        key = await iam.create_key("alice")
        assert key.access_key.startswith("NF") and len(key.secret_key) == 40
        found = await iam.credentials(key.access_key)
        assert found is not None and (found.user, found.is_root) == ("alice", False)
        await iam.set_key_status(key.access_key, active=False)
        assert await iam.credentials(key.access_key) is None
        assert (await iam.keys())[key.access_key] == ("alice", "Inactive")
        await iam.set_key_status(key.access_key, active=True)
        await iam.delete_user("alice")
        assert await iam.credentials(key.access_key) is None
        assert await iam.keys() == {}

    run(go)


def test_identity_policies_come_from_the_user_and_its_groups_once_each() -> None:
    async def go(iam: IamService) -> None:
        await iam.create_user("alice")
        await iam.create_group("readers")
        await iam.put_policy("read", READ)
        await iam.attach("read", kind="user", target="alice", attached=True)
        await iam.attach("read", kind="group", target="readers", attached=True)
        await iam.set_membership("readers", "alice", member=True)
        assert len(await iam.identity_policies("alice")) == 1
        assert (await iam.groups())["readers"]["members"] == ["alice"]
        await iam.delete_policy("read")
        assert await iam.identity_policies("alice") == []
        assert (await iam.users())["alice"] == {"groups": ["readers"], "policies": []}
        await iam.delete_group("readers")
        assert (await iam.users())["alice"]["groups"] == []

    run(go)


def test_bad_names_documents_and_targets_are_refused() -> None:
    async def go(iam: IamService) -> None:
        with pytest.raises(errors.InvalidArgument):
            await iam.create_user("no spaces")
        with pytest.raises(errors.InvalidArgument):
            await iam.create_group("x" * 65)
        with pytest.raises(errors.MalformedPolicy):
            await iam.put_policy("p", "{not json")
        await iam.put_policy("p", READ)
        with pytest.raises(errors.NoSuchEntity):
            await iam.attach("p", kind="user", target="nobody", attached=True)
        with pytest.raises(errors.NoSuchEntity):
            await iam.attach("missing", kind="group", target="g", attached=True)
        with pytest.raises(errors.InvalidArgument):
            await iam.attach("p", kind="role", target="x", attached=True)
        with pytest.raises(errors.NoSuchEntity):
            await iam.set_key_status("NFNOSUCHKEY", active=True)

    run(go)
