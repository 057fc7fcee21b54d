"""Every S3 operation has one handler and the IAM action S3 documents for it."""

from __future__ import annotations

import pytest

from ninefold.api.s3.handlers import HANDLERS
from ninefold.api.s3.operations import Operation


def test_every_operation_has_a_handler_and_no_handler_is_stray() -> None:
    assert set(HANDLERS) == set(Operation)


@pytest.mark.parametrize(
    ("operation", "version_id", "action"),
    [
        (Operation.ListBuckets, None, "s3:ListAllMyBuckets"),
        (Operation.HeadBucket, None, "s3:ListBucket"),
        (Operation.ListObjectsV2, None, "s3:ListBucket"),
        (Operation.GetObject, None, "s3:GetObject"),
        (Operation.GetObject, "v1", "s3:GetObjectVersion"),
        (Operation.HeadObject, "v1", "s3:GetObjectVersion"),
        (Operation.DeleteObject, "v1", "s3:DeleteObjectVersion"),
        (Operation.PutObject, "v1", "s3:PutObject"),
        (Operation.CopyObject, None, "s3:PutObject"),
        (Operation.UploadPart, None, "s3:PutObject"),
        (Operation.ListParts, None, "s3:ListMultipartUploadParts"),
        (Operation.DeleteBucketCors, None, "s3:PutBucketCORS"),
        (Operation.GetPublicAccessBlock, None, "s3:GetBucketPublicAccessBlock"),
        (Operation.PutObjectLockConfiguration, None, "s3:PutBucketObjectLockConfiguration"),
        (Operation.GetObjectTagging, None, "s3:GetObjectTagging"),
    ],
)
def test_actions(operation: Operation, version_id: str | None, action: str) -> None:
    assert operation.action_for(version_id) == action


def test_flags() -> None:
    assert {o for o in Operation if o.is_listing} == {
        Operation.ListObjects,
        Operation.ListObjectsV2,
        Operation.ListObjectVersions,
    }
    assert {o for o in Operation if o.manages_policy} == {
        Operation.GetBucketPolicy,
        Operation.PutBucketPolicy,
        Operation.DeleteBucketPolicy,
        Operation.GetBucketPolicyStatus,
    }
    assert Operation("GetObject") is Operation.GetObject
    with pytest.raises(ValueError):
        Operation("NoSuchOperation")
