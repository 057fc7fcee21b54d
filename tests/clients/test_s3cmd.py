"""s3cmd (Debian's package) against the server, over HTTP and HTTPS (``ca_certs_file``).

s3cmd signs with SigV4 (``signature_v2 = False``), addresses buckets path-style (no
``%(bucket)s`` in ``host_bucket``) and checks every upload's ETag against its own MD5.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.clients.tools import KiB, MiB, file_md5, require_tool, run_tool, tool_env
from tests.conftest import bucket_name_for
from tests.support.server import ServerProc


class S3cmd:
    """``s3cmd`` with a private config file for the server."""

    def __init__(self, server: ServerProc, workdir: Path) -> None:
        self.server = server
        self.binary = require_tool("s3cmd")
        self.config = workdir / "s3cmd.cfg"
        hostport = f"{server.host}:{server.port}"
        lines = [
            "[default]",
            f"access_key = {server.access_key}",
            f"secret_key = {server.secret_key}",
            f"host_base = {hostport}",
            f"host_bucket = {hostport}",
            "bucket_location = US",
            "signature_v2 = False",
            f"use_https = {server.tls}",
            "check_ssl_certificate = True",
            "check_ssl_hostname = True",
            f"ca_certs_file = {server.ca_bundle or ''}",
            "progress_meter = False",
        ]
        self.config.write_text("\n".join(lines) + "\n")
        os.chmod(self.config, 0o600)

    def run(
        self, *args: str, timeout_s: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "-c", str(self.config), *args]
        return run_tool(cmd, env=tool_env(), timeout_s=timeout_s, check=check)

    def __call__(self, *args: str, timeout_s: float = 300) -> str:
        return self.run(*args, timeout_s=timeout_s).stdout


@pytest.fixture
def s3cmd(any_server: ServerProc, tmp_path: Path) -> S3cmd:
    return S3cmd(any_server, tmp_path)


def test_mb_put_ls_get_del_rb(
    s3cmd: S3cmd, s3: Any, tmp_data: Path, request: pytest.FixtureRequest
) -> None:
    name = bucket_name_for(request.node.name)
    small = tmp_data / "small.txt"
    small.write_bytes(b"hello from s3cmd\n")
    medium = tmp_data / "medium.bin"
    medium.write_bytes(os.urandom(1 * MiB + 5 * KiB))
    try:
        s3cmd("mb", f"s3://{name}")
        s3.head_bucket(Bucket=name)
        assert re.search(rf"\ss3://{re.escape(name)}$", s3cmd("ls"), re.M)

        s3cmd("put", str(small), f"s3://{name}/docs/small.txt")
        s3cmd("put", str(medium), f"s3://{name}/docs/medium.bin")
        s3cmd("put", str(small), f"s3://{name}/top.txt")

        top = s3cmd("ls", f"s3://{name}/")
        assert re.search(rf"DIR\s+s3://{re.escape(name)}/docs/$", top, re.M), top
        assert re.search(rf"\s{small.stat().st_size}\s+s3://{name}/top\.txt$", top, re.M), top
        docs = s3cmd("ls", f"s3://{name}/docs/")
        assert re.search(rf"\s{medium.stat().st_size}\s+s3://{name}/docs/medium\.bin$", docs, re.M)
        assert f"s3://{name}/docs/small.txt" in docs

        for key, local in [("docs/small.txt", small), ("docs/medium.bin", medium)]:
            got = tmp_data / f"got-{local.name}"
            s3cmd("get", f"s3://{name}/{key}", str(got))
            assert got.read_bytes() == local.read_bytes(), f"{key}: bytes differ"

        s3cmd("del", f"s3://{name}/docs/small.txt")
        remaining = {o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])}
        assert remaining == {"docs/medium.bin", "top.txt"}

        s3cmd("del", "--recursive", "--force", f"s3://{name}/")
        assert s3.list_objects_v2(Bucket=name).get("KeyCount") == 0
        s3cmd("rb", f"s3://{name}")
        with pytest.raises(ClientError) as err:
            s3.head_bucket(Bucket=name)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert f"s3://{name}" not in s3cmd("ls")
    finally:
        s3cmd.run("rb", "--recursive", "--force", f"s3://{name}", check=False)


def test_multipart_put_20mib(s3cmd: S3cmd, s3: Any, bucket: str, tmp_data: Path) -> None:
    src = tmp_data / "twenty.bin"
    with src.open("wb") as f:
        for _ in range(20):
            f.write(os.urandom(MiB))
    out = s3cmd("put", "--multipart-chunk-size-mb=5", str(src), f"s3://{bucket}/mp/twenty.bin")
    assert "twenty.bin" in out, out

    head = s3.head_object(Bucket=bucket, Key="mp/twenty.bin")
    assert head["ContentLength"] == 20 * MiB
    assert head["ETag"].endswith('-4"'), head["ETag"]

    got = tmp_data / "twenty.got"
    s3cmd("get", f"s3://{bucket}/mp/twenty.bin", str(got))
    assert file_md5(got) == file_md5(src)
