"""The error roots of Ninefold's floors, and the domain's vocabulary of refusals.

Three roots, one per kind of floor, all under :class:`NinefoldError`:

* :class:`StorageError` -- the storage floors (fragments, erasure, node, nodeclient, the chunk
  pipeline): I/O failures, corrupt or missing fragments, a lost quorum;
* :class:`DomainError` -- the rules of buckets, objects, versions, uploads, locks and policies,
  raised by ``meta``, ``coordinator``, ``domain`` and ``iam``: *what* was refused and why, with
  the facts (bucket, key, version, upload) as ``detail``;
* ``S3Error`` (``ninefold.api.s3.errors``) -- the HTTP edge only: an S3 error code and status.

Nothing below ``api`` knows an S3 error code or an HTTP status: exactly one function at the edge
(``ninefold.api.s3.errors.translate``) maps each DomainError class to its S3 error, and storage
errors to ServiceUnavailable / InternalError. Nothing here knows about HTTP libraries.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AclsDisabled",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "ConfigurationNotFound",
    "CorruptFragment",
    "DataUnavailable",
    "DeleteMarker",
    "DomainError",
    "EntityAlreadyExists",
    "EntityTooLarge",
    "EntityTooSmall",
    "FragmentNotFound",
    "InvalidArgument",
    "InvalidBucketAclWithObjectOwnership",
    "InvalidBucketState",
    "InvalidDocument",
    "InvalidPart",
    "InvalidPartOrder",
    "InvalidRequest",
    "InvalidRetentionPeriod",
    "MalformedPolicy",
    "NinefoldError",
    "NoSuchBucket",
    "NoSuchEntity",
    "NoSuchKey",
    "NoSuchUpload",
    "NoSuchVersion",
    "NotSupported",
    "PreconditionFailed",
    "StorageError",
    "WriteQuorumFailed",
]


class NinefoldError(Exception):
    """Root of every error Ninefold raises on purpose."""


# -- storage --------------------------------------------------------------------------------


class StorageError(NinefoldError):
    """Internal storage failure (I/O error, corrupt fragment, lost quorum)."""


class CorruptFragment(StorageError):
    """A fragment failed its checksum, or its header is unreadable."""


class FragmentNotFound(StorageError):
    """A fragment that metadata references is missing from its store."""


class DriveFull(StorageError):
    """A store has no room left for the fragment being written (ENOSPC, EDQUOT on a drive, or a
    node answering 507): the write goes on without that fragment, as without the store."""


class DataUnavailable(StorageError):
    """Fewer fragments of a chunk are readable than its scheme needs: the bytes cannot be served."""


class WriteQuorumFailed(StorageError):
    """Fewer fragments became durable than the scheme's write quorum: the write is refused."""


# -- domain ---------------------------------------------------------------------------------


class DomainError(NinefoldError):
    """A request the domain's rules refuse. ``message`` is for people (None: the edge's default
    wording); ``detail`` names the facts involved (``BucketName``, ``Key``, ``VersionId``,
    ``UploadId``, ``ArgumentName``, ``Condition`` ...), which the edge may show."""

    def __init__(self, message: str | None = None, **detail: str) -> None:
        self.message = message
        self.detail = detail
        super().__init__(message or type(self).__name__)


class NoSuchBucket(DomainError):
    """The bucket does not exist."""


class NoSuchKey(DomainError):
    """The key has no current version. ``delete_marker`` is the id of the delete marker that
    is its current version, when it is one."""

    def __init__(
        self, message: str | None = None, *, delete_marker: str | None = None, **detail: str
    ) -> None:
        super().__init__(message, **detail)
        self.delete_marker = delete_marker


class NoSuchVersion(DomainError):
    """The version id names no version of the key."""


class DeleteMarker(DomainError):
    """The version asked for by its id is a delete marker (``version_id``): it has no data."""

    def __init__(self, version_id: str, message: str | None = None, **detail: str) -> None:
        super().__init__(message, **detail)
        self.version_id = version_id


class NoSuchUpload(DomainError):
    """The multipart upload is gone (completed or aborted) or never existed."""


class ConfigurationNotFound(DomainError):
    """A bucket has no configuration of this kind (``name``: "cors", "policy", "tagging" ...)."""

    def __init__(self, name: str, message: str | None = None, **detail: str) -> None:
        super().__init__(message, **detail)
        self.name = name


class BucketAlreadyExists(DomainError):
    """The bucket name is taken by another owner."""


class BucketAlreadyOwnedByYou(DomainError):
    """The bucket exists and belongs to the caller already."""


class BucketNotEmpty(DomainError):
    """A bucket with objects (or versions, or uploads) cannot be deleted."""


class InvalidBucketState(DomainError):
    """The bucket's state forbids the change (e.g. suspending versioning under Object Lock)."""


class AclsDisabled(DomainError):
    """The bucket's ownership controls (BucketOwnerEnforced) disable ACLs."""


class InvalidBucketAclWithObjectOwnership(DomainError):
    """A bucket created BucketOwnerEnforced with an ACL granting anyone but its owner."""


class AccessDenied(DomainError):
    """The caller may not do this (policy, ACL, or an Object Lock protecting a version)."""


class PreconditionFailed(DomainError):
    """A conditional request's condition did not hold (``Condition`` in detail)."""


class InvalidArgument(DomainError):
    """A parameter has a value the operation cannot take (``ArgumentName`` in detail)."""


class InvalidRetentionPeriod(InvalidArgument):
    """An Object Lock default retention that is not a whole number of days or years in
    range."""


class InvalidRequest(DomainError):
    """The request is not valid in this state (e.g. a lock asked of a bucket without one)."""


class InvalidDocument(DomainError):
    """A configuration or request document does not have the required shape."""


class BadDigest(DomainError):
    """A checksum given for the data does not match the data (or its checksum type differs)."""


class InvalidPart(DomainError):
    """A listed part is missing or its ETag does not match."""


class InvalidPartOrder(DomainError):
    """The parts of a completion are not in ascending order."""


class EntityTooSmall(DomainError):
    """A part other than the last is below the minimum part size."""


class EntityTooLarge(DomainError):
    """The object or part is larger than the maximum allowed size."""


class MalformedPolicy(DomainError):
    """A policy document is not valid JSON or breaks the policy grammar."""


class NoSuchEntity(DomainError):
    """An IAM user, group, access key or policy that does not exist."""


class EntityAlreadyExists(DomainError):
    """An IAM user, group or policy of that name exists already."""


class NotSupported(DomainError):
    """The request asks for something this server does not implement."""
