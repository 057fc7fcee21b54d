"""PUT and GET of one large object (default 2 GiB) while sampling the server's RSS.

    .venv/bin/python benchmarks/bigobject.py [--size-gib 2] [--multipart]

Starts a fresh embedded server, streams the object up with boto3 (single PutObject by default,
``--multipart`` for 64 MiB parts) from a generator that never holds it in memory, streams it back
hashing and discarding, checks the MD5, and reports peak RSS summed over the server process and
all its descendants (sampled from /proc every 0.2 s). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.server import start_server  # noqa: E402

BLOCK = os.urandom(64 * 1024 * 1024)


class PatternReader(io.RawIOBase):
    """``size`` bytes of a repeated random block, read by pieces: never the whole object.

    Seekable, because botocore reads a body once for its checksum and then rewinds it.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, min(self.size, base + offset))
        return self.pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self.size - self.pos)
        if n <= 0:
            return 0
        offset = self.pos % len(BLOCK)
        n = min(n, len(BLOCK) - offset)
        buffer[:n] = BLOCK[offset : offset + n]
        self.pos += n
        return n


def pattern_md5(size: int) -> str:
    md5 = hashlib.md5()
    full, rest = divmod(size, len(BLOCK))
    for _ in range(full):
        md5.update(BLOCK)
    md5.update(BLOCK[:rest])
    return md5.hexdigest()


def tree_rss_bytes(pid: int) -> int:
    """Sum of VmRSS over ``pid`` and every descendant."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, tree_rss_bytes(self.pid))


def measure(size: int, multipart: bool, workers: int) -> dict[str, object]:
    from boto3.s3.transfer import TransferConfig

    with tempfile.TemporaryDirectory(prefix="nf-big-") as tmp:
        server = start_server(Path(tmp) / "data", workers=workers)
        try:
            s3 = server.boto3_client()
            s3.create_bucket(Bucket="big")
            idle_rss = tree_rss_bytes(server.pid)
            sampler = RssSampler(server.pid)
            sampler.start()
            reader = PatternReader(size)
            t0 = time.perf_counter()
            if multipart:
                config = TransferConfig(
                    multipart_threshold=64 << 20, multipart_chunksize=64 << 20, max_concurrency=4
                )
                s3.upload_fileobj(reader, "big", "obj", Config=config)
            else:
                s3.put_object(
                    Bucket="big",
                    Key="obj",
                    Body=io.BufferedReader(reader, 8 << 20),
                    ContentLength=size,
                )
            put_s = time.perf_counter() - t0
            put_peak = sampler.peak
            t0 = time.perf_counter()
            body = s3.get_object(Bucket="big", Key="obj")["Body"]
            got = hashlib.md5()
            for piece in iter(lambda: body.read(8 << 20), b""):
                got.update(piece)
            get_s = time.perf_counter() - t0
            sampler.stop.set()
            sampler.join()
            if got.hexdigest() != pattern_md5(size):
                raise AssertionError("MD5 of the object read back differs")
            return {
                "size_bytes": size,
                "multipart": multipart,
                "workers": workers,
                "put_mb_s": round(size / put_s / 1e6, 1),
                "get_mb_s": round(size / get_s / 1e6, 1),
                "idle_rss_mb": round(idle_rss / 1e6, 1),
                "put_peak_rss_mb": round(put_peak / 1e6, 1),
                "peak_rss_mb": round(sampler.peak / 1e6, 1),
                "md5_ok": True,
            }
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--multipart", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(measure(int(args.size_gib * 1024**3), args.multipart, args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
