"""A drive lost while the embedded server runs, and across restarts.

Each drive carries an identity (``.ninefold-drive``, written when the data directory is
created). A drive directory removed while the server runs is failed: its fragments count as
lost and repair rebuilds every affected chunk on the 8 drives left (one drive then holds two
fragments of a 6+3 chunk), with a bounded number of WARNING lines. A restart never recreates a
missing drive, and never writes into an empty directory without the identity (the mountpoint
of a disk that did not mount); ``ninefold admin drive replace`` formats a replacement, which
the running server then uses.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProc, ninefold_executable, start_server

from .helpers import KiB, MiB

#: inline, replicated (rep:4) and erasure-coded (6+3) sizes
SIZES = [1 * KiB, 40 * KiB, 100 * KiB, 1 * MiB, 3 * MiB + 17]
FAST = [
    "--set",
    "repair.interval_s=0.5",
    "--set",
    "health.interval_s=0.2",
    "--set",
    "health.down_after_s=0.6",
    "--set",
    "rebalance.interval_s=0.5",
]
#: WARNING lines allowed after a drive is removed: writes and reads in flight until the drive is
#: marked failed (~0.6 s), one "failed" line per server process, one sweep line, a summary or two
MAX_WARNINGS = 40


@pytest.fixture
def drive_server(tmp_path: Path) -> Iterator[ServerProc]:
    proc = start_server(tmp_path / "data", workers=2, extra_args=FAST)
    try:
        yield proc
    finally:
        proc.stop()


def ninefold(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ninefold_executable(), *args], capture_output=True, text=True, timeout=60
    )


def put_objects(client: Any, bucket: str, prefix: str, count: int) -> dict[str, str]:
    md5s = {}
    for i in range(count):
        data = os.urandom(SIZES[i % len(SIZES)])
        key = f"{prefix}{i:03d}"
        client.put_object(Bucket=bucket, Key=key, Body=data)
        md5s[key] = hashlib.md5(data).hexdigest()
    return md5s


def assert_all_intact(client: Any, bucket: str, md5s: dict[str, str]) -> None:
    for key, md5 in md5s.items():
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == md5, f"{key}: wrong bytes"


def chunk_stores(server: ServerProc) -> list[list[str]]:
    db = sqlite3.connect(server.data_dir / "meta.db")
    try:
        rows = db.execute("SELECT stores FROM chunks WHERE scheme != 'inline'").fetchall()
    finally:
        db.close()
    return [json.loads(r[0]) for r in rows]


def repair_queue(server: ServerProc) -> int:
    db = sqlite3.connect(server.data_dir / "meta.db")
    try:
        return int(db.execute("SELECT count(*) FROM repair_queue").fetchone()[0])
    finally:
        db.close()


def wait_rebuilt_without(server: ServerProc, drive: str, timeout_s: float = 90.0) -> None:
    """Until no chunk names ``drive`` or a missing store, and the repair queue is empty."""
    deadline = time.monotonic() + timeout_s
    while True:
        stores = chunk_stores(server)
        left = [s for s in stores if drive in s or "" in s]
        if not left and repair_queue(server) == 0:
            return
        assert time.monotonic() < deadline, (
            f"{len(left)} chunks still on {drive} or incomplete, queue {repair_queue(server)}; "
            f"log:\n{server.log_tail(40)}"
        )
        time.sleep(0.5)


def warnings_since(server: ServerProc, offset: int) -> list[str]:
    return [
        line for line in server.log_tail(100_000, since=offset).splitlines() if " WARNING " in line
    ]


def test_a_drive_removed_while_running_is_rebuilt_on_the_others(drive_server: ServerProc) -> None:
    server = drive_server
    client = server.boto3_client()
    client.create_bucket(Bucket="lost-drive")
    md5s = put_objects(client, "lost-drive", "before-", 30)
    d3 = server.drive_dirs[2]
    assert (d3 / ".ninefold-drive").is_file()
    assert any("d3" in s for s in chunk_stores(server))

    offset = server.log_size()
    shutil.rmtree(d3)
    # writes and reads go on meanwhile
    md5s.update(put_objects(client, "lost-drive", "during-", 10))
    assert_all_intact(client, "lost-drive", md5s)

    wait_rebuilt_without(server, "d3")
    stores = chunk_stores(server)
    assert all(len(s) in (4, 9) and "" not in s for s in stores)
    assert_all_intact(client, "lost-drive", md5s)
    time.sleep(3)  # a few more repair rounds: nothing left to complain about
    warnings = warnings_since(server, offset)
    assert len(warnings) <= MAX_WARNINGS, "\n".join(warnings)
    assert sum("drive d3 has failed" in w for w in warnings) <= server.workers
    assert not d3.exists(), "the removed drive was recreated"

    status = ninefold("admin", "heal", "status", "--meta", str(server.data_dir / "meta.db"))
    assert status.returncode == 0, status.stderr
    lines = {ln.split("  ")[0].strip(): ln for ln in status.stdout.splitlines()}
    assert "d3" in lines["failed drives"]
    assert lines["chunks to rebuild"].split()[-1] == "0"
    assert lines["ETA"].split()[-1] == "-"
    assert "chunks/s" in lines["repair rate"]


def test_restart_never_recreates_or_fills_a_drive_and_replace_brings_one_back(
    drive_server: ServerProc,
) -> None:
    server = drive_server
    client = server.boto3_client()
    client.create_bucket(Bucket="restart-drive")
    md5s = put_objects(client, "restart-drive", "o-", 20)
    server.stop()

    d5, d7 = server.drive_dirs[4], server.drive_dirs[6]
    shutil.rmtree(d5)  # the disk is gone
    shutil.rmtree(d7)
    d7.mkdir()  # the disk did not mount: an empty mountpoint
    offset = server.log_size()
    server.start()
    client = server.boto3_client()
    assert not d5.exists(), "a missing drive was recreated at start"
    listed = ninefold("admin", "drive", "list", "--data-dir", str(server.data_dir))
    assert listed.returncode == 0, listed.stderr
    rows = {ln.split()[0]: ln for ln in listed.stdout.splitlines()[1:] if ln.strip()}
    assert "failed" in rows["d5"] and "missing" in rows["d5"]
    assert "failed" in rows["d7"] and "empty" in rows["d7"]
    assert all(rows[f"d{i}"].split()[1] == "ok" for i in (1, 2, 3, 4, 6, 8, 9))

    md5s.update(put_objects(client, "restart-drive", "new-", 10))
    wait_rebuilt_without(server, "d5")
    wait_rebuilt_without(server, "d7")
    assert_all_intact(client, "restart-drive", md5s)
    assert not d5.exists()
    assert os.listdir(d7) == [], "data was written into an unmounted disk's mountpoint"
    start_log = server.log_tail(100_000, since=offset).splitlines()
    assert sum("drive d5 failed" in line for line in start_log) == 1  # once, not per process
    assert sum("drive d7 failed" in line for line in start_log) == 1

    # a healthy drive, or a directory with content, is never formatted over
    refused = ninefold("admin", "drive", "replace", "d1", "--data-dir", str(server.data_dir))
    assert refused.returncode == 2 and "healthy" in refused.stderr
    (d7 / "something").write_text("not ours")
    refused = ninefold("admin", "drive", "replace", "d7", "--data-dir", str(server.data_dir))
    assert refused.returncode == 2 and "not empty" in refused.stderr
    assert sorted(os.listdir(d7)) == ["something"]
    (d7 / "something").unlink()

    # the replacements: formatted with new identities, used by the running server
    for drive in ("d5", "d7"):
        done = ninefold("admin", "drive", "replace", drive, "--data-dir", str(server.data_dir))
        assert done.returncode == 0, done.stderr
        assert f"drive {drive} formatted" in done.stdout
    deadline = time.monotonic() + 60
    while True:  # new writes (6+3 over all 9 drives) and the rebalancer fill them
        more = put_objects(client, "restart-drive", f"after-{time.monotonic_ns()}-", 5)
        md5s.update(more)
        used = {s for stores in chunk_stores(server) for s in stores}
        if {"d5", "d7"} <= used and list((d5 / "frag").iterdir()) and list((d7 / "frag").iterdir()):
            break
        assert time.monotonic() < deadline, server.log_tail(40)
        time.sleep(0.5)
    assert_all_intact(client, "restart-drive", md5s)


def test_a_data_dir_from_before_drive_identities_is_adopted(drive_server: ServerProc) -> None:
    server = drive_server
    client = server.boto3_client()
    client.create_bucket(Bucket="legacy")
    md5s = put_objects(client, "legacy", "o-", 10)
    server.stop()
    for drive in server.drive_dirs:  # as a data dir written by an older version
        (drive / ".ninefold-drive").unlink()
    server.start()
    client = server.boto3_client()
    for drive in server.drive_dirs:
        assert (drive / ".ninefold-drive").is_file(), f"{drive} not adopted"
    assert_all_intact(client, "legacy", md5s)
    listed = ninefold("admin", "drive", "list", "--data-dir", str(server.data_dir))
    assert listed.stdout.count(" ok ") == 9, listed.stdout
