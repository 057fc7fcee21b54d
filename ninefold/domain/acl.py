"""ACLs: canned ones and grant lists, what each grants, and who a grant lets in.

An ACL is stored as text: a canned ACL by its name (on the bucket as its ``acl`` document, on a
version with the version), an explicit grant list as JSON (``{"grants": [[kind, grantee,
permission], ...]}``, kind ``account`` with an account id or ``group`` with a group URI).
:func:`grants_of` expands either into the grant list S3 shows, owner first; :func:`allows`
decides whether one of them lets a requester in (``ninefold.domain.access`` asks it for
requests from other accounts and anonymous ones); :func:`build_acl` turns the grants a
request names (x-amz-grant-* headers or an AccessControlPolicy document) into the stored
text, refusing unknown ids and groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ninefold.core import errors
from ninefold.domain.iam import IamService

__all__ = [
    "ALL_USERS",
    "AUTHENTICATED",
    "CANNED",
    "LOG_DELIVERY",
    "PERMISSIONS",
    "PUBLIC_ACLS",
    "Grant",
    "GrantSpec",
    "allows",
    "build_acl",
    "grants_of",
    "is_public",
]

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED, LOG_DELIVERY})
PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")

#: canned ACL -> the group grants it adds to the owner's FULL_CONTROL
CANNED: dict[str, tuple[tuple[str, str], ...]] = {
    "private": (),
    "public-read": ((ALL_USERS, "READ"),),
    "public-read-write": ((ALL_USERS, "READ"), (ALL_USERS, "WRITE")),
    "authenticated-read": ((AUTHENTICATED, "READ"),),
    "aws-exec-read": (),
    "bucket-owner-read": (),
    "bucket-owner-full-control": (),
    "log-delivery-write": ((LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")),
}
#: what the bucket-owner-* canned ACLs grant the bucket's owner (on objects)
_BUCKET_OWNER = {"bucket-owner-read": "READ", "bucket-owner-full-control": "FULL_CONTROL"}
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})


@dataclass(frozen=True, slots=True)
class Grant:
    """``permission`` granted to an account (``kind`` "account", ``grantee`` its id) or to a
    group (``kind`` "group", ``grantee`` its URI)."""

    kind: str
    grantee: str
    permission: str


@dataclass(frozen=True, slots=True)
class GrantSpec:
    """A grant as a request names it: ``kind`` "id" (a canonical user id), "uri" (a group) or
    "emailAddress"."""

    kind: str
    value: str
    permission: str


def grants_of(acl: str, owner: str, bucket_owner: str | None = None) -> tuple[Grant, ...]:
    """The grants of the stored ACL ``acl`` of a resource owned by account ``owner`` (objects:
    in a bucket owned by ``bucket_owner``), in the order S3 lists them."""
    if acl.startswith("{"):
        return tuple(Grant(k, g, p) for k, g, p in json.loads(acl)["grants"])
    out = [Grant("account", owner, "FULL_CONTROL")]
    extra = _BUCKET_OWNER.get(acl)
    if extra is not None and bucket_owner is not None and bucket_owner != owner:
        out.append(Grant("account", bucket_owner, extra))
    out.extend(Grant("group", uri, permission) for uri, permission in CANNED.get(acl, ()))
    return tuple(out)


def is_public(acl: str) -> bool:
    """Does ``acl`` grant anything to everyone or to every authenticated user?"""
    if acl.startswith("{"):
        return any(
            g.kind == "group" and g.grantee in (ALL_USERS, AUTHENTICATED)
            for g in grants_of(acl, "")
        )
    return acl in PUBLIC_ACLS


def allows(
    grants: Iterable[Grant],
    account: str | None,
    permission: str,
    *,
    ignore_public: bool = False,
) -> bool:
    """Does one of ``grants`` give ``permission`` to a requester of ``account`` (None: an
    anonymous request)? FULL_CONTROL gives every permission; grants to AllUsers and
    AuthenticatedUsers count unless ``ignore_public`` (IgnorePublicAcls)."""
    for grant in grants:
        if grant.permission != permission and grant.permission != "FULL_CONTROL":
            continue
        if grant.kind == "account":
            if account is not None and grant.grantee == account:
                return True
        elif grant.grantee == ALL_USERS:
            if not ignore_public:
                return True
        elif grant.grantee == AUTHENTICATED and account is not None and not ignore_public:
            return True
    return False


async def build_acl(specs: Sequence[GrantSpec], iam: IamService, owner: str) -> str:
    """The stored text of an ACL of exactly ``specs`` on a resource of account ``owner`` (the
    canned name when it is one's grants): InvalidArgument for an unknown id or group,
    NotSupported for grants by e-mail address (Ninefold's accounts have none)."""
    grants: list[list[str]] = []
    for spec in specs:
        if spec.permission not in PERMISSIONS:
            raise errors.InvalidArgument(f"Invalid permission {spec.permission!r}")
        if spec.kind == "id":
            account = await iam.account_for_canonical_id(spec.value.lower())
            if account is None:
                raise errors.InvalidArgument("Invalid id", ArgumentName="CanonicalUser/ID")
            grant = ["account", account, spec.permission]
        elif spec.kind == "uri":
            if spec.value not in GROUPS:
                raise errors.InvalidArgument("Invalid group uri", ArgumentName="Group/URI")
            grant = ["group", spec.value, spec.permission]
        elif spec.kind == "emailAddress":
            raise errors.NotSupported("Grants to e-mail addresses are not supported.")
        else:
            raise errors.InvalidArgument(f"Invalid grantee type {spec.kind!r}")
        if grant not in grants:
            grants.append(grant)
    built = tuple(Grant(*g) for g in grants)
    for name in ("private", "public-read", "public-read-write", "authenticated-read"):
        if set(built) == set(grants_of(name, owner)) and len(built) == len(set(built)):
            return name
    return json.dumps({"grants": grants}, separators=(",", ":"))
