"""Identities: users, their access keys, groups, and the IAM policies attached to them.

The one door to identities for every front end (the S3 edge looks keys up here; ``ninefold
admin user|key|group|policy`` and the coming JSON API and console change them here). Users
sign with access keys of their own; what they may do comes from policies attached to them or
to their groups, and from bucket policies naming them. The root user is configured, not
stored, and needs no policy.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
import time
from dataclasses import dataclass
from typing import Any

from ninefold.core import errors
from ninefold.domain.settings import parsed_policy
from ninefold.iam.policy import Policy, parse_policy
from ninefold.meta.store import MetaStore

__all__ = [
    "DEFAULT_ACCOUNT",
    "Credentials",
    "IamService",
    "Principal",
    "account_of",
    "canonical_id",
    "check_name",
]

#: the account of the configured root user and of users created without ``--account``
DEFAULT_ACCOUNT = "000000000000"
#: the display name of the default account (its root user's name)
DEFAULT_ACCOUNT_NAME = "root"

_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "+=,.@_-")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: the access key it was signed with, its user and its account (the
    account owns what the request creates; ``is_root``: the account's root user)."""

    access_key: str
    user: str
    is_root: bool
    account: str = DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class Credentials:
    """An access key with its secret, as signature verification needs it."""

    access_key: str
    secret_key: str
    user: str
    is_root: bool
    account: str = DEFAULT_ACCOUNT


def account_of(owner: str) -> str:
    """The account that owns what was stored with ``owner``: an account id (12 digits), or a
    user name stored before accounts existed (then the default account)."""
    if len(owner) == 12 and owner.isdigit():
        return owner
    return DEFAULT_ACCOUNT


def canonical_id(account: str) -> str:
    """The 64-hex canonical user id S3 shows for ``account`` (Owner/ID, Grantee/ID)."""
    return hashlib.sha256(f"ninefold-account:{account}".encode()).hexdigest()


def check_name(name: str) -> None:
    """IAM names: 1-64 of letters, digits and ``+=,.@_-``."""
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS:
        raise errors.InvalidArgument(f"{name!r}: 1-64 of letters, digits and +=,.@_-")


