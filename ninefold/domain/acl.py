"""Canned ACLs: the names S3 defines and the group grants each implies.

Ninefold keeps an ACL as its canned name (on the bucket as its ``acl`` document, on a version
with the version). Public ones let anonymous requests read (and, for a public-read-write bucket,
write) unless the bucket's PublicAccessBlock ignores them; :mod:`ninefold.domain.access`
applies them, :class:`ninefold.domain.buckets.BucketService` checks them before they are set.
"""

from __future__ import annotations

__all__ = ["ALL_USERS", "AUTHENTICATED", "CANNED", "PUBLIC_ACLS", "canned_for_grants"]

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

#: canned ACL -> the group grants it adds to the owner's FULL_CONTROL
CANNED: dict[str, tuple[tuple[str, str], ...]] = {
    "private": (),
    "public-read": ((ALL_USERS, "READ"),),
    "public-read-write": ((ALL_USERS, "READ"), (ALL_USERS, "WRITE")),
    "authenticated-read": ((AUTHENTICATED, "READ"),),
    "aws-exec-read": (),
    "bucket-owner-read": (),
    "bucket-owner-full-control": (),
    "log-delivery-write": (),
}
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})


def canned_for_grants(groups: set[tuple[str, str]]) -> str | None:
    """The canned ACL whose group grants are exactly ``groups`` (None: there is none)."""
    for name, implied in CANNED.items():
        if set(implied) == groups:
            return name
    return None
