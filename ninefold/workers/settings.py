"""Settings of the background jobs: one frozen dataclass per job, units in the names.

These are the only place their defaults are written down. The CLI (``ninefold.cli.config``)
builds them once from flags, the environment and a TOML file and passes them to the workers,
which take them as a required constructor argument and carry no defaults of their own. Every
field's ``help`` metadata is what ``ninefold config show`` and docs/design.md describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "GcSettings",
    "HealthSettings",
    "OrphanSettings",
    "RebalanceSettings",
    "RepairSettings",
    "ScrubSettings",
    "bytes_per_s",
]


def _help(text: str, *, min_value: float = 0.0) -> dict[str, object]:
    return {"help": text, "min": min_value}


def bytes_per_s(mb_per_s: float) -> float | None:
    """A throttle given in MB/s (0: unthrottled) as bytes per second (None: unthrottled).

    >>> bytes_per_s(50.0), bytes_per_s(0.0)
    (50000000.0, None)
    """
    return mb_per_s * 1e6 or None


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """The health monitor: node heartbeats (cluster) or drive checks (embedded server)."""

    interval_s: float = field(
        default=1.0, metadata=_help("seconds between two probes of every node", min_value=0.01)
    )
    down_after_s: float = field(
        default=3.0, metadata=_help("a node (or drive) silent this long is marked down")
    )
    probe_timeout_s: float = field(
        default=1.0, metadata=_help("deadline of one probe", min_value=0.01)
    )


@dataclass(frozen=True, slots=True)
class GcSettings:
    """Garbage collection of replaced and deleted versions' fragments (the grace period is the
    coordinator's ``gc_grace_s``)."""

    interval_s: float = field(
        default=10.0, metadata=_help("seconds between two GC rounds", min_value=0.01)
    )
    batch: int = field(default=500, metadata=_help("GC queue entries per batch", min_value=1))
    max_batches: int = field(default=20, metadata=_help("batches per round at most", min_value=1))


@dataclass(frozen=True, slots=True)
class RepairSettings:
    """The repair worker (rebuilds missing fragments of queued chunks and of lost nodes)."""

    interval_s: float = field(
        default=2.0, metadata=_help("seconds between two repair rounds", min_value=0.01)
    )
    lost_after_s: float = field(
        default=300.0,
        metadata=_help("a node down this long is lost: its fragments are rebuilt elsewhere"),
    )
    mb_per_s: float = field(default=0.0, metadata=_help("repair throttle, MB/s (0: unthrottled)"))
    batch: int = field(default=64, metadata=_help("queued chunks per round", min_value=1))
    concurrency: int = field(default=4, metadata=_help("chunks repaired at once", min_value=1))

    @property
    def max_bytes_per_s(self) -> float | None:
        return bytes_per_s(self.mb_per_s)


@dataclass(frozen=True, slots=True)
class ScrubSettings:
    """The scrubber (verifies every fragment's checksums, queues bad chunks for repair)."""

    interval_s: float = field(
        default=30.0, metadata=_help("seconds between two scrub rounds", min_value=0.01)
    )
    mb_per_s: float = field(default=50.0, metadata=_help("scrub throttle, MB/s (0: unthrottled)"))
    chunks_per_round: int = field(default=200, metadata=_help("chunks per round", min_value=1))
    # one chunk at a time: a paced background check needs no parallelism, and 4 chunks of 9
    # fragments with 16-block reads each held ~150 MB (a 5 GiB GET peaked at 423 MB RSS)
    concurrency: int = field(default=1, metadata=_help("chunks verified at once", min_value=1))

    @property
    def max_bytes_per_s(self) -> float | None:
        return bytes_per_s(self.mb_per_s)


@dataclass(frozen=True, slots=True)
class OrphanSettings:
    """Leftovers of crashed writes: orphan fragments (committed, but no metadata references
    them) and temp files (never committed) on the local drives of the embedded server and the
    nodes."""

    interval_s: float = field(
        default=600.0, metadata=_help("seconds between two orphan sweeps", min_value=0.01)
    )
    grace_s: float = field(
        default=3600.0,
        metadata=_help(
            "unreferenced fragments are deleted this long after they were written (local "
            "drives) or first seen (nodes); longer than any PUT takes"
        ),
    )
    tmp_max_age_s: float = field(
        default=3600.0,
        metadata=_help(
            "temp files of writes not written to this long are swept (at start and every "
            "interval_s)",
            min_value=60.0,
        ),
    )


@dataclass(frozen=True, slots=True)
class RebalanceSettings:
    """Rebalance and drain (moves fragments to where placement puts them now)."""

    interval_s: float = field(
        default=5.0, metadata=_help("seconds between two rebalance rounds", min_value=0.01)
    )
    mb_per_s: float = field(
        default=0.0, metadata=_help("rebalance throttle, MB/s (0: unthrottled)")
    )
    chunks_per_round: int = field(default=200, metadata=_help("chunks per round", min_value=1))
    concurrency: int = field(default=4, metadata=_help("chunks moved at once", min_value=1))

    @property
    def max_bytes_per_s(self) -> float | None:
        return bytes_per_s(self.mb_per_s)
