"""Where the embedded server spends its time, per workload: py-spy under the s3bench workloads.

    .venv/bin/python benchmarks/profile.py [--quick] [--workloads small-put,list] [--rate 100]

Starts the embedded server (``scripts/bench-start.sh``: fresh data dir, default settings), then
for each workload runs s3bench with the kit's default options (``--quick``: 500 objects, 2 large
ones, 5 s) and that workload alone — plus the PUTs it needs first (GET and LIST need objects),
which are not profiled. ``py-spy record --subprocesses --nonblocking -f raw`` samples the server
(supervisor and every worker process) from the end of the preceding step to the end of the
profiled workload. The collapsed stacks are aggregated here into the top functions by own time
(the leaf frame of a sample) and by inclusive time (anywhere in the stack, once per sample), as
a percentage of the busy samples. py-spy only records threads that are running, but
a few waits still show up as samples; stacks whose leaf is one of ``IDLE`` are dropped and
counted in the output.

Writes ``benchmarks/results/<UTC date>-profiles.md`` and the ``<!-- profile -->`` section of
BENCHMARKS.md (``--quick``: ``benchmarks/results/quick/<time>-profiles.md`` only). The raw
py-spy files stay under ``$NINEFOLD_PEERS_DATA/results/profiles-<time>/``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import procs
from benchmarks.kit import (
    CLIENT,
    DATA,
    KIT,
    REPO,
    ensure_client,
    load_targets,
    now,
    replace_block,
    run_script,
    short,
    targets_file,
)

PYSPY = REPO / ".venv" / "bin" / "py-spy"
ORDER = ["small-put", "small-get", "large-put", "large-get", "list", "delete"]
#: what a workload needs first in the same s3bench run (not profiled)
NEEDS = {
    "small-put": [],
    "small-get": ["small-put"],
    "large-put": [],
    "large-get": ["large-put"],
    "list": ["small-put"],
    "delete": ["small-put", "large-put"],
}
QUICK_ARGS = ["--objects", "500", "--large-count", "2", "--duration", "5"]
#: the kit's defaults finish these in well under a second; repeat them for enough samples
MORE = {
    "small-get": ["--get-count", "16000"],
    "large-get": ["--large-get-count", "32"],
    "list": ["--list-iterations", "50"],
}
TOP = 12
#: a sample whose leaf frame is one of these is a thread waiting, not working
IDLE = {
    "_worker (concurrent/futures/thread.py)": "thread-pool worker waiting for work",
    "Runner.run (asyncio/runners.py)": "event loop inside uvloop's C code (mostly epoll wait)",
    "run (asyncio/runners.py)": "event loop inside uvloop's C code (mostly epoll wait)",
    "BaseEventLoop.run_forever (asyncio/base_events.py)": "event loop waiting",
    "select (selectors.py)": "event loop waiting in select/epoll",
    "EpollSelector.select (selectors.py)": "event loop waiting in select/epoll",
    "Condition.wait (threading.py)": "thread waiting on a condition",
    "Event.wait (threading.py)": "thread waiting on an event",
    "wait (threading.py)": "thread waiting on a condition",
    "_wait_for_tstate_lock (threading.py)": "thread join",
    "_drain (ninefold/meta/sqlite.py)": "metadata writer thread waiting for work",
}
#: leaf frames in these files are the supervisor / multiprocessing plumbing idling
IDLE_FILES = {
    "multiprocessing/resource_tracker.py": "multiprocessing resource tracker",
    "multiprocessing/connection.py": "multiprocessing pipe wait",
    "ninefold/cli/supervisor.py": "supervisor process polling its workers",
}
#: frames on nearly every stack (thread, process and event-loop entry points): left out of the
#: inclusive ranking, which would otherwise start with them at ~100 %
PLUMBING_FILES = (
    "threading.py",
    "concurrent/futures/thread.py",
    "asyncio/runners.py",
    "<string>",
    "ninefold/cli/embedded.py",
    "ninefold/cli/supervisor.py",
)
FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
#: py-spy --subprocesses puts the process chain first: process PID:"command line" (which may
#: hold ";" itself)
PROCESS = re.compile(r'^(?:process \d+:"[^"]*";)+')


def frame_key(frame: str) -> str:
    """``func (file:line)`` -> ``func (file)``: one entry per function, not per line."""
    m = FRAME.match(frame)
    return f"{m['func']} ({m['file']})" if m else frame


def _plumbing(frame: str) -> bool:
    m = FRAME.match(frame)
    if not m:
        return False
    return m["file"].endswith(PLUMBING_FILES) or "multiprocessing/" in m["file"]


def idle_reason(leaf: str) -> str | None:
    if leaf in IDLE:
        return IDLE[leaf]
    m = FRAME.match(leaf)
    if m:
        for suffix, reason in IDLE_FILES.items():
            if m["file"].endswith(suffix):
                return reason
    return None


def aggregate(raw: str) -> dict[str, Any]:
    """Own and inclusive sample counts per function from py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    busy = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_key(f) for f in PROCESS.sub("", stack).split(";") if f]
        if not frames:
            continue
        reason = idle_reason(frames[-1])
        if reason:
            dropped[reason] += count
            continue
        busy += count
        own[frames[-1]] += count
        for f in set(frames):
            if not _plumbing(f):
                incl[f] += count
    return {"busy": busy, "own": own, "incl": incl, "dropped": dropped}


