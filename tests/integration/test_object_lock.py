"""Object Lock with boto3 (HTTP and HTTPS): buckets created with it, default retention,
per-version retention (GOVERNANCE with bypass, COMPLIANCE) and legal hold. A locked version
cannot be deleted by anyone, root included, until it may be; overwriting its key adds versions
and leaves it untouched."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import raises_s3


def future(days: float = 1.0) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


@pytest.fixture
def locked(s3: Any, bucket: str) -> Iterator[str]:
    """A bucket with Object Lock (the plain ``bucket`` fixture's name plus a suffix)."""
    name = bucket[:50] + "-lock"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name
    # best effort: only unlocked leftovers can go, the bucket may have to stay
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            with contextlib.suppress(Exception):
                s3.put_object_legal_hold(
                    Bucket=name,
                    Key=v["Key"],
                    VersionId=v["VersionId"],
                    LegalHold={"Status": "OFF"},
                )
            with contextlib.suppress(Exception):
                s3.delete_object(
                    Bucket=name,
                    Key=v["Key"],
                    VersionId=v["VersionId"],
                    BypassGovernanceRetention=True,
                )


def test_bucket_with_object_lock_is_versioned(s3: Any, locked: str, bucket: str) -> None:
    assert s3.get_bucket_versioning(Bucket=locked)["Status"] == "Enabled"
    config = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert config == {"ObjectLockEnabled": "Enabled"}
    with raises_s3("InvalidBucketState", 409):
        s3.put_bucket_versioning(Bucket=locked, VersioningConfiguration={"Status": "Suspended"})
    # a bucket without it
    with raises_s3("ObjectLockConfigurationNotFoundError", 404):
        s3.get_object_lock_configuration(Bucket=bucket)
    with raises_s3("InvalidBucketState", 409):
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    with raises_s3("InvalidRequest", 400):
        s3.put_object(
            Bucket=bucket,
            Key="k",
            Body=b"x",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=future(),
        )


def test_compliance_survives_root_with_and_without_bypass(s3: Any, locked: str) -> None:
    v1 = s3.put_object(
        Bucket=locked,
        Key="k",
        Body=b"locked bytes",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=future(),
    )["VersionId"]
    head = s3.head_object(Bucket=locked, Key="k", VersionId=v1)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    for bypass in (False, True):
        with raises_s3("AccessDenied", 403):
            s3.delete_object(Bucket=locked, Key="k", VersionId=v1, BypassGovernanceRetention=bypass)
    # shortening a COMPLIANCE retention or turning it into GOVERNANCE is refused too
    with raises_s3("AccessDenied", 403):
        s3.put_object_retention(
            Bucket=locked,
            Key="k",
            VersionId=v1,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": future(0.5)},
            BypassGovernanceRetention=True,
        )
    # extending it is allowed
    s3.put_object_retention(
        Bucket=locked,
        Key="k",
        VersionId=v1,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": future(2)},
    )
    # overwrites create new versions; a plain DELETE only adds a marker
    v2 = s3.put_object(Bucket=locked, Key="k", Body=b"newer")["VersionId"]
    s3.delete_object(Bucket=locked, Key="k")
    assert v2 != v1
    assert s3.get_object(Bucket=locked, Key="k", VersionId=v1)["Body"].read() == b"locked bytes"
    retention = s3.get_object_retention(Bucket=locked, Key="k", VersionId=v1)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert retention["RetainUntilDate"] > future(1.9)


def test_governance_needs_the_bypass_header(s3: Any, locked: str) -> None:
    v1 = s3.put_object(
        Bucket=locked,
        Key="g",
        Body=b"gov",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=future(),
    )["VersionId"]
    with raises_s3("AccessDenied", 403):
        s3.delete_object(Bucket=locked, Key="g", VersionId=v1)
    with raises_s3("AccessDenied", 403):
        s3.put_object_retention(
            Bucket=locked,
            Key="g",
            VersionId=v1,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(0.1)},
        )
    s3.delete_object(Bucket=locked, Key="g", VersionId=v1, BypassGovernanceRetention=True)
    with raises_s3("NoSuchVersion", 404):
        s3.get_object(Bucket=locked, Key="g", VersionId=v1)


def test_legal_hold_blocks_every_delete(s3: Any, locked: str) -> None:
    v1 = s3.put_object(Bucket=locked, Key="h", Body=b"held", ObjectLockLegalHoldStatus="ON")[
        "VersionId"
    ]
    assert s3.get_object_legal_hold(Bucket=locked, Key="h")["LegalHold"]["Status"] == "ON"
    with raises_s3("AccessDenied", 403):
        s3.delete_object(Bucket=locked, Key="h", VersionId=v1, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket=locked, Key="h", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=locked, Key="h", VersionId=v1)
    with raises_s3("404", 404):  # HEAD: no body, no code
        s3.head_object(Bucket=locked, Key="h", VersionId=v1)


def test_default_retention_applies_to_new_versions(s3: Any, locked: str) -> None:
    s3.put_object_lock_configuration(
        Bucket=locked,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    rule = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]["Rule"]
    assert rule == {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    v1 = s3.put_object(Bucket=locked, Key="d", Body=b"x")["VersionId"]
    retention = s3.get_object_retention(Bucket=locked, Key="d", VersionId=v1)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    with raises_s3("AccessDenied", 403):
        s3.delete_object(Bucket=locked, Key="d", VersionId=v1)
    with raises_s3("MalformedXML", 400):
        s3.put_object_lock_configuration(
            Bucket=locked,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}},
            },
        )


