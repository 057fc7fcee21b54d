"""Fixtures of the command-line client suite (servers and buckets come from tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clients.tools import MiB, file_md5

#: larger than the aws cli's 8 MiB multipart threshold: 25 parts of 8 MiB
BIG_FILE_SIZE = 200 * MiB


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    md5: str


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFile]:
    """A 200 MiB random file, written once per session and removed at its end."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    with path.open("wb") as f:
        # distinct random 1 MiB pieces: any misplaced part or stripe changes the md5
        for _ in range(BIG_FILE_SIZE // MiB):
            f.write(os.urandom(MiB))
    yield LocalFile(path, BIG_FILE_SIZE, file_md5(path))
    path.unlink(missing_ok=True)
