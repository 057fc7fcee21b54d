"""The import-linter contracts are real: a copy of the package passes them, and the same copy
with one handler importing the metadata store (or a pure floor importing aiohttp) fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT = Path(sysconfig.get_path("scripts")) / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "ninefold", tmp_path / "ninefold")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_import(module: Path, line: str) -> None:
    text = module.read_text()
    head, sep, rest = text.partition("from __future__ import annotations\n")
    module.write_text(head + sep + line + "  # noqa: F401\n" + rest)


def test_the_package_keeps_its_contracts(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Front doors go through the domain KEPT" in result.stdout


def test_a_handler_importing_the_metadata_store_breaks_the_build(tree: Path) -> None:
    _add_import(
        tree / "ninefold/api/s3/handlers/buckets.py", "from ninefold.meta.store import MetaStore"
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "ninefold.api is not allowed to import ninefold.meta" in result.stdout
    assert "ninefold.api.s3.handlers.buckets -> ninefold.meta.store" in result.stdout


def test_a_cli_command_other_than_the_composition_root_may_not_wire_storage(tree: Path) -> None:
    _add_import(
        tree / "ninefold/cli/main.py", "from ninefold.nodeclient import RemoteFragmentStore"
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "ninefold.cli is not allowed to import ninefold.nodeclient" in result.stdout


def test_a_pure_floor_importing_an_http_client_breaks_the_build(tree: Path) -> None:
    _add_import(tree / "ninefold/placement/rendezvous.py", "import aiohttp")
    result = _lint(tree)
    assert result.returncode != 0
    assert "ninefold.placement is not allowed to import aiohttp" in result.stdout
