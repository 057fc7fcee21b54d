"""The MetaStore protocol: everything the coordinator asks of metadata.

Implementations: :mod:`ninefold.meta.sqlite` (embedded), :mod:`ninefold.meta.postgres` (gateways)
and :mod:`ninefold.meta.memory` (tests), all applying :mod:`ninefold.meta.rules`; the Redis cache
(:mod:`ninefold.meta.cache`) wraps any of them. Each mutating call is one transaction;
the commit of ``put_object`` / ``complete_upload`` is the moment an object becomes visible, and the
same transaction moves the chunks it unlinks onto the GC queue, so no fragment is ever both
referenced and queued for deletion. The same transactions put every chunk committed with a
missing fragment (``""`` in its stores) on the repair queue, and take unlinked chunks off it.
"""

from __future__ import annotations

from typing import Any, Protocol

from ninefold.fragments.records import ChunkRecord
from ninefold.meta.models import (
    Bucket,
    ClusterMap,
    CompletedUpload,
    DeleteOutcome,
    GcItem,
    ListPage,
    NodeRecord,
    ObjectVersion,
    Part,
    RepairItem,
    Upload,
    VersionPage,
    WriteCondition,
)

__all__ = ["MetaStore"]


class MetaStore(Protocol):
    async def close(self) -> None: ...

    # buckets
    async def create_bucket(self, bucket: Bucket) -> None:
        """Raises BucketAlreadyOwnedByYou / BucketAlreadyExists when the name is taken."""
        ...

    async def get_bucket(self, name: str) -> Bucket | None:
        """The bucket record with all its configuration documents (``Bucket.configs``), in one
        read; a change made by ``put_bucket_config`` is visible in the next call."""
        ...

    async def list_buckets(self) -> list[Bucket]:
        """Every bucket, by name; their ``configs`` are left empty (use ``get_bucket``)."""
        ...

    async def delete_bucket(self, name: str) -> None:
        """Raises NoSuchBucket, or BucketNotEmpty while any object exists in it."""
        ...

    async def get_bucket_config(self, bucket: str, name: str) -> str | None:
        """A bucket's configuration document ``name`` (e.g. "tagging"), None when unset;
        NoSuchBucket when the bucket does not exist."""
        ...

    async def put_bucket_config(self, bucket: str, name: str, value: str | None) -> None:
        """Set (or, with None, remove) a configuration document; deleted with the bucket.
        A change to the bucket record: caches of it are invalidated like any other."""
        ...

    # objects
    async def get_object(self, bucket: str, key: str) -> ObjectVersion | None:
        """The latest version (None if absent or a delete marker), with its chunks."""
        ...

    async def put_object(
        self, obj: ObjectVersion, condition: WriteCondition | None = None
    ) -> str | None:
        """Make ``obj`` the current version of its key. In a versioned bucket the previous one
        stays as a noncurrent version; otherwise (and for the ``null`` version of a suspended
        bucket) the replaced version goes to GC. ``condition`` is checked against the current
        version inside the same transaction. Returns the new version's id, None in a bucket
        that never had versioning."""
        ...

    async def put_object_tags(self, bucket: str, key: str, tags: dict[str, str]) -> bool:
        """Replace the tags of the current version; False when there is none."""
        ...

    async def delete_object(self, bucket: str, key: str) -> bool: ...

    async def delete_version(
        self,
        bucket: str,
        key: str,
        version_id: str | None,
        *,
        owner: str = "",
        bypass_governance: bool = False,
        condition: WriteCondition | None = None,
    ) -> DeleteOutcome:
        """DeleteObject: without ``version_id`` the current version is removed (unversioned
        bucket) or hidden behind a new delete marker (versioned: ``Enabled`` gets a new id,
        ``Suspended`` the ``null`` one, replacing the null version). With ``version_id`` that
        version is removed for good (its chunks to GC) and, if it was current, the newest
        remaining version becomes current. A version Object Lock protects (legal hold,
        unexpired retention; GOVERNANCE unless ``bypass_governance``) is AccessDenied,
        checked in the same transaction."""
        ...

    async def set_object_acl(self, bucket: str, key: str, version_id: str | None, acl: str) -> bool:
        """Replace the canned ACL of a version (the current one for None)."""
        ...

    async def set_object_lock(
        self, bucket: str, key: str, version_id: str | None, lock: dict[str, str]
    ) -> bool:
        """Replace the Object Lock state of a version (the current one for None); False when
        there is no such version (or it is a delete marker)."""
        ...

    async def get_object_version(
        self, bucket: str, key: str, version_id: str | None
    ) -> ObjectVersion | None:
        """That version (the current one for None), delete markers included."""
        ...

    async def set_bucket_policy(self, bucket: str, policy: str | None) -> None:
        """Store (None: remove) the bucket policy; it comes back on the Bucket record."""
        ...

    async def set_bucket_versioning(self, bucket: str, status: str) -> None:
        """Set the versioning status; a bucket with Object Lock stays Enabled
        (InvalidBucketState), decided in the same transaction as the write."""
        ...

    async def enable_object_lock(self, bucket: str) -> None:
        """Turn Object Lock on for an existing bucket; its versioning must be Enabled
        (InvalidBucketState otherwise), decided in the same transaction as the write."""
        ...

    async def list_object_versions(
        self,
        bucket: str,
        *,
        prefix: str,
        delimiter: str,
        key_marker: str,
        version_id_marker: str,
        max_keys: int,
    ) -> VersionPage:
        """Versions and delete markers, by key and then newest first (ListObjectVersions)."""
        ...

    async def list_objects(
        self, bucket: str, *, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> ListPage: ...

    # multipart
    async def create_upload(self, upload: Upload) -> None: ...

    async def get_upload(self, bucket: str, key: str, upload_id: str) -> Upload | None: ...

    async def put_part(self, part: Part) -> None:
        """Store (or replace) a part; a replaced part's chunks go to GC. NoSuchUpload if gone."""
        ...

    async def list_parts(self, upload_id: str, *, after: int, max_parts: int) -> list[Part]: ...

    async def list_uploads(
        self, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str, max_uploads: int
    ) -> list[Upload]: ...

    async def complete_upload(
        self,
        upload: Upload,
        obj: ObjectVersion,
        parts: list[int],
        condition: WriteCondition | None = None,
    ) -> str | None:
        """Atomically turn the listed parts into ``obj``; unlisted parts go to GC.

        ``obj.chunks`` is ignored: the chunks of the listed parts become the object's, in order.
        Raises NoSuchUpload when the upload is no longer there (completed or aborted meanwhile).
        """
        ...

    async def get_completed_upload(
        self, bucket: str, key: str, upload_id: str
    ) -> CompletedUpload | None:
        """The upload ``upload_id`` of ``bucket``/``key`` if it was completed within
        ``COMPLETED_UPLOAD_RETENTION_S`` (``complete_upload`` records it in its transaction)."""
        ...

    async def abort_upload(self, upload_id: str) -> bool: ...

    # garbage collection
    async def gc_queue_chunks(self, chunks: list[ChunkRecord]) -> None: ...

    async def gc_pending(self, older_than: float, limit: int) -> list[GcItem]: ...

    async def gc_done(self, gc_ids: list[int]) -> None: ...

    async def gc_retry_later(self, gc_ids: list[int], queued_at: float) -> None:
        """Put entries back at the queue's end (``queued_at``): some fragment could not be
        deleted yet (its node is down), and they must not block the entries behind them."""
        ...

    # repair queue: at most one entry per chunk, FIFO
    async def repair_enqueue(self, chunk_ids: list[str], reason: str) -> None:
        """Queue chunks for repair; a chunk already queued keeps its entry (and reason)."""
        ...

    async def repair_pending(self, limit: int) -> list[RepairItem]:
        """The oldest ``limit`` entries, each with its chunk's current record (or None)."""
        ...

    async def repair_done(self, repair_ids: list[int]) -> None: ...

    async def repair_count(self) -> int: ...

    # chunk placement (repair, rebalance, scrub)
    async def update_chunk_stores(
        self, chunk_id: str, expected: tuple[str, ...], stores: tuple[str, ...]
    ) -> bool:
        """Compare-and-set of a chunk's placement: True when the chunk still had ``expected``
        and now has ``stores``; False when it changed or is gone (then nothing changes)."""
        ...

    async def chunk_owner(self, chunk_id: str) -> tuple[str, str] | None:
        """(bucket, key) of the object whose current version holds the chunk; None for a chunk
        of a multipart part, or one that is gone."""
        ...

    async def list_chunks(self, after: str, limit: int) -> list[ChunkRecord]:
        """Every live chunk (objects' and parts'), in chunk id order, after ``after``."""
        ...

    async def live_chunks(self, chunk_ids: list[str]) -> dict[str, ChunkRecord]:
        """The current records of those of ``chunk_ids`` that a live object or part holds."""
        ...

    async def chunks_known(self, chunk_ids: list[str]) -> set[str]:
        """Those of ``chunk_ids`` that metadata still references (live or queued for GC); a
        fragment of any other chunk is an orphan (a crashed write)."""
        ...

    # identities: "user", "key" (access key id -> secret, user, status), "group", "policy"
    async def iam_get(self, kind: str, name: str) -> dict[str, Any] | None: ...

    async def iam_put(self, kind: str, name: str, doc: dict[str, Any] | None) -> None:
        """Create or replace (None: delete) one identity document."""
        ...

    async def iam_list(self, kind: str) -> dict[str, dict[str, Any]]: ...

    # progress of the background jobs
    async def put_job_status(self, job: str, status: dict[str, Any]) -> None: ...

    async def get_job_status(self) -> dict[str, tuple[dict[str, Any], float]]:
        """job -> (its last status, when it was written)."""
        ...

    # cluster map
    async def get_cluster_map(self) -> ClusterMap: ...

    async def put_node(self, node: NodeRecord) -> ClusterMap:
        """Add or replace a node; the map's version goes up by one.

        ``health`` and ``last_seen`` are taken from ``node`` only when the node is new; an
        existing node keeps the ones the health monitor set.
        """
        ...

    async def set_node_health(self, node_id: str, health: str, last_seen: float) -> ClusterMap:
        """Record what the health monitor saw: ``health`` ("ok" | "down", else ValueError) and
        ``last_seen`` (epoch s). The version goes up only when ``health`` changes, so heartbeats
        do not make every gateway reload the map. KeyError when the node is not in the map."""
        ...

    async def remove_node(self, node_id: str) -> ClusterMap:
        """Remove a node (KeyError when absent); the map's version goes up by one."""
        ...
