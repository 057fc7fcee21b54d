"""What an operator sees when something ordinary goes wrong (issue 11): a busy port is one line
on stderr, and a client's own trouble (it hangs up mid-GET, sends a 20 KiB header line, has its
write refused before the body arrived) is one INFO/WARNING log line, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.support.server import ServerProc, free_port, ninefold_executable

from .helpers import random_bytes

MiB = 1024 * 1024


def _log_since(server: ServerProc, offset: int, marker: str, timeout: float = 10.0) -> str:
    """The server log written after ``offset``, once a line containing ``marker`` is in it."""
    deadline = time.monotonic() + timeout
    text = server.log_tail(10_000, since=offset)
    while marker not in text and time.monotonic() < deadline:
        time.sleep(0.1)
        text = server.log_tail(10_000, since=offset)
    return text


def _lines_with(text: str, marker: str) -> list[str]:
    return [line for line in text.splitlines() if marker in line]


def _assert_one_quiet_line(text: str, marker: str) -> None:
    assert "Traceback" not in text, text
    assert " ERROR " not in text, text
    lines = _lines_with(text, marker)
    assert len(lines) == 1, text
    assert " INFO " in lines[0] or " WARNING " in lines[0], lines[0]


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


def test_client_gone_mid_get_is_one_info_line(fresh_server: ServerProc) -> None:
    s3 = fresh_server.boto3_client()
    s3.create_bucket(Bucket="gone")
    s3.put_object(Bucket="gone", Key="big", Body=random_bytes(3 * MiB))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "gone", "Key": "big"})
    path = url.split(f":{fresh_server.port}", 1)[1]
    offset = fresh_server.log_size()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # a small receive window, so the server cannot hand the whole object to the kernel
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(10)
        sock.connect((fresh_server.host, fresh_server.port))
        host = f"{fresh_server.host}:{fresh_server.port}"
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        received = 0
        while received < 8 * 1024:
            data = sock.recv(4096)
            assert data
            received += len(data)
        # hang up with a reset, the way a killed client does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    text = _log_since(fresh_server, offset, "client went away")
    _assert_one_quiet_line(text, "client went away")
    # the server is fine and serves the object whole afterwards
    assert len(s3.get_object(Bucket="gone", Key="big")["Body"].read()) == 3 * MiB


def test_oversized_header_is_one_warning_line(fresh_server: ServerProc) -> None:
    offset = fresh_server.log_size()
    with socket.create_connection((fresh_server.host, fresh_server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n\r\n")
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n", 1)[0], answer
    text = _log_since(fresh_server, offset, "not parsed")
    _assert_one_quiet_line(text, "not parsed")


def test_refused_write_is_one_info_line(fresh_server: ServerProc) -> None:
    s3 = fresh_server.boto3_client()
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "no-such-bkt", "Key": "k"})
    path = url.split(f":{fresh_server.port}", 1)[1]
    offset = fresh_server.log_size()
    with socket.create_connection((fresh_server.host, fresh_server.port), timeout=10) as sock:
        host = f"{fresh_server.host}:{fresh_server.port}"
        sock.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {20 * MiB}\r\n\r\n".encode()
        )
        sock.sendall(b"x" * 64 * 1024)  # the rest never comes: the answer must not wait for it
        answer = sock.recv(4096)
    assert b" 404 " in answer.split(b"\r\n", 1)[0], answer
    assert b"NoSuchBucket" in answer or b"Content-Length" in answer, answer
    text = _log_since(fresh_server, offset, "refused with 404")
    _assert_one_quiet_line(text, "refused with 404")
