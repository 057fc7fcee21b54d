"""The AWS CLI (the venv's ``aws``, v1) against the server, over HTTP and HTTPS.

``aws s3 cp`` of a 200 MiB file goes multipart (8 MiB threshold and part size, 10 parts in
flight); over HTTPS the CLI verifies the server certificate against ``AWS_CA_BUNDLE``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.clients.conftest import LocalFile
from tests.clients.tools import KiB, MiB, assert_same_tree, file_md5, make_tree, run_tool, tool_env
from tests.clients.tools import venv_tool as _venv_tool
from tests.conftest import bucket_name_for
from tests.support.server import ServerProc

AWS_MULTIPART_CHUNK = 8 * MiB


def aws(server: ServerProc, *args: str, timeout_s: float = 120, check: bool = True) -> str:
    """Run ``aws --endpoint-url <server> ARGS``; returns stdout."""
    cmd = [_venv_tool("aws"), "--endpoint-url", server.endpoint, *args]
    return run_tool(cmd, env=tool_env(server), timeout_s=timeout_s, check=check).stdout


def listed_keys(s3: Any, bucket: str, prefix: str = "") -> dict[str, int]:
    keys: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    return keys


def test_mb_ls_rb(any_server: ServerProc, s3: Any, request: pytest.FixtureRequest) -> None:
    name = bucket_name_for(request.node.name)
    try:
        out = aws(any_server, "s3", "mb", f"s3://{name}")
        assert f"make_bucket: {name}" in out
        s3.head_bucket(Bucket=name)
        assert re.search(rf"^\S+ \S+ {re.escape(name)}$", aws(any_server, "s3", "ls"), re.M)

        out = aws(any_server, "s3", "rb", f"s3://{name}")
        assert f"remove_bucket: {name}" in out
        assert name not in aws(any_server, "s3", "ls")
        with pytest.raises(ClientError) as err:
            s3.head_bucket(Bucket=name)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    finally:
        run_tool(
            [_venv_tool("aws"), "--endpoint-url", any_server.endpoint, "s3", "rb", f"s3://{name}"],
            env=tool_env(any_server),
            check=False,
        )


def test_rb_refuses_non_empty_bucket(any_server: ServerProc, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    result = run_tool(
        [_venv_tool("aws"), "--endpoint-url", any_server.endpoint, "s3", "rb", f"s3://{bucket}"],
        env=tool_env(any_server),
        check=False,
    )
    assert result.returncode != 0
    assert "BucketNotEmpty" in result.stderr, result.stderr
    s3.head_bucket(Bucket=bucket)


def test_cp_200mib_multipart_roundtrip(
    any_server: ServerProc, s3: Any, bucket: str, big_file: LocalFile, tmp_data: Path
) -> None:
    url = f"s3://{bucket}/big/file.bin"
    aws(any_server, "s3", "cp", str(big_file.path), url, "--only-show-errors", timeout_s=900)

    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == big_file.size
    parts = -(-big_file.size // AWS_MULTIPART_CHUNK)
    assert head["ETag"].endswith(f'-{parts}"'), f"not a {parts}-part upload: {head['ETag']}"

    listing = aws(any_server, "s3", "ls", f"s3://{bucket}/big/")
    assert re.search(rf"\s{big_file.size} file\.bin$", listing, re.M), listing

    down = tmp_data / "down.bin"
    try:
        aws(any_server, "s3", "cp", url, str(down), "--only-show-errors", timeout_s=900)
        assert down.stat().st_size == big_file.size
        assert file_md5(down) == big_file.md5, "downloaded bytes differ from the uploaded file"
    finally:
        down.unlink(missing_ok=True)  # random bytes: no use for a post-mortem


def test_ls_bucket_and_prefixes(any_server: ServerProc, s3: Any, bucket: str) -> None:
    for key in ["top.txt", "dir/one.txt", "dir/two.txt", "dir/sub/three.txt", "other/four.txt"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    top = aws(any_server, "s3", "ls", f"s3://{bucket}/")
    assert re.search(r"^\s+PRE dir/$", top, re.M), top
    assert re.search(r"^\s+PRE other/$", top, re.M), top
    assert re.search(r"\s7 top\.txt$", top, re.M), top
    assert "one.txt" not in top

    sub = aws(any_server, "s3", "ls", f"s3://{bucket}/dir/")
    assert re.search(r"^\s+PRE sub/$", sub, re.M), sub
    assert re.search(r"\s11 one\.txt$", sub, re.M), sub
    assert re.search(r"\s11 two\.txt$", sub, re.M), sub
    assert "three.txt" not in sub and "four.txt" not in sub

    # a prefix that is not a "directory"
    partial = aws(any_server, "s3", "ls", f"s3://{bucket}/dir/t")
    assert "two.txt" in partial and "one.txt" not in partial

    everything = aws(any_server, "s3", "ls", "--recursive", f"s3://{bucket}")
    keys = [line.split()[-1] for line in everything.splitlines() if line.strip()]
    assert keys == sorted(
        ["top.txt", "dir/one.txt", "dir/two.txt", "dir/sub/three.txt", "other/four.txt"]
    )


def test_cp_and_rm(any_server: ServerProc, s3: Any, bucket: str, tmp_data: Path) -> None:
    small = tmp_data / "small.txt"
    small.write_bytes(b"hello ninefold\n")
    aws(any_server, "s3", "cp", str(small), f"s3://{bucket}/a/small.txt")
    aws(any_server, "s3", "cp", str(small), f"s3://{bucket}/a/b/small.txt")
    aws(any_server, "s3", "cp", str(small), f"s3://{bucket}/keep.txt")
    assert s3.get_object(Bucket=bucket, Key="a/small.txt")["Body"].read() == small.read_bytes()

    out = aws(any_server, "s3", "rm", f"s3://{bucket}/a/small.txt")
    assert f"delete: s3://{bucket}/a/small.txt" in out
    assert set(listed_keys(s3, bucket)) == {"a/b/small.txt", "keep.txt"}

    aws(any_server, "s3", "rm", "--recursive", f"s3://{bucket}/a/")
    assert set(listed_keys(s3, bucket)) == {"keep.txt"}


def test_sync_tree_up_and_down(
    any_server: ServerProc, s3: Any, bucket: str, tmp_data: Path
) -> None:
    src = tmp_data / "src"
    tree = make_tree(src, 40, seed=7, max_size=300 * KiB)
    # sync compares sizes and times; S3 times have one-second resolution, so local files
    # written in the same second as their upload could look newer than the object
    an_hour_ago = time.time() - 3600
    for rel in tree:
        os.utime(src / rel, (an_hour_ago, an_hour_ago))
    url = f"s3://{bucket}/tree"
    aws(any_server, "s3", "sync", str(src), url, "--only-show-errors", timeout_s=300)
    assert listed_keys(s3, bucket, "tree/") == {f"tree/{rel}": size for rel, size in tree.items()}

    # a second sync with nothing changed uploads nothing
    assert aws(any_server, "s3", "sync", str(src), url).strip() == ""

    # change one file's size, add one, delete one: sync --delete mirrors exactly that
    changed, removed = sorted(tree)[3], sorted(tree)[5]
    (src / changed).write_bytes(b"changed contents")
    (src / "new" / "file.txt").parent.mkdir()
    (src / "new" / "file.txt").write_bytes(b"new file")
    (src / removed).unlink()
    out = aws(any_server, "s3", "sync", "--delete", "--no-progress", str(src), url, timeout_s=300)
    assert f" to {url}/{changed}\n" in out, out
    assert f" to {url}/new/file.txt\n" in out, out
    assert out.count("upload: ") == 2, out
    assert f"delete: {url}/{removed}" in out, out
    assert s3.get_object(Bucket=bucket, Key=f"tree/{changed}")["Body"].read() == b"changed contents"
    assert f"tree/{removed}" not in listed_keys(s3, bucket, "tree/")

    dst = tmp_data / "dst"
    aws(any_server, "s3", "sync", url, str(dst), "--only-show-errors", timeout_s=300)
    assert_same_tree(src, dst)


def test_s3api_tagging(any_server: ServerProc, s3: Any, bucket: str) -> None:
    """aws s3api put/get/delete-object-tagging and put/get-bucket-tagging."""
    import json

    s3.put_object(Bucket=bucket, Key="t", Body=b"x")
    aws(
        any_server,
        "s3api",
        "put-object-tagging",
        "--bucket",
        bucket,
        "--key",
        "t",
        "--tagging",
        '{"TagSet": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "core"}]}',
    )
    got = json.loads(
        aws(any_server, "s3api", "get-object-tagging", "--bucket", bucket, "--key", "t")
    )
    assert {t["Key"]: t["Value"] for t in got["TagSet"]} == {"env": "prod", "team": "core"}
    aws(any_server, "s3api", "delete-object-tagging", "--bucket", bucket, "--key", "t")
    got = json.loads(
        aws(any_server, "s3api", "get-object-tagging", "--bucket", bucket, "--key", "t")
    )
    assert got["TagSet"] == []
    aws(
        any_server,
        "s3api",
        "put-bucket-tagging",
        "--bucket",
        bucket,
        "--tagging",
        '{"TagSet": [{"Key": "cost-center", "Value": "42"}]}',
    )
    got = json.loads(aws(any_server, "s3api", "get-bucket-tagging", "--bucket", bucket))
    assert got["TagSet"] == [{"Key": "cost-center", "Value": "42"}]
    cmd = [_venv_tool("aws"), "--endpoint-url", any_server.endpoint, "s3api"]
    cmd += ["get-object-tagging", "--bucket", bucket, "--key", "absent"]
    failed = run_tool(cmd, env=tool_env(any_server), timeout_s=120, check=False)
    assert failed.returncode != 0 and "NoSuchKey" in failed.stderr


def test_s3api_versioning_and_retention(
    any_server: ServerProc, s3: Any, bucket: str, tmp_path: Path
) -> None:
    """aws s3api: put/get-bucket-versioning, list-object-versions, get-object --version-id,
    and Object Lock retention (put/get-object-retention) on a bucket created with it."""
    import json

    def api(*args: str) -> Any:
        out = aws(any_server, "s3api", *args)
        return json.loads(out) if out.strip() else {}

    api("put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert api("get-bucket-versioning", "--bucket", bucket)["Status"] == "Enabled"
    body = tmp_path / "v.txt"
    ids = []
    for text in ("first", "second"):
        body.write_text(text)
        ids.append(
            api("put-object", "--bucket", bucket, "--key", "v", "--body", str(body))["VersionId"]
        )
    listed = api("list-object-versions", "--bucket", bucket)["Versions"]
    assert [v["VersionId"] for v in listed] == ids[::-1]
    out = tmp_path / "out.txt"
    api("get-object", "--bucket", bucket, "--key", "v", "--version-id", ids[0], str(out))
    assert out.read_text() == "first"
    # retention on a bucket created with Object Lock
    locked = bucket[:50] + "-lck"
    api("create-bucket", "--bucket", locked, "--object-lock-enabled-for-bucket")
    body.write_text("keep me")
    version = api("put-object", "--bucket", locked, "--key", "r", "--body", str(body))["VersionId"]
    api(
        "put-object-retention",
        "--bucket",
        locked,
        "--key",
        "r",
        "--version-id",
        version,
        "--retention",
        '{"Mode": "GOVERNANCE", "RetainUntilDate": "2999-01-01T00:00:00Z"}',
    )
    got = api("get-object-retention", "--bucket", locked, "--key", "r", "--version-id", version)
    assert got["Retention"]["Mode"] == "GOVERNANCE"
    cmd = [_venv_tool("aws"), "--endpoint-url", any_server.endpoint, "s3api", "delete-object"]
    cmd += ["--bucket", locked, "--key", "r", "--version-id", version]
    refused = run_tool(cmd, env=tool_env(any_server), timeout_s=120, check=False)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    api(
        "delete-object",
        "--bucket",
        locked,
        "--key",
        "r",
        "--version-id",
        version,
        "--bypass-governance-retention",
    )
