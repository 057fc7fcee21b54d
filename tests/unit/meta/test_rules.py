"""The metadata rules (``ninefold.meta.rules``), table-driven: every backend carries out these
plans, so these tables are the semantics of versions, deletes, Object Lock and queues."""

from __future__ import annotations

from typing import Any

import pytest

from ninefold.core import errors
from ninefold.fragments.records import ChunkRecord
from ninefold.meta import rules
from ninefold.meta.models import NULL_VERSION, Bucket, DeleteOutcome, WriteCondition
from ninefold.meta.rules import KeyRows, VersionRow

FUTURE = "2999-01-01T00:00:00Z"
PAST = "2001-01-01T00:00:00Z"
NOW = 1_700_000_000.0

NULL_CURRENT = VersionRow(1, NULL_VERSION, True, etag="a")
NULL_OLD = VersionRow(1, NULL_VERSION, False, etag="a")
V2_CURRENT = VersionRow(2, "2" * 32, True, etag="b")
MARKER_CURRENT = VersionRow(3, "3" * 32, True, is_delete_marker=True)

# versioning, rows of the key -> (new id is fresh?, unlinked row, demoted row)
MAKE_ROOM: list[tuple[str, KeyRows, bool, VersionRow | None, VersionRow | None]] = [
    ("", KeyRows(), False, None, None),
    ("", KeyRows(NULL_CURRENT, NULL_CURRENT), False, NULL_CURRENT, None),
    ("Enabled", KeyRows(), True, None, None),
    ("Enabled", KeyRows(NULL_CURRENT, NULL_CURRENT), True, None, NULL_CURRENT),
    ("Enabled", KeyRows(V2_CURRENT, NULL_OLD), True, None, V2_CURRENT),
    ("Suspended", KeyRows(V2_CURRENT, NULL_OLD), False, NULL_OLD, V2_CURRENT),
    ("Suspended", KeyRows(NULL_CURRENT, NULL_CURRENT), False, NULL_CURRENT, None),
    ("Suspended", KeyRows(V2_CURRENT, None), False, None, V2_CURRENT),
    ("Suspended", KeyRows(MARKER_CURRENT, None), False, None, MARKER_CURRENT),
]


@pytest.mark.parametrize(("versioning", "key", "fresh", "unlink", "demote"), MAKE_ROOM)
def test_make_room(
    versioning: str,
    key: KeyRows,
    fresh: bool,
    unlink: VersionRow | None,
    demote: VersionRow | None,
) -> None:
    room = rules.make_room(versioning, key)
    assert (room.version_id != NULL_VERSION) == fresh
    assert len(room.version_id) == (32 if fresh else 4)
    assert (room.unlink, room.demote) == (unlink, demote)


def test_key_rows_pick_the_current_and_the_null_version() -> None:
    assert KeyRows.of([]) == KeyRows()
    assert KeyRows.of([NULL_CURRENT, NULL_CURRENT]) == KeyRows(NULL_CURRENT, NULL_CURRENT)
    assert KeyRows.of([V2_CURRENT, NULL_OLD]) == KeyRows(V2_CURRENT, NULL_OLD)
    assert KeyRows.of([NULL_OLD]) == KeyRows(None, NULL_OLD)


# condition, key -> error class (None: the write goes on)
CONDITIONS: list[tuple[WriteCondition | None, KeyRows, type[Exception] | None]] = [
    (None, KeyRows(), None),
    (WriteCondition(if_none_match=True), KeyRows(), None),
    (WriteCondition(if_none_match=True), KeyRows(V2_CURRENT), errors.PreconditionFailed),
    (WriteCondition(if_none_match=True), KeyRows(MARKER_CURRENT), None),
    (WriteCondition(if_none_match_etags=("b",)), KeyRows(V2_CURRENT), errors.PreconditionFailed),
    (
        WriteCondition(if_none_match_etags=("x", "b")),
        KeyRows(V2_CURRENT),
        errors.PreconditionFailed,
    ),
    (WriteCondition(if_none_match_etags=("x",)), KeyRows(V2_CURRENT), None),
    (WriteCondition(if_none_match_etags=("b",)), KeyRows(), None),
    (WriteCondition(if_none_match_etags=("b",)), KeyRows(MARKER_CURRENT), None),
    (WriteCondition(if_match=("b",)), KeyRows(V2_CURRENT), None),
    (WriteCondition(if_match=("*",)), KeyRows(V2_CURRENT), None),
    (WriteCondition(if_match=("x",)), KeyRows(V2_CURRENT), errors.PreconditionFailed),
    (WriteCondition(if_match=("*",)), KeyRows(), errors.NoSuchKey),
    (WriteCondition(if_match=("*",)), KeyRows(MARKER_CURRENT), errors.NoSuchKey),
]


