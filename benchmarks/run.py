"""Ninefold vs SeaweedFS, same machine, same run, same client (the shared bench kit).

    .venv/bin/python benchmarks/run.py [--repeat 2] [--quick] [--targets ninefold,seaweedfs]

Runs shared/bench/s3suite.py with our targets file, keeps the raw JSON lines in
benchmarks/results/, and rewrites the side-by-side table in BENCHMARKS.md (between the
``<!-- suite -->`` markers). Workloads (issue 2): 4 KiB PUT/GET at 32 concurrent clients,
64 MiB PUT/GET at 32 concurrent clients, LIST pages of 1,000 over 10,000 keys, DELETE.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KIT = Path(os.environ.get("NINEFOLD_BENCH_KIT", REPO.parent / "shared" / "bench"))
DATA = Path(os.environ.get("NINEFOLD_PEERS_DATA", Path.home() / ".cache" / "ninefold-peers"))
CLIENT = DATA / "venv" / "bench" / "bin" / "python"

FULL = [
    "--objects",
    "10000",
    "--get-count",
    "10000",
    "-c",
    "32",
    "--large-count",
    "32",
    "--large-get-count",
    "32",
    "--large-concurrency",
    "32",
    "--list-iterations",
    "10",
    "--list-max-keys",
    "1000",
    # long enough that every workload runs to its full count (10,000 small PUTs at
    # ~300/s need ~35 s), so LIST really covers 10,000 keys
    "--duration",
    "90",
    "--wait-idle",
    "20",
]
QUICK = [
    "--objects",
    "1000",
    "--get-count",
    "1000",
    "-c",
    "32",
    "--large-count",
    "4",
    "--large-get-count",
    "4",
    "--large-concurrency",
    "4",
    "--list-iterations",
    "3",
    "--duration",
    "8",
]
ORDER = ["small-put", "small-get", "large-put", "large-get", "list", "delete"]


def run_suite(targets: str, repeat: int, quick: bool, out: Path) -> None:
    if not CLIENT.exists():
        subprocess.run(["bash", str(KIT / "setup.sh")], check=True)
    cmd = [
        str(CLIENT),
        str(KIT / "s3suite.py"),
        "run",
        "--add-targets",
        str(HERE / "ninefold-targets.json"),
        "--targets",
        targets,
        "--repeat",
        str(repeat),
        "--out",
        str(out),
        "--",
        *(QUICK if quick else FULL),
    ]
    env = dict(os.environ, SEAWEED_FRESH="1")
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=False, env=env)


def medians(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if "workload" not in row:
            continue
        label = str(row.get("label", "?")).split("#")[0]
        groups[(label, row["workload"])].append(row)
    out = {}
    for key, rows in groups.items():

        def med(get, rows=rows):  # type: ignore[no-untyped-def]
            vals = [v for v in (get(r) for r in rows) if v is not None]
            return statistics.median(vals) if vals else float("nan")

        out[key] = {
            "ops_per_s": med(lambda r: r.get("ops_per_s")),
            "mb_per_s": med(lambda r: r.get("mb_per_s")),
            "p50": med(lambda r: (r.get("lat_ms") or {}).get("p50")),
            "p99": med(lambda r: (r.get("lat_ms") or {}).get("p99")),
            "srv_us": med(lambda r: r.get("server_cpu_us_per_op")),
            "errors": sum(int(r.get("errors", 0)) for r in rows),
            "runs": len(rows),
        }
    return out


def table(stats: dict[tuple[str, str], dict[str, float]]) -> str:
    lines = [
        "| workload | Ninefold | SeaweedFS | ratio | Ninefold p50 / p99 ms "
        "| SeaweedFS p50 / p99 ms | server CPU µs/op (Ninefold / SeaweedFS) | errors (N / S) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for workload in ORDER:
        n, s = stats.get(("ninefold", workload)), stats.get(("seaweedfs", workload))
        if not n and not s:
            continue
        big = workload.startswith("large")
        metric = "mb_per_s" if big else "ops_per_s"
        unit = "MB/s" if big else ("pages/s" if workload == "list" else "ops/s")

        def fmt(x: dict[str, float] | None, key: str, digits: int = 0) -> str:
            return "–" if not x else f"{x[key]:,.{digits}f}"

        ratio = f"{n[metric] / s[metric]:.2f}×" if n and s and s[metric] else "–"
        lines.append(
            f"| {workload} | {fmt(n, metric)} {unit} | {fmt(s, metric)} {unit} | {ratio} "
            f"| {fmt(n, 'p50', 1)} / {fmt(n, 'p99', 1)} | {fmt(s, 'p50', 1)} / {fmt(s, 'p99', 1)} "
            f"| {fmt(n, 'srv_us')} / {fmt(s, 'srv_us')} "
            f"| {fmt(n, 'errors')} / {fmt(s, 'errors')} |"
        )
    return "\n".join(lines)


def machine() -> str:
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return (
        f"{os.cpu_count()} cores, {int(mem) // 1024 // 1024} GiB RAM, Linux "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def write_report(stats: dict[tuple[str, str], dict[str, float]], cmd: str, raw: Path) -> None:
    report = REPO / "BENCHMARKS.md"
    text = (
        report.read_text()
        if report.exists()
        else "# Benchmarks\n\n<!-- suite -->\n<!-- /suite -->\n"
    )
    block = (
        f"<!-- suite -->\nMeasured {dt.date.today()} on {machine()}; client and servers share the "
        f"cores. Medians of the runs in `{raw.relative_to(REPO)}`.\n\nCommand: `{cmd}`\n\n"
        f"{table(stats)}\n<!-- /suite -->"
    )
    start, end = (
        text.index("<!-- suite -->"),
        text.index("<!-- /suite -->") + len("<!-- /suite -->"),
    )
    report.write_text(text[:start] + block + text[end:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--targets", default="ninefold,seaweedfs")
    parser.add_argument("--report-only", type=Path, help="rebuild BENCHMARKS.md from this file")
    args = parser.parse_args()
    name = f"{dt.date.today()}-{'quick' if args.quick else 'full'}-suite.jsonl"
    raw = args.report_only or HERE / "results" / name
    if not args.report_only:
        run_suite(args.targets, args.repeat, args.quick, raw)
    cmd = "make bench" if not args.quick else "benchmarks/run.py --quick"
    write_report(medians(raw), cmd, raw)
    print((REPO / "BENCHMARKS.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
