"""Fixtures shared by every suite: real ``ninefold server`` processes and clients for them.

Servers (see ``tests/support/server.py``):

* ``server`` / ``tls_server``: one HTTP and one HTTPS server for the whole session;
* ``any_server``: parametrized over both (ids ``http`` and ``https``), so a test that uses it, or
  ``s3`` or ``bucket``, runs once over each;
* ``fresh_server``: a brand-new HTTP server with its own data dir, for restart/durability tests.

Every process is stopped by the fixture that started it; the ``atexit`` hook in
``tests/support/server.py`` SIGKILLs any group still registered, and SIGTERM to pytest becomes
a KeyboardInterrupt so finalizers run then too. When a test fails, the part of each server's log
written during the test is attached to the report.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.server import ServerProc, start_server

_reports_key = pytest.StashKey[dict[str, pytest.TestReport]]()
_log_offsets_key = pytest.StashKey[dict[int, int]]()


# ------------------------------------------------------------------------------- session setup


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # Tests use botocore's *defaults*: a developer's AWS_PROFILE, AWS_ENDPOINT_URL, checksum or
    # retry settings, or ~/.aws files, must not change what is being tested.
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    nowhere = Path(tempfile.gettempdir()) / "ninefold-tests-no-aws-config"
    os.environ["AWS_CONFIG_FILE"] = str(nowhere / "config")
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(nowhere / "credentials")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)


def _servers_of(item: pytest.Item) -> list[tuple[str, ServerProc]]:
    seen: set[int] = set()
    found = []
    for name, value in getattr(item, "funcargs", {}).items():
        if isinstance(value, ServerProc) and id(value) not in seen:
            seen.add(id(value))
            found.append((name, value))
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(_reports_key, {})[report.when] = report
    if report.when == "setup" and report.passed:
        item.stash[_log_offsets_key] = {id(s): s.log_size() for _, s in _servers_of(item)}
    if report.failed:
        offsets = item.stash.get(_log_offsets_key, {})
        for name, srv in _servers_of(item):
            tail = srv.log_tail(80, since=offsets.get(id(srv), 0))
            report.sections.append((f"ninefold server log ({name}, {srv.log_path})", tail))
    return report


def _test_passed(request: pytest.FixtureRequest) -> bool:
    reports = request.node.stash.get(_reports_key, {})
    return all(r.passed for r in reports.values()) and "call" in reports


# ------------------------------------------------------------------------------- servers


def _session_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, *, tls: bool
) -> Iterator[ServerProc]:
    base = tmp_path_factory.mktemp("server-https" if tls else "server-http")
    proc = start_server(base / "data", tls=tls, workers=2)
    try:
        yield proc
    finally:
        proc.stop()
        if request.session.testsfailed == 0:  # keep the evidence of a failed run only
            shutil.rmtree(proc.data_dir / "drives", ignore_errors=True)


@pytest.fixture(scope="session")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProc]:
    """The session's plain-HTTP server (2 worker processes)."""
    yield from _session_server(request, tmp_path_factory, tls=False)


@pytest.fixture(scope="session")
def tls_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProc]:
    """The session's HTTPS server; clients trust ``tls_server.ca_bundle``."""
    yield from _session_server(request, tmp_path_factory, tls=True)


@pytest.fixture(scope="session", params=["http", "https"], ids=["http", "https"])
def any_server(request: pytest.FixtureRequest) -> ServerProc:
    """``server`` or ``tls_server``: tests using it run once over each."""
    proc: ServerProc = request.getfixturevalue(
        "server" if request.param == "http" else "tls_server"
    )
    return proc


@pytest.fixture
def fresh_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProc]:
    """A brand-new HTTP server with its own data dir, stopped (and removed if passed) after."""
    proc = start_server(tmp_path / "fresh" / "data", workers=2)
    try:
        yield proc
    finally:
        proc.stop()
        if _test_passed(request):
            shutil.rmtree(proc.data_dir, ignore_errors=True)


# ------------------------------------------------------------------------------- clients


@pytest.fixture
def s3(any_server: ServerProc) -> Any:
    """A default boto3 S3 client for ``any_server`` (so the test runs over HTTP and HTTPS)."""
    return any_server.boto3_client()


@pytest.fixture
def s3_http(server: ServerProc) -> Any:
    """A default boto3 S3 client for the plain-HTTP ``server`` only."""
    return server.boto3_client()


def bucket_name_for(test_name: str) -> str:
    """``nf-<test name>-<8 hex>``: lowercase letters, digits and single hyphens, <= 63 chars."""
    suffix = secrets.token_hex(4)
    stem = re.sub(r"[^a-z0-9]+", "-", test_name.lower().removeprefix("test_")).strip("-")
    stem = stem[: 63 - len("nf--") - len(suffix)].strip("-") or "bucket"
    return f"nf-{stem}-{suffix}"


def purge_bucket(client: Any, name: str) -> None:
    """Delete every object, version and multipart upload of ``name``, then the bucket.

    Best effort: a cleanup error must never mask the test's own outcome.
    """
    errors = (ClientError, BotoCoreError)
    with contextlib.suppress(*errors):
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for up in page.get("Uploads", []):
                with contextlib.suppress(*errors):
                    client.abort_multipart_upload(
                        Bucket=name, Key=up["Key"], UploadId=up["UploadId"]
                    )
    with contextlib.suppress(*errors):
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
            for entry in entries:
                with contextlib.suppress(*errors):
                    client.delete_object(
                        Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"]
                    )
    with contextlib.suppress(*errors):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
    with contextlib.suppress(*errors):
        client.delete_bucket(Bucket=name)


@pytest.fixture
def bucket(s3: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty bucket on ``any_server``; emptied and deleted after the test."""
    name = bucket_name_for(request.node.name)
    s3.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        purge_bucket(s3, name)


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    """An empty directory for the test's own files."""
    path = tmp_path / "files"
    path.mkdir()
    return path