@pytest.mark.parametrize(("condition", "key", "error"), CONDITIONS)
def test_check_condition(
    condition: WriteCondition | None, key: KeyRows, error: type[Exception] | None
) -> None:
    if error is None:
        rules.check_condition(condition, key)
    else:
        with pytest.raises(error):
            rules.check_condition(condition, key)


# versioning (None: no bucket) -> what put_object returns ("id": a fresh id), or its error
PUTS: list[tuple[str | None, str | type[Exception] | None]] = [
    (None, errors.NoSuchBucket),
    ("", None),
    ("Enabled", "id"),
    ("Suspended", NULL_VERSION),
]


@pytest.mark.parametrize(("versioning", "result"), PUTS)
def test_plan_put_result(versioning: str | None, result: Any) -> None:
    if isinstance(result, type):
        with pytest.raises(result):
            rules.plan_put("b", versioning, KeyRows(), None)
        return
    plan = rules.plan_put("b", versioning, KeyRows(), None)
    if result == "id":
        assert plan.result == plan.room.version_id and len(plan.result) == 32
    else:
        assert plan.result == result


def test_plan_put_checks_the_bucket_before_the_condition() -> None:
    with pytest.raises(errors.NoSuchBucket):
        rules.plan_put("b", None, KeyRows(V2_CURRENT), WriteCondition(if_none_match=True))
    with pytest.raises(errors.PreconditionFailed):
        rules.plan_put("b", "", KeyRows(V2_CURRENT), WriteCondition(if_none_match=True))


# versioning, key -> outcome (version id "id": fresh), unlinked, demoted, a marker?
DELETES_CURRENT: list[
    tuple[str, KeyRows, tuple[str | None, bool, bool], VersionRow | None, VersionRow | None]
] = [
    ("", KeyRows(), (None, False, False), None, None),
    ("", KeyRows(NULL_CURRENT, NULL_CURRENT), (None, False, True), NULL_CURRENT, None),
    ("Enabled", KeyRows(), ("id", True, True), None, None),
    ("Enabled", KeyRows(V2_CURRENT, NULL_OLD), ("id", True, True), None, V2_CURRENT),
    ("Suspended", KeyRows(V2_CURRENT, NULL_OLD), (NULL_VERSION, True, True), NULL_OLD, V2_CURRENT),
    (
        "Suspended",
        KeyRows(NULL_CURRENT, NULL_CURRENT),
        (NULL_VERSION, True, True),
        NULL_CURRENT,
        None,
    ),
]


@pytest.mark.parametrize(("versioning", "key", "outcome", "unlink", "demote"), DELETES_CURRENT)
def test_plan_delete_current(
    versioning: str,
    key: KeyRows,
    outcome: tuple[str | None, bool, bool],
    unlink: VersionRow | None,
    demote: VersionRow | None,
) -> None:
    plan = rules.plan_delete_current("b", "k", versioning, key, owner="alice", now=NOW)
    version_id, is_marker, existed = outcome
    if version_id == "id":
        assert plan.outcome.version_id is not None and len(plan.outcome.version_id) == 32
    else:
        assert plan.outcome.version_id == version_id
    assert (plan.outcome.delete_marker, plan.outcome.existed) == (is_marker, existed)
    assert (plan.unlink, plan.demote, plan.promote_newest) == (unlink, demote, False)
    if is_marker:
        marker = plan.marker
        assert marker is not None and marker.is_delete_marker
        assert (marker.bucket, marker.key, marker.owner) == ("b", "k", "alice")
        assert (marker.version_id, marker.last_modified) == (plan.outcome.version_id, NOW)
    else:
        assert plan.marker is None


def test_plan_delete_current_of_a_missing_bucket() -> None:
    with pytest.raises(errors.NoSuchBucket):
        rules.plan_delete_current("b", "k", None, KeyRows(), owner="", now=NOW)


def locked(lock: dict[str, str], *, latest: bool = False, marker: bool = False) -> VersionRow:
    return VersionRow(5, "5" * 32, latest, marker, "e", lock)


# the version's lock, bypass -> refused?
LOCKS: list[tuple[dict[str, str], bool, bool]] = [
    ({}, False, False),
    ({"legal_hold": "ON"}, False, True),
    ({"legal_hold": "ON"}, True, True),
    ({"legal_hold": "OFF"}, False, False),
    ({"mode": "COMPLIANCE", "until": FUTURE}, False, True),
    ({"mode": "COMPLIANCE", "until": FUTURE}, True, True),
    ({"mode": "GOVERNANCE", "until": FUTURE}, False, True),
    ({"mode": "GOVERNANCE", "until": FUTURE}, True, False),
    ({"mode": "COMPLIANCE", "until": PAST}, False, False),
    ({"mode": "GOVERNANCE", "until": PAST, "legal_hold": "ON"}, True, True),
]


