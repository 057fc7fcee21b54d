"""Drive identity: the marker file that makes a directory a Ninefold drive.

A drive directory is *formatted* once: ``.ninefold-drive`` (JSON: format version, drive name,
a random uuid, owner, creation time) is written next to ``frag/`` and ``tmp/``. From then on
the directory is a drive only while that marker is there and names the same drive and owner.
A path that is missing, or exists without a marker (the empty mountpoint of a disk that did
not mount), is never created or formatted behind the operator's back: writing there would put
the drive's data on whatever file system holds the mountpoint (the root file system) and hide
that the data on the real disk is gone. Such a drive is *failed*: its fragments count as lost,
repair rebuilds them on the other drives, and ``ninefold admin drive replace`` formats a
replacement (a new uuid: nothing of the old drive is assumed to be on it).

``check_drives`` decides, for the drives of one server or node, what happens at start:

* none of them has a marker and none holds data (missing or empty directories): a fresh data
  set, every drive is formatted (this is "format time");
* a drive with a matching marker is used;
* a drive without a marker whose content is Ninefold's layout (only ``frag/`` and ``tmp/``)
  is adopted -- a marker is written once -- when no drive of the set has a marker yet: a data
  set written before drive identities existed (the migration). An empty directory is adopted
  that way only when every drive of the set is empty (nothing was ever stored);
* anything else (missing, empty while others hold data, foreign content, a marker of another
  drive or owner) is failed.

Pure file-system code, no asyncio; it runs before the stores are built (and, for the health
probe, in the store's executor).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "EMBEDDED_OWNER",
    "FORMAT_VERSION",
    "MARKER",
    "DriveCheck",
    "DriveIdentity",
    "check_drives",
    "format_drive",
    "fsync_dir",
    "identity_problem",
    "read_marker",
]

MARKER = ".ninefold-drive"
#: the owner in the embedded server's markers (a node's drives name its node id)
EMBEDDED_OWNER = "embedded"
FORMAT_VERSION = 1
#: what a drive directory may hold besides its marker (the store's own layout)
LAYOUT = frozenset({"frag", "tmp"})


@dataclass(frozen=True, slots=True)
class DriveIdentity:
    """What the marker says: which drive of which owner this directory is."""

    drive: str
    uuid: str
    owner: str
    format: int = FORMAT_VERSION
    created_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DriveIdentity:
        """ValueError when ``text`` is not a marker."""
        try:
            data = json.loads(text)
            ident = cls(
                drive=str(data["drive"]),
                uuid=str(data["uuid"]),
                owner=str(data["owner"]),
                format=int(data["format"]),
                created_at=float(data.get("created_at", 0.0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a drive marker: {type(exc).__name__}: {exc}") from exc
        if ident.format > FORMAT_VERSION:
            raise ValueError(f"drive format {ident.format} is newer than this version knows")
        return ident


@dataclass(frozen=True, slots=True)
class DriveCheck:
    """The verdict on one drive at start: its identity (None: failed), what was done
    (``used``, ``formatted``, ``adopted``, ``failed``) and, when failed, why."""

    name: str
    path: Path
    identity: DriveIdentity | None
    action: str
    problem: str = ""

    @property
    def failed(self) -> bool:
        return self.identity is None


def read_marker(path: Path) -> DriveIdentity | None:
    """The marker of the directory ``path``; None when there is none (or no directory).
    ValueError when a marker is there but unreadable."""
    try:
        text = (path / MARKER).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ValueError(f"marker unreadable: {exc}") from exc
    return DriveIdentity.from_json(text)


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a file created or renamed in it) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def format_drive(path: Path, drive: str, owner: str, *, create: bool = True) -> DriveIdentity:
    """Make ``path`` drive ``drive`` of ``owner`` with a new uuid: the directory (when
    ``create``), ``frag/``, ``tmp/`` and the marker, written durably (temp file, fsync, rename,
    directory fsync). The caller decides that ``path`` may be formatted."""
    if create:
        path.mkdir(parents=True, exist_ok=True)
    for sub in LAYOUT:
        (path / sub).mkdir(exist_ok=True)
    ident = DriveIdentity(drive, uuid.uuid4().hex, owner, FORMAT_VERSION, time.time())
    tmp = path / f"{MARKER}.tmp"
    with open(tmp, "w") as f:
        f.write(ident.to_json() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / MARKER)
    fsync_dir(path)
    return ident


def identity_problem(path: Path, drive: str, owner: str, expected: str | None) -> str | None:
    """None when ``path`` is drive ``drive`` of ``owner`` (with uuid ``expected`` when given),
    else why not. Used at start and by every health probe."""
    if not path.is_dir():
        return f"{path} is missing"
    try:
        ident = read_marker(path)
    except ValueError as exc:
        return f"{path}: {exc}"
    if ident is None:
        if not any(path.iterdir()):
            return f"{path} is empty and has no drive identity ({MARKER}): an unmounted disk?"
        return f"{path} has no drive identity ({MARKER}): not a Ninefold drive"
    if ident.drive != drive or ident.owner != owner:
        return f"{path} is drive {ident.drive} of {ident.owner!r}, expected {drive} of {owner!r}"
    if expected is not None and ident.uuid != expected:
        return f"{path} holds another drive (uuid {ident.uuid}, expected {expected})"
    return None


def _content(path: Path) -> set[str] | None:
    """Names in ``path`` (None when it is not a directory)."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        return set(os.listdir(path))
    return None


def check_drives(drives: dict[str, Path], owner: str, *, fresh: bool = True) -> list[DriveCheck]:
    """Decide, and carry out, what each drive of one server or node is at start (see the
    module docstring). ``fresh`` False: the set is known to have been in use (the embedded
    server's metadata already existed), so a missing drive is never created, even when no
    drive has a marker yet."""
    contents = {name: _content(path) for name, path in drives.items()}
    markers: dict[str, DriveIdentity | None] = {}
    broken: dict[str, str] = {}
    for name, path in drives.items():
        try:
            markers[name] = read_marker(path)
        except ValueError as exc:
            markers[name] = None
            broken[name] = f"{path}: {exc}"
    any_marker = any(m is not None for m in markers.values()) or bool(broken)
    any_data = any(bool(c) for c in contents.values())
    out: list[DriveCheck] = []
    for name, path in drives.items():
        ident = markers[name]
        names = contents[name]
        if name in broken:
            out.append(DriveCheck(name, path, None, "failed", broken[name]))
            continue
        if ident is not None:
            problem = identity_problem(path, name, owner, ident.uuid)
            if problem is None:
                out.append(DriveCheck(name, path, ident, "used"))
            else:
                out.append(DriveCheck(name, path, None, "failed", problem))
            continue
        if not any_marker:  # a new set, or one from before drive identities
            if names is None and fresh and not any_data:
                out.append(DriveCheck(name, path, format_drive(path, name, owner), "formatted"))
                continue
            if names is not None and names <= LAYOUT and (names or not any_data):
                ident = format_drive(path, name, owner, create=False)
                out.append(DriveCheck(name, path, ident, "adopted" if names else "formatted"))
                continue
        if names is None:
            problem = f"{path} is missing (a drive is never recreated)"
        elif not names:
            problem = f"{path} is empty and has no drive identity ({MARKER}): an unmounted disk?"
        else:
            problem = f"{path} has no drive identity ({MARKER})"
        out.append(DriveCheck(name, path, None, "failed", problem))
    return out
