"""``ninefold admin durability``: the live cluster's annual durability, in nines.

Reads the layout (nodes, drives per zone) from the cluster map, or from an embedded server's
data directory (one node, one zone, its drive directories), and the rebuild rate the repair
worker measured (its job status, ``bytes_per_s``); hands them with the operator's assumptions
to the Markov model in ``ninefold.placement.durability`` and renders inputs and results as a
table. Every assumed input is labelled as such, and a repair rate that was never measured is
said to be assumed in so many words. Reads metadata only; never writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ninefold.cli.compose import ClusterMap, open_meta
from ninefold.erasure.scheme import Scheme
from ninefold.placement.durability import (
    HOURS_PER_YEAR,
    ClusterInputs,
    DurabilityEstimate,
    estimate,
)

__all__ = [
    "MAX_NINES",
    "Assumptions",
    "Layout",
    "durability_command",
    "durability_view",
    "format_nines",
    "layout_from_map",
    "measured_repair_rate",
]

#: more nines than this are below what the model's assumptions can vouch for
MAX_NINES = 15.0

EMBEDDED_ZONE = "local"


@dataclass(frozen=True, slots=True)
class Assumptions:
    """The operator's inputs (SI units: bytes, bytes/s, seconds; rates as fractions per year).
    ``used_bytes``: bytes on all drives together, parity included (None: ``bytes_per_drive``)."""

    scheme: Scheme
    drive_afr: float
    zone_afr: float
    bytes_per_drive: float
    used_bytes: int | None
    assumed_repair_bytes_per_s: float
    lost_after_s: float
    chunks: int | None

    @classmethod
    def from_options(
        cls,
        scheme: str,
        afr_percent: float,
        zone_afr_percent: float,
        device_tb: float,
        used_bytes: int | None,
        assume_repair_mb_s: float,
        lost_after_s: float,
        chunks: int | None,
    ) -> Assumptions:
        """From the command's options (percent per year, TB, MB/s); ValueError if they make
        no sense."""
        if not 0 < afr_percent < 100 or not 0 <= zone_afr_percent < 100:
            raise ValueError("--afr is in (0, 100) and --zone-afr in [0, 100) percent per year")
        if assume_repair_mb_s <= 0:
            raise ValueError("--assume-repair-mb-s must be positive")
        if used_bytes is None and device_tb <= 0:
            raise ValueError("--device-tb must be positive")
        return cls(
            scheme=Scheme.parse(scheme),
            drive_afr=afr_percent / 100,
            zone_afr=zone_afr_percent / 100,
            bytes_per_drive=device_tb * 1e12,
            used_bytes=used_bytes,
            assumed_repair_bytes_per_s=assume_repair_mb_s * 1e6,
            lost_after_s=lost_after_s,
            chunks=chunks,
        )


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the fragments live: ``zones`` maps each zone to its number of drives;
    ``unavailable`` lists nodes that are down or draining right now."""

    source: str
    nodes: int
    zones: dict[str, int]
    unavailable: tuple[str, ...] = ()

    @property
    def drives(self) -> int:
        return sum(self.zones.values())


def layout_from_map(cluster: ClusterMap) -> Layout:
    """Drives per zone of every node in the map (down and draining nodes too: their data
    counts until it is moved)."""
    zones: dict[str, int] = {}
    for node in cluster.nodes:
        zones[node.zone] = zones.get(node.zone, 0) + len(node.drives)
    unavailable = tuple(n.node_id for n in cluster.nodes if n.state != "up" or n.health != "ok")
    return Layout(f"cluster map v{cluster.version}", len(cluster.nodes), zones, unavailable)


def measured_repair_rate(status: dict[str, tuple[dict[str, Any], float]]) -> float:
    """Bytes per second the repair worker rebuilt while busy; 0 when it never rebuilt anything.

    >>> measured_repair_rate({}), measured_repair_rate({"repair": ({"bytes_per_s": 8e7}, 1.0)})
    (0.0, 80000000.0)
    """
    repair, _ = status.get("repair", ({}, 0.0))
    return max(0.0, float(repair.get("bytes_per_s", 0.0) or 0.0))


