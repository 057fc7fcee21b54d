"""The S3 operations this server answers, each with the IAM action that authorizes it.

One table: the router produces these members, authorization reads ``action`` from them, and the
handlers register against them (a test checks every member has exactly one handler).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Operation"]


class Operation(StrEnum):
    """An S3 operation; the value is its S3 name."""

    action: str
    #: the action when the request names a version (``?versionId=``)
    version_action: str
    #: ``s3:prefix`` / ``s3:delimiter`` / ``s3:max-keys`` condition keys apply
    is_listing: bool
    #: manages the bucket policy: root is never locked out of these by a Deny
    manages_policy: bool

    def __new__(
        cls,
        name: str,
        action: str | None = None,
        version_action: str | None = None,
        flags: str = "",
    ) -> Operation:
        member = str.__new__(cls, name)
        member._value_ = name
        member.action = action or f"s3:{name}"
        member.version_action = version_action or member.action
        member.is_listing = "list" in flags
        member.manages_policy = "policy" in flags
        return member

    def action_for(self, version_id: str | None) -> str:
        return self.action if version_id is None else self.version_action

    # -- service and buckets
    ListBuckets = "ListBuckets", "s3:ListAllMyBuckets"
    CreateBucket = "CreateBucket"
    HeadBucket = "HeadBucket", "s3:ListBucket"
    DeleteBucket = "DeleteBucket"
    GetBucketLocation = "GetBucketLocation"
    GetBucketVersioning = "GetBucketVersioning"
    PutBucketVersioning = "PutBucketVersioning"
    # -- listings
    ListObjects = "ListObjects", "s3:ListBucket", None, "list"
    ListObjectsV2 = "ListObjectsV2", "s3:ListBucket", None, "list"
    ListObjectVersions = "ListObjectVersions", "s3:ListBucketVersions", None, "list"
    ListMultipartUploads = "ListMultipartUploads", "s3:ListBucketMultipartUploads"
    # -- objects
    PutObject = "PutObject"
    CopyObject = "CopyObject", "s3:PutObject"
    GetObject = "GetObject", None, "s3:GetObjectVersion"
    HeadObject = "HeadObject", "s3:GetObject", "s3:GetObjectVersion"
    DeleteObject = "DeleteObject", None, "s3:DeleteObjectVersion"
    DeleteObjects = "DeleteObjects", "s3:DeleteObject"
    GetObjectAttributes = "GetObjectAttributes"
    # -- multipart
    CreateMultipartUpload = "CreateMultipartUpload", "s3:PutObject"
    UploadPart = "UploadPart", "s3:PutObject"
    UploadPartCopy = "UploadPartCopy", "s3:PutObject"
    CompleteMultipartUpload = "CompleteMultipartUpload", "s3:PutObject"
    AbortMultipartUpload = "AbortMultipartUpload"
    ListParts = "ListParts", "s3:ListMultipartUploadParts"
    # -- tagging
    GetObjectTagging = "GetObjectTagging"
    PutObjectTagging = "PutObjectTagging"
    DeleteObjectTagging = "DeleteObjectTagging"
    GetBucketTagging = "GetBucketTagging"
    PutBucketTagging = "PutBucketTagging"
    DeleteBucketTagging = "DeleteBucketTagging", "s3:PutBucketTagging"
    # -- Object Lock
    PutObjectLockConfiguration = (
        "PutObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
    )
    GetObjectLockConfiguration = (
        "GetObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
    )
    PutObjectRetention = "PutObjectRetention"
    GetObjectRetention = "GetObjectRetention"
    PutObjectLegalHold = "PutObjectLegalHold"
    GetObjectLegalHold = "GetObjectLegalHold"
    # -- policy
    GetBucketPolicy = "GetBucketPolicy", None, None, "policy"
    PutBucketPolicy = "PutBucketPolicy", None, None, "policy"
    DeleteBucketPolicy = "DeleteBucketPolicy", None, None, "policy"
    GetBucketPolicyStatus = "GetBucketPolicyStatus", None, None, "policy"
    # -- ACLs
    GetBucketAcl = "GetBucketAcl"
    PutBucketAcl = "PutBucketAcl"
    GetObjectAcl = "GetObjectAcl"
    PutObjectAcl = "PutObjectAcl"
    # -- bucket configuration documents
    GetBucketCors = "GetBucketCors", "s3:GetBucketCORS"
    PutBucketCors = "PutBucketCors", "s3:PutBucketCORS"
    DeleteBucketCors = "DeleteBucketCors", "s3:PutBucketCORS"
    GetBucketOwnershipControls = "GetBucketOwnershipControls"
    PutBucketOwnershipControls = "PutBucketOwnershipControls"
    DeleteBucketOwnershipControls = (
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    )
    GetPublicAccessBlock = "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"
    PutPublicAccessBlock = "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"
    DeletePublicAccessBlock = "DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"
