"""Leftovers of crashed writes on the embedded server, with real processes: a server killed
(SIGKILL) mid-PUT leaves temp files in ``drives/*/tmp`` and committed fragments of the chunks it
had finished (orphans: no metadata references them).

* temp files not written to for ``orphan.tmp_max_age_s`` are swept when the server starts and
  periodically while it runs; fresh ones (writes in progress) are kept;
* ``ninefold worker --once --data-dir DIR`` on the data dir finds and removes the orphans (its
  grace counts from the fragment's write time), never a referenced fragment: every object
  reads back byte-exact afterwards;
* ``--orphan-grace-s`` works on the embedded server too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.node import NodeProc
from tests.support.server import ServerProc, start_server

from .helpers import KiB, MiB, connect, md5_hex, raises_s3, random_bytes, sign, streamed_md5

BIN = Path(sys.executable).parent / "ninefold"
HOUR = 3600.0
#: small chunks, so a PUT killed part-way has committed whole chunks (orphans) already
CHUNK = 2 * 6 * 256 * KiB  # two 6+3 stripes: 3 MiB
SIZES = [0, 4 * KiB, 100 * KiB, 5 * MiB + 17]  # inline, inline, rep:4, ec:6+3 over 2 chunks


def wait_for(condition: Any, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def tmp_files(server: ServerProc) -> set[Path]:
    return {p for d in server.drive_dirs if (d / "tmp").is_dir() for p in (d / "tmp").iterdir()}


def frag_files(server: ServerProc) -> set[Path]:
    return {
        p for d in server.drive_dirs if (d / "frag").is_dir() for p in (d / "frag").rglob("*.*")
    }


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def referenced_fragments(data_dir: Path) -> set[str]:
    """``<chunk_id>.<index>`` of every fragment the metadata references (read-only)."""
    conn = sqlite3.connect(f"file:{data_dir / 'meta.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT chunk_id, stores FROM chunks WHERE scheme != 'inline'")
        out = set()
        for chunk_id, stores in rows:
            for index, store in enumerate(json.loads(stores)):
                if store:
                    out.add(f"{chunk_id}.{index}")
        queued = conn.execute("SELECT chunk_id FROM gc_queue").fetchall()
    finally:
        conn.close()
    assert queued == [], "nothing was deleted or replaced: the GC queue is empty"
    return out


@pytest.fixture
def crash_server(tmp_path: Path) -> Iterator[ServerProc]:
    """A fresh server with 3 MiB chunks, one process (stopped after the test)."""
    proc = start_server(
        tmp_path / "data",
        workers=1,
        extra_args=["--set", f"coordinator.chunk_size_bytes={CHUNK}"],
    )
    try:
        yield proc
    finally:
        proc.stop()


def write_objects(server: ServerProc, bucket: str) -> dict[str, str]:
    client = server.boto3_client()
    client.create_bucket(Bucket=bucket)
    written = {}
    for size in SIZES:
        data = random_bytes(size)
        client.put_object(Bucket=bucket, Key=f"obj-{size}", Body=data)
        written[f"obj-{size}"] = md5_hex(data)
    return written


def verify_objects(server: ServerProc, bucket: str, expected: dict[str, str]) -> None:
    client = server.boto3_client()
    for key, md5 in expected.items():
        got, _ = streamed_md5(client.get_object(Bucket=bucket, Key=key)["Body"])
        assert got == md5, f"{key}: wrong bytes"


def kill_mid_put(server: ServerProc, bucket: str, key: str) -> None:
    """Send 11 of 20 MiB of a PUT, wait until chunks were committed and the next one is being
    written (temp files), then SIGKILL the server: committed orphans plus leaked temp files."""
    size = 20 * MiB
    path = f"/{bucket}/{key}"
    headers = {"Content-Length": str(size), "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    signed = sign(server, "PUT", path, headers=headers, payload_hash="UNSIGNED-PAYLOAD")
    frags_before = len(frag_files(server))
    conn = connect(server, timeout=30)
    try:
        conn.putrequest("PUT", path, skip_host=True, skip_accept_encoding=True)
        for name, value in signed.headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        data = random_bytes(size)
        conn.send(data[: 11 * MiB])
        wait_for(
            lambda: tmp_files(server) and len(frag_files(server)) >= frags_before + 27,
            what="three committed chunks and temp files of the fourth",
        )
        server.kill()
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def test_kill9_mid_put_leaks_temp_files_that_the_restart_sweeps(crash_server: ServerProc) -> None:
    bucket = "leftovers-tmp"
    expected = write_objects(crash_server, bucket)
    kill_mid_put(crash_server, bucket, "killed")
    leaked = tmp_files(crash_server)
    assert leaked, "the killed PUT left temp files"
    for path in leaked:  # as if the crash had been 2 h ago (default age: 1 h)
        age(path, 2 * HOUR)
    d1_tmp = crash_server.drive_dirs[0] / "tmp"
    d1_tmp.mkdir(exist_ok=True)
    fresh = d1_tmp / f"{secrets.token_hex(16)}.0.{secrets.token_hex(6)}"
    fresh.write_bytes(b"a write still in progress")

    crash_server.start()

    assert not any(p.exists() for p in leaked), "stale temp files survived the restart"
    assert fresh.exists(), "a fresh temp file (maybe a write in progress) was removed"
    verify_objects(crash_server, bucket, expected)
    with raises_s3("NoSuchKey", 404):
        crash_server.boto3_client().get_object(Bucket=bucket, Key="killed")


def run_worker(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_")}
    return subprocess.run(
        [str(BIN), "worker", "--once", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def handled(output: str, job: str) -> int:
    for line in output.splitlines():
        if line.startswith(f"{job}: "):
            return int(line.split()[1])
    raise AssertionError(f"no {job} line in:\n{output}")


def test_worker_once_on_an_embedded_data_dir_removes_orphans_only(
    crash_server: ServerProc,
) -> None:
    bucket = "leftovers-orphans"
    expected = write_objects(crash_server, bucket)
    kill_mid_put(crash_server, bucket, "killed")
    data_dir = crash_server.data_dir
    referenced = referenced_fragments(data_dir)
    on_disk = {p.name: p for p in frag_files(crash_server)}
    orphans = set(on_disk) - referenced
    assert len(orphans) >= 27, "the killed PUT's committed chunks are orphans"
    assert referenced <= set(on_disk)
    # one more orphan, written 2 h ago: a copy of a real fragment under an unknown chunk id
    source = on_disk[sorted(referenced)[0]]
    planted_id = secrets.token_hex(16)
    planted = source.parent.parent / planted_id[:2] / f"{planted_id}.0"
    planted.parent.mkdir(exist_ok=True)
    shutil.copy(source, planted)
    age(planted, 2 * HOUR)

    # pointed at the embedded metadata as if it were a cluster's: a one-line hint, nothing done
    wrong = run_worker("--meta", str(data_dir / "meta.db"))
    assert wrong.returncode == 2, wrong.stdout + wrong.stderr
    assert f"--data-dir {data_dir}" in wrong.stderr
    assert planted.exists()

    # the default grace (1 h): only the orphan written 2 h ago goes, the fresh ones stay
    first = run_worker("--data-dir", str(data_dir))
    assert first.returncode == 0, first.stdout + first.stderr
    assert handled(first.stdout, "orphans") == 1, first.stdout
    assert not planted.exists()
    assert all(on_disk[name].exists() for name in orphans)

    # grace 0: every orphan goes, every referenced fragment stays
    second = run_worker("--data-dir", str(data_dir), "--orphan-grace-s", "0")
    assert second.returncode == 0, second.stdout + second.stderr
    assert handled(second.stdout, "orphans") == len(orphans), second.stdout
    assert {p.name for p in frag_files(crash_server)} == referenced

    crash_server.start()
    verify_objects(crash_server, bucket, expected)


def test_worker_data_dir_errors_are_one_line(tmp_path: Path) -> None:
    not_data = run_worker("--data-dir", str(tmp_path))
    assert not_data.returncode == 2
    assert "is not an embedded server's data dir" in not_data.stderr
    both = run_worker("--data-dir", str(tmp_path), "--meta", str(tmp_path / "m.db"))
    assert both.returncode == 2
    assert "not both" in both.stderr
    for done in (not_data, both):
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_running_server_sweeps_temp_files_and_honours_its_orphan_grace(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data",
        workers=1,
        extra_args=["--orphan-grace-s", "0", "--orphan-interval-s", "0.5"],
    )
    try:
        bucket = "leftovers-live"
        expected = write_objects(server, bucket)
        referenced = referenced_fragments(server.data_dir)
        assert {p.name for p in frag_files(server)} == referenced
        stale, fresh = [], []
        for drive in server.drive_dirs[:3]:
            (drive / "tmp").mkdir(exist_ok=True)
            old = drive / "tmp" / f"{secrets.token_hex(16)}.1.{secrets.token_hex(6)}"
            old.write_bytes(b"x" * 1000)
            age(old, 2 * HOUR)
            stale.append(old)
            new = drive / "tmp" / f"{secrets.token_hex(16)}.2.{secrets.token_hex(6)}"
            new.write_bytes(b"y")
            fresh.append(new)
        source = next(iter(frag_files(server)))
        orphan_id = secrets.token_hex(16)
        orphan = source.parent.parent / orphan_id[:2] / f"{orphan_id}.3"
        orphan.parent.mkdir(exist_ok=True)
        shutil.copy(source, orphan)

        wait_for(lambda: not any(p.exists() for p in stale), what="the periodic temp sweep")
        wait_for(lambda: not orphan.exists(), what="the orphan collector (grace 0)")
        assert all(p.exists() for p in fresh)
        assert {p.name for p in frag_files(server)} == referenced
        verify_objects(server, bucket, expected)
    finally:
        server.stop()


def test_node_daemon_sweeps_stale_temp_files_at_start_and_periodically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = NodeProc(tmp_path / "n1", "n1", "z1", 2, "leftovers-secret-0123456789")
    stale, fresh = [], []
    for drive in node.drive_dirs:
        (drive / "tmp").mkdir(parents=True)
        old = drive / "tmp" / f"{secrets.token_hex(16)}.0.{secrets.token_hex(6)}"
        old.write_bytes(b"x" * 100)
        age(old, 2 * HOUR)
        stale.append(old)
        new = drive / "tmp" / f"{secrets.token_hex(16)}.1.{secrets.token_hex(6)}"
        new.write_bytes(b"y")
        fresh.append(new)
    monkeypatch.setenv("NINEFOLD_ORPHAN_INTERVAL_S", "0.5")
    node.start()
    try:
        assert not any(p.exists() for p in stale), "not swept at start"
        assert all(p.exists() for p in fresh)
        later = node.drive_dirs[1] / "tmp" / f"{secrets.token_hex(16)}.0.{secrets.token_hex(6)}"
        later.write_bytes(b"z")
        age(later, 2 * HOUR)
        wait_for(lambda: not later.exists(), what="the node's periodic temp sweep")
        assert all(p.exists() for p in fresh)
    finally:
        node.stop()
