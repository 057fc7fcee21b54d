"""A/B of two checkouts' embedded servers on the same workloads, alternated in one session.

    .venv/bin/python benchmarks/ab.py BASELINE_CHECKOUT [--rounds 3] [--workloads W,...]

For a redesign that must not cost throughput (issue 10): each round starts the baseline's and
then this checkout's ``ninefold server`` (each with its own ``.venv``, via its own
``benchmarks/scripts/bench-start.sh`` on a fresh data dir), runs the kit's ``s3bench.py`` with
the same options (``--wait-idle 30``; the kit's default 4,000 x 4 KiB at 32 concurrent) and
stops it. Alternating A, B, A, B ... spreads the machine's drift over both. Prints the median
ops/s, p99 and server CPU per op of each, and B/A; raw JSON lines go to
``benchmarks/results/quick/ab-<time>.jsonl`` (not committed).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.kit import CLIENT, DATA, KIT, REPO, ensure_client

ACCESS = "NFBENCHACCESSKEY0001"
SECRET = "nf-bench-secret-key-0123456789abcdefghij"
PORT = 19000


def _run_one(checkout: Path, label: str, workloads: str, out: Path) -> None:
    scripts = checkout / "benchmarks" / "scripts"
    subprocess.run(["bash", str(scripts / "bench-start.sh")], check=True)
    try:
        subprocess.run(
            [
                str(CLIENT),
                str(KIT / "s3bench.py"),
                "--endpoint",
                f"http://127.0.0.1:{PORT}",
                "--access-key",
                ACCESS,
                "--secret-key",
                SECRET,
                "--label",
                label,
                "--workloads",
                workloads,
                "--wait-idle",
                "30",
                "--server-pidfile",
                str(DATA / "ninefold" / "server.pid"),
                "--json-out",
                str(out),
                "--no-table",
            ],
            check=True,
        )
    finally:
        subprocess.run(["bash", str(scripts / "bench-stop.sh")], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path, help="the other checkout (with its own .venv)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="small-put,small-get")
    parser.add_argument("--report-only", type=Path, help="summarize this raw file only")
    args = parser.parse_args()
    sides = {"A": args.baseline.resolve(), "B": REPO}
    if args.report_only is not None:
        report(args.report_only, sides, args.workloads.split(","))
        return 0
    ensure_client()
    out = REPO / "benchmarks" / "results" / "quick" / f"ab-{time.strftime('%Y%m%dT%H%M%S')}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(args.rounds):
        for label, checkout in sides.items():
            _run_one(checkout, label, args.workloads, out)
    report(out, sides, args.workloads.split(","))
    return 0


def report(out: Path, sides: dict[str, Path], workloads: list[str]) -> None:
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    rounds = sum(1 for r in rows if r["label"] == "A" and r["workload"] == workloads[0])
    print(f"A = {sides['A']}, B = {sides['B']}; {rounds} rounds each, medians")
    print(
        f"{'workload':<12} {'A ops/s':>9} {'B ops/s':>9} {'B/A':>6} {'paired':>7} {'A p99':>7}"
        f" {'B p99':>7} {'A cpu/op':>9} {'B cpu/op':>9}"
    )
    for workload in workloads:

        def med(label: str, pick: str, w: str = workload) -> float:
            values = [_pick(r, pick) for r in rows if r["label"] == label and r["workload"] == w]
            return statistics.median(v for v in values if v is not None)

        a, b = med("A", "ops"), med("B", "ops")
        # each round runs A then B back to back: the median of their ratios cancels the drift
        # of the machine between rounds, which the medians of each side do not
        pairs = zip(
            (r for r in rows if r["label"] == "A" and r["workload"] == workload),
            (r for r in rows if r["label"] == "B" and r["workload"] == workload),
            strict=False,
        )
        paired = statistics.median(rb["ops_per_s"] / ra["ops_per_s"] for ra, rb in pairs)
        print(
            f"{workload:<12} {a:>9,.0f} {b:>9,.0f} {b / a:>6.2f} {paired:>7.2f}"
            f" {med('A', 'p99'):>7.1f} {med('B', 'p99'):>7.1f} {med('A', 'cpu'):>9.0f}"
            f" {med('B', 'cpu'):>9.0f}"
        )
    print(f"raw: {out}")


def _pick(row: dict[str, object], what: str) -> float | None:
    if what == "ops":
        return float(row["ops_per_s"])  # type: ignore[arg-type]
    if what == "p99":
        return float(row["lat_ms"]["p99"])  # type: ignore[index]
    value = row.get("server_cpu_us_per_op")
    return None if value is None else float(value)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