class IamService:
    def __init__(self, meta: MetaStore) -> None:
        self._meta = meta
        #: account id -> display name (accounts are never renamed)
        self._names: dict[str, str] = {DEFAULT_ACCOUNT: DEFAULT_ACCOUNT_NAME}

    # -- lookups on the request path ------------------------------------------------------------

    async def credentials(self, access_key: str) -> Credentials | None:
        """The active user key ``access_key`` (None: unknown or disabled)."""
        doc = await self._meta.iam_get("key", access_key)
        if doc is None or doc.get("status") != "Active":
            return None
        account = str(doc.get("account", DEFAULT_ACCOUNT))
        return Credentials(
            access_key, str(doc["secret"]), str(doc["user"]), bool(doc.get("root")), account
        )

    # -- accounts -------------------------------------------------------------------------------

    async def create_account(self, name: str) -> tuple[str, Credentials]:
        """A new account (a fresh 12-digit id) and an access key of its root user; the caller
        shows the secret once. The default account (the configured root's) is not stored."""
        check_name(name)
        for doc in (await self._meta.iam_list("account")).values():
            if doc.get("name") == name:
                raise errors.EntityAlreadyExists(f"account {name!r} already exists")
        while True:
            account = "".join(secrets.choice(string.digits) for _ in range(12))
            if account != DEFAULT_ACCOUNT and await self._meta.iam_get("account", account) is None:
                break
        await self._meta.iam_put("account", account, {"name": name, "created": time.time()})
        creds = await self._new_key("root", account, root=True)
        return account, creds

    async def accounts(self) -> dict[str, str]:
        """account id -> name (the default account included)."""
        out = {DEFAULT_ACCOUNT: DEFAULT_ACCOUNT_NAME}
        for account, doc in (await self._meta.iam_list("account")).items():
            out[account] = str(doc.get("name", account))
        self._names.update(out)
        return out

    async def account_for_canonical_id(self, canonical: str) -> str | None:
        """The account whose canonical user id is ``canonical`` (None: no such account)."""
        for account in await self.accounts():
            if canonical_id(account) == canonical:
                return account
        return None

    async def resolve_names(self, owners: set[str]) -> None:
        """Learn the display names of the accounts owning ``owners`` (for :meth:`display_name`)."""
        if any(account_of(o) not in self._names for o in owners):
            await self.accounts()

    def display_name(self, owner: str) -> str:
        """The DisplayName S3 shows for ``owner``: the owning account's name (known after
        :meth:`resolve_names`); a user name stored before accounts existed is shown as is."""
        account = account_of(owner)
        if account != owner:
            return owner
        return self._names.get(account, account)

    async def identity_policies(self, user: str) -> list[Policy]:
        """The policies attached to ``user`` and to its groups."""
        doc = await self._meta.iam_get("user", user) or {}
        names = list(doc.get("policies", []))
        for group in doc.get("groups", []):
            names += (await self._meta.iam_get("group", group) or {}).get("policies", [])
        out = []
        for name in dict.fromkeys(names):
            policy_doc = await self._meta.iam_get("policy", name)
            if policy_doc is not None:
                out.append(parsed_policy(policy_doc["document"], identity=True))
        return out

    # -- users ----------------------------------------------------------------------------------

    async def create_user(self, name: str, account: str = DEFAULT_ACCOUNT) -> None:
        """A user of ``account`` (user names are unique across accounts)."""
        check_name(name)
        if account != DEFAULT_ACCOUNT and await self._meta.iam_get("account", account) is None:
            raise errors.NoSuchEntity(f"no account {account!r}")
        if await self._meta.iam_get("user", name) is not None:
            raise errors.EntityAlreadyExists(f"user {name!r} already exists")
        doc: dict[str, Any] = {"created": time.time(), "groups": [], "policies": []}
        if account != DEFAULT_ACCOUNT:
            doc["account"] = account
        await self._meta.iam_put("user", name, doc)

    async def delete_user(self, name: str) -> None:
        """Delete a user and its access keys, and take it out of its groups."""
        doc = await self._require("user", name)
        for key, key_doc in (await self._meta.iam_list("key")).items():
            if key_doc.get("user") == name:
                await self._meta.iam_put("key", key, None)
        for group in doc.get("groups", []):
            group_doc = await self._meta.iam_get("group", group)
            if group_doc is not None:
                group_doc["members"] = [m for m in group_doc.get("members", []) if m != name]
                await self._meta.iam_put("group", group, group_doc)
        await self._meta.iam_put("user", name, None)

    async def users(self) -> dict[str, dict[str, list[str]]]:
        """user -> {"groups": [...], "policies": [...]}"""
        return {
            name: {"groups": list(d.get("groups", [])), "policies": list(d.get("policies", []))}
            for name, d in (await self._meta.iam_list("user")).items()
        }

    # -- access keys ----------------------------------------------------------------------------

    async def create_key(self, user: str) -> Credentials:
        """A new access key for ``user``; the caller shows its secret once."""
        doc = await self._require("user", user)
        return await self._new_key(user, str(doc.get("account", DEFAULT_ACCOUNT)), root=False)

    async def _new_key(self, user: str, account: str, *, root: bool) -> Credentials:
        access = "NF" + "".join(
            secrets.choice(string.ascii_uppercase + string.digits) for _ in range(18)
        )
        secret = secrets.token_urlsafe(30)[:40]
        doc: dict[str, Any] = {
            "secret": secret,
            "user": user,
            "status": "Active",
            "created": time.time(),
        }
        if account != DEFAULT_ACCOUNT:
            doc["account"] = account
        if root:
            doc["root"] = True
        await self._meta.iam_put("key", access, doc)
        return Credentials(access, secret, user, root, account)

    async def set_key_status(self, access_key: str, active: bool) -> None:
        doc = await self._require("key", access_key, what="access key")
        status = "Active" if active else "Inactive"
        await self._meta.iam_put("key", access_key, {**doc, "status": status})

    async def delete_key(self, access_key: str) -> None:
        await self._require("key", access_key, what="access key")
        await self._meta.iam_put("key", access_key, None)

    async def keys(self) -> dict[str, tuple[str, str]]:
        """access key -> (user, status)"""
        return {
            key: (str(d["user"]), str(d["status"]))
            for key, d in (await self._meta.iam_list("key")).items()
        }

    # -- groups ---------------------------------------------------------------------------------

    async def create_group(self, name: str) -> None:
        check_name(name)
        if await self._meta.iam_get("group", name) is not None:
            raise errors.EntityAlreadyExists(f"group {name!r} already exists")
        await self._meta.iam_put("group", name, {"members": [], "policies": []})

    async def set_membership(self, group: str, user: str, member: bool) -> None:
        group_doc = await self._require("group", group)
        user_doc = await self._require("user", user)
        members = [m for m in group_doc.get("members", []) if m != user]
        groups = [g for g in user_doc.get("groups", []) if g != group]
        if member:
            members.append(user)
            groups.append(group)
        await self._meta.iam_put("group", group, {**group_doc, "members": members})
        await self._meta.iam_put("user", user, {**user_doc, "groups": groups})

    async def delete_group(self, name: str) -> None:
        doc = await self._require("group", name)
        for user in doc.get("members", []):
            user_doc = await self._meta.iam_get("user", user)
            if user_doc is not None:
                groups = [g for g in user_doc.get("groups", []) if g != name]
                await self._meta.iam_put("user", user, {**user_doc, "groups": groups})
        await self._meta.iam_put("group", name, None)

    async def groups(self) -> dict[str, dict[str, list[str]]]:
        """group -> {"members": [...], "policies": [...]}"""
        return {
            name: {"members": list(d.get("members", [])), "policies": list(d.get("policies", []))}
            for name, d in (await self._meta.iam_list("group")).items()
        }

    # -- policies -------------------------------------------------------------------------------

    async def put_policy(self, name: str, document: str) -> None:
        """Create or replace a policy; MalformedPolicy when the document is not one."""
        check_name(name)
        parse_policy(document, identity=True)
        await self._meta.iam_put("policy", name, {"document": document})

    async def attach(self, policy: str, *, kind: str, target: str, attached: bool) -> None:
        """Attach (or detach) ``policy`` to the user or group (``kind``) ``target``."""
        if kind not in ("user", "group"):
            raise errors.InvalidArgument(f"policies attach to users or groups, not {kind!r}")
        await self._require("policy", policy)
        doc = await self._require(kind, target)
        policies = [p for p in doc.get("policies", []) if p != policy]
        if attached:
            policies.append(policy)
        await self._meta.iam_put(kind, target, {**doc, "policies": policies})

    async def delete_policy(self, name: str) -> None:
        await self._require("policy", name)
        for kind in ("user", "group"):
            for target, doc in (await self._meta.iam_list(kind)).items():
                if name in doc.get("policies", []):
                    policies = [p for p in doc["policies"] if p != name]
                    await self._meta.iam_put(kind, target, {**doc, "policies": policies})
        await self._meta.iam_put("policy", name, None)

    async def policies(self) -> dict[str, str]:
        """policy name -> its document, compact JSON"""
        return {
            name: json.dumps(json.loads(doc["document"]))
            for name, doc in (await self._meta.iam_list("policy")).items()
        }

    async def _require(self, kind: str, name: str, *, what: str | None = None) -> dict[str, Any]:
        doc = await self._meta.iam_get(kind, name)
        if doc is None:
            raise errors.NoSuchEntity(f"no {what or kind} {name!r}")
        return doc
