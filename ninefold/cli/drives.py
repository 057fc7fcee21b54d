"""``ninefold admin drive list|replace``: the identity of an embedded server's or a node's drives.

``list`` shows, per drive slot, what ``node/drive.py`` sees there: ok (with its uuid), or why it
failed. ``replace`` formats a replacement for a failed slot: the path must be missing or an
empty directory (a new disk mounted there); it gets ``frag/``, ``tmp/`` and a marker with a new
uuid. A running server or node notices it at its next health probe and uses it again; repair
then rebuilds onto it what is still missing, and the rebalancer moves back the fragments that
repair had to double up on other drives meanwhile. A healthy drive, or a directory with content,
is refused: this command never hides data.

Works on files only (no server needed, nothing from metadata): an embedded server's slots are
``DATA_DIR/drives/dN`` with owner ``embedded``; a node's slot is the path given with its drive
name and the node's id as owner.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ninefold.node.drive import (
    EMBEDDED_OWNER,
    DriveIdentity,
    format_drive,
    identity_problem,
    read_marker,
)

__all__ = ["DriveSlot", "ReplaceRefused", "drive_lines", "replace_drive", "slots"]


class ReplaceRefused(ValueError):
    """The slot cannot be formatted (healthy, or not empty); the message says why."""


@dataclass(frozen=True, slots=True)
class DriveSlot:
    name: str
    path: Path
    owner: str


def slots(
    data_dir: Path | None, node_id: str | None, paths: list[Path], drive_count: int | None = None
) -> list[DriveSlot]:
    """The slots named on the command line: an embedded server's ``DATA_DIR/drives/d*`` (the
    directories there, or ``d1..d<drive_count>``), or a node's paths (``d1``, ``d2`` ... in
    the order given, as ``ninefold node --drive`` numbers them)."""
    if data_dir is not None:
        base = data_dir / "drives"
        if drive_count is None:
            found = (
                [p.name for p in base.iterdir() if p.name[1:].isdigit()] if base.is_dir() else []
            )
            drive_count = max((int(n[1:]) for n in found), default=9)
            drive_count = max(drive_count, 9)
        return [
            DriveSlot(f"d{i}", base / f"d{i}", EMBEDDED_OWNER) for i in range(1, drive_count + 1)
        ]
    if not node_id or not paths:
        raise ValueError("give --data-dir, or --node-id and the node's --path (in order)")
    return [DriveSlot(f"d{i}", p, node_id) for i, p in enumerate(paths, 1)]


def drive_lines(drive_slots: list[DriveSlot]) -> list[str]:
    """One line per slot: name, ``ok`` or ``failed``, uuid, path, and why it failed."""
    out = [f"{'DRIVE':<6} {'STATE':<6} {'UUID':<32}  PATH"]
    for slot in drive_slots:
        problem = identity_problem(slot.path, slot.name, slot.owner, None)
        ident = None
        if problem is None:
            try:
                ident = read_marker(slot.path)
            except ValueError as exc:
                problem = str(exc)
        state = "ok" if ident is not None else "failed"
        line = f"{slot.name:<6} {state:<6} {ident.uuid if ident else '-':<32}  {slot.path}"
        out.append(line + (f"  ({problem})" if problem else ""))
    return out


def replace_drive(slot: DriveSlot) -> tuple[DriveIdentity, str]:
    """Format ``slot`` anew (see the module docstring); returns its identity and a line about
    the file system it is on. ReplaceRefused when the slot is healthy or not empty."""
    path = slot.path
    if identity_problem(path, slot.name, slot.owner, None) is None:
        raise ReplaceRefused(f"drive {slot.name} at {path} is healthy: nothing to replace")
    if path.exists():
        if not path.is_dir():
            raise ReplaceRefused(f"{path} is not a directory")
        content = sorted(os.listdir(path))
        if content:
            shown = ", ".join(content[:5]) + (" ..." if len(content) > 5 else "")
            raise ReplaceRefused(
                f"{path} is not empty ({shown}): give an empty directory (the new disk's "
                "mountpoint, mounted); nothing was changed"
            )
    ident = format_drive(path, slot.name, slot.owner)
    usage = shutil.disk_usage(path)
    where = f"file system of {path}: {usage.total / 1e9:,.1f} GB, {usage.free / 1e9:,.1f} GB free"
    return ident, where
