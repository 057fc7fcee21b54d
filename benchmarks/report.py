"""Markdown report of a benchmark run (``benchmarks/run.py``) from its raw JSON lines.

Rows carry ``tool``: ``s3bench`` (one workload of one run against one target, as s3bench
writes it, plus the harness's ``target``, ``run``, ``server_rss_peak_mb``, ...), ``wrk`` (nginx
static ceiling), ``check`` (the pass/fail checks of ``benchmarks/checks.py``), ``list_scale``
(rows of ``benchmarks/list_scale.py``) and ``harness`` (machine, versions, commands of one
invocation). Figures are medians over runs; a ratio is the ratio of two medians.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["GOALS", "WORKLOADS", "load_rows", "render"]

#: (s3bench workload, label, unit, JSON field of the headline figure)
WORKLOADS = [
    ("small-put", "PUT 4 KiB", "ops/s", "ops_per_s"),
    ("small-get", "GET 4 KiB", "ops/s", "ops_per_s"),
    ("large-put", "PUT 64 MiB", "MB/s", "mb_per_s"),
    ("large-get", "GET 64 MiB", "MB/s", "mb_per_s"),
    ("list", "LIST page", "pages/s", "ops_per_s"),
    ("delete", "DELETE", "ops/s", "ops_per_s"),
]
#: issue 6: Ninefold (embedded) must reach this multiple of the peer's figure
GOALS: dict[str, dict[str, float]] = {
    "small-put": {"seaweedfs": 1.0, "swift": 10.0},
    "small-get": {"seaweedfs": 1.0, "swift": 10.0},
    "large-put": {"seaweedfs": 2.0, "swift": 2.0},
    "large-get": {"seaweedfs": 1.0, "swift": 2.0},
    "list": {"seaweedfs": 1.0, "swift": 10.0},
    "delete": {"seaweedfs": 1.0, "swift": 10.0},
}
NGINX_SHARE_GOAL = 0.60  # GET 64 MiB >= 60 % of nginx serving the same bytes from disk
LIST_SCALE_GOAL = 1.5  # page time at 1,000,000 objects <= 1.5x the time at 10,000
TARGETS = ["ninefold", "ninefold-cluster", "seaweedfs", "swift"]
NAMES = {
    "ninefold": "Ninefold",
    "ninefold-cluster": "Ninefold cluster",
    "seaweedfs": "SeaweedFS",
    "swift": "Swift EC 6+3",
}
SHORT = {"ninefold": "N", "ninefold-cluster": "C", "seaweedfs": "S", "swift": "Sw"}


def load_rows(paths: Iterable[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.startswith("{"):
                rows.append(json.loads(line))
    return rows


def _med(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return statistics.median(vals) if vals else None


@dataclass
class Stat:
    runs: int
    value: float | None
    p50: float | None
    p99: float | None
    cpu_us: float | None
    helper_cpu_us: float | None
    rss_mb: float | None
    errors: int
    cut: bool
    keys_per_page: float | None


def stats(rows: list[dict[str, Any]]) -> dict[tuple[str, str], Stat]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("tool") == "s3bench":
            target = r.get("target") or str(r.get("label", "?")).split("#")[0]
            groups[(target, r["workload"])].append(r)
    field = {w: f for w, _, _, f in WORKLOADS}
    out = {}
    for (target, workload), g in groups.items():
        out[(target, workload)] = Stat(
            runs=len(g),
            value=_med(r.get(field.get(workload, "ops_per_s")) for r in g),
            p50=_med((r.get("lat_ms") or {}).get("p50") for r in g),
            p99=_med((r.get("lat_ms") or {}).get("p99") for r in g),
            cpu_us=_med(r.get("server_cpu_us_per_op") for r in g),
            helper_cpu_us=_med(r.get("helper_cpu_us_per_op") for r in g),
            rss_mb=_med(r.get("server_rss_peak_mb") for r in g),
            errors=sum(int(r.get("errors") or 0) for r in g),
            cut=any(r.get("cut_by_time_limit") for r in g),
            keys_per_page=_med(
                r["keys_listed"] / r["ops"] for r in g if r.get("keys_listed") and r.get("ops")
            ),
        )
    return out


def num(x: float | None, digits: int | None = None) -> str:
    if x is None:
        return "–"
    if digits is None:
        digits = 0 if abs(x) >= 100 else 1
    return f"{x:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def times(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}×" if x >= 10 else f"{x:.2f}×"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("**PASS**" if ok else "**MISS**")


def _value(s: Stat | None) -> str:
    if not s:
        return "–"
    text = num(s.value) + ("*" if s.cut else "")
    if s.runs < 3:
        text += f" (n={s.runs})"
    return text


def _slash(values: list[str]) -> str:
    return " / ".join(values)


def main_table(st: dict[tuple[str, str], Stat]) -> list[str]:
    lines = [
        "| workload | Ninefold | Ninefold cluster (÷ embedded) | SeaweedFS | Swift EC 6+3 "
        "| Ninefold ÷ SeaweedFS (target) | Ninefold ÷ Swift (target) "
        "| p50 / p99 ms: N · C · S · Sw "
        "| server CPU µs/op: N / C / S / Sw | peak server RSS MB: N / C / S / Sw "
        "| errors: N / C / S / Sw |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for workload, label, unit, _ in WORKLOADS:
        got = {t: st.get((t, workload)) for t in TARGETS}
        if not any(got.values()):
            continue
        n, c = got["ninefold"], got["ninefold-cluster"]
        nv = n.value if n else None
        cluster = _value(c)
        if c and nv:
            cluster += f" ({times(ratio(c.value, nv))})"
        vs = []
        for peer in ("seaweedfs", "swift"):
            p = got[peer]
            r = ratio(nv, p.value if p else None)
            goal = GOALS[workload][peer]
            vs.append(
                f"{times(r)} (≥ {goal:g}×) {verdict(r >= goal)}"
                if r is not None
                else f"– (≥ {goal:g}×)"
            )
        s = got["seaweedfs"]
        lat = " · ".join(f"{num(x.p50, 1)} / {num(x.p99, 1)}" if x else "–" for x in got.values())
        if workload == "small-get":
            ok = None if not (n and s and n.p99 and s.p99) else n.p99 <= s.p99
            lat += f" — p99 ≤ SeaweedFS's: {verdict(ok)}"
        present = [got[t] for t in TARGETS]
        cpu = _slash([num(x.cpu_us, 0) if x else "–" for x in present])
        rss = _slash([num(x.rss_mb, 0) if x else "–" for x in present])
        err = _slash([str(x.errors) if x else "–" for x in present])
        lines.append(
            f"| {label}, {unit} | {_value(n)} | {cluster} | {_value(s)} | {_value(got['swift'])} "
            f"| {vs[0]} | {vs[1]} | {lat} | {cpu} | {rss} | {err} |"
        )
    return lines


def cluster_table(st: dict[tuple[str, str], Stat]) -> list[str]:
    lines = [
        "| workload | Ninefold embedded | Ninefold cluster | cluster ÷ embedded "
        "| p50 / p99 ms: embedded · cluster "
        "| server CPU µs/op: embedded · cluster (gateway + nodes + worker) "
        "| + PostgreSQL backends & Redis, µs/op | peak RSS MB: embedded · cluster | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for workload, label, unit, _ in WORKLOADS:
        n, c = st.get(("ninefold", workload)), st.get(("ninefold-cluster", workload))
        if not c:
            continue
        r = ratio(c.value, n.value if n else None)
        lines.append(
            f"| {label}, {unit} | {_value(n)} | {_value(c)} | {times(r)} "
            f"| {num(n.p50 if n else None, 1)} / {num(n.p99 if n else None, 1)} · "
            f"{num(c.p50, 1)} / {num(c.p99, 1)} "
            f"| {num(n.cpu_us if n else None, 0)} · {num(c.cpu_us, 0)} "
            f"| {num(c.helper_cpu_us, 0)} "
            f"| {num(n.rss_mb if n else None, 0)} · {num(c.rss_mb, 0)} | {c.errors} |"
        )
    return lines


def _wrk(rows: list[dict[str, Any]], name: str) -> tuple[float | None, float | None, int]:
    g = [r for r in rows if r.get("tool") == "wrk" and r.get("workload") == name]
    field = "mb_per_s" if name == "static-get-64m" else "req_per_s"
    return _med(r.get(field) for r in g), _med(r["lat_ms"].get("p99") for r in g), len(g)


def also_table(st: dict[tuple[str, str], Stat], rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| check | measured | target | result |", "|---|---|---|---|"]
    n, s = st.get(("ninefold", "small-get")), st.get(("seaweedfs", "small-get"))
    if n or s:
        ok = None if not (n and s and n.p99 and s.p99) else n.p99 <= s.p99
        lines.append(
            f"| GET 4 KiB p99 | Ninefold {num(n.p99 if n else None, 1)} ms, SeaweedFS "
            f"{num(s.p99 if s else None, 1)} ms | ≤ SeaweedFS's | {verdict(ok)} |"
        )
    nginx, _, nruns = _wrk(rows, "static-get-64m")
    if nginx:
        for t in ("ninefold", "ninefold-cluster", "seaweedfs"):
            g = st.get((t, "large-get"))
            share = ratio(g.value if g else None, nginx)
            target = f"≥ {NGINX_SHARE_GOAL:.0%}" if t == "ninefold" else "(for comparison)"
            ok = None if share is None or t != "ninefold" else share >= NGINX_SHARE_GOAL
            lines.append(
                f"| GET 64 MiB, {NAMES[t]} ÷ nginx static (same 4 connections) "
                f"| {num(g.value if g else None)} ÷ {num(nginx)} MB/s = "
                f"{'–' if share is None else f'{share:.0%}'} | {target} | {verdict(ok)} |"
            )
    for r in rows:
        if r.get("tool") != "check" or r.get("check") == "list_scale":
            continue
        what = {
            "durability": (
                "PUT durability: kill -9 of the server",
                "every acknowledged PUT survives",
            ),
            "large_put_layout": (
                "PUT 64 MiB: erasure coding, checksums, ETag",
                "6+3 EC, CRC64NVME and MD5 ETag computed",
            ),
        }.get(r["check"], (r["check"], ""))
        cmd = f"`{r['command']}`: " if r.get("command") else ""
        lines.append(f"| {what[0]} | {cmd}{r.get('detail', '')} | {what[1]} | {verdict(r['ok'])} |")
    for r in rows:
        if r.get("tool") == "check" and r.get("check") == "list_scale":
            lines.append(
                f"| LIST page at scale | list_scale.py failed: {r.get('detail', '')} "
                f"| ≤ {LIST_SCALE_GOAL}× | {verdict(False)} |"
            )
    for backend, small, big, r in _list_scale(rows):
        if r["case"] == "flat, from start":
            ok = r["ratio"] <= LIST_SCALE_GOAL
            lines.append(
                f"| LIST page at {big:,} vs {small:,} objects ({backend}, flat, as s3bench lists) "
                f"| {r['small']:.1f} vs {r['big']:.1f} ms = {r['ratio']:.2f}× "
                f"| ≤ {LIST_SCALE_GOAL}× | {verdict(ok)} |"
            )
    if nruns:
        lines.append("")
        lines.append(f"nginx: median of {nruns} wrk runs, see the table below.")
    return lines


def _list_scale(rows: list[dict[str, Any]]) -> list[tuple[str, int, int, dict[str, Any]]]:
    got: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("tool") == "list_scale":
            got[(r["backend"], r["case"])][int(r["objects"])].append(float(r["page_ms"]))
    out = []
    for (backend, case), by_size in got.items():
        if len(by_size) < 2:
            continue
        small, big = min(by_size), max(by_size)
        a, b = statistics.median(by_size[small]), statistics.median(by_size[big])
        out.append(
            (backend, small, big, {"case": case, "small": a, "big": b, "ratio": b / a if a else 0})
        )
    return out


def list_scale_table(rows: list[dict[str, Any]]) -> list[str]:
    data = _list_scale(rows)
    if not data:
        return []
    small, big = data[0][1], data[0][2]
    lines = [
        f"| metadata | case | page ms at {small:,} | page ms at {big:,} | ratio (≤ "
        f"{LIST_SCALE_GOAL}×) |",
        "|---|---|---|---|---|",
    ]
    for backend, _, _, r in data:
        mark = "" if r["ratio"] <= LIST_SCALE_GOAL else " **over**"
        lines.append(
            f"| {backend} | {r['case']} | {r['small']:.1f} | {r['big']:.1f} "
            f"| {r['ratio']:.2f}×{mark} |"
        )
    return lines


def nginx_table(st: dict[tuple[str, str], Stat], rows: list[dict[str, Any]]) -> list[str]:
    big, big_p99, nbig = _wrk(rows, "static-get-64m")
    small, small_p99, nsmall = _wrk(rows, "static-get-4k")
    if not nbig and not nsmall:
        return []
    lines = [
        "| nginx static file (wrk, 1 thread) | median | p99 ms | Ninefold (s3bench) "
        "| Ninefold ÷ nginx |",
        "|---|---|---|---|---|",
    ]
    g = st.get(("ninefold", "large-get"))
    share = ratio(g.value if g else None, big)
    lines.append(
        f"| GET /64m.bin, 4 connections (n={nbig}) | {num(big)} MB/s | {num(big_p99, 1)} "
        f"| {num(g.value if g else None)} MB/s | {'–' if share is None else f'{share:.0%}'} |"
    )
    g = st.get(("ninefold", "small-get"))
    share = ratio(g.value if g else None, small)
    lines.append(
        f"| GET /4k.bin, 32 connections (n={nsmall}) | {num(small)} req/s | "
        f"{num(small_p99, 1)} | {num(g.value if g else None)} ops/s "
        f"| {'–' if share is None else f'{share:.0%}'} |"
    )
    return lines


def _env(rows: list[dict[str, Any]]) -> dict[str, Any]:
    envs = [r for r in rows if r.get("tool") == "harness"]
    if not envs:
        return {}
    env = dict(envs[-1])
    env["started"] = min(e.get("started", "") for e in envs)
    env["finished"] = max(e.get("finished", "") for e in envs)
    env["commands"] = list(dict.fromkeys(c for e in envs for c in e.get("commands", [])))
    env["failures"] = {k: v for e in envs for k, v in (e.get("failures") or {}).items()}
    return env


def _step(row: dict[str, Any]) -> str:
    return {"wrk": "nginx", "check": "checks", "list_scale": "checks"}.get(row.get("tool", ""), "")


def _runs_line(st: dict[tuple[str, str], Stat]) -> str:
    parts = []
    for t in TARGETS:
        runs = sorted({s.runs for (tt, _), s in st.items() if tt == t})
        if runs:
            parts.append(f"{NAMES[t]} {'/'.join(map(str, runs))}")
    return ", ".join(parts)


def render(rows: list[dict[str, Any]], raw_files: list[str], command: str | None = None) -> str:
    """The markdown between the ``<!-- suite -->`` markers (``command``: default, the first
    command the harness recorded)."""
    st = stats(rows)
    env = _env(rows)
    command = command or (env.get("commands") or ["make bench"])[0]
    machine = env.get("machine", {})
    versions = env.get("versions", {})
    out = []
    started, finished = str(env.get("started") or "?"), str(env.get("finished") or "?")
    when = f"{started[:10]} {started[11:16]}–{finished[11:16]} UTC"
    if finished[:10] != started[:10]:
        when = f"{started[:16].replace('T', ' ')} – {finished[:16].replace('T', ' ')} UTC"
    out.append(
        f"Measured {when} with `{command}` on {machine.get('cores', '?')} cores "
        f"({machine.get('cpu', '?')}), {machine.get('ram_gib', '?')} GiB RAM, Linux "
        f"{machine.get('kernel', '?')}; client and servers share the cores."
    )
    if versions:
        out.append("")
        out.append("Versions: " + "; ".join(f"{k} {v}" for k, v in versions.items()) + ".")
    out.append("")
    out.append(
        f"Each figure is the median over runs of one target (runs: {_runs_line(st) or '–'}); "
        "a ratio is the ratio of two medians. `*` = a run of that workload was cut by s3bench's "
        "time limit (fewer ops than planned). Raw JSON lines: "
        + ", ".join(f"`{f}`" for f in raw_files)
        + "."
    )
    # a failure of an earlier invocation that a later one made good is no failure
    measured = {t for (t, _) in st} | {_step(r) for r in rows}
    failures = {k: v for k, v in (env.get("failures") or {}).items() if k not in measured}
    if failures:
        out.append("")
        out.append(
            "**Not measured:** "
            + "; ".join(f"{NAMES.get(k, k)}: {v}" for k, v in failures.items())
            + "."
        )
    out += ["", *main_table(st), ""]
    notes = []
    sw = st.get(("swift", "list"))
    if sw and sw.keys_per_page and sw.keys_per_page < 999:
        notes.append(
            f"Swift is benchmarked with fewer objects (its README: ~40 PUT/s), so its LIST pages "
            f"hold {sw.keys_per_page:,.0f} keys instead of 1,000: its pages/s flatter it."
        )
    elif sw:
        notes.append(
            "Swift is benchmarked with 1,000 small objects instead of 4,000 (it does ~40 "
            "PUT/s) and a 60 s time bound: its LIST pages still hold 1,000 keys."
        )
    notes.append(
        "Server CPU and RSS count the pidfile's processes and all their descendants (RSS summed "
        "over them, sampled every 0.1 s by the harness, peak within each workload's time "
        "window). For Swift that is proxy, 9 storage servers, memcached and rsyslogd; for the "
        "cluster, `cluster up` with its gateway, 9 nodes and worker — PostgreSQL and Redis are "
        "not descendants; their CPU is in the cluster table."
    )
    out += [f"* {n}" for n in notes]
    ct = cluster_table(st)
    if len(ct) > 2:
        out += [
            "",
            "**Ninefold cluster** (`ninefold cluster up`: 9 nodes in 3 zones, 1 gateway, "
            "worker, PostgreSQL metadata, Redis cache) against the embedded server:",
            "",
            *ct,
        ]
    at = also_table(st, rows)
    if len(at) > 2:
        out += ["", "**The other requirements of issue 6:**", "", *at]
    nt = nginx_table(st, rows)
    if nt:
        out += ["", "**nginx static ceiling** (same machine, same run):", "", *nt]
    lt = list_scale_table(rows)
    if lt:
        out += [
            "",
            "**LIST page time at scale** (`benchmarks/list_scale.py`: 1,000-key pages through "
            "the MetaStore, medians):",
            "",
            *lt,
        ]
    cmds = env.get("commands") or []
    if cmds:
        out += [
            "",
            "<details><summary>Exact commands</summary>",
            "",
            "`$KIT` = the shared bench kit (`../shared/bench`), `$D` = "
            "`${NINEFOLD_PEERS_DATA:-~/.cache/ninefold-peers}`, `$PY` = "
            "`$D/venv/bench/bin/python` (the kit's client venv).",
            "",
            "```",
            *cmds,
            "```",
            "",
            "</details>",
        ]
    return "\n".join(out)
