"""rclone (Debian's package) against the server, over HTTP and HTTPS (``--ca-cert``).

The remote is configured the way the README tells users to: ``type = s3``, ``provider =
Other``, path-style, region us-east-1. Retries are turned down to one attempt so a server error
fails the test instead of being papered over.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.clients.tools import (
    assert_same_tree,
    make_tree,
    require_tool,
    run_tool,
    tool_env,
    tree_files,
)
from tests.support.server import ServerProc

TREE_FILES = 200


class Rclone:
    """``rclone`` with a private config file naming the server as remote ``nf:``."""

    def __init__(self, server: ServerProc, workdir: Path) -> None:
        self.server = server
        self.binary = require_tool("rclone")
        self.config = workdir / "rclone.conf"
        self.config.write_text(
            "[nf]\n"
            "type = s3\n"
            "provider = Other\n"
            "env_auth = false\n"
            f"access_key_id = {server.access_key}\n"
            f"secret_access_key = {server.secret_key}\n"
            f"endpoint = {server.endpoint}\n"
            f"region = {server.region}\n"
            "force_path_style = true\n"
        )

    def run(
        self, *args: str, timeout_s: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [self.binary, "--config", str(self.config), "--retries", "1"]
        cmd += ["--low-level-retries", "1"]
        if self.server.ca_bundle:
            cmd += ["--ca-cert", self.server.ca_bundle]
        return run_tool([*cmd, *args], env=tool_env(), timeout_s=timeout_s, check=check)

    def __call__(self, *args: str, timeout_s: float = 300) -> str:
        """Run and check; returns stdout followed by stderr (rclone logs to stderr)."""
        result = self.run(*args, timeout_s=timeout_s)
        return result.stdout + result.stderr


@pytest.fixture
def rclone(any_server: ServerProc, tmp_path: Path) -> Rclone:
    return Rclone(any_server, tmp_path)


@pytest.fixture
def tree(tmp_data: Path) -> tuple[Path, dict[str, int]]:
    src = tmp_data / "src"
    return src, make_tree(src, TREE_FILES, seed=200)


def object_sizes(s3: Any, bucket: str, prefix: str = "") -> dict[str, int]:
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        sizes.update({o["Key"][len(prefix) :]: o["Size"] for o in page.get("Contents", [])})
    return sizes


def test_copy_check_and_copy_back(
    rclone: Rclone, s3: Any, bucket: str, tree: tuple[Path, dict[str, int]], tmp_data: Path
) -> None:
    src, files = tree
    remote = f"nf:{bucket}/tree"
    rclone("copy", str(src), remote, "--transfers", "8")
    assert object_sizes(s3, bucket, "tree/") == files

    out = rclone("check", str(src), remote)
    assert re.search(r"\b0 differences found", out), out
    assert re.search(rf"\b{TREE_FILES} matching files", out), out

    dst = tmp_data / "dst"
    rclone("copy", remote, str(dst), "--transfers", "8")
    assert_same_tree(src, dst)


def test_check_notices_a_changed_object(
    rclone: Rclone, s3: Any, bucket: str, tmp_data: Path
) -> None:
    src = tmp_data / "small"
    files = make_tree(src, 12, seed=3)
    remote = f"nf:{bucket}/small"
    rclone("copy", str(src), remote)
    victim = sorted(rel for rel, size in files.items() if size > 0)[0]
    data = (src / victim).read_bytes()
    s3.put_object(Bucket=bucket, Key=f"small/{victim}", Body=bytes([data[0] ^ 1]) + data[1:])

    result = rclone.run("check", str(src), remote, check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert re.search(r"\b1 differences found", out), out
    assert victim in out, out


def test_ls_and_lsd(rclone: Rclone, bucket: str, tree: tuple[Path, dict[str, int]]) -> None:
    src, files = tree
    rclone("copy", str(src), f"nf:{bucket}", "--transfers", "8")

    listed = {}
    for line in rclone("ls", f"nf:{bucket}").splitlines():
        size, _, rel = line.strip().partition(" ")
        listed[rel] = int(size)
    assert listed == files

    top_dirs = {rel.split("/")[0] for rel in files if "/" in rel}
    lsd = {line.split()[-1] for line in rclone("lsd", f"nf:{bucket}").splitlines() if line}
    assert lsd == top_dirs

    buckets = {line.split()[-1] for line in rclone("lsd", "nf:").splitlines() if line}
    assert bucket in buckets

    nested = {line.split()[-1] for line in rclone("lsd", f"nf:{bucket}/a/b").splitlines() if line}
    assert nested == {"c"}


def test_delete_then_purge(
    rclone: Rclone, s3: Any, bucket: str, tree: tuple[Path, dict[str, int]]
) -> None:
    src, files = tree
    rclone("copy", str(src), f"nf:{bucket}", "--transfers", "8")

    rclone("delete", f"nf:{bucket}/a")
    remaining = object_sizes(s3, bucket)
    assert remaining == {rel: size for rel, size in files.items() if not rel.startswith("a/")}
    assert tree_files(src) == files  # the source is untouched

    rclone("purge", f"nf:{bucket}")
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket=bucket)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
