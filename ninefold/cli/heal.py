"""``ninefold admin heal status``: what repair and scrub have done and what is left.

Reads the job status the workers write into metadata (``job_status``) and the length of the
repair queue; renders a rich progress bar (repaired vs still queued), the rebuild rate and an
ETA, failed and down drives, and the scrubber's position in its pass.

The ETA is the queue length over the rate at which chunks were actually repaired in the recent
rounds (``chunks_per_s``, measured by the repair worker over its last minute): "unknown" until
a rate has been measured, or when nothing was repaired recently while work remains (chunks
waiting for a drive, or failing) -- never a small number that would not come true.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

__all__ = ["format_eta", "heal_view", "repair_eta"]


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def repair_eta(queued: int, chunks_per_s: float | None) -> float | None:
    """Seconds until the queue is empty at the measured rate: 0 with nothing queued, None
    (unknown) when no rate has been measured or nothing was repaired recently.

    >>> repair_eta(0, None), repair_eta(10, None), repair_eta(10, 0.0), repair_eta(10, 2.0)
    (0.0, None, None, 5.0)
    """
    if queued <= 0:
        return 0.0
    if chunks_per_s is None or chunks_per_s <= 0:
        return None
    return queued / chunks_per_s


def format_eta(queued: int, chunks_per_s: float | None) -> str:
    """The ETA as shown: "-" (nothing to do), "unknown", or ``1 h 02 min``, ``3 min 05 s``,
    ``42 s``.

    >>> format_eta(0, None), format_eta(5, None), format_eta(5, 0.5), format_eta(4000, 1.0)
    ('-', 'unknown', '10 s', '1 h 06 min')
    """
    eta = repair_eta(queued, chunks_per_s)
    if queued <= 0:
        return "-"
    if eta is None:
        return "unknown"
    seconds = round(eta)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{max(seconds, 1)} s"


def heal_view(status: dict[str, tuple[dict[str, Any], float]], queued: int, now: float) -> Group:
    repair, repair_at = status.get("repair", ({}, 0.0))
    scrub, scrub_at = status.get("scrub", ({}, 0.0))
    repaired = int(repair.get("chunks_repaired", 0))
    rate = float(repair.get("bytes_per_s", 0.0))
    raw_chunk_rate = repair.get("chunks_per_s")
    chunk_rate = None if raw_chunk_rate is None else float(raw_chunk_rate)
    progress = Progress(
        TextColumn("[bold]repair"),
        BarColumn(bar_width=40),
        TaskProgressColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} chunks"),
        auto_refresh=False,
    )
    progress.add_task("repair", total=max(1, repaired + queued), completed=repaired)
    table = Table(show_header=False, box=None)
    table.add_row("failed drives", ", ".join(repair.get("lost_stores", [])) or "none")
    table.add_row("down drives", ", ".join(repair.get("down_stores", [])) or "none")
    table.add_row("chunks to rebuild", f"{queued:,}")
    table.add_row("chunks repaired", f"{repaired:,}")
    table.add_row("fragments rebuilt", f"{repair.get('fragments_rebuilt', 0):,}")
    table.add_row("bytes rebuilt", _mb(repair.get("bytes_rebuilt", 0)))
    window = float(repair.get("rate_window_s", 0.0))
    table.add_row(
        "repair rate",
        "not measured yet"
        if chunk_rate is None
        else f"{chunk_rate:,.2f} chunks/s over the last {window:,.0f} s",
    )
    table.add_row("rebuild rate (busy)", f"{rate / 1e6:,.1f} MB/s")
    table.add_row("ETA", format_eta(queued, chunk_rate))
    table.add_row("waiting for down nodes", f"{repair.get('waiting_for_nodes', 0):,}")
    table.add_row("backing off after a failure", f"{repair.get('backing_off', 0):,}")
    table.add_row("failed attempts", f"{repair.get('failed', 0):,}")
    table.add_row("repair updated", f"{now - repair_at:,.0f} s ago" if repair_at else "never")
    table.add_row("scrub passes done", f"{scrub.get('passes', 0):,}")
    table.add_row(
        "scrubbed (this run)",
        f"{scrub.get('fragments_checked', 0):,} fragments, {_mb(scrub.get('bytes_checked', 0))}",
    )
    table.add_row("bad chunks found", f"{scrub.get('bad_found', 0):,}")
    table.add_row("scrub position", str(scrub.get("cursor", "")) or "start of a pass")
    table.add_row("scrub updated", f"{now - scrub_at:,.0f} s ago" if scrub_at else "never")
    return Group(progress.get_renderable(), table)
