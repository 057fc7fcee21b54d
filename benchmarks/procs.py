"""Server processes seen from /proc: process trees, RSS and CPU sampled while a benchmark runs.

s3bench reports the server's CPU (the pidfile's PIDs and all their descendants) but not its
memory. ``Sampler`` reads the same set of processes every ``interval`` seconds in a thread and
keeps a timeline of (monotonic time, RSS summed over the tree); ``peak_rss`` then answers "peak
RSS between t0 and t1", so each workload of an s3bench run gets the peak of its own time window.

For the cluster target the sampler can also follow helper processes that are not descendants of
the server (the PostgreSQL backends of its database, the Redis server): their CPU is accumulated
so that ``helper_cpu_s(t0, t1)`` gives the CPU seconds they used in a window.
"""

from __future__ import annotations

import bisect
import glob
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")

__all__ = [
    "Sampler",
    "children_map",
    "pids_from_pidfiles",
    "tree",
    "tree_rss_bytes",
]


def pids_from_pidfiles(pattern: str) -> list[int]:
    """The PIDs listed in every pidfile matching ``pattern`` (a glob), unique, in order."""
    pids: list[int] = []
    for path in sorted(glob.glob(pattern)):
        try:
            pids += [int(w) for w in Path(path).read_text().split() if w.isdigit()]
        except OSError:
            continue
    return list(dict.fromkeys(pids))


def _ppid(stat: str) -> int:
    return int(stat.rsplit(")", 1)[1].split()[1])


def children_map() -> dict[int, list[int]]:
    """PID -> child PIDs, for every process on the host (one pass over /proc)."""
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    kids.setdefault(_ppid(f.read()), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def tree(roots: Iterable[int], kids: dict[int, list[int]] | None = None) -> set[int]:
    """``roots`` and all their descendants (the set s3bench counts as "the server")."""
    kids = children_map() if kids is None else kids
    seen: set[int] = set()
    stack = [p for p in roots if os.path.exists(f"/proc/{p}")]
    while stack:
        p = stack.pop()
        if p not in seen:
            seen.add(p)
            stack += kids.get(p, [])
    return seen


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of one process in clock ticks (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def tree_rss_bytes(roots: Iterable[int]) -> int:
    return sum(rss_bytes(p) for p in tree(roots))


class Sampler(threading.Thread):
    """Samples the RSS of a server's process tree (and the CPU of helper processes).

    ``pidfile`` is a glob like s3bench's ``--server-pidfile``; it is re-read at every rescan
    (about once a second), so the sampler may start before the server writes its pidfile.
    ``helpers`` returns the PIDs of processes to account CPU for besides the tree.
    """

    def __init__(
        self,
        pidfile: str,
        interval: float = 0.1,
        rescan: float = 1.0,
        helpers: Callable[[], Iterable[int]] | None = None,
    ) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pidfile = pidfile
        self.interval = interval
        self.rescan = rescan
        self.helpers = helpers
        self.times: list[float] = []
        self.rss: list[int] = []
        self.helper_cpu: list[float] = []
        self._helper_last: dict[int, int] = {}
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def run(self) -> None:
        members: set[int] = set()
        helpers: set[int] = set()
        next_scan = 0.0
        while not self._halt.is_set():
            now = time.monotonic()
            if now >= next_scan:
                roots = pids_from_pidfiles(self.pidfile)
                members = tree(roots) if roots else set()
                helpers = set(self.helpers()) if self.helpers else set()
                next_scan = now + self.rescan
            rss = sum(rss_bytes(p) for p in members)
            for p in helpers:
                ticks = cpu_ticks(p)
                if ticks is not None:  # a helper that exits keeps its last reading
                    self._helper_last[p] = ticks
            with self._lock:
                self.times.append(now)
                self.rss.append(rss)
                self.helper_cpu.append(sum(self._helper_last.values()) / TICK)
            self._halt.wait(self.interval)

    def _window(self, t0: float, t1: float) -> tuple[int, int]:
        """Index range of the samples in [t0, t1]; at least the sample nearest to the window."""
        with self._lock:
            lo = bisect.bisect_left(self.times, t0)
            hi = bisect.bisect_right(self.times, t1)
            n = len(self.times)
        if hi <= lo and n:  # a window shorter than the interval: the next sample after it
            lo, hi = min(lo, n - 1), min(lo, n - 1) + 1
        return lo, hi

    def peak_rss(self, t0: float, t1: float) -> tuple[int | None, int]:
        """(peak RSS in bytes, number of samples) over [t0, t1]."""
        lo, hi = self._window(t0, t1)
        with self._lock:
            values = [v for v in self.rss[lo:hi] if v]
        return (max(values) if values else None), len(values)

    def helper_cpu_s(self, t0: float, t1: float) -> float | None:
        """CPU seconds used by the helper processes between the samples bracketing [t0, t1]."""
        if not self.helpers:
            return None
        with self._lock:
            if not self.times:
                return None
            i0 = max(0, bisect.bisect_right(self.times, t0) - 1)
            i1 = min(len(self.times) - 1, bisect.bisect_left(self.times, t1))
            return max(0.0, self.helper_cpu[i1] - self.helper_cpu[i0])

    def overall_peak(self) -> int | None:
        with self._lock:
            return max(self.rss) if self.rss else None
