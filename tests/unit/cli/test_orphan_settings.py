"""The leftovers settings (``[orphan]``: grace_s, interval_s, tmp_max_age_s): one setting per
value, given by flag, environment or TOML, on every command that honours it (``server``,
``worker``, ``node``), shown by ``ninefold config show``; bad values are one-line errors."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ninefold.cli.config import SECTIONS, ConfigError, env_name, load_config
from ninefold.cli.main import app
from ninefold.workers.tmpsweep import TempSweeper
from tests.unit.cli.test_config import row

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NINEFOLD_CONFIG", raising=False)
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            monkeypatch.delenv(env_name(f"{section}.{f.name}"), raising=False)


def test_defaults() -> None:
    config = load_config(environ={})
    assert config.orphan.grace_s == 3600.0
    assert config.orphan.tmp_max_age_s == 3600.0
    assert config.orphan.interval_s == 600.0


@pytest.mark.parametrize("role", ["server", "worker"])
def test_orphan_grace_by_flag_env_and_toml_on_server_and_worker(tmp_path: Path, role: str) -> None:
    path = tmp_path / "n.toml"
    path.write_text("[orphan]\ngrace_s = 120\ntmp_max_age_s = 7200\n")
    base = ["config", "show", role] + ([str(tmp_path)] if role == "server" else [])
    result = runner.invoke(app, [*base, "--config", str(path)], env={})
    assert result.exit_code == 0, result.output
    assert row(result.output, "orphan.grace_s")[1:3] == ["120.0", "toml"]
    assert row(result.output, "orphan.tmp_max_age_s")[1:3] == ["7200.0", "toml"]
    env = {"NINEFOLD_ORPHAN_GRACE_S": "60"}
    result = runner.invoke(app, [*base, "--config", str(path)], env=env)
    assert row(result.output, "orphan.grace_s")[1:3] == ["60.0", "env"]
    args = [*base, "--orphan-grace-s", "5", "--tmp-max-age-s", "900", "--orphan-interval-s", "30"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert row(result.output, "orphan.grace_s")[1:3] == ["5.0", "flag"]
    assert row(result.output, "orphan.tmp_max_age_s")[1:3] == ["900.0", "flag"]
    assert row(result.output, "orphan.interval_s")[1:3] == ["30.0", "flag"]


def test_config_show_node_shows_the_temp_sweep_settings_only() -> None:
    args = ["config", "show", "node", "--tmp-max-age-s", "600"]
    result = runner.invoke(app, args, env={"NINEFOLD_ORPHAN_INTERVAL_S": "60"})
    assert result.exit_code == 0, result.output
    assert row(result.output, "orphan.tmp_max_age_s")[1:3] == ["600.0", "flag"]
    assert row(result.output, "orphan.interval_s")[1:3] == ["60.0", "env"]
    assert "orphan.grace_s" not in result.output  # the node collects no orphans


def test_config_show_worker_takes_the_data_dir(tmp_path: Path) -> None:
    args = ["config", "show", "worker", "--data-dir", str(tmp_path), "--drives", "12"]
    result = runner.invoke(app, args, env={})
    assert result.exit_code == 0, result.output
    assert row(result.output, "server.data_dir")[1:3] == [str(tmp_path.resolve()), "flag"]
    assert row(result.output, "server.drives")[1:3] == ["12", "flag"]
    assert "server.address" not in result.output  # not a worker setting


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"environ": {"NINEFOLD_ORPHAN_GRACE_S": "-1"}}, "orphan.grace_s = '-1'"),
        ({"environ": {"NINEFOLD_ORPHAN_GRACE_S": "soon"}}, "expected a number"),
        ({"sets": ["orphan.tmp_max_age_s=10"]}, "must be >= 60"),
        ({"flags": {"orphan.interval_s": 0.0}}, "must be >= 0.01"),
    ],
)
def test_bad_values_are_one_line_errors(kwargs: dict[str, object], message: str) -> None:
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError) as err:
        load_config(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value) and "\n" not in str(err.value)


def test_worker_on_embedded_metadata_without_data_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "drives" / "d1").mkdir(parents=True)
    (tmp_path / "meta.db").write_bytes(b"")
    env = {"NINEFOLD_CLUSTER_SECRET": "0123456789abcdef0123"}
    result = runner.invoke(app, ["worker", "--once", "--meta", str(tmp_path / "meta.db")], env=env)
    assert result.exit_code == 2, result.output
    assert f"--data-dir {tmp_path}" in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_temp_sweeper_carries_no_defaults_of_its_own() -> None:
    params = inspect.signature(TempSweeper.__init__).parameters.values()
    assert [p.name for p in params if p.default is not inspect.Parameter.empty] == []
