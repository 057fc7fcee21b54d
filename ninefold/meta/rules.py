"""The rules of metadata, written once: what a write does to the versions of a key, which chunks
go to the GC queue and which to the repair queue, what Object Lock refuses, when an upload or a
bucket is gone.

Pure functions over small typed values; no I/O, no clock (``now`` is an argument). A backend
fetches the rows a rule needs inside its transaction, asks the rule, and carries out the plan it
returns in that same transaction: SQLite and PostgreSQL with SQL, the in-memory store with dicts.
So the three backends cannot disagree about semantics, only about storage. Rules raise
:class:`~ninefold.core.errors.DomainError` subclasses, never S3 codes.

The vocabulary:

* *unlink* a version or part: its row goes, and with it its chunks: those with fragments go to
  the GC queue (:func:`gc_chunks`) and every one of them leaves the repair queue (there is
  nothing left to repair);
* *demote* a version: it stays, no longer current (``is_latest`` false);
* *promote the newest*: after the current version was unlinked, the remaining version with the
  highest row id (the most recently written) becomes current.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ninefold.core import errors
from ninefold.fragments.records import INLINE, ChunkRecord
from ninefold.meta.models import (
    NULL_VERSION,
    Bucket,
    CompletedUpload,
    DeleteOutcome,
    ObjectVersion,
    WriteCondition,
    delete_marker,
    lock_refusal,
    new_version_id,
)

__all__ = [
    "HAS_FRAGMENTS_SQL",
    "DeletePlan",
    "KeyRows",
    "MakeRoom",
    "PutPlan",
    "VersionRow",
    "check_condition",
    "check_create_bucket",
    "check_delete_bucket",
    "check_enable_lock",
    "check_versioning_change",
    "completed_upload",
    "gc_chunks",
    "has_fragments",
    "make_room",
    "newest",
    "plan_complete",
    "plan_delete_current",
    "plan_delete_version",
    "plan_put",
    "refuse_locked",
    "repair_at_write",
    "reported_version_id",
    "require_upload",
    "settable",
    "version_id_for",
    "versioning_of",
]


def check_versioning_change(object_lock: bool, status: str) -> None:
    """Object Lock keeps versioning on for good: a locked bucket cannot be suspended."""
    if object_lock and status != "Enabled":
        raise errors.InvalidBucketState(
            "An Object Lock configuration is present on this bucket, so the versioning "
            "state cannot be changed."
        )


def check_enable_lock(versioning: str) -> None:
    """Object Lock can be turned on for an existing bucket only while versioning is Enabled."""
    if versioning != "Enabled":
        raise errors.InvalidBucketState(
            "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
        )


@dataclass(frozen=True, slots=True)
class VersionRow:
    """What the rules need to know of one stored version of a key. ``row_id`` orders versions
    by when they were written (a newer version has a larger id)."""

    row_id: int
    version_id: str
    is_latest: bool
    is_delete_marker: bool = False
    etag: str = ""
    #: Object Lock state (see ``ObjectVersion.lock``); only needed to delete the version
    lock: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyRows:
    """The versions of a key that a new current version affects: the current one and the
    ``null`` one (often the same row; either may be missing)."""

    current: VersionRow | None = None
    null: VersionRow | None = None

    @classmethod
    def of(cls, rows: Iterable[VersionRow]) -> KeyRows:
        """From any rows of the key that include its current and null versions."""
        current = null = None
        for row in rows:
            if row.is_latest:
                current = row
            if row.version_id == NULL_VERSION:
                null = row
        return cls(current, null)


@dataclass(frozen=True, slots=True)
class MakeRoom:
    """What happens to a key's versions when a new current version is written."""

    #: the id the new version gets
    version_id: str
    #: removed for good, its chunks to GC: the ``null`` version a new ``null`` one replaces
    unlink: VersionRow | None
    #: kept as a noncurrent version
    demote: VersionRow | None


@dataclass(frozen=True, slots=True)
class PutPlan:
    """PutObject / CompleteMultipartUpload: make room, insert the new version with
    ``room.version_id``, answer ``result``."""

    room: MakeRoom
    #: what the call returns: the new version's id, None in a bucket that never had versioning
    result: str | None


