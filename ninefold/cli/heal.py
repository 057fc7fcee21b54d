"""``ninefold admin heal status``: what repair and scrub have done and what is left.

Reads the job status the workers write into metadata (``job_status``) and the length of the
repair queue; renders a rich progress bar (repaired vs still queued), the rebuild rate and an
ETA, and the scrubber's position in its pass.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

__all__ = ["heal_view"]


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def heal_view(status: dict[str, tuple[dict[str, Any], float]], queued: int, now: float) -> Group:
    repair, repair_at = status.get("repair", ({}, 0.0))
    scrub, scrub_at = status.get("scrub", ({}, 0.0))
    repaired = int(repair.get("chunks_repaired", 0))
    rate = float(repair.get("bytes_per_s", 0.0))
    per_chunk = repair.get("bytes_rebuilt", 0) / repaired if repaired else 0.0
    eta = (queued * per_chunk / rate) if rate > 0 and queued else 0.0
    progress = Progress(
        TextColumn("[bold]repair"),
        BarColumn(bar_width=40),
        TaskProgressColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} chunks"),
        auto_refresh=False,
    )
    progress.add_task("repair", total=max(1, repaired + queued), completed=repaired)
    table = Table(show_header=False, box=None)
    table.add_row("queued chunks", f"{queued:,}")
    table.add_row("chunks repaired", f"{repaired:,}")
    table.add_row("fragments rebuilt", f"{repair.get('fragments_rebuilt', 0):,}")
    table.add_row("bytes rebuilt", _mb(repair.get("bytes_rebuilt", 0)))
    table.add_row("rebuild rate", f"{rate / 1e6:,.1f} MB/s")
    table.add_row("ETA", f"{eta:,.0f} s" if queued else "-")
    table.add_row("waiting for down nodes", f"{repair.get('waiting_for_nodes', 0):,}")
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