async def _read_cluster(dsn: str) -> tuple[Layout, float]:
    if not dsn.startswith(("postgresql://", "postgres://")):
        path = Path(dsn.removeprefix("sqlite://"))
        if not path.is_file():  # open_meta would create an empty database
            raise ValueError(f"no metadata database at {path}")
    meta = await open_meta(dsn)
    try:
        cluster = await meta.get_cluster_map()
        status = await meta.get_job_status()
    finally:
        await meta.close()
    if not cluster.nodes:
        raise ValueError(
            "the cluster map has no nodes (add them with `ninefold admin node add`; "
            "for an embedded server use --data-dir)"
        )
    return layout_from_map(cluster), measured_repair_rate(status)


async def _read_embedded(data_dir: Path) -> tuple[Layout, float]:
    meta_path = data_dir / "meta.db"
    if not meta_path.is_file():
        raise ValueError(f"{data_dir} is not a Ninefold data directory (no meta.db)")
    drives_dir = data_dir / "drives"
    drives = (
        [d for d in drives_dir.iterdir() if d.is_dir() and d.name.startswith("d")]
        if drives_dir.is_dir()
        else []
    )
    if not drives:
        raise ValueError(f"no drive directories under {drives_dir}")
    meta = await open_meta(str(meta_path))
    try:
        status = await meta.get_job_status()
    finally:
        await meta.close()
    layout = Layout(f"embedded server {data_dir}", 1, {EMBEDDED_ZONE: len(drives)})
    return layout, measured_repair_rate(status)


def format_nines(nines: float) -> str:
    """Nines for people: one decimal, capped at ``MAX_NINES``.

    >>> format_nines(3.0), format_nines(11.06), format_nines(float('inf')), format_nines(0.01)
    ('3.0 nines', '11.1 nines', '> 15 nines', '0.0 nines')
    """
    if nines > MAX_NINES:
        return f"> {MAX_NINES:g} nines"
    return f"{nines:.1f} nines"


def _years(hours: float) -> str:
    years = hours / HOURS_PER_YEAR
    return f"{years:.2e} years" if years >= 1e4 else f"{years:,.1f} years"


def _hours(hours: float) -> str:
    return f"{hours:,.1f} h" if hours >= 1 else f"{hours * 60:,.1f} min"


def _probability(p: float) -> str:
    return "0" if p == 0 else f"{p:.2e}"


