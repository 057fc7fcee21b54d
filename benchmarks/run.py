"""Issue 6 benchmark suite: Ninefold (embedded and cluster) vs SeaweedFS, Swift EC 6+3, nginx.

    .venv/bin/python benchmarks/run.py [--repeat 3] [--targets ninefold,seaweedfs,...]
    .venv/bin/python benchmarks/run.py --quick [--targets ...]      # smoke run
    .venv/bin/python benchmarks/run.py --report-only FILE...        # rebuild the report

Steps, in this order (``--targets`` picks a subset):

* ``ninefold``, ``ninefold-cluster``, ``seaweedfs``, ``swift``: the shared kit's ``s3suite.py``
  starts the target, runs ``s3bench.py`` ``--repeat`` times with the kit's DEFAULT workloads
  (4,000 x 4 KiB at 32 concurrent, 8 x 64 MiB at 4, LIST pages of 1,000 keys, DELETE; Swift
  with ``--objects 1000 --large-count 2 --duration 60``: it does ~40 small PUTs/s, and 1,000
  objects still make whole 1,000-key LIST pages), and stops it.
  SeaweedFS starts on a wiped data dir (``SEAWEED_FRESH=1``), ours on fresh ones. While each
  target runs, the server's RSS (pidfile's PIDs and descendants) is sampled every 0.1 s and the
  peak within each workload's time window is added to its JSON line; for the cluster, the CPU
  of its PostgreSQL backends and of Redis too.
* ``nginx``: the kit's nginx serves the same kind of bytes from disk; ``wrk`` at 4 connections
  on /64m.bin and 32 on /4k.bin, ``--repeat`` times: the ceiling for "GET 64 MiB >= 60 % of
  nginx".
* ``checks``: kill -9 durability tests, the 64 MiB PUT layout check (6+3 EC, CRC64NVME, MD5
  ETag) and ``list_scale.py`` (LIST page time at 10,000 vs 1,000,000 objects).

Raw rows go to ``benchmarks/results/<UTC date>-suite.jsonl`` (a run of every step replaces
the file; a run of some steps replaces those steps' rows), then the report between the
``<!-- suite -->`` markers of BENCHMARKS.md is rebuilt from the whole file. ``--quick`` uses
small counts, short durations and 1 repeat, writes ``benchmarks/results/quick/<time>-*`` (not
committed) and never touches BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import checks, procs, report
from benchmarks.kit import (
    CLIENT,
    DATA,
    KIT,
    REDIS,
    REPO,
    ensure_client,
    load_targets,
    machine,
    now,
    replace_block,
    run_script,
    short,
    targets_file,
    versions,
)

HERE = REPO / "benchmarks"
RESULTS = HERE / "results"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"
S3_TARGETS = ["ninefold", "ninefold-cluster", "seaweedfs", "swift"]
STEPS = [*S3_TARGETS, "nginx", "checks"]

#: s3bench options after `--` for every target; the workloads themselves stay at the kit's
#: defaults in a full run. --wait-idle lets the host settle (<10 % busy) before each workload.
#: --list-iterations 50 (kit default 10): 10 listings of 4,000 keys are 40 pages, ~0.2 s, and a
#: single background hiccup moved that median by 2x; the page size stays the kit's 1,000 keys.
BENCH_ARGS = {
    "full": ["--wait-idle", "30", "--list-iterations", "50"],
    "quick": ["--objects", "500", "--duration", "5"],
}
#: per target, appended after BENCH_ARGS (s3bench takes the last value of an option)
TARGET_ARGS = {
    # Swift does ~40 small PUTs/s: 1,000 objects (still whole 1,000-key LIST pages) with a
    # longer time bound instead of the kit's 4,000
    "full": {"swift": ["--objects", "1000", "--large-count", "2", "--duration", "60"]},
    "quick": {
        "ninefold": ["--large-count", "2"],
        "ninefold-cluster": ["--large-count", "2"],
        "seaweedfs": ["--large-count", "2"],
        "swift": ["--objects", "100", "--large-count", "1"],
    },
}
WRK_SECONDS = {"full": 10, "quick": 3}
LIST_SCALE = {"full": ("10000,1000000", 15), "quick": ("1000,10000", 3)}


class Run:
    """One invocation: where rows go, what was run, what failed."""

    def __init__(self, mode: str, repeat: int, steps: list[str], raw: Path) -> None:
        self.mode = mode
        self.repeat = repeat
        self.raw = raw
        self.rows: list[dict[str, Any]] = []
        self.kept: list[dict[str, Any]] = []
        self.env: dict[str, Any] = {
            "tool": "harness",
            "mode": mode,
            "repeat": repeat,
            "steps": steps,
            "started": now(),
            "finished": None,
            "machine": machine(),
            "versions": versions(),
            "commands": [],
            "failures": {},
        }
        if mode == "full" and raw.exists() and set(steps) != set(STEPS):
            # a partial run replaces only its own steps' rows in today's file
            self.kept = [r for r in report.load_rows([raw]) if _step_of(r) not in steps]

    def command(self, cmd: list[str] | str) -> None:
        text = short(cmd)
        if text not in self.env["commands"]:
            self.env["commands"].append(text)

    def save(self) -> None:
        self.env["finished"] = now()
        # peers the kit installed during this run (a fresh machine) have versions only now
        fresh = versions()
        self.env["versions"] = {
            name: fresh.get(name, value) if value == "not installed" else value
            for name, value in self.env["versions"].items()
        }
        self.raw.parent.mkdir(parents=True, exist_ok=True)
        rows = [*self.kept, *self.rows, self.env]
        text = "".join(
            json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows
        )
        self.raw.write_text(text)


def _step_of(row: dict[str, Any]) -> str | None:
    tool = row.get("tool")
    if tool == "s3bench":
        return str(row.get("target") or str(row.get("label", "")).split("#")[0])
    if tool == "wrk":
        return "nginx"
    if tool in ("check", "list_scale"):
        return "checks"
    return None


# ---------------------------------------------------------------------------------------------
# s3 targets through s3suite


def _alive(pidglob: str) -> list[int]:
    return [p for p in procs.pids_from_pidfiles(pidglob) if Path(f"/proc/{p}").exists()]


_redis_pid: list[int] = []


def cluster_helpers() -> list[int]:
    """PostgreSQL backends of the cluster's database, and the Redis server."""
    if not _redis_pid:
        out = subprocess.run(
            ["redis-cli", "-u", REDIS, "INFO", "server"], capture_output=True, text=True
        ).stdout
        m = re.search(r"process_id:(\d+)", out)
        _redis_pid.append(int(m.group(1)) if m else 0)
    pids = [p for p in _redis_pid if p]
    db_file = DATA / "ninefold-cluster" / "db-name"
    db = db_file.read_text().strip().encode() if db_file.exists() else b""
    if db:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                        cmd = f.read()
                except OSError:
                    continue
                if cmd.startswith(b"postgres:") and db in cmd:
                    pids.append(int(entry.name))
    return pids


