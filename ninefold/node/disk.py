"""DiskFragmentStore: the FragmentStore of one local drive directory.

Committed fragments live at ``root/frag/<2 hex>/<chunk_id>.<index>``; writes go to ``root/tmp``
and are renamed into place after fsync, then the directory is fsynced. All blocking I/O runs in
the executor. Fragment ids are validated before any path is built from them; a vanished or
unreadable drive is reported as StorageError / FragmentNotFound, never as a crash. A full drive
(ENOSPC) is DriveFull: the fragment's temp file is removed and nothing becomes visible. A file
system that is nearly full takes part of a write and refuses only the next one, so every write
loops until all its bytes are down; a short write is never mistaken for a whole one.

A process killed mid-write (kill -9, power loss) leaves its temp file behind: ``sweep_tmp``
removes the temp files not written to for ``max_age_s`` (their mtime moves with every block, so
a write in progress is never old unless it stalled that long; if it did, its commit fails
cleanly because its temp file is gone). The callers in ``cli.compose`` run it when the store is
opened and periodically (``workers.tmpsweep``).

It belongs to the storage-node daemon (and the embedded server, which wires it in ``cli``): the
coordinator and everything below it see only the FragmentStore protocol. ``DriveFull`` is
defined in ``core.errors`` (a node client maps a 507 to it too) and re-exported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ninefold.core.errors import CorruptFragment, DriveFull, FragmentNotFound, StorageError
from ninefold.fragments.format import (
    HEADER_BYTES,
    RECORD_OVERHEAD,
    block_offset,
    build_header,
    check_payload,
    frame_block,
    parse_header,
    unpack_record_head,
)
from ninefold.fragments.protocol import FRAGMENT_ID_RE, FragmentId, FragmentInfo, StoreHealth
from ninefold.node.drive import MARKER, DriveIdentity, fsync_dir, identity_problem, read_marker

__all__ = ["DiskFragmentStore", "DriveFull", "TmpSweep"]

T = TypeVar("T")

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _write_error(store_id: str, what: str, exc: OSError) -> StorageError:
    kind = DriveFull if exc.errno in _NO_SPACE else StorageError
    return kind(f"{store_id}: {what} failed: {exc}")


def _write_all(fd: int, buffers: list[bytes]) -> None:
    """Write every byte of ``buffers`` at the file position, however many calls it takes."""
    views = [memoryview(b) for b in buffers if b]
    while views:
        written = os.writev(fd, views)
        if written <= 0:
            raise OSError(errno.EIO, "write made no progress")
        while written:
            if written >= len(views[0]):
                written -= len(views.pop(0))
            else:
                views[0] = views[0][written:]
                written = 0


#: a writer asks the kernel to start writing its file back every this many bytes, so the fsync
#: at commit finds little left to flush (a 64 MiB chunk's fragments are ~11 MiB each)
WRITEBACK_BYTES = 2 * 1024 * 1024

_sync_file_range: Callable[[int, int, int, int], int] | None
try:
    _sync_file_range = ctypes.CDLL(None, use_errno=True).sync_file_range
    _sync_file_range.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
except (OSError, AttributeError):  # not Linux: the fsync at commit does all the work
    _sync_file_range = None
_SYNC_FILE_RANGE_WRITE = 2


def _start_writeback(fd: int) -> None:
    """Start (not wait for) writeback of the file's dirty pages: Linux sync_file_range(2) with
    SYNC_FILE_RANGE_WRITE. Durability still comes from the fsync at commit."""
    if _sync_file_range is not None:
        _sync_file_range(fd, 0, 0, _SYNC_FILE_RANGE_WRITE)


@dataclass(frozen=True, slots=True)
class TmpSweep:
    """What one sweep of a drive's temp directory removed."""

    files: int = 0
    size_bytes: int = 0


def sweep_tmp_dir(tmp: Path, max_age_s: float, now: float) -> TmpSweep:
    """Remove the regular files of ``tmp`` whose mtime is more than ``max_age_s`` before
    ``now``; a file that vanished meanwhile (committed or aborted) is skipped."""
    files = size = 0
    try:
        entries = list(os.scandir(tmp))
    except FileNotFoundError:
        return TmpSweep()
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime <= max_age_s:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        files += 1
        size += st.st_size
    return TmpSweep(files, size)


