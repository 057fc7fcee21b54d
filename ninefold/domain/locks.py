"""Object Lock rules: the lock a new version gets, and which retention changes are allowed.

A bucket gets Object Lock at creation, which turns versioning on for good. A version's lock
lives with it (``ObjectVersion.lock``: mode, retain-until date, legal hold) and is enforced by
the metadata store in the transaction that would delete the version. A legal hold or an
unexpired COMPLIANCE retention stops everyone, root included; an unexpired GOVERNANCE retention
stops whoever does not bypass it. Shortening or loosening a retention is deleting protection,
so the same rules apply to it.
"""

from __future__ import annotations

import datetime as dt
import time

from ninefold.core import errors
from ninefold.domain.buckets import Bucket
from ninefold.meta.models import ObjectVersion, lock_refusal, parse_iso8601

__all__ = ["MODES", "iso8601_ms", "lock_for_new_version", "retain_until", "retention_change"]

MODES = ("GOVERNANCE", "COMPLIANCE")
NO_LOCK_CONFIGURATION = "Bucket is missing Object Lock Configuration"


def iso8601_ms(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def retain_until(text: str, argument: str) -> str:
    """A valid, future retain-until date in canonical form; InvalidArgument otherwise."""
    try:
        ts = parse_iso8601(text)
    except ValueError:
        raise errors.InvalidArgument(
            "The retain until date must be a valid ISO 8601 date.", ArgumentName=argument
        ) from None
    if ts <= time.time():
        raise errors.InvalidArgument(
            "The retain until date must be in the future!", ArgumentName=argument
        )
    return iso8601_ms(ts)


def require_lock(bucket: Bucket) -> None:
    if not bucket.object_lock:
        raise errors.InvalidRequest(NO_LOCK_CONFIGURATION)


def lock_for_new_version(
    bucket: Bucket, mode: str | None, until: str | None, legal_hold: str | None
) -> dict[str, str]:
    """The lock a new version gets: the requested mode and date (both or neither), else the
    bucket's default retention; plus the requested legal hold. {} in a bucket without Object
    Lock, where asking for a lock is an error. Argument names are the S3 header names."""
    asked = mode is not None or until is not None or legal_hold is not None
    if not bucket.object_lock:
        if asked:
            raise errors.InvalidRequest(NO_LOCK_CONFIGURATION)
        return {}
    lock: dict[str, str] = {}
    if (mode is None) != (until is None):
        raise errors.InvalidArgument(
            "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ArgumentName="x-amz-object-lock-mode"
            if mode is None
            else "x-amz-object-lock-retain-until-date",
        )
    if mode is not None and until is not None:
        if mode not in MODES:
            raise errors.InvalidArgument(
                "Unknown wormMode directive.", ArgumentName="x-amz-object-lock-mode"
            )
        lock = {"mode": mode, "until": retain_until(until, "x-amz-object-lock-retain-until-date")}
    else:
        rule = bucket.settings.lock_default
        if rule is not None:
            lock = {"mode": rule.mode, "until": iso8601_ms(time.time() + rule.seconds)}
    if legal_hold is not None:
        if legal_hold not in ("ON", "OFF"):
            raise errors.InvalidArgument(
                "Legal Hold must be either of 'ON' or 'OFF'",
                ArgumentName="x-amz-object-lock-legal-hold",
            )
        lock["legal_hold"] = legal_hold
    return lock


def retention_change(
    obj: ObjectVersion, mode: str | None, until_text: str | None, *, bypass_governance: bool
) -> dict[str, str]:
    """The lock of ``obj`` after a PutObjectRetention of ``mode``/``until_text`` (both None:
    remove the retention). A weaker or different retention (earlier date, removed, or another
    mode: GOVERNANCE to COMPLIANCE too, as S3 does) is refused while the current one protects
    the version; only a later date in the same mode is always allowed."""
    new: dict[str, str] = {k: v for k, v in obj.lock.items() if k == "legal_hold"}
    if mode is not None or until_text is not None:
        if mode not in MODES or not until_text:
            raise errors.InvalidDocument()
        new.update(mode=mode, until=retain_until(until_text, "RetainUntilDate"))
    old_until = parse_iso8601(obj.lock["until"]) if obj.lock.get("until") else 0.0
    new_until = parse_iso8601(new["until"]) if new.get("until") else 0.0
    weaker = new_until < old_until or new.get("mode") != obj.lock.get("mode")
    if weaker and obj.lock.get("mode"):
        current = {k: v for k, v in obj.lock.items() if k != "legal_hold"}
        refusal = lock_refusal(current, time.time(), bypass_governance)
        if refusal is not None:
            raise errors.AccessDenied(f"Access Denied because {refusal}.")
    return new


def legal_hold_change(obj: ObjectVersion, status: str | None) -> dict[str, str]:
    if status not in ("ON", "OFF"):
        raise errors.InvalidDocument()
    return {**obj.lock, "legal_hold": status}