def test_bad_lock_requests(s3: Any, locked: str) -> None:
    with raises_s3("InvalidArgument", 400):  # a date in the past
        s3.put_object(
            Bucket=locked,
            Key="p",
            Body=b"x",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=future(-1),
        )
    with raises_s3("InvalidArgument", 400):  # mode without date
        s3.put_object(Bucket=locked, Key="p", Body=b"x", ObjectLockMode="GOVERNANCE")
    with raises_s3("404", 404):
        s3.head_object(Bucket=locked, Key="p")
    s3.put_object(Bucket=locked, Key="plain", Body=b"x")
    with raises_s3("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=locked, Key="plain")
    with raises_s3("NoSuchObjectLockConfiguration", 404):
        s3.get_object_legal_hold(Bucket=locked, Key="plain")
    with raises_s3("NoSuchKey", 404):
        s3.get_object_retention(Bucket=locked, Key="absent")


def test_lock_configuration_turns_lock_on_for_an_existing_versioned_bucket(
    s3: Any, bucket: str
) -> None:
    """Since 2023 S3 lets a bucket created without Object Lock get it, once its versioning is
    Enabled; from then on the bucket behaves as one created with it."""
    config = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    with raises_s3("InvalidBucketState", 409):  # versioning must be Enabled, not Suspended
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == config
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    assert s3.get_object_retention(Bucket=bucket, Key="k")["Retention"]["Mode"] == "GOVERNANCE"
    with raises_s3("AccessDenied", 403):
        s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    with raises_s3("InvalidBucketState", 409):  # Object Lock keeps versioning on for good
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v1, BypassGovernanceRetention=True)


def test_governance_to_compliance_needs_the_bypass(s3: Any, locked: str) -> None:
    """Changing the mode of a version under an unexpired GOVERNANCE retention is loosening
    the retention as S3 counts it: refused without x-amz-bypass-governance-retention; a
    COMPLIANCE retention cannot change mode at all."""
    until = future(0.01)
    v1 = s3.put_object(
        Bucket=locked,
        Key="m",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    later = {"Mode": "COMPLIANCE", "RetainUntilDate": future(0.02)}
    with raises_s3("AccessDenied", 403):
        s3.put_object_retention(Bucket=locked, Key="m", VersionId=v1, Retention=later)
    assert s3.get_object_retention(Bucket=locked, Key="m")["Retention"]["Mode"] == "GOVERNANCE"
    # a later date in the same mode needs no bypass
    s3.put_object_retention(
        Bucket=locked,
        Key="m",
        VersionId=v1,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(0.015)},
    )
    s3.put_object_retention(
        Bucket=locked,
        Key="m",
        VersionId=v1,
        Retention=later,
        BypassGovernanceRetention=True,
    )
    assert s3.get_object_retention(Bucket=locked, Key="m")["Retention"]["Mode"] == "COMPLIANCE"
    with raises_s3("AccessDenied", 403):
        s3.put_object_retention(
            Bucket=locked,
            Key="m",
            VersionId=v1,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(0.03)},
            BypassGovernanceRetention=True,
        )


def test_bad_default_retention_period_is_invalid_retention_period(s3: Any, locked: str) -> None:
    periods = [{"Days": 0}, {"Days": -1}, {"Years": 0}, {"Years": -5}, {"Days": 36501}]
    for period in [*periods, {"Years": 101}]:
        with raises_s3("InvalidRetentionPeriod", 400):
            s3.put_object_lock_configuration(
                Bucket=locked,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", **period}},
                },
            )
    config = s3.get_object_lock_configuration(Bucket=locked)["ObjectLockConfiguration"]
    assert "Rule" not in config


def test_bypass_needs_the_bypass_permission(fresh_server: Any, tmp_path: Any) -> None:
    """x-amz-bypass-governance-retention counts only for a caller allowed
    s3:BypassGovernanceRetention: an IAM user who may delete versions but not bypass is
    stopped by a GOVERNANCE retention, header or not."""
    from .test_iam import admin, client_for, new_key, write_policy

    root = fresh_server.boto3_client()
    root.create_bucket(Bucket="gov", ObjectLockEnabledForBucket=True)
    v1 = root.put_object(
        Bucket="gov",
        Key="k",
        Body=b"x",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=future(),
    )["VersionId"]
    deleter = write_policy(
        tmp_path,
        "deleter",
        [
            {
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention"],
                "Resource": "arn:aws:s3:::gov/*",
            }
        ],
    )
    admin(fresh_server, "user", "create", "carol")
    admin(fresh_server, "policy", "create", "deleter", "--file", deleter)
    admin(fresh_server, "policy", "attach", "deleter", "--user", "carol")
    carol = client_for(fresh_server, new_key(fresh_server, "carol"))
    with raises_s3("AccessDenied", 403):
        carol.delete_object(Bucket="gov", Key="k", VersionId=v1, BypassGovernanceRetention=True)
    with raises_s3("AccessDenied", 403):
        carol.put_object_retention(
            Bucket="gov",
            Key="k",
            VersionId=v1,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(0.01)},
            BypassGovernanceRetention=True,
        )
    assert root.head_object(Bucket="gov", Key="k", VersionId=v1)["ContentLength"] == 1
    bypass = write_policy(
        tmp_path,
        "bypass",
        [
            {
                "Effect": "Allow",
                "Action": "s3:BypassGovernanceRetention",
                "Resource": "arn:aws:s3:::gov/*",
            }
        ],
    )
    admin(fresh_server, "policy", "create", "bypass", "--file", bypass)
    admin(fresh_server, "policy", "attach", "bypass", "--user", "carol")
    carol.delete_object(Bucket="gov", Key="k", VersionId=v1, BypassGovernanceRetention=True)
    with raises_s3("404", 404):
        root.head_object(Bucket="gov", Key="k", VersionId=v1)