def top_table(agg: dict[str, Any], n: int = TOP) -> list[str]:
    busy = agg["busy"] or 1
    own = agg["own"].most_common(n)
    incl = agg["incl"].most_common(n)
    lines = [
        "| # | own % | function (own time: the leaf frame) | incl % | function (inclusive) |",
        "|---|---|---|---|---|",
    ]
    for i in range(max(len(own), len(incl))):
        cells = []
        for ranking in (own, incl):
            if i < len(ranking):
                name, count = ranking[i]
                cells += [f"{100 * count / busy:.1f}", f"`{name}`"]
            else:
                cells += ["", ""]
        lines.append(f"| {i + 1} | " + " | ".join(cells) + " |")
    return lines


def dropped_text(agg: dict[str, Any]) -> str:
    total = agg["busy"] + sum(agg["dropped"].values())
    if not agg["dropped"]:
        return f"{total:,} samples, none idle."
    parts = ", ".join(f"{reason} {count:,}" for reason, count in agg["dropped"].most_common())
    return f"{total:,} samples; dropped as idle: {parts}; {agg['busy']:,} busy samples remain."


class Spy:
    """py-spy attached to the server (and its worker processes) until ``stop``."""

    def __init__(self, pid: int, out: Path, rate: int) -> None:
        self.out = out
        self.cmd = [
            str(PYSPY),
            "record",
            "--subprocesses",
            "--nonblocking",
            "-r",
            str(rate),
            "-f",
            "raw",
            "-p",
            str(pid),
            "-o",
            str(out),
        ]
        self.log = open(out.with_suffix(".log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.out.read_text() if self.out.exists() else ""


def profile_workload(
    workload: str, target: dict[str, Any], pid: int, outdir: Path, rate: int, quick: bool
) -> dict[str, Any]:
    steps = [*NEEDS[workload], workload]
    cmd = [
        str(CLIENT),
        str(KIT / "s3bench.py"),
        "--endpoint",
        target["endpoint"],
        "--access-key",
        target["access_key"],
        "--secret-key",
        target["secret_key"],
        "--region",
        target.get("region", "us-east-1"),
        "--label",
        f"profile-{workload}",
        "--server-pidfile",
        target["pidfile"],
        "--workloads",
        ",".join(steps),
        *(QUICK_ARGS if quick else []),
        *MORE.get(workload, []),
    ]
    print("+", short(cmd), flush=True)
    raw_path = outdir / f"{workload}.txt"
    spy: Spy | None = None
    row: dict[str, Any] = {}
    # start sampling when the step before the profiled workload is over: the warm-up, or the
    # last PUT it needs (s3bench then waits >= 0.5 s for its idle check: time for py-spy)
    start_after = f'"workload": "{NEEDS[workload][-1]}"' if NEEDS[workload] else "# warmup:"
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        assert proc.stdout
        for line in proc.stdout:
            if spy is None and start_after in line:
                spy = Spy(pid, raw_path, rate)
            if line.startswith("{") and f'"workload": "{workload}"' in line:
                row = json.loads(line)
                break
            if line.startswith(("{", "#", "warning", "skip")):
                print("  " + line.rstrip()[:160], flush=True)
        proc.wait(300)
    finally:
        raw = spy.stop() if spy else ""
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)
    agg = aggregate(raw)
    print(f"  {workload}: {dropped_text(agg)}", flush=True)
    return {"workload": workload, "row": row, "agg": agg, "command": short(cmd), "raw": raw_path}


def section(results: list[dict[str, Any]], rate: int, raw_dir: Path, when: str) -> str:
    out = [
        f"Profiled {when} with `py-spy record --subprocesses --nonblocking -r {rate} -f raw` "
        "attached to the embedded server (`benchmarks/scripts/bench-start.sh`: fresh data dir, "
        "default settings) while s3bench ran that workload alone with the kit's defaults "
        "(more requests for the short ones: "
        + ", ".join(f"{w} `{' '.join(a)}`" for w, a in MORE.items())
        + "). "
        "Percentages are of the busy samples over all server processes. Own = the function "
        "was the leaf frame (time in C code called from it counts as its own); inclusive = "
        "anywhere on the stack. Dropped before counting: samples whose leaf frame is a thread "
        "or event loop waiting (`"
        + "`, `".join(sorted(IDLE))
        + "`) or the supervisor / multiprocessing plumbing ("
        + ", ".join(f"`{f}`" for f in sorted(IDLE_FILES))
        + "). Left out of the inclusive ranking: thread, process and event-loop entry points "
        "(frames in "
        + ", ".join(f"`{f}`" for f in PLUMBING_FILES)
        + ", `multiprocessing/`), which are on nearly every stack. "
        f"Raw py-spy output: `{short(str(raw_dir))}` (not committed).",
    ]
    for r in results:
        row = r["row"]
        fig = (
            f"{row.get('mb_per_s', 0):,.0f} MB/s"
            if r["workload"].startswith("large")
            else f"{row.get('ops_per_s', 0):,.0f} ops/s"
        )
        summary = (
            f"{fig}, p50 {row['lat_ms']['p50']:.1f} ms, server CPU "
            f"{row.get('server_cpu_us_per_op') or 0:,.0f} µs/op, errors {row.get('errors')}"
            if row
            else "no s3bench result"
        )
        out += [
            "",
            f"### {r['workload']} ({summary} — under the profiler)",
            "",
            dropped_text(r["agg"]),
            "",
            *top_table(r["agg"]),
        ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small counts; BENCHMARKS.md untouched"
    )
    parser.add_argument("--workloads", default=",".join(ORDER))
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    args = parser.parse_args()
    workloads = [w for w in ORDER if w in args.workloads.split(",")]
    ensure_client()
    stamp = time.strftime("%Y-%m-%dT%H%M%S", time.gmtime())
    raw_dir = DATA / "results" / f"profiles-{stamp}"
    raw_dir.mkdir(parents=True, exist_ok=True)
    target = load_targets(targets_file(raw_dir))["ninefold"]
    if any(Path(f"/proc/{p}").exists() for p in procs.pids_from_pidfiles(target["pidfile"])):
        sys.exit(f"the embedded bench server is already running ({target['pidfile']}): stop it")
    started = now()
    if run_script(target["start"]) != 0:
        run_script(target["stop"])
        return 1
    results = []
    try:
        pid = procs.pids_from_pidfiles(target["pidfile"])[0]
        for workload in workloads:
            print(f"\n===== profile {workload} =====", flush=True)
            results.append(profile_workload(workload, target, pid, raw_dir, args.rate, args.quick))
    finally:
        run_script(target["stop"])
    when = f"{started[:10]} {started[11:16]}–{now()[11:16]} UTC"
    block = section(results, args.rate, raw_dir, when)
    if args.quick:
        out = REPO / "benchmarks" / "results" / "quick" / f"{stamp}-profiles.md"
    else:
        out = REPO / "benchmarks" / "results" / f"{started[:10]}-profiles.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    commands = "\n".join(r["command"] for r in results)
    out.write_text(
        f"# Server profiles per workload ({'quick run' if args.quick else 'make bench'})\n\n"
        f"{block}\n\n## Commands\n\n```\n{commands}\n```\n"
    )
    print(f"\nprofiles written to {short(str(out))}")
    if not args.quick:
        md = REPO / "BENCHMARKS.md"
        text = md.read_text() if md.exists() else "# Benchmarks\n"
        md.write_text(replace_block(text, "profile", block))
        print("BENCHMARKS.md <!-- profile --> section updated")
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