def run_s3_target(run: Run, name: str, tfile: Path, targets: dict[str, Any]) -> None:
    target = targets[name]
    pidglob = target["pidfile"]
    if _alive(pidglob):
        run.env["failures"][name] = (
            f"already running (pidfile {short(pidglob)}): not started by this run, not measured"
            f"; stop it with `bash {short(target.get('stop') or '?')}` if it is a leftover"
        )
        print(f"!! {name}: {run.env['failures'][name]}", flush=True)
        return
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    scratch = DATA / "results" / f"ninefold-bench-{stamp}-{name}.jsonl"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    bench_args = BENCH_ARGS[run.mode] + TARGET_ARGS[run.mode].get(name, [])
    cmd = [
        str(CLIENT),
        str(KIT / "s3suite.py"),
        "run",
        "--add-targets",
        str(tfile),
        "--targets",
        name,
        "--repeat",
        str(run.repeat),
        "--out",
        str(scratch),
        "--",
        *bench_args,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if name == "seaweedfs":
        env["SEAWEED_FRESH"] = "1"  # wipe its data dir: deleted data is only reclaimed by vacuum
    run.command(("SEAWEED_FRESH=1 " if name == "seaweedfs" else "") + short(cmd))
    print("+", short(cmd), flush=True)
    sampler = procs.Sampler(
        pidglob, helpers=cluster_helpers if name == "ninefold-cluster" else None
    )
    sampler.start()
    log = open(scratch.with_suffix(".log"), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=env
    )
    got = 0
    try:
        assert proc.stdout
        for line in proc.stdout:
            t = time.monotonic()
            sys.stdout.write(line)
            log.write(line)
            if line.startswith("$ ") and "s3bench.py" in line and f"{name}#1 " in line:
                run.command(line[2:].strip())
            if not line.startswith("{"):
                continue
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if row.get("tool") != "s3bench":
                continue
            annotate(row, name, sampler, t)
            run.rows.append(row)
            got += 1
            run.save()
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(60)
        sampler.stop()
        log.close()
        if _alive(pidglob) and target.get("stop"):
            # s3suite stops what it started; this catches a start that failed half way
            run_script(target["stop"])
    if not got:
        run.env["failures"][name] = f"no results (s3suite exit code {rc}; log {short(log.name)})"
        print(f"!! {name}: {run.env['failures'][name]}", flush=True)
    run.save()


def annotate(row: dict[str, Any], name: str, sampler: procs.Sampler, t_end: float) -> None:
    """Add target, run number, peak RSS of the workload's window (and helper CPU) to a row."""
    wall = float(row.get("wall_s") or 0)
    t0, t1 = t_end - wall - 0.15, t_end
    peak, samples = sampler.peak_rss(t0, t1)
    label = str(row.get("label", ""))
    row["target"] = name
    row["run"] = int(label.split("#")[1]) if "#" in label else None
    row["server_rss_peak_mb"] = None if peak is None else round(peak / 1e6, 1)
    row["server_rss_samples"] = samples
    if name == "ninefold-cluster":
        cpu = sampler.helper_cpu_s(t0, t1)
        row["helper_cpu_s"] = None if cpu is None else round(cpu, 3)
        row["helper_cpu_us_per_op"] = (
            round(cpu * 1e6 / row["ops"], 1) if cpu is not None and row.get("ops") else None
        )
        row["helpers"] = "PostgreSQL backends of the cluster's database + redis-server"


# ---------------------------------------------------------------------------------------------
# nginx static ceiling


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    req = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    lat = {
        f"p{p}": _ms(v, u)
        for p, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    }
    return {
        "req_per_s": float(req.group(1)) if req else None,
        "requests": int(total.group(1)) if total else None,
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(int(x) for x in sock.groups()) if sock else 0),
        "lat_ms": lat,
    }


