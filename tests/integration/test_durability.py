"""Durability on disk: an object survives the loss or corruption of any 3 of its drives, fails
cleanly (never wrong bytes) with 4, and survives a restart.

Objects <= 32 KiB live inline in their metadata row (no fragment files: they have the metadata
store's durability, and a damaged inline record is a clean failure); objects <= 128 KiB are
replicated x4 (4 drives hold a copy each); larger ones are erasure-coded 6+3 over all 9 drives
(one fragment per drive per 64 MiB chunk). Fragments live at
DATA_DIR/drives/dN/frag/<2hex>/<chunk_id>.<index>; a fragment file is a 32-byte header followed by
records ``[u32 len][u32 crc32c][payload]``.
"""

from __future__ import annotations

import hashlib
import http.client
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError as URLLib3Error

from .helpers import (
    FRAGMENT_HEADER,
    INLINE_MAX,
    RECORD_HEADER,
    SMALL_OBJECT_MAX,
    KiB,
    MiB,
    chunk_of,
    corrupt_file,
    drive_of,
    error_of,
    fragment_files,
    index_of,
    no_retry_client,
    random_bytes,
    streamed_md5,
    unique_name,
)

CHUNK = 64 * MiB
SIZES = [100 * KiB, 1 * MiB, 100 * MiB]
SIZE_IDS = ["100KiB", "1MiB", "100MiB"]


