"""Drive identity (``node/drive.py``): the marker written at format time, the verdict on each
drive at start (format a new set, adopt an old one, never recreate or fill a missing or empty
drive), and the disk store refusing to write where its identity is gone."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from ninefold.core.errors import StorageError
from ninefold.fragments.protocol import FragmentId
from ninefold.node.disk import DiskFragmentStore
from ninefold.node.drive import (
    MARKER,
    DriveIdentity,
    check_drives,
    format_drive,
    identity_problem,
    read_marker,
)

OWNER = "embedded"


def drives(tmp_path: Path, n: int = 3) -> dict[str, Path]:
    return {f"d{i}": tmp_path / "drives" / f"d{i}" for i in range(1, n + 1)}


def test_format_writes_a_marker_that_reads_back(tmp_path: Path) -> None:
    ident = format_drive(tmp_path / "d1", "d1", "n7")
    raw = json.loads((tmp_path / "d1" / MARKER).read_text())
    assert raw == {
        "drive": "d1",
        "uuid": ident.uuid,
        "owner": "n7",
        "format": 1,
        "created_at": ident.created_at,
    }
    assert read_marker(tmp_path / "d1") == ident
    assert sorted(p.name for p in (tmp_path / "d1").iterdir()) == [MARKER, "frag", "tmp"]
    assert format_drive(tmp_path / "d2", "d2", "n7").uuid != ident.uuid
    assert read_marker(tmp_path / "nowhere") is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",
        "[1]",
        '{"drive": "d1", "uuid": "x", "owner": "o", "format": "one"}',
        '{"drive": "d1", "uuid": "x", "owner": "o", "format": 99}',
    ],
)
def test_a_damaged_or_newer_marker_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / MARKER).write_text(text)
    with pytest.raises(ValueError):
        read_marker(tmp_path)
    assert identity_problem(tmp_path, "d1", "o", None) is not None


def test_a_new_set_is_formatted_then_used(tmp_path: Path) -> None:
    slots = drives(tmp_path)
    first = check_drives(slots, OWNER)
    assert [c.action for c in first] == ["formatted"] * 3
    again = check_drives(slots, OWNER)
    assert [c.action for c in again] == ["used"] * 3
    assert [c.identity for c in again] == [c.identity for c in first]


def test_a_missing_drive_is_failed_not_recreated(tmp_path: Path) -> None:
    slots = drives(tmp_path)
    check_drives(slots, OWNER)
    shutil.rmtree(slots["d2"])
    checks = {c.name: c for c in check_drives(slots, OWNER)}
    assert checks["d2"].failed and "missing" in checks["d2"].problem
    assert not slots["d2"].exists()
    assert not checks["d1"].failed and not checks["d3"].failed


def test_an_empty_mountpoint_is_failed_and_left_empty(tmp_path: Path) -> None:
    slots = drives(tmp_path)
    check_drives(slots, OWNER)
    shutil.rmtree(slots["d3"])
    slots["d3"].mkdir()
    (c,) = [c for c in check_drives(slots, OWNER) if c.name == "d3"]
    assert c.failed and "empty" in c.problem
    assert list(slots["d3"].iterdir()) == []


def test_a_marker_of_another_slot_or_owner_is_failed(tmp_path: Path) -> None:
    slots = drives(tmp_path)
    check_drives(slots, OWNER)
    (slots["d1"] / MARKER).write_text(
        DriveIdentity("d2", "u" * 32, OWNER, 1, 0.0).to_json()  # disks swapped
    )
    (c,) = [c for c in check_drives(slots, OWNER) if c.name == "d1"]
    assert c.failed and "expected d1" in c.problem
    assert [c.failed for c in check_drives(slots, "other-node")] == [True] * 3


def test_drives_from_before_identities_are_adopted(tmp_path: Path) -> None:
    slots = drives(tmp_path)
    for name, path in slots.items():  # the layout an older version wrote
        (path / "frag" / "ab").mkdir(parents=True)
        (path / "tmp").mkdir()
        (path / "frag" / "ab" / f"{'ab' * 16}.{name[1:]}").write_bytes(b"NFFR")
    checks = check_drives(slots, OWNER)
    assert [c.action for c in checks] == ["adopted"] * 3
    assert all(read_marker(p) is not None for p in slots.values())


def test_an_old_set_with_an_empty_drive_adopts_the_others_only(tmp_path: Path) -> None:
    slots = drives(tmp_path)
    for path in slots.values():
        (path / "tmp").mkdir(parents=True)
    shutil.rmtree(slots["d2"])
    slots["d2"].mkdir()  # empty while the others hold data: an unmounted disk
    checks = {c.name: c for c in check_drives(slots, OWNER)}
    assert checks["d1"].action == checks["d3"].action == "adopted"
    assert checks["d2"].failed and read_marker(slots["d2"]) is None


def test_foreign_content_is_never_adopted(tmp_path: Path) -> None:
    slots = drives(tmp_path, 2)
    slots["d1"].mkdir(parents=True)
    (slots["d1"] / "photos").mkdir()
    slots["d2"].mkdir()
    checks = {c.name: c for c in check_drives(slots, OWNER)}
    assert checks["d1"].failed and read_marker(slots["d1"]) is None
    # empty while another directory of the set holds something: not formatted either
    assert checks["d2"].failed and read_marker(slots["d2"]) is None


def test_an_in_use_set_never_creates_a_missing_drive(tmp_path: Path) -> None:
    slots = drives(tmp_path, 2)
    checks = check_drives(slots, OWNER, fresh=False)  # e.g. the metadata already existed
    assert [c.failed for c in checks] == [True, True]
    assert not any(p.exists() for p in slots.values())


def test_the_store_refuses_writes_and_reports_failure_without_its_identity(
    tmp_path: Path,
) -> None:
    async def go() -> None:
        root = tmp_path / "d1"
        ident = format_drive(root, "d1", OWNER)
        store = DiskFragmentStore("d1", root, drive=("d1", OWNER), identity=ident)
        health = await store.health()
        assert health.online and not health.failed
        fid = FragmentId("ab" * 16, 0)
        writer = await store.open_writer(fid)
        await writer.write_block(b"x" * 100)
        await writer.commit()

        shutil.rmtree(root)
        root.mkdir()  # the disk went away; its empty mountpoint stays
        health = await store.health()
        assert not health.online and "empty" in health.failed
        writer = await store.open_writer(FragmentId("cd" * 16, 0))
        with pytest.raises(StorageError):
            await writer.write_block(b"y" * 100)
        assert list(root.iterdir()) == []

        shutil.rmtree(root)
        assert "missing" in (await store.health()).failed
        assert not root.exists()

        new = format_drive(root, "d1", OWNER)  # admin drive replace
        health = await store.health()
        assert health.online and store.identity == new

    asyncio.run(go())
