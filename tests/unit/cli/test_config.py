"""The one configuration: defaults defined once, TOML over defaults, environment over TOML,
flags over the environment, ``ninefold config show``, and one-line errors for bad input."""

from __future__ import annotations

import inspect
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ninefold.api.connections import HttpSettings
from ninefold.cli.config import SECTIONS, ConfigError, default_of, env_name, load_config
from ninefold.cli.main import app
from ninefold.workers.gc import GcWorker
from ninefold.workers.health import DriveHealthMonitor, HealthMonitor
from ninefold.workers.orphans import OrphanCollector
from ninefold.workers.rebalance import Rebalancer
from ninefold.workers.repair import RepairWorker
from ninefold.workers.scrub import Scrubber
from ninefold.workers.walk import ChunkWalker

runner = CliRunner()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NINEFOLD_* setting of the test runner's environment leaks into these tests."""
    monkeypatch.delenv("NINEFOLD_CONFIG", raising=False)
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            monkeypatch.delenv(env_name(f"{section}.{f.name}"), raising=False)


def toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ninefold.toml"
    path.write_text(text)
    return str(path)


def row(output: str, key: str) -> list[str]:
    """The ``config show`` line of ``key``, split into (setting, value, source, env)."""
    for line in output.splitlines():
        if line.split() and line.split()[0] == key:
            return line.split()
    raise AssertionError(f"{key} not shown in:\n{output}")


# ---- load_config ------------------------------------------------------------------------------


def test_defaults_come_from_the_settings_classes() -> None:
    config = load_config(environ={})
    assert config.scrub.mb_per_s == 50.0
    assert config.repair.lost_after_s == 300.0
    assert config.repair.interval_s == 2.0
    assert config.scrub.interval_s == 30.0
    assert config.orphan.interval_s == 600.0
    assert config.coordinator.gc_grace_s == 30.0
    assert config.server.address == "127.0.0.1:9000"
    assert config.config_file is None
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            key = f"{section}.{f.name}"
            assert getattr(getattr(config, section), f.name) == default_of(key)
            assert config.sources[key] == "default"


def test_toml_then_env_then_flags(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        "[scrub]\nmb_per_s = 10\ninterval_s = 7.5\n[repair]\nlost_after_s = 60\n"
        '[node]\ndrives = ["/a", "/b"]\n[s3]\nregion = "eu-west-1"\n',
    )
    environ = {
        "NINEFOLD_CONFIG": path,
        "NINEFOLD_SCRUB_MB_PER_S": "20",
        "NINEFOLD_REPAIR_LOST_AFTER_S": "90",
    }
    config = load_config(environ=environ, flags={"scrub.mb_per_s": 30.0, "repair.interval_s": None})
    assert config.config_file == path
    assert (config.scrub.mb_per_s, config.sources["scrub.mb_per_s"]) == (30.0, "flag")
    assert (config.repair.lost_after_s, config.sources["repair.lost_after_s"]) == (90.0, "env")
    assert (config.scrub.interval_s, config.sources["scrub.interval_s"]) == (7.5, "toml")
    assert (config.repair.interval_s, config.sources["repair.interval_s"]) == (2.0, "default")
    assert config.node.drives == ("/a", "/b")
    assert config.s3.region == "eu-west-1"
    # what the workers get is derived from those values
    assert config.scrub.max_bytes_per_s == 30e6
    assert config.repair.max_bytes_per_s is None


def test_set_flags_reach_every_setting_and_named_flags_win() -> None:
    config = load_config(
        environ={"NINEFOLD_GC_BATCH": "7"},
        sets=["gc.batch=9", "coordinator.chunk_size_bytes=1048576", "node.drives=/x, /y"],
        flags={"gc.batch": 11},
    )
    assert (config.gc.batch, config.sources["gc.batch"]) == (11, "flag")
    assert config.coordinator.chunk_size_bytes == 1048576
    assert config.node.drives == ("/x", "/y")


