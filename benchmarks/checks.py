"""The "also" checks of issue 6 that are not throughput figures, run by ``benchmarks/run.py``.

    .venv/bin/python benchmarks/checks.py [durability|large_put_layout|list_scale ...]

* ``durability``: every acknowledged PUT survives ``kill -9`` of the server — runs the crash
  tests ``tests/integration/test_restart.py -k sigkill`` (SIGKILL after acknowledged writes, and
  SIGKILL in the middle of 4 concurrent writers; afterwards every acknowledged object must read
  back with its MD5, unacknowledged ones must be absent or complete).
* ``large_put_layout``: one 64 MiB PUT into a fresh embedded server, sent like s3bench sends it
  (no checksum header from the client): the ETag must be the MD5 of the bytes, the server must
  return a CRC64NVME checksum it computed itself, and the chunk must lie as 9 fragment files on
  9 different drives (6+3 erasure coding).
* ``list_scale``: ``benchmarks/list_scale.py`` (LIST page time at 10,000 vs 1,000,000 objects,
  SQLite and PostgreSQL metadata).

Each check returns JSON-able rows with ``tool`` set, stored in the raw results with the rest.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PY = REPO / ".venv" / "bin" / "python"

__all__ = ["durability", "large_put_layout", "list_scale"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def durability() -> list[dict[str, Any]]:
    cmd = [
        str(REPO / ".venv" / "bin" / "pytest"),
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/integration/test_restart.py",
        "-k",
        "sigkill",
    ]
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    summary = lines[-1] if lines else proc.stderr.strip()[-300:]
    print(summary, flush=True)
    return [
        {
            "tool": "check",
            "check": "durability",
            "ts": _now(),
            "ok": proc.returncode == 0,
            "command": " ".join(["pytest", *cmd[1:]]),
            "detail": summary,
        }
    ]


def large_put_layout(size: int = 64 << 20) -> list[dict[str, Any]]:
    print("+ .venv/bin/python benchmarks/checks.py large_put_layout", flush=True)
    sys.path.insert(0, str(REPO))
    from tests.support.server import start_server

    data = os.urandom(size)
    md5 = hashlib.md5(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="nf-bench-check-") as tmp:
        data_dir = Path(tmp) / "data"
        server = start_server(data_dir, workers=1)
        try:
            s3 = server.boto3_client(
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            s3.create_bucket(Bucket="check")
            put = s3.put_object(Bucket="check", Key="big", Body=data)
            head = s3.head_object(Bucket="check", Key="big", ChecksumMode="ENABLED")
        finally:
            server.stop()
        frags = {
            p: p.stat().st_size for p in (data_dir / "drives").glob("*/frag/*/*") if p.is_file()
        }
    crc = head.get("ChecksumCRC64NVME")
    etag = str(put.get("ETag", "")).strip('"')
    drives = sorted({p.parts[-4] for p in frags})
    indexes = sorted({p.suffix.lstrip(".") for p in frags})
    sizes = sorted(set(frags.values()))
    # the value the server computed, against an independent CRC64NVME (awscrt, botocore's)
    from awscrt.checksums import crc64nvme

    expected_crc = base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()
    crc_ok = crc == expected_crc
    ok = etag == md5 and crc_ok and len(frags) == 9 and len(drives) == 9 and len(indexes) == 9
    detail = (
        f"ETag {'= MD5' if etag == md5 else f'{etag} != MD5 {md5}'}; "
        f"CRC64NVME {'correct' if crc_ok else f'{crc} != {expected_crc}'}; "
        f"{len(frags)} fragment files on {len(drives)} drives "
        f"(indexes {','.join(indexes)}), {sizes[0] / 1e6:.2f}–{sizes[-1] / 1e6:.2f} MB each"
        if frags
        else f"ETag {etag}; CRC64NVME {crc}; no fragment files found"
    )
    print("64 MiB PUT:", detail, flush=True)
    return [
        {
            "tool": "check",
            "check": "large_put_layout",
            "ts": _now(),
            "ok": ok,
            "command": ".venv/bin/python benchmarks/checks.py large_put_layout",
            "object_size": size,
            "etag_is_md5": etag == md5,
            "crc64nvme": crc,
            "fragments": len(frags),
            "drives": len(drives),
            "fragment_bytes": sizes,
            "detail": detail,
        }
    ]


def list_scale(sizes: str, repeat: int) -> list[dict[str, Any]]:
    cmd = [
        str(PY),
        "benchmarks/list_scale.py",
        "--sizes",
        sizes,
        "--repeat",
        str(repeat),
    ]
    shown = f".venv/bin/python benchmarks/list_scale.py --sizes {sizes} --repeat {repeat}"
    print("+", shown, flush=True)
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=3600)
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            row = json.loads(line)
            row.update(tool="list_scale", ts=_now(), command=shown)
            rows.append(row)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        print("list_scale.py failed:", *tail, sep="\n  ", flush=True)
        rows.append(
            {
                "tool": "check",
                "check": "list_scale",
                "ts": _now(),
                "ok": False,
                "command": shown,
                "detail": " | ".join(tail),
            }
        )
    else:
        print(re.sub(r"^\{.*\n", "", proc.stdout, flags=re.M), flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("checks", nargs="*", default=["durability", "large_put_layout"])
    parser.add_argument("--sizes", default="10000,1000000", help="for list_scale")
    parser.add_argument("--repeat", type=int, default=15, help="for list_scale")
    args = parser.parse_args()
    ok = True
    for name in args.checks:
        rows = list_scale(args.sizes, args.repeat) if name == "list_scale" else globals()[name]()
        for row in rows:
            print(json.dumps(row))
            ok &= row.get("ok", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