@pytest.mark.parametrize(("lock", "bypass", "refused"), LOCKS)
def test_plan_delete_version_honours_object_lock(
    lock: dict[str, str], bypass: bool, refused: bool
) -> None:
    row = locked(lock)
    if refused:
        with pytest.raises(errors.AccessDenied, match="Access Denied because the object version"):
            rules.plan_delete_version(
                "b", "Enabled", row.version_id, row, now=NOW, bypass_governance=bypass
            )
        return
    plan = rules.plan_delete_version(
        "b", "Enabled", row.version_id, row, now=NOW, bypass_governance=bypass
    )
    assert plan.unlink == row and plan.marker is None and plan.demote is None


# the row deleted by its version id -> outcome, promote the newest?
DELETES_VERSION: list[tuple[VersionRow | None, DeleteOutcome, bool]] = [
    (None, DeleteOutcome("5" * 32, False, False), False),
    (locked({}), DeleteOutcome("5" * 32, False, True), False),
    (locked({}, latest=True), DeleteOutcome("5" * 32, False, True), True),
    (locked({}, latest=True, marker=True), DeleteOutcome("5" * 32, True, True), True),
    (locked({}, marker=True), DeleteOutcome("5" * 32, True, True), False),
]


@pytest.mark.parametrize(("row", "outcome", "promote"), DELETES_VERSION)
def test_plan_delete_version(row: VersionRow | None, outcome: DeleteOutcome, promote: bool) -> None:
    plan = rules.plan_delete_version("b", "", "5" * 32, row, now=NOW, bypass_governance=False)
    assert plan.outcome == outcome
    assert (plan.unlink, plan.promote_newest) == (row, promote)
    with pytest.raises(errors.NoSuchBucket):
        rules.plan_delete_version("b", None, "5" * 32, row, now=NOW, bypass_governance=False)


def test_newest_is_the_last_written() -> None:
    assert rules.newest([]) is None
    assert rules.newest([NULL_OLD, V2_CURRENT, locked({})]) == locked({})
    assert rules.newest([V2_CURRENT, NULL_OLD]) == V2_CURRENT


@pytest.mark.parametrize(
    ("row", "ok"),
    [(None, False), (V2_CURRENT, True), (NULL_OLD, True), (MARKER_CURRENT, False)],
)
def test_settable(row: VersionRow | None, ok: bool) -> None:
    assert rules.settable(row) is ok


def test_chunks_to_gc_and_to_repair() -> None:
    whole = ChunkRecord("a" * 32, 100, "ec:6+3", 64, tuple(f"d{i}" for i in range(9)))
    gappy = ChunkRecord("b" * 32, 100, "ec:6+3", 64, ("", *whole.stores[1:]))
    inline = ChunkRecord.inline("c" * 32, b"tiny")
    assert rules.gc_chunks([whole, inline, gappy]) == [whole, gappy]
    assert rules.repair_at_write([whole, inline, gappy]) == [gappy.chunk_id]
    assert not rules.has_fragments(inline) and rules.has_fragments(whole)
    assert rules.HAS_FRAGMENTS_SQL == "scheme <> 'inline'"


@pytest.mark.parametrize(
    ("existing", "error"),
    [(None, None), ("root", errors.BucketAlreadyOwnedByYou), ("bob", errors.BucketAlreadyExists)],
)
def test_check_create_bucket(existing: str | None, error: type[Exception] | None) -> None:
    bucket = Bucket("b", NOW, "root")
    if error is None:
        rules.check_create_bucket(bucket, existing)
    else:
        with pytest.raises(error):
            rules.check_create_bucket(bucket, existing)


@pytest.mark.parametrize(
    ("exists", "has_objects", "error"),
    [
        (True, False, None),
        (False, False, errors.NoSuchBucket),
        (True, True, errors.BucketNotEmpty),
    ],
)
def test_check_delete_bucket(
    exists: bool, has_objects: bool, error: type[Exception] | None
) -> None:
    if error is None:
        rules.check_delete_bucket("b", exists, has_objects)
    else:
        with pytest.raises(error):
            rules.check_delete_bucket("b", exists, has_objects)


def test_plan_complete_checks_the_upload_first() -> None:
    with pytest.raises(errors.NoSuchUpload):
        rules.plan_complete("u", False, "b", None, KeyRows(), None)
    with pytest.raises(errors.NoSuchBucket):
        rules.plan_complete("u", True, "b", None, KeyRows(), None)
    plan = rules.plan_complete(
        "u", True, "b", "Suspended", KeyRows(NULL_CURRENT, NULL_CURRENT), None
    )
    assert plan.result == NULL_VERSION and plan.room.unlink == NULL_CURRENT
    rules.require_upload("u", True)
    with pytest.raises(errors.NoSuchUpload):
        rules.require_upload("u", False)
