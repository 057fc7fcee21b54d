"""Running real command-line S3 clients against a test server, and the files they move.

Every tool runs with a timeout, its output captured; a non-zero exit fails the test with the
command line and both output streams, so the failure message says what the server refused.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sysconfig
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.support.server import ServerProc

__all__ = [
    "KiB",
    "MiB",
    "file_md5",
    "make_tree",
    "require_tool",
    "run_tool",
    "tool_env",
    "tree_files",
    "venv_tool",
]

KiB = 1024
MiB = 1024 * KiB


def require_tool(name: str) -> str:
    """Path of a system tool; skip (fail on CI) when it is missing: `make deps` installs it."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed: run `make deps`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def venv_tool(name: str) -> str:
    """A console script of the environment running the tests (e.g. the venv's ``aws``)."""
    path = Path(sysconfig.get_path("scripts")) / name
    if not path.exists():
        pytest.fail(f"{path} not found: run `make venv`")
    return str(path)


def tool_env(server: ServerProc | None = None) -> dict[str, str]:
    """This process's environment without AWS_*/RCLONE_*/S3CMD settings.

    With ``server``, its ``AWS_*`` keys, region and CA bundle are added (for the aws cli).
    Tools configured by their own file get none: rclone's AWS SDK, for one, fails on
    ``AWS_CA_BUNDLE`` ("unable to load custom CA bundle") instead of using ``--ca-cert``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_", "S3CMD"))}
    if server is not None:
        env.update(server.env())
    return env


def run_tool(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout_s: float = 120,
    cwd: Path | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``; with ``check`` a non-zero exit fails the test with everything it printed."""
    try:
        result = subprocess.run(
            list(cmd),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"timed out after {timeout_s:.0f}s: {' '.join(cmd)}\n"
            f"--- stdout ---\n{_text(exc.stdout)}\n--- stderr ---\n{_text(exc.stderr)}"
        )
    if check and result.returncode != 0:
        pytest.fail(
            f"exit status {result.returncode}: {' '.join(cmd)}\n"
            f"--- stdout ---\n{result.stdout[-8000:]}\n--- stderr ---\n{result.stderr[-8000:]}"
        )
    return result


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


#: sizes around the interesting boundaries (empty, replicated small objects up to 128 KiB,
#: erasure-coded above it, one and several 1.5 MiB stripes)
EDGE_SIZES = [0, 1, 1000, 4 * KiB, 128 * KiB - 1, 128 * KiB, 128 * KiB + 1, 1536 * KiB, 2 * MiB]


def make_tree(root: Path, count: int, *, seed: int, max_size: int = 2 * MiB) -> dict[str, int]:
    """Write ``count`` files of varied sizes under nested prefixes; returns rel path -> size.

    Sizes cover :data:`EDGE_SIZES` first, then mostly small random sizes with a few large ones.
    """
    rng = random.Random(seed)
    dirs = ["", "a", "a/b", "a/b/c", "a/b/c/d", "x", "x/y", "x/y z", "deep/1/2/3/4/5", "m-n.o"]
    files: dict[str, int] = {}
    for i in range(count):
        if i < len(EDGE_SIZES):
            size = min(EDGE_SIZES[i], max_size)
        elif rng.random() < 0.1:
            size = rng.randint(128 * KiB, max_size)
        else:
            size = rng.randint(0, 16 * KiB)
        rel = "/".join(p for p in (rng.choice(dirs), f"f{i:03d}-{size}.bin") if p)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
        files[rel] = size
    return files


def tree_files(root: Path) -> dict[str, int]:
    """rel path -> size of every regular file under ``root``."""
    return {
        p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*") if p.is_file()
    }


def assert_same_tree(expected: Path, actual: Path) -> None:
    """Same relative paths, same bytes."""
    want, got = tree_files(expected), tree_files(actual)
    assert sorted(got) == sorted(want), (
        f"missing: {sorted(set(want) - set(got))[:10]}, extra: {sorted(set(got) - set(want))[:10]}"
    )
    differing = [
        rel for rel in want if (expected / rel).read_bytes() != (actual / rel).read_bytes()
    ]
    assert not differing, f"{len(differing)} files differ byte for byte, e.g. {differing[:5]}"
