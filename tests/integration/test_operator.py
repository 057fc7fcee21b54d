"""What an operator sees when something ordinary goes wrong (issue 11): a busy port is one line
on stderr, never a traceback."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.support.server import free_port, ninefold_executable


def test_busy_port_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    # a plain listener, without SO_REUSEPORT, so the server's own bind cannot share it
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        result = subprocess.run(
            [
                ninefold_executable(),
                "server",
                str(tmp_path / "data"),
                "--address",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    assert f"ninefold: port {port} is in use; use --address" in result.stderr.splitlines()
    assert "Ninefold S3 endpoint" not in result.stdout