def durability_view(
    layout: Layout, measured_bytes_per_s: float, assumptions: Assumptions
) -> tuple[Group, DurabilityEstimate]:
    """The table of inputs and results, with the verdict under it, and the estimate itself."""
    scheme = assumptions.scheme
    if layout.drives < scheme.width:
        raise ValueError(
            f"{scheme.name} needs {scheme.width} drives, the cluster has {layout.drives}"
        )
    measured = measured_bytes_per_s > 0
    rate = measured_bytes_per_s if measured else assumptions.assumed_repair_bytes_per_s
    if assumptions.used_bytes is not None:
        per_drive = assumptions.used_bytes / layout.drives
        per_drive_note = f"--used-bytes {assumptions.used_bytes:,} over {layout.drives} drives"
    else:
        per_drive = assumptions.bytes_per_drive
        per_drive_note = "assumed (--device-tb)"
    result = estimate(
        ClusterInputs(
            k=scheme.k,
            m=scheme.m,
            zone_drives=tuple(layout.zones.values()),
            drive_afr=assumptions.drive_afr,
            zone_afr=assumptions.zone_afr,
            repair_bytes_per_s=rate,
            bytes_per_drive=per_drive,
            detect_s=assumptions.lost_after_s,
            chunks=assumptions.chunks,
        )
    )
    table = Table(title=f"durability of {layout.source}")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_column("source")
    zones = ", ".join(f"{zone}: {count}" for zone, count in sorted(layout.zones.items()))
    table.add_row("scheme", f"{scheme.name} (k={scheme.k}, m={scheme.m})", "--scheme")
    table.add_row("nodes", f"{layout.nodes}", layout.source)
    table.add_row("drives", f"{layout.drives}", "")
    table.add_row("zones", f"{len(layout.zones)}", f"drives per zone: {zones}")
    table.add_row("drive AFR", f"{assumptions.drive_afr:.2%}/yr", "assumed (--afr)")
    table.add_row("zone loss rate", f"{assumptions.zone_afr:.2%}/yr", "assumed (--zone-afr)")
    table.add_row(
        "repair rate",
        f"{rate / 1e6:,.1f} MB/s",
        "measured by the repair worker"
        if measured
        else "[bold yellow]ASSUMED[/]: no repair measured yet (--assume-repair-mb-s)",
    )
    table.add_row("data per drive", f"{per_drive / 1e12:,.3f} TB", per_drive_note)
    table.add_row("detection delay", f"{assumptions.lost_after_s:,.0f} s", "--lost-after-s")
    table.add_row("MTTR, one drive", _hours(result.mttr_h), "delay + data per drive / rate")
    table.add_row(
        "MTTR, one zone", _hours(result.zone_mttr_h), "delay + data of the largest zone / rate"
    )
    table.add_row("MTTDL, one stripe", _years(result.mttdl_h), "Markov chain, drive failures")
    table.add_row(
        "placement groups",
        f"{result.groups:,.1f}",
        "equivalent independent stripes" + (" (--chunks)" if assumptions.chunks else ""),
    )
    verdict = (
        f"survivable ({result.zone_share} <= m={scheme.m})"
        if result.zone_survivable
        else f"[bold red]data loss[/] ({result.zone_share} > m={scheme.m})"
    )
    table.add_row("zone loss takes", f"{result.zone_share} of {scheme.width} fragments", verdict)
    table.add_row(
        "P(loss | zone lost)",
        _probability(result.zone_loss_given_outage),
        "other drives down already or failing during its rebuild",
    )
    table.add_row("P(loss/yr), drives", _probability(result.annual_loss_drives), "")
    table.add_row("P(loss/yr), zones", _probability(result.annual_loss_zones), "")
    table.add_row("P(loss/yr)", _probability(result.annual_loss), "")
    table.add_row("durability", f"[bold]{format_nines(result.nines)}[/]", "-log10 P(loss/yr)")
    lines: list[Text | Table] = [table]
    if not measured:
        lines.append(
            Text(
                "No repair rate was ever measured on this cluster (the repair worker has not "
                f"rebuilt anything yet): assuming {rate / 1e6:g} MB/s.",
                style="yellow",
            )
        )
    if layout.unavailable:
        lines.append(
            Text(
                f"Nodes down or draining now: {', '.join(layout.unavailable)}; the model starts "
                "from a healthy cluster.",
                style="yellow",
            )
        )
    lines.append(
        Text.from_markup(
            f"Annual durability: [bold]{format_nines(result.nines)}[/] "
            f"(P(data loss within a year) = {_probability(result.annual_loss)}); "
            "model: docs/durability.md"
        )
    )
    return Group(*lines), result


async def durability_command(
    meta: str | None, data_dir: Path | None, assumptions: Assumptions
) -> Group:
    """Read the cluster (``meta``) or the embedded server (``data_dir``), exactly one of them,
    and build the view. Bad input raises ValueError with a message for the operator."""
    if (meta is None) == (data_dir is None):
        raise ValueError(
            "give exactly one of --meta (a cluster's metadata) or --data-dir (an embedded "
            "server's data directory)"
        )
    if data_dir is not None:
        layout, rate = await _read_embedded(data_dir)
    else:
        layout, rate = await _read_cluster(str(meta))
    view, _ = durability_view(layout, rate, assumptions)
    return view