def test_an_explicit_config_file_wins_over_ninefold_config(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[gc]\ninterval_s = 3\n")
    config = load_config(
        environ={"NINEFOLD_CONFIG": toml(tmp_path, "[gc]\ninterval_s = 4\n")},
        config_file=str(other),
    )
    assert config.gc.interval_s == 3.0


def test_environment_values_are_parsed_by_type() -> None:
    config = load_config(
        environ={
            "NINEFOLD_NODE_DRIVES": "/d1,/d2",
            "NINEFOLD_S3_DOMAIN": "s3.local",
            "NINEFOLD_ROOT_ACCESS_KEY": "AK",
            "NINEFOLD_ROOT_SECRET_KEY": "SK",
            "NINEFOLD_CACHE_URL": "",  # empty: unset
            "NINEFOLD_BENCH_PORT": "1",  # not a setting: ignored
        }
    )
    assert config.node.drives == ("/d1", "/d2")
    assert config.s3.domain == "s3.local"
    assert (config.root.access_key, config.root.secret_key) == ("AK", "SK")
    assert config.cache.url is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sets": ["scrub.mb_per_s=-1"]}, "scrub.mb_per_s = '-1' (flag): must be >= 0"),
        ({"sets": ["server.drives=8"]}, "server.drives = '8' (flag): must be >= 9"),
        ({"sets": ["scrub.rate=1"]}, "unknown setting 'scrub.rate'"),
        ({"sets": ["scrubber.mb_per_s=1"]}, "unknown section 'scrubber'"),
        ({"sets": ["scrub"]}, "--set takes SECTION.FIELD=VALUE"),
        ({"flags": {"gc.batch": "many"}}, "gc.batch = 'many' (flag): expected an integer"),
        (
            {"environ": {"NINEFOLD_GC_INTERVAL_S": "soon"}},
            "gc.interval_s = 'soon' (from NINEFOLD_GC_INTERVAL_S): expected a number",
        ),
        ({"environ": {"NINEFOLD_GC_INTERVAL_S": "nan"}}, "expected a number"),
        ({"environ": {"NINEFOLD_SERVER_ADDRESS": "nowhere"}}, "server.address: address must"),
        ({"environ": {"NINEFOLD_CACHE_URL": "http://x"}}, "cache.url takes a redis://"),
        ({"environ": {"NINEFOLD_ROOT_ACCESS_KEY": "AK"}}, "set both NINEFOLD_ROOT_ACCESS_KEY"),
        ({"sets": ["server.tls_cert=c.pem"]}, "server.tls_cert and server.tls_key go together"),
        ({"config_file": "/nonexistent/ninefold.toml"}, "/nonexistent/ninefold.toml: not found"),
        # connection limits (api/connections.py): deadlines are positive, the cap at least 1
        ({"sets": ["http.idle_timeout_s=0"]}, "http.idle_timeout_s = '0' (flag): must be >= 0.1"),
        ({"sets": ["http.header_timeout_s=-5"]}, "http.header_timeout_s = '-5' (flag): must be"),
        ({"sets": ["http.max_connections=0"]}, "http.max_connections = '0' (flag): must be >= 1"),
        ({"sets": ["http.max_connections=lots"]}, "expected an integer"),
        (
            {"environ": {"NINEFOLD_HTTP_BODY_TIMEOUT_S": "a minute"}},
            "http.body_timeout_s = 'a minute' (from NINEFOLD_HTTP_BODY_TIMEOUT_S): expected a "
            "number",
        ),
        ({"environ": {"NINEFOLD_HTTP_BODY_TIMEOUT_S": "inf"}}, "expected a number"),
        ({"sets": ["node.body_timeout_s=0"]}, "node.body_timeout_s = '0' (flag): must be >= 0.1"),
        ({"sets": ["node.max_connections=-1"]}, "node.max_connections = '-1' (flag): must be >= 1"),
        ({"sets": ["http.read_timeout_s=1"]}, "unknown setting 'http.read_timeout_s'"),
    ],
)
def test_bad_values_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    kwargs.setdefault("environ", {})
    with pytest.raises(ConfigError) as err:
        load_config(**kwargs)  # type: ignore[arg-type]
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scrub\nmb_per_s = 1\n", "invalid TOML"),
        ("[scrub]\nmb_per_sec = 1\n", "unknown setting 'scrub.mb_per_sec'"),
        ("[scrubber]\nmb_per_s = 1\n", "unknown section 'scrubber'"),
        ("mb_per_s = 1\n", "'mb_per_s' must be a [section] table"),
        ('[scrub]\nmb_per_s = "fast"\n', "scrub.mb_per_s = 'fast'"),
        ("[scrub]\nmb_per_s = true\n", "expected a number"),
        ("[gc]\nbatch = 1.5\n", "expected an integer"),
        ('[node]\ndrives = "/a"\n', "expected a list"),
        ("[repair]\ninterval_s = 0\n", "must be >= 0.01"),
        ("[http]\nbody_timeout_s = 0\n", "http.body_timeout_s = 0 (in "),
        ('[http]\nmax_connections = "1000"\n', "expected an integer"),
    ],
)
def test_bad_toml_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(environ={}, config_file=toml(tmp_path, text))
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_connection_limits_reach_their_settings() -> None:
    """Defaults (60 s, 1024 connections; the node's body deadline 600 s), then every source."""
    config = load_config(environ={})
    assert config.http == HttpSettings()
    assert (config.http.header_timeout_s, config.http.idle_timeout_s) == (60.0, 60.0)
    assert (config.http.body_timeout_s, config.http.max_connections) == (60.0, 1024)
    assert config.node.http() == HttpSettings(body_timeout_s=600.0, max_connections=4096)
    config = load_config(
        environ={"NINEFOLD_HTTP_IDLE_TIMEOUT_S": "5", "NINEFOLD_NODE_HEADER_TIMEOUT_S": "7.5"},
        sets=["http.max_connections=10", "http.header_timeout_s=0.5"],
    )
    assert config.http == HttpSettings(
        header_timeout_s=0.5, idle_timeout_s=5.0, body_timeout_s=60.0, max_connections=10
    )
    assert config.node.http().header_timeout_s == 7.5
    assert config.sources["http.idle_timeout_s"] == "env"
    assert config.sources["http.max_connections"] == "flag"