def run_nginx(run: Run) -> None:
    pidfile = str(DATA / "nginx" / "run.pid")
    if _alive(pidfile):
        run.env["failures"]["nginx"] = "already running: not started by this run, not measured"
        print("!! nginx:", run.env["failures"]["nginx"], flush=True)
        return
    if run_script(str(KIT / "peers" / "nginx" / "start.sh")) != 0:
        run.env["failures"]["nginx"] = "peers/nginx/start.sh failed"
        run_script(str(KIT / "peers" / "nginx" / "stop.sh"))
        return
    run.command("bash $KIT/peers/nginx/start.sh")
    seconds = WRK_SECONDS[run.mode]
    www = DATA / "nginx" / "www"
    cases = [
        ("static-get-64m", "64m.bin", 4, "30s"),
        ("static-get-4k", "4k.bin", 32, "5s"),
    ]
    try:
        for rep in range(1, run.repeat + 1):
            for workload, file, conns, timeout in cases:
                url = f"http://127.0.0.1:18090/{file}"
                cmd = ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", timeout]
                cmd += ["--latency", url]
                run.command(cmd)
                print("+", " ".join(cmd), flush=True)
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 90)
                print(proc.stdout, flush=True)
                size = (www / file).stat().st_size
                row: dict[str, Any] = {
                    "tool": "wrk",
                    "ts": now(),
                    "target": "nginx",
                    "workload": workload,
                    "run": rep,
                    "url": url,
                    "threads": 1,
                    "connections": conns,
                    "duration_s": seconds,
                    "object_size": size,
                    **parse_wrk(proc.stdout),
                }
                if row["req_per_s"] is not None:
                    row["mb_per_s"] = round(row["req_per_s"] * size / 1e6, 1)
                run.rows.append(row)
                run.save()
                time.sleep(2)
    finally:
        run_script(str(KIT / "peers" / "nginx" / "stop.sh"))