@dataclass(frozen=True, slots=True)
class DeletePlan:
    """DeleteObject, in the order a backend carries it out: unlink, demote, insert the marker,
    promote the newest remaining version."""

    outcome: DeleteOutcome
    unlink: VersionRow | None = None
    demote: VersionRow | None = None
    #: a delete marker to insert as the key's new current version
    marker: ObjectVersion | None = None
    #: the current version was unlinked: the newest remaining one becomes current
    promote_newest: bool = False


# -- buckets ----------------------------------------------------------------------------------


def versioning_of(bucket: str, state: str | None) -> str:
    """The versioning state ("", "Enabled", "Suspended") of a bucket read as ``state``; None
    (no such row) is NoSuchBucket."""
    if state is None:
        raise errors.NoSuchBucket(BucketName=bucket)
    return state


def check_create_bucket(bucket: Bucket, existing_owner: str | None) -> None:
    """CreateBucket of a name whose current owner is ``existing_owner`` (None: free)."""
    if existing_owner is not None:
        if existing_owner == bucket.owner:
            raise errors.BucketAlreadyOwnedByYou(BucketName=bucket.name)
        raise errors.BucketAlreadyExists(BucketName=bucket.name)


def check_delete_bucket(name: str, exists: bool, has_objects: bool) -> None:
    """DeleteBucket: the bucket must exist and hold no version of any object (its pending
    uploads are aborted with it)."""
    if not exists:
        raise errors.NoSuchBucket(BucketName=name)
    if has_objects:
        raise errors.BucketNotEmpty(BucketName=name)


# -- versions ---------------------------------------------------------------------------------


def version_id_for(versioning: str) -> str:
    """The id of a new version: a fresh one while versioning is Enabled, else ``null``."""
    return new_version_id() if versioning == "Enabled" else NULL_VERSION


def reported_version_id(versioning: str, version_id: str) -> str | None:
    """What a write reports as its version id: none in a bucket that never had versioning."""
    return version_id if versioning else None


def make_room(versioning: str, key: KeyRows) -> MakeRoom:
    """Prepare a key for a new current version. Enabled: the current version stays, as a
    noncurrent one. Otherwise (never versioned, or Suspended) the new version is ``null`` and
    replaces the ``null`` version (chunks to GC); any other current version stays, noncurrent."""
    version_id = version_id_for(versioning)
    unlink = key.null if versioning != "Enabled" else None
    demote = key.current
    if demote is not None and unlink is not None and demote.row_id == unlink.row_id:
        demote = None
    return MakeRoom(version_id, unlink, demote)


def check_condition(condition: WriteCondition | None, key: KeyRows) -> None:
    """A conditional write's condition against the key's current version (a delete marker is
    no object): PreconditionFailed, or NoSuchKey for If-Match on no object."""
    if condition is None:
        return
    current = key.current
    condition.check(None if current is None or current.is_delete_marker else current.etag)


def plan_put(
    bucket: str, versioning: str | None, key: KeyRows, condition: WriteCondition | None
) -> PutPlan:
    """PutObject of a new current version (NoSuchBucket, then the write condition)."""
    state = versioning_of(bucket, versioning)
    check_condition(condition, key)
    room = make_room(state, key)
    return PutPlan(room, reported_version_id(state, room.version_id))


def plan_delete_current(
    bucket: str,
    key_name: str,
    versioning: str | None,
    key: KeyRows,
    *,
    owner: str,
    now: float,
    condition: WriteCondition | None = None,
) -> DeletePlan:
    """DeleteObject without a version id. Never versioned: the ``null`` version is unlinked
    (``existed`` tells whether there was one). Versioned: a new delete marker becomes current
    (Enabled: with a fresh id; Suspended: the ``null`` id, replacing the null version).
    ``condition`` (If-Match) is checked against the current version first."""
    state = versioning_of(bucket, versioning)
    check_condition(condition, key)
    if not state:
        return DeletePlan(DeleteOutcome(None, False, key.null is not None), unlink=key.null)
    room = make_room(state, key)
    marker = delete_marker(bucket, key_name, room.version_id, now, owner)
    return DeletePlan(
        DeleteOutcome(room.version_id, True, True),
        unlink=room.unlink,
        demote=room.demote,
        marker=marker,
    )