def test_http_settings_refuse_impossible_limits_on_their_own() -> None:
    """Built without the CLI (a test harness, an embedding program), the same rules hold."""
    with pytest.raises(ValueError, match="idle_timeout_s must be > 0"):
        HttpSettings(idle_timeout_s=0)
    with pytest.raises(ValueError, match="max_connections must be >= 1"):
        HttpSettings(max_connections=0)


def test_workers_carry_no_defaults_of_their_own() -> None:
    """Every setting of a background job comes from its settings object (one default)."""
    for cls in (
        GcWorker,
        HealthMonitor,
        DriveHealthMonitor,
        OrphanCollector,
        RepairWorker,
        Scrubber,
        Rebalancer,
        ChunkWalker,
    ):
        params = inspect.signature(cls.__init__).parameters.values()
        assert [p.name for p in params if p.default is not inspect.Parameter.empty] == [], cls


# ---- ninefold config show (typer's runner) ----------------------------------------------------


def test_config_show_prints_every_setting_with_its_source(tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "show"], env={})
    assert result.exit_code == 0, result.output
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            assert row(result.output, f"{section}.{f.name}")[-2:] == [
                "default",
                env_name(f"{section}.{f.name}"),
            ]
    assert row(result.output, "scrub.mb_per_s")[1] == "50.0"
    assert row(result.output, "server.tls_cert")[1] == "-"