class _DiskWriter:
    def __init__(self, store: DiskFragmentStore, fragment_id: FragmentId) -> None:
        self._store = store
        self._id = fragment_id
        self._tmp = store.root / "tmp" / f"{fragment_id}.{secrets.token_hex(6)}"
        self._file: int | None = None
        self._block_size = 0
        self._blocks = 0
        self._size = 0
        self._short = False
        self._unflushed = 0  # bytes written since writeback was last started

    def _write(self, block: bytes) -> None:
        if self._file is None:
            self._store.check_writable()
            self._tmp.parent.mkdir(exist_ok=True)
            self._file = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            self._block_size = len(block)
            _write_all(self._file, [build_header(self._block_size)])
        if self._short or len(block) > self._block_size:
            raise StorageError("only the last block of a fragment may differ in size")
        self._short = len(block) < self._block_size
        _write_all(self._file, [frame_block(block), block])
        self._blocks += 1
        self._size += len(block)
        self._unflushed += RECORD_OVERHEAD + len(block)
        if self._unflushed >= WRITEBACK_BYTES:
            _start_writeback(self._file)
            self._unflushed = 0

    async def write_block(self, block: bytes) -> None:
        try:
            await self._store.run(self._write, block)
        except OSError as exc:
            raise _write_error(self._store.store_id, "write", exc) from exc

    def _commit(self) -> FragmentInfo:
        if self._file is None:
            raise StorageError("a fragment needs at least one block")
        os.fsync(self._file)
        os.close(self._file)
        self._file = None
        final = self._store.path_of(self._id)
        try:  # frag/<2 hex>/ as needed, never the drive directory itself
            final.parent.mkdir(exist_ok=True)
        except FileNotFoundError:
            final.parent.parent.mkdir(exist_ok=True)
            final.parent.mkdir(exist_ok=True)
        os.replace(self._tmp, final)
        fsync_dir(final.parent)
        return FragmentInfo(self._id, self._block_size, self._blocks, self._size)

    async def commit(self) -> FragmentInfo:
        try:
            return await self._store.run(self._commit)
        except OSError as exc:
            await self.abort()
            raise _write_error(self._store.store_id, "commit", exc) from exc

    def _abort(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    async def abort(self) -> None:
        with contextlib.suppress(OSError):
            await self._store.run(self._abort)


class DiskFragmentStore:
    """FragmentStore over one directory (see module docstring).

    With ``drive`` (drive name, owner) the store checks the directory's identity
    (``node/drive.py``): a fragment is only created while the marker is there, and ``health``
    reports the drive failed when the marker is gone or foreign. ``identity`` is the identity
    found at start (None: the drive failed at start; a marker written later by ``admin drive
    replace`` is taken as this drive's new identity)."""

    def __init__(
        self,
        store_id: str,
        root: Path,
        executor: Executor | None = None,
        *,
        drive: tuple[str, str] | None = None,
        identity: DriveIdentity | None = None,
    ) -> None:
        self._store_id = store_id
        self.root = root
        self._executor = executor
        self._drive = drive
        self.identity = identity

    @property
    def store_id(self) -> str:
        return self._store_id

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def path_of(self, fragment_id: FragmentId) -> Path:
        name = str(fragment_id)
        if not FRAGMENT_ID_RE.match(name):
            raise ValueError(f"invalid fragment id {name!r}")
        return self.root / "frag" / name[:2] / name

    async def open_writer(self, fragment_id: FragmentId) -> _DiskWriter:
        self.path_of(fragment_id)  # validates the id
        return _DiskWriter(self, fragment_id)

    def _read_blocks(self, fragment_id: FragmentId, first: int, count: int) -> list[bytes]:
        """Blocks ``first .. first + count - 1`` (fewer at the fragment's end), each verified.
        One ``pread`` for the record headers' run and one per payload, straight into the
        ``bytes`` the decoder takes: the payload is copied once, from the page cache."""
        path = self.path_of(fragment_id)
        blocks: list[bytes] = []
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise FragmentNotFound(f"{self._store_id}: {fragment_id} not found") from exc
        except OSError as exc:
            raise StorageError(f"{self._store_id}: read failed: {exc}") from exc
        try:
            block_size = parse_header(os.pread(fd, HEADER_BYTES, 0))
            offset = block_offset(first, block_size)
            for _ in range(count):
                head = os.pread(fd, RECORD_OVERHEAD, offset)
                if not head:
                    break  # past the last block
                length, crc = unpack_record_head(head, block_size)
                payload = os.pread(fd, length, offset + RECORD_OVERHEAD)
                check_payload(payload, length, crc)
                blocks.append(payload)
                offset += RECORD_OVERHEAD + length
                if length < block_size:
                    break
        except OSError as exc:
            raise StorageError(f"{self._store_id}: read failed: {exc}") from exc
        finally:
            os.close(fd)
        return blocks

    async def read_blocks(self, fragment_id: FragmentId, first: int, count: int) -> list[bytes]:
        return await self.run(self._read_blocks, fragment_id, first, count)

    def _head(self, fragment_id: FragmentId) -> FragmentInfo | None:
        path = self.path_of(fragment_id)
        try:
            with open(path, "rb") as f:
                block_size = parse_header(f.read(HEADER_BYTES))
                total = os.fstat(f.fileno()).st_size - HEADER_BYTES
        except (FileNotFoundError, NotADirectoryError):
            return None
        except CorruptFragment:
            raise
        except OSError as exc:
            raise StorageError(f"{self._store_id}: head failed: {exc}") from exc
        record = RECORD_OVERHEAD + block_size
        full, rest = divmod(total, record)
        blocks = full + (1 if rest else 0)
        size = full * block_size + max(0, rest - RECORD_OVERHEAD)
        return FragmentInfo(fragment_id, block_size, blocks, size)

    async def head(self, fragment_id: FragmentId) -> FragmentInfo | None:
        return await self.run(self._head, fragment_id)

    def _delete(self, fragment_id: FragmentId) -> bool:
        try:
            self.path_of(fragment_id).unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StorageError(f"{self._store_id}: delete failed: {exc}") from exc
        return True

    async def delete(self, fragment_id: FragmentId) -> bool:
        return await self.run(self._delete, fragment_id)

    def _list(self) -> list[FragmentId]:
        out: list[FragmentId] = []
        base = self.root / "frag"
        if not base.is_dir():
            return out
        for sub in sorted(base.iterdir()):
            for entry in sorted(sub.iterdir()):
                if FRAGMENT_ID_RE.match(entry.name):
                    out.append(FragmentId.parse(entry.name))
        return out

    async def list_fragments(self) -> AsyncIterator[FragmentId]:
        for fragment_id in await self.run(self._list):
            yield fragment_id

    def _list_written(self) -> list[tuple[FragmentId, float]]:
        out: list[tuple[FragmentId, float]] = []
        for fragment_id in self._list():
            try:
                out.append((fragment_id, self.path_of(fragment_id).stat().st_mtime))
            except FileNotFoundError:  # deleted since listed
                continue
        return out

    async def list_fragments_written(self) -> AsyncIterator[tuple[FragmentId, float]]:
        """Every fragment with the time it was written (its file's mtime, Unix seconds): the
        orphan collector counts its grace period from there rather than from first sight."""
        for item in await self.run(self._list_written):
            yield item

    def sweep_tmp_now(self, max_age_s: float) -> TmpSweep:
        """``sweep_tmp`` on the calling thread (at startup, before the store serves)."""
        try:
            return sweep_tmp_dir(self.root / "tmp", max_age_s, time.time())
        except OSError as exc:
            raise StorageError(f"{self._store_id}: temp sweep failed: {exc}") from exc

    async def sweep_tmp(self, max_age_s: float) -> TmpSweep:
        """Remove temp files not written to for ``max_age_s`` (left by killed writers)."""
        return await self.run(self.sweep_tmp_now, max_age_s)

    def check_writable(self) -> None:
        """StorageError unless a fragment may be created here now: the directory is there and
        (for a drive with an identity) still carries its marker -- never the empty mountpoint
        of a disk that went away."""
        if not self.root.is_dir():
            raise StorageError(f"{self._store_id}: drive {self.root} is gone")
        if self._drive is not None and not (self.root / MARKER).is_file():
            raise StorageError(f"{self._store_id}: drive {self.root} has lost its identity")

    def _identity_problem(self) -> str | None:
        if self._drive is None:  # a bare directory (no identity): only "there or not"
            return None
        name, owner = self._drive
        problem = identity_problem(self.root, name, owner, None)
        if problem is None:
            # the drive's marker (the one found at start, or a replacement's new one)
            try:
                self.identity = read_marker(self.root)
            except ValueError as exc:
                return str(exc)
        return problem

    def _health(self) -> StoreHealth:
        problem = self._identity_problem()
        if problem is not None:
            return StoreHealth(self._store_id, False, 0, 0, failed=problem)
        try:
            st = os.statvfs(self.root)
        except OSError:
            return StoreHealth(self._store_id, False, 0, 0)
        return StoreHealth(
            self._store_id, self.root.is_dir(), st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        )

    async def health(self) -> StoreHealth:
        return await self.run(self._health)