def refuse_locked(row: VersionRow, now: float, bypass_governance: bool) -> None:
    """AccessDenied (with the reason) when Object Lock protects the version from deletion: a
    legal hold, an unexpired COMPLIANCE retention, an unexpired GOVERNANCE retention unless
    ``bypass_governance``."""
    refusal = lock_refusal(row.lock, now, bypass_governance)
    if refusal is not None:
        raise errors.AccessDenied(f"Access Denied because {refusal}.")


def plan_delete_version(
    bucket: str,
    versioning: str | None,
    version_id: str,
    row: VersionRow | None,
    *,
    now: float,
    bypass_governance: bool,
    condition: WriteCondition | None = None,
) -> DeletePlan:
    """DeleteObject of one version (``row``, None when the key has no such version): removed
    for good unless Object Lock protects it; if it was current, the newest remaining version
    becomes current. ``condition`` (If-Match) is checked against that version (a delete
    marker has no ETag: NoSuchKey)."""
    versioning_of(bucket, versioning)
    if condition is not None:
        condition.check(None if row is None or row.is_delete_marker else row.etag)
    if row is None:
        return DeletePlan(DeleteOutcome(version_id, False, False))
    refuse_locked(row, now, bypass_governance)
    return DeletePlan(
        DeleteOutcome(version_id, row.is_delete_marker, True),
        unlink=row,
        promote_newest=row.is_latest,
    )


def newest(rows: Iterable[VersionRow]) -> VersionRow | None:
    """The version that becomes current when the current one is gone: the one written last
    (highest row id); SQL backends say ``max(id)``."""
    return max(rows, key=lambda r: r.row_id, default=None)


def settable(row: VersionRow | None) -> bool:
    """Whether tags, an ACL or Object Lock state can be set on ``row``: a version that exists
    and is not a delete marker (SQL backends put this in their WHERE clause)."""
    return row is not None and not row.is_delete_marker


# -- chunks -----------------------------------------------------------------------------------


def has_fragments(chunk: ChunkRecord) -> bool:
    """Whether unlinking the chunk leaves fragments to delete; an inline chunk's bytes go with
    its row."""
    return chunk.scheme != INLINE


#: :func:`has_fragments` as a SQL condition on a ``chunks`` row, for the SQL backends, which
#: move unlinked chunks to the GC queue (and walk live ones) without fetching them
HAS_FRAGMENTS_SQL = f"scheme <> '{INLINE}'"


def gc_chunks(chunks: Iterable[ChunkRecord]) -> list[ChunkRecord]:
    """The unlinked chunks that go to the GC queue: those with fragments."""
    return [c for c in chunks if has_fragments(c)]


def repair_at_write(chunks: Iterable[ChunkRecord]) -> list[str]:
    """Ids of the chunks committed with a fragment whose write failed (``""`` in their stores):
    they go to the repair queue (reason ``REPAIR_MISSING_AT_WRITE``) with the commit."""
    return [c.chunk_id for c in chunks if "" in c.stores]


# -- multipart --------------------------------------------------------------------------------


def require_upload(upload_id: str, exists: bool) -> None:
    """An upload must still be there to take a part or complete (not completed or aborted)."""
    if not exists:
        raise errors.NoSuchUpload(UploadId=upload_id)


def plan_complete(
    upload_id: str,
    upload_exists: bool,
    bucket: str,
    versioning: str | None,
    key: KeyRows,
    condition: WriteCondition | None,
) -> PutPlan:
    """CompleteMultipartUpload: NoSuchUpload first, then as PutObject. The listed parts' chunks
    become the object's, in order; the upload and its other parts are unlinked."""
    require_upload(upload_id, upload_exists)
    return plan_put(bucket, versioning, key, condition)


def completed_upload(
    upload_id: str, obj: ObjectVersion, parts: list[int], result: str | None, at: float
) -> CompletedUpload:
    """What a completed upload leaves behind for a repeated CompleteMultipartUpload: the part
    numbers it took and the answer it gave (``result``: the plan's reported version id)."""
    return CompletedUpload(
        upload_id=upload_id,
        bucket=obj.bucket,
        key=obj.key,
        parts=tuple(parts),
        etag=obj.etag,
        version_id=result or "",
        checksums=dict(obj.checksums),
        completed_at=at,
    )