class StoredObject:
    """An object on ``fresh_server`` with its fragment files, grouped by drive."""

    def __init__(self, server: Any, client: Any, bucket: str, key: str, size: int) -> None:
        self.server, self.client, self.bucket, self.key, self.size = (
            server,
            client,
            bucket,
            key,
            size,
        )
        data = random_bytes(size)
        self.md5 = hashlib.md5(data).hexdigest()
        before = fragment_files(server)
        client.put_object(Bucket=bucket, Key=key, Body=data)
        del data
        self.fragments = sorted(fragment_files(server) - before)
        self.by_drive: dict[str, list[Path]] = defaultdict(list)
        for frag in self.fragments:
            self.by_drive[drive_of(frag)].append(frag)
        self._check_layout()

    def _check_layout(self) -> None:
        chunks: dict[str, list[Path]] = defaultdict(list)
        for frag in self.fragments:
            chunks[chunk_of(frag)].append(frag)
        if self.size <= INLINE_MAX:
            assert not self.fragments, f"an inline object has fragment files: {self.fragments}"
            return
        if self.size <= SMALL_OBJECT_MAX:
            assert len(self.fragments) == 4, f"expected 4 replicas, found {self.fragments}"
            assert len(chunks) == 1
            assert len(self.by_drive) == 4, f"replicas not on 4 distinct drives: {self.by_drive}"
        else:
            expected_chunks = -(-self.size // CHUNK)
            assert len(chunks) == expected_chunks, (expected_chunks, sorted(chunks))
            for chunk_id, frags in chunks.items():
                assert sorted(index_of(f) for f in frags) == list(range(9)), (chunk_id, frags)
                assert len({drive_of(f) for f in frags}) == 9, (chunk_id, frags)
        for frag in self.fragments:
            raw = frag.read_bytes()[:FRAGMENT_HEADER]
            assert raw[:4] == b"NFFR", f"{frag}: bad magic {raw[:8]!r}"

    def drives_by_index(self, indexes: list[int]) -> list[str]:
        """Drives holding the given fragment indexes of the object's first chunk."""
        first = chunk_of(self.fragments[0])
        frags = sorted((f for f in self.fragments if chunk_of(f) == first), key=index_of)
        return [drive_of(frags[i]) for i in indexes]

    def files_on(self, drives: list[str]) -> list[Path]:
        return [f for d in drives for f in self.by_drive[d]]

    # ---- reads ----------------------------------------------------------------------------

    def read_md5(self, client: Any | None = None) -> str:
        resp = (client or self.client).get_object(Bucket=self.bucket, Key=self.key)
        assert resp["ContentLength"] == self.size
        md5, size = streamed_md5(resp["Body"])
        assert size == self.size
        return md5

    def assert_intact(self, what: str, client: Any | None = None) -> None:
        try:
            md5 = self.read_md5(client)
        except ClientError as exc:
            pytest.fail(f"{what}: GET {self.key} ({self.size} B) failed: {exc.response}")
        assert md5 == self.md5, f"{what}: GET {self.key} returned WRONG BYTES"

    def assert_fails_cleanly(self, what: str) -> None:
        client = no_retry_client(self.server)
        try:
            resp = client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            code, status = error_of(exc)
            assert status in (500, 503), f"{what}: expected 500/503, got {status} {code}"
            assert code in ("ServiceUnavailable", "InternalError", "SlowDown"), (
                f"{what}: unexpected S3 error code {code!r}"
            )
            return
        try:
            md5, size = streamed_md5(resp["Body"])
        except (BotoCoreError, URLLib3Error, http.client.HTTPException, OSError):
            return  # aborted after the headers went out: acceptable
        assert md5 == self.md5 and size == self.size, (
            f"{what}: GET {self.key} returned a complete body with WRONG BYTES ({size} B)"
        )
        pytest.fail(f"{what}: GET {self.key} succeeded although 4 drives were damaged")


class Damage:
    """Back up fragment files, damage them, restore them exactly."""

    def __init__(self, files: list[Path]) -> None:
        self.saved = {f: f.read_bytes() for f in files}

    def delete(self, files: list[Path]) -> None:
        for f in files:
            f.unlink()

    def corrupt(self, files: list[Path]) -> None:
        for f in files:
            size = f.stat().st_size
            first_block = FRAGMENT_HEADER + RECORD_HEADER + 100
            corrupt_file(f, [min(first_block, size - 16), size // 2])

    def corrupt_middle(self, files: list[Path]) -> None:
        """Damage only the middle of each file: for a large object the first stripes stay
        readable, so a failure can only be detected after the response headers went out."""
        for f in files:
            corrupt_file(f, [f.stat().st_size // 2])

    def restore(self) -> None:
        for f, data in self.saved.items():
            f.parent.mkdir(parents=True, exist_ok=True)
            with open(f, "wb") as fh:
                fh.write(data)


def _combos(obj: StoredObject) -> dict[str, list[list[str]]]:
    """Drive combinations for the object: 3-drive combos to delete, to corrupt, and 4 drives."""
    if obj.size <= SMALL_OBJECT_MAX:
        replicas = sorted(obj.by_drive)
        return {
            "delete3": [replicas[:3], replicas[1:]],
            "corrupt3": [
                [replicas[0], replicas[2], replicas[3]],
                [replicas[0], replicas[1], replicas[3]],
                replicas[1:],
            ],
            "lose4": [replicas],
        }
    by = obj.drives_by_index
    return {
        # data fragments only (forces a real decode) and a data/parity mix
        "delete3": [by([0, 1, 2]), by([1, 4, 7])],
        "corrupt3": [by([3, 4, 5]), by([0, 6, 8]), by([6, 7, 8])],
        "lose4": [by([0, 2, 5, 7])],
    }


@pytest.fixture
def durable(fresh_server: Any) -> tuple[Any, Any, str]:
    client = fresh_server.boto3_client()
    bucket = unique_name("dur")
    client.create_bucket(Bucket=bucket)
    return fresh_server, client, bucket


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_survives_three_drives_fails_cleanly_with_four(
    durable: tuple[Any, Any, str], size: int
) -> None:
    server, client, bucket = durable
    obj = StoredObject(server, client, bucket, f"victim-{size}", size)
    obj.assert_intact("undamaged")
    combos = _combos(obj)

    # (a) fragments deleted on 3 drives
    for drives in combos["delete3"]:
        files = obj.files_on(drives)
        damage = Damage(files)
        damage.delete(files)
        obj.assert_intact(f"fragments deleted on {drives}")
        damage.restore()

    # (b) fragments corrupted (first block and middle) on 3 drives
    for drives in combos["corrupt3"]:
        files = obj.files_on(drives)
        damage = Damage(files)
        damage.corrupt(files)
        obj.assert_intact(f"fragments corrupted on {drives}")
        damage.restore()

    # (a+b) mixed: 2 deleted + 1 corrupted
    drives = combos["delete3"][-1]
    files_del, files_cor = obj.files_on(drives[:2]), obj.files_on(drives[2:])
    damage = Damage(files_del + files_cor)
    damage.delete(files_del)
    damage.corrupt(files_cor)
    obj.assert_intact(f"2 drives deleted + 1 corrupted: {drives}")
    damage.restore()

    # (c) 4 drives lost: two deleted, two corrupted -> a clean failure, never wrong bytes
    for drives in combos["lose4"]:
        files_del, files_cor = obj.files_on(drives[:2]), obj.files_on(drives[2:])
        damage = Damage(files_del + files_cor)
        damage.delete(files_del)
        damage.corrupt(files_cor)
        obj.assert_fails_cleanly(f"4 drives damaged: {drives}")
        damage.restore()

    # 4 drives damaged in the middle only (a large object fails mid-stream: abort, no lie)
    files = obj.files_on(combos["lose4"][0])
    damage = Damage(files)
    damage.corrupt_middle(files)
    obj.assert_fails_cleanly("4 drives corrupted in the middle")
    damage.restore()

    # all 4 deleted as well
    files = obj.files_on(combos["lose4"][0])
    damage = Damage(files)
    damage.delete(files)
    obj.assert_fails_cleanly("4 drives deleted")
    damage.restore()

    # restored fragments serve again, and the server is still healthy
    obj.assert_intact("after restoring the fragments")
    assert client.list_buckets()["Buckets"]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_restart_keeps_objects(durable: tuple[Any, Any, str], size: int) -> None:
    server, client, bucket = durable
    intact = StoredObject(server, client, bucket, f"intact-{size}", size)
    degraded = StoredObject(server, client, bucket, f"degraded-{size}", min(size, 300 * KiB))
    others = [
        StoredObject(server, client, bucket, f"small-{i}", n)
        for i, n in enumerate([0, 1, SMALL_OBJECT_MAX, SMALL_OBJECT_MAX + 1])
    ]
    # the degraded object loses 3 drives' worth of fragments before the restart
    lost = sorted(degraded.by_drive)[:3]
    damage = Damage(degraded.files_on(lost))
    damage.delete(degraded.files_on(lost))

    server.restart()
    client = server.boto3_client()
    for obj in (intact, degraded, *others):
        obj.assert_intact("after restart", client)
    listed = {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert listed == {o.key for o in (intact, degraded, *others)}
    damage.restore()
    degraded.assert_intact("after restart and restore", client)


def test_overwrite_and_delete_do_not_touch_other_objects(durable: tuple[Any, Any, str]) -> None:
    server, client, bucket = durable
    a = StoredObject(server, client, bucket, "a", 2 * MiB)
    b = StoredObject(server, client, bucket, "b", 64 * KiB)
    client.put_object(Bucket=bucket, Key="a", Body=b"replaced")
    client.delete_object(Bucket=bucket, Key="c-never")
    b.assert_intact("after overwriting another object")
    assert client.get_object(Bucket=bucket, Key="a")["Body"].read() == b"replaced"
    # a's old fragments belong to the old version only; b's are untouched
    assert all(f.exists() for f in b.fragments)
    assert not set(a.fragments) & set(b.fragments)


@pytest.mark.parametrize("size", [1, 4 * KiB, INLINE_MAX])
def test_inline_object_needs_no_drive_and_damage_fails_cleanly(
    durable: tuple[Any, Any, str], size: int
) -> None:
    """A small object is stored in its metadata row: it survives the loss of every drive's
    fragments, and a damaged record is refused (5xx), never served as wrong bytes."""
    server, client, bucket = durable
    obj = StoredObject(server, client, bucket, f"inline-{size}", size)  # asserts: no fragments
    aside = []
    for drive in server.drive_dirs:  # every drive loses everything it holds
        frag = Path(drive) / "frag"
        if frag.is_dir():
            aside.append((frag, frag.rename(frag.with_name("frag-lost"))))
    obj.assert_intact("with every drive emptied")
    for frag, moved in aside:
        moved.rename(frag)

    db = sqlite3.connect(server.data_dir / "meta.db")
    try:
        (raw,) = db.execute(
            "SELECT c.data FROM chunks c JOIN objects o ON o.id = c.object_id "
            "WHERE o.bucket = ? AND o.key = ?",
            (bucket, obj.key),
        ).fetchone()
        damaged = bytearray(raw)
        damaged[-1] ^= 0x40  # one bit of the payload (the record's CRC32C no longer matches)
        with db:
            db.execute("UPDATE chunks SET data = ? WHERE data = ?", (bytes(damaged), raw))
        obj.assert_fails_cleanly("inline record damaged")
        with db:
            db.execute("UPDATE chunks SET data = ? WHERE data = ?", (raw, bytes(damaged)))
    finally:
        db.close()
    obj.assert_intact("inline record restored")