def test_config_show_precedence_through_the_cli(tmp_path: Path) -> None:
    path = toml(tmp_path, "[scrub]\nmb_per_s = 10\ninterval_s = 12\n[gc]\ninterval_s = 4\n")
    env = {"NINEFOLD_SCRUB_MB_PER_S": "20", "NINEFOLD_GC_INTERVAL_S": "5", "NINEFOLD_CONFIG": path}
    # TOML over the default
    result = runner.invoke(app, ["config", "show", "worker"], env={"NINEFOLD_CONFIG": path})
    assert result.exit_code == 0, result.output
    assert row(result.output, "scrub.mb_per_s")[1:3] == ["10.0", "toml"]
    assert row(result.output, "repair.interval_s")[1:3] == ["2.0", "default"]
    # the environment over TOML
    result = runner.invoke(app, ["config", "show", "worker"], env=env)
    assert row(result.output, "scrub.mb_per_s")[1:3] == ["20.0", "env"]
    assert row(result.output, "scrub.interval_s")[1:3] == ["12.0", "toml"]
    # flags over the environment: named and --set, before or after the role
    args = ["config", "show", "--set", "gc.interval_s=6", "worker", "--scrub-mb-per-s", "30"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert row(result.output, "scrub.mb_per_s")[1:3] == ["30.0", "flag"]
    assert row(result.output, "gc.interval_s")[1:3] == ["6.0", "flag"]
    assert result.output.splitlines()[0] == f"# config file: {path}"


def test_config_show_of_a_role_shows_its_sections_and_hides_secrets() -> None:
    env = {
        "NINEFOLD_ROOT_ACCESS_KEY": "AKIDEXAMPLE",
        "NINEFOLD_ROOT_SECRET_KEY": "very-secret-key",
        "NINEFOLD_CLUSTER_SECRET": "0123456789abcdef0123",
    }
    args = ["config", "show", "gateway", "--meta", "postgresql://nf:hunter2@db/nf"]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "very-secret-key" not in result.output
    assert "0123456789abcdef0123" not in result.output
    assert "hunter2" not in result.output
    assert row(result.output, "root.secret_key")[1:3] == ["***", "env"]
    assert row(result.output, "cluster.secret")[1:3] == ["***", "env"]
    assert row(result.output, "root.access_key")[1] == "AKIDEXAMPLE"
    assert row(result.output, "meta.dsn")[1:3] == ["postgresql://nf:***@db/nf", "flag"]
    assert row(result.output, "gateway.workers")[1] == "1"
    assert "scrub.mb_per_s" not in result.output  # not a gateway setting


def test_config_show_server_takes_the_server_flags(tmp_path: Path) -> None:
    args = ["config", "show", "server", str(tmp_path), "--address", ":9100", "--drives", "12"]
    result = runner.invoke(app, args, env={})
    assert result.exit_code == 0, result.output
    assert row(result.output, "server.data_dir")[1:3] == [str(tmp_path), "flag"]
    assert row(result.output, "server.address")[1:3] == [":9100", "flag"]
    assert row(result.output, "server.drives")[1:3] == ["12", "flag"]
    assert row(result.output, "rebalance.interval_s")[2] == "default"


@pytest.mark.parametrize(
    ("args", "env", "text", "message"),
    [
        (["config", "show"], {}, "[scrub\n", "invalid TOML"),
        (["worker", "--meta", "m.db"], {}, "[scrub]\nrate = 1\n", "unknown setting"),
        (["config", "show", "worker"], {}, '[gc]\nbatch = "x"\n', "expected an integer"),
        (["config", "show"], {"NINEFOLD_SCRUB_MB_PER_S": "fast"}, "", "expected a number"),
        (["config", "show", "worker", "--scrub-mb-per-s", "-2"], {}, "", "must be >= 0"),
        (["server", "--address", "nowhere", "d"], {}, "", "address must be HOST:PORT"),
        (
            ["server", "d", "--set", "http.body_timeout_s=0"],
            {},
            "",
            "http.body_timeout_s = '0' (flag): must be >= 0.1",
        ),
        (["gateway"], {"NINEFOLD_HTTP_MAX_CONNECTIONS": "many"}, "", "expected an integer"),
        (["server"], {}, "", "needs a data directory"),
        (["worker"], {}, "", "give the metadata store"),
        (["gateway", "--meta", "m.db"], {}, "", "NINEFOLD_ROOT_ACCESS_KEY"),
        (
            ["node", "--listen", "127.0.0.1:1", "--node-id", "n1", "--drive", "d"],
            {},
            "",
            "NINEFOLD_CLUSTER_SECRET",
        ),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], text: str, message: str
) -> None:
    if text:
        args = [*args, "--config", toml(tmp_path, text)]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("ninefold: ") and message in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_real_cli_bad_config_exits_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    """The installed command, as an operator runs it."""
    path = toml(tmp_path, "[scrub]\nmb_per_s = 1\nfoo = 2\n")
    for args in (["worker", "--meta", str(tmp_path / "m.db")], ["config", "show"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ninefold", *args, "--config", path],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2
        assert proc.stderr == (
            f"ninefold: config file {path}: unknown setting 'scrub.foo' (known in [scrub]: "
            "interval_s, mb_per_s, chunks_per_round, concurrency)\n"
        )
        assert "Traceback" not in proc.stdout + proc.stderr
