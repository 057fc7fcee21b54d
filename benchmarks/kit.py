"""Where the shared bench kit, its data root and our targets are; machine and version facts.

Shared by ``benchmarks/run.py`` and ``benchmarks/profile.py``. Environment:

* ``NINEFOLD_BENCH_KIT``: the kit (default ``../shared/bench`` beside this checkout);
* ``NINEFOLD_PEERS_DATA``: the kit's data root (default ``~/.cache/ninefold-peers``): venvs,
  peers' data, pidfiles, logs; our start scripts keep their state there too;
* ``NINEFOLD_BENCH_PORT`` / ``NINEFOLD_BENCH_CLUSTER_PORT``: other ports for the embedded server
  (default 19000) and the cluster's gateway (default 19010), e.g. to run beside a server that
  already uses them; the start scripts read the same variables (and
  ``NINEFOLD_BENCH_NODE_BASE_PORT``, default 19100: the cluster's nodes on base+1..base+9);
* ``NINEFOLD_BENCH_PG_ADMIN`` / ``NINEFOLD_BENCH_REDIS``: PostgreSQL admin DSN and Redis URL of
  the cluster target (defaults: postgres@127.0.0.1:5432, 127.0.0.1:6379/0).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KIT = Path(os.environ.get("NINEFOLD_BENCH_KIT", REPO.parent / "shared" / "bench")).resolve()
DATA = Path(
    os.environ.get("NINEFOLD_PEERS_DATA", Path.home() / ".cache" / "ninefold-peers")
).resolve()
CLIENT = DATA / "venv" / "bench" / "bin" / "python"
TARGETS_FILE = HERE / "ninefold-targets.json"
PG_ADMIN = os.environ.get(
    "NINEFOLD_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("NINEFOLD_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PORT_ENV = {"ninefold": "NINEFOLD_BENCH_PORT", "ninefold-cluster": "NINEFOLD_BENCH_CLUSTER_PORT"}

__all__ = [
    "CLIENT",
    "DATA",
    "KIT",
    "REPO",
    "ensure_client",
    "load_targets",
    "machine",
    "now",
    "replace_block",
    "run_script",
    "short",
    "targets_file",
    "versions",
]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def short(cmd: list[str] | str) -> str:
    """A command line with the long paths replaced by $PY, $KIT, $D and repo-relative paths."""
    text = cmd if isinstance(cmd, str) else shlex.join(cmd)
    for path, name in ((CLIENT, "$PY"), (KIT, "$KIT"), (DATA, "$D")):
        text = text.replace(str(path), name)
    return text.replace(str(REPO) + "/", "")


def ensure_client() -> None:
    """The kit's client venv (s3bench/s3suite), made by its setup.sh when missing."""
    if not CLIENT.exists():
        subprocess.run(["bash", str(KIT / "setup.sh")], check=True, stdout=subprocess.DEVNULL)


def _s3suite() -> ModuleType:
    spec = importlib.util.spec_from_file_location("s3suite", KIT / "s3suite.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def targets_file(workdir: Path) -> Path:
    """Our s3suite targets file; a copy with other ports when NINEFOLD_BENCH_*PORT is set."""
    ports = {name: os.environ.get(var) for name, var in PORT_ENV.items()}
    if not any(ports.values()):
        return TARGETS_FILE
    data = json.loads(TARGETS_FILE.read_text())
    for name, port in ports.items():
        if port:
            data[name]["endpoint"] = re.sub(r":\d+$", f":{int(port)}", data[name]["endpoint"])
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "ninefold-targets.json"
    path.write_text(json.dumps(data, indent=2).replace("{here}", str(HERE)) + "\n")
    return path


def load_targets(tfile: Path) -> dict[str, dict[str, Any]]:
    """The kit's targets plus ours, placeholders expanded exactly as s3suite does."""
    targets: dict[str, dict[str, Any]] = _s3suite().load_targets([KIT / "targets.json", tfile])
    return targets


def replace_block(text: str, marker: str, block: str) -> str:
    """``text`` with the lines between the lines ``<!-- marker -->`` and ``<!-- /marker -->``
    replaced (both markers appended at the end when missing). Only markers alone on their line
    count, so prose may mention them."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    m = re.search(rf"^{re.escape(start)}$.*?^{re.escape(end)}$", text, re.M | re.S)
    if not m:
        return text.rstrip("\n") + f"\n\n{start}\n{block}\n{end}\n"
    return text[: m.start()] + f"{start}\n{block}\n{end}" + text[m.end() :]


def run_script(script: str, env: dict[str, str] | None = None, timeout: float = 600) -> int:
    print(f"$ bash {short(script)}", flush=True)
    return subprocess.run(["bash", script], env=env, timeout=timeout).returncode


def _out(cmd: list[str], pattern: str = r"(.+)", any_rc: bool = False) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return "not installed"
    m = re.search(pattern, proc.stdout + proc.stderr)
    return m.group(1).strip() if m and (any_rc or proc.returncode == 0) else "not installed"


def machine() -> dict[str, Any]:
    info = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "ram_gib": round(mem_kib / 1024**2, 1),
        "kernel": platform.release(),
    }


def versions() -> dict[str, str]:
    git = ["git", "-C", str(REPO)]
    rev = _out([*git, "rev-parse", "--short", "HEAD"])
    # the report and the raw results are what a run writes: not changes to what was measured
    dirty = subprocess.run(
        [
            *git,
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)BENCHMARKS.md",
            ":(exclude)benchmarks/results",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    s3bench = re.search(r'^VERSION = "([^"]+)"', (KIT / "s3bench.py").read_text(), re.M)
    return {
        "Ninefold": f"{rev}{' + uncommitted changes' if dirty else ''}",
        "Python": platform.python_version(),
        "SeaweedFS": _out(
            [str(DATA / "venv" / "seaweedfs" / "bin" / "weed"), "version"], r"(\d+\.\d+(?:\.\d+)?)"
        ),
        "OpenStack Swift": _out(["dpkg-query", "-W", "-f", "${Version}", "swift"]),
        "nginx": _out(["nginx", "-v"], r"nginx/(\S+)"),
        "PostgreSQL": _out(["psql", PG_ADMIN, "-Atc", "SHOW server_version"]),
        "Redis": _out(["redis-cli", "-u", REDIS, "INFO", "server"], r"redis_version:(\S+)"),
        "wrk": _out(["wrk", "--version"], r"wrk (?:debian/)?(\d[\w.]*)", any_rc=True),
        "s3bench": s3bench.group(1) if s3bench else "?",
        "client Python": _out([str(CLIENT), "--version"], r"Python (\S+)"),
    }