# ---------------------------------------------------------------------------------------------
# checks


def run_checks(run: Run) -> None:
    sizes, repeat = LIST_SCALE[run.mode]
    steps: list[tuple[str, Callable[[], list[dict[str, Any]]]]] = [
        ("durability", checks.durability),
        ("large_put_layout", checks.large_put_layout),
        ("list_scale", lambda: checks.list_scale(sizes, repeat)),
    ]
    for name, fn in steps:
        try:
            rows = fn()
        except Exception as exc:  # a broken check is a result, not the end of the run
            rows = [{"tool": "check", "check": name, "ts": now(), "ok": False, "detail": repr(exc)}]
        run.rows += rows
        for r in rows:
            if r.get("command"):
                run.command(r["command"])
        run.save()


# ---------------------------------------------------------------------------------------------
# report


def write_report(raw: list[Path], dest: Path | None, command: str | None) -> str:
    """Render the report of ``raw``: into BENCHMARKS.md's suite markers when ``dest`` is it,
    into a file of its own for any other ``dest``, nowhere (printed only) for None."""
    rows = report.load_rows(raw)
    block = report.render(rows, [short(str(p)) for p in raw], command)
    if dest == BENCHMARKS_MD:
        text = dest.read_text() if dest.exists() else "# Benchmarks\n"
        dest.write_text(replace_block(text, "suite", block))
        print(f"\nreport written to {short(str(dest))}")
    elif dest is not None:
        dest.write_text(f"# Quick benchmark run (not the committed figures)\n\n{block}\n")
        print(f"\nreport written to {short(str(dest))} (BENCHMARKS.md untouched)")
    return block


def main() -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog="Steps: " + ", ".join(STEPS),
    )
    parser.add_argument("--repeat", type=int, default=None, help="runs per target (default 3)")
    parser.add_argument("--targets", default=",".join(STEPS), help="comma list of steps")
    parser.add_argument("--quick", action="store_true", help="smoke run; BENCHMARKS.md untouched")
    parser.add_argument(
        "--report-only",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="rebuild the report from these JSON-lines files (with --quick: print it only)",
    )
    args = parser.parse_args()

    if args.report_only:
        block = write_report(args.report_only, None if args.quick else BENCHMARKS_MD, None)
        print(block)
        return 0

    steps = [s.strip() for s in args.targets.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(STEPS)}")
    steps = [s for s in STEPS if s in steps]
    mode = "quick" if args.quick else "full"
    repeat = args.repeat or (1 if args.quick else 3)
    if mode == "full" and repeat < 3:
        print("note: fewer than 3 runs per target; the report marks such medians (n=…)")
    if args.quick:
        stamp = time.strftime("%Y-%m-%dT%H%M%S", time.gmtime())
        raw = RESULTS / "quick" / f"{stamp}-suite.jsonl"
    else:
        raw = RESULTS / f"{time.strftime('%Y-%m-%d', time.gmtime())}-suite.jsonl"
    ensure_client()
    run = Run(mode, repeat, steps, raw)
    argv = " ".join(sys.argv[1:])
    run.command("make bench" if not argv else f".venv/bin/python benchmarks/run.py {argv}".rstrip())
    tfile = targets_file(DATA / "results")
    targets = load_targets(tfile)
    try:
        for step in steps:
            print(f"\n===== {step} =====", flush=True)
            if step in S3_TARGETS:
                run_s3_target(run, step, tfile, targets)
            elif step == "nginx":
                run_nginx(run)
            else:
                run_checks(run)
            time.sleep(3)
    except KeyboardInterrupt:
        print("\ninterrupted: partial results kept", flush=True)
        run.env["failures"]["run"] = "interrupted"
        run.save()
        return 130
    run.save()
    print(f"\nraw results: {short(str(raw))}")
    command = "make bench" if not argv else f"benchmarks/run.py {argv}"
    dest = raw.with_name(raw.name.replace("-suite.jsonl", "-report.md")) if args.quick else None
    block = write_report([raw], dest or BENCHMARKS_MD, command)
    print(block)
    return 1 if run.env["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
