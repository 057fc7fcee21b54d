"""Client timeouts and the connection cap (``http.*`` settings, ``api/connections.py``).

A real ``ninefold server`` with deadlines of a second or two, and slow clients on raw sockets:
one that sends nothing, one that trickles a header line well inside any per-read timeout, a PUT
that stops after 1 of 4 MiB, many of them at once next to a boto3 client that must not notice,
and connections beyond ``http.max_connections``.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.server import ServerProc, start_server

from .helpers import (
    MiB,
    encode_path,
    fragment_files,
    parse_error,
    raises_s3,
    random_bytes,
    sign,
)

#: the deadlines of the test server: far below any default, far above a loaded machine's hiccup
TIMEOUT_S = 1.5
#: how long a test waits for a cut before calling it a failure (the defaults would be an hour)
CUT_WITHIN_S = 12.0
#: a trickling client sends a header line this often: any per-read timeout would be reset
TRICKLE_EVERY_S = 0.3


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """One server process (so every connection meets the same limits) with short deadlines."""
    base = tmp_path_factory.mktemp("timeouts")
    args = [
        "--set",
        f"http.header_timeout_s={TIMEOUT_S}",
        "--set",
        f"http.idle_timeout_s={TIMEOUT_S}",
        "--set",
        f"http.body_timeout_s={TIMEOUT_S}",
    ]
    proc = start_server(base / "data", workers=1, extra_args=args)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def slow_bucket(slow_server: ServerProc) -> Iterator[str]:
    client = slow_server.boto3_client()
    name = f"nf-timeouts-{time.monotonic_ns() % 10**9}"
    client.create_bucket(Bucket=name)
    yield name
    with contextlib.suppress(Exception):
        for obj in client.list_objects_v2(Bucket=name).get("Contents", []):
            client.delete_object(Bucket=name, Key=obj["Key"])
        client.delete_bucket(Bucket=name)


def _open(server: ServerProc) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    sock.setblocking(False)
    return sock


class _Watched:
    """A raw connection and what the server sent on it until it closed."""

    def __init__(self, sock: socket.socket, kind: str) -> None:
        self.sock = sock
        self.kind = kind
        self.received = b""
        self.closed_after: float | None = None

    def poll(self, started: float) -> None:
        """Read what is there; note when the server closed (EOF or reset)."""
        if self.closed_after is not None:
            return
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self.closed_after = time.monotonic() - started
                return
            self.received += data

    def send(self, data: bytes, started: float) -> None:
        if self.closed_after is not None:
            return
        try:
            self.sock.sendall(data)
        except (BlockingIOError, ConnectionResetError, BrokenPipeError):
            self.poll(started)

    def error_code(self) -> str | None:
        _, _, body = self.received.partition(b"\r\n\r\n")
        return parse_error(body).get("Code") if body else None

    def status(self) -> int | None:
        line = self.received.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) > 1 else None


def _drive(watched: list[_Watched], *, trickle: bool, until: float, started: float) -> None:
    """Keep the tricklers trickling and watch every connection until all are closed or
    ``until`` (monotonic) passes."""
    next_line = 0
    while time.monotonic() < until and any(w.closed_after is None for w in watched):
        if trickle:
            for w in watched:
                if w.kind == "trickle":
                    w.send(f"X-Slow-{next_line}: {'v' * 20}\r\n".encode(), started)
            next_line += 1
        open_socks = [w.sock for w in watched if w.closed_after is None]
        select.select(open_socks, [], [], TRICKLE_EVERY_S)
        for w in watched:
            w.poll(started)


def _stalled_put(server: ServerProc, bucket: str, key: str) -> tuple[socket.socket, bytes]:
    """Open a signed PUT of 4 MiB and send its head and the first MiB; return the socket."""
    body = random_bytes(4 * MiB)
    path = encode_path(bucket, key)
    signed = sign(server, "PUT", path, headers={"Content-Length": str(len(body))}, body=body)
    head = f"PUT {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = socket.create_connection((server.host, server.port), timeout=10)
    sock.sendall(head.encode() + b"\r\n" + body[:MiB])
    sock.setblocking(False)
    return sock, body


def _leftover_temp_files(server: ServerProc) -> list[Path]:
    return [p for d in server.drive_dirs for p in (Path(d) / "tmp").glob("*") if p.is_file()]


# ---- one slow client at a time ---------------------------------------------------------------


def test_a_connection_that_sends_nothing_is_closed(slow_server: ServerProc) -> None:
    started = time.monotonic()
    idle = _Watched(_open(slow_server), "idle")
    try:
        _drive([idle], trickle=False, until=started + TIMEOUT_S / 3, started=started)
        assert idle.closed_after is None, "closed long before the idle deadline"
        _drive([idle], trickle=False, until=started + CUT_WITHIN_S, started=started)
        assert idle.closed_after is not None, "an idle connection was never closed"
        assert idle.received == b""  # an idle close says nothing
    finally:
        idle.sock.close()


def test_a_keep_alive_connection_is_closed_once_idle(slow_server: ServerProc) -> None:
    """After a response, the connection stays open for the next request, then is closed."""
    started = time.monotonic()
    conn = _Watched(_open(slow_server), "idle")
    try:
        conn.send(f"GET / HTTP/1.1\r\nHost: {slow_server.host}\r\n\r\n".encode(), started)
        _drive([conn], trickle=False, until=started + TIMEOUT_S / 2, started=started)
        assert conn.status() == 403 and conn.closed_after is None, conn.received[:300]
        _drive([conn], trickle=False, until=started + CUT_WITHIN_S, started=started)
        assert conn.closed_after is not None, "an idle keep-alive connection was never closed"
    finally:
        conn.sock.close()


def test_a_trickled_header_section_is_cut_at_its_deadline(slow_server: ServerProc) -> None:
    """Each line comes long before any per-read timeout; the total deadline still holds."""
    started = time.monotonic()
    slow = _Watched(_open(slow_server), "trickle")
    try:
        slow.send(b"GET / HTTP/1.1\r\n", started)
        _drive([slow], trickle=True, until=started + CUT_WITHIN_S, started=started)
        assert slow.closed_after is not None, "a trickling client was never cut"
        assert slow.status() == 408, slow.received[:300]
        assert slow.error_code() == "RequestTimeout"
    finally:
        slow.sock.close()


def test_a_stalled_put_is_answered_request_timeout_and_stores_nothing(
    slow_server: ServerProc, slow_bucket: str
) -> None:
    s3 = slow_server.boto3_client()
    s3.put_object(Bucket=slow_bucket, Key="existing", Body=b"old")
    before = fragment_files(slow_server)
    started = time.monotonic()
    socks = []
    try:
        for key in ("stalled", "existing"):
            sock, _ = _stalled_put(slow_server, slow_bucket, key)
            socks.append(_Watched(sock, "stall"))
        _drive(socks, trickle=False, until=started + CUT_WITHIN_S, started=started)
        for stalled in socks:
            assert stalled.closed_after is not None, "a stalled PUT was never cut"
            assert stalled.status() == 408, stalled.received[:300]
            assert stalled.error_code() == "RequestTimeout"
    finally:
        for w in socks:
            w.sock.close()
    with raises_s3("404", 404):
        s3.head_object(Bucket=slow_bucket, Key="stalled")
    assert s3.get_object(Bucket=slow_bucket, Key="existing")["Body"].read() == b"old"
    # nothing of the two partial writes stays on the drives
    deadline = time.monotonic() + 10
    while _leftover_temp_files(slow_server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _leftover_temp_files(slow_server) == []
    assert fragment_files(slow_server) - before == set()


def test_a_response_the_client_does_not_read_is_aborted(
    slow_server: ServerProc, slow_bucket: str
) -> None:
    """A GET whose client stops reading holds the connection only ``body_timeout_s``."""
    s3 = slow_server.boto3_client()
    data = random_bytes(16 * MiB)
    s3.put_object(Bucket=slow_bucket, Key="big", Body=data)
    path = encode_path(slow_bucket, "big")
    signed = sign(slow_server, "GET", path)
    head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in signed.headers.items())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    try:
        sock.settimeout(10)
        sock.connect((slow_server.host, slow_server.port))
        sock.sendall(head.encode() + b"\r\n")
        time.sleep(TIMEOUT_S * 3)  # read nothing while the server waits to write
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while piece := sock.recv(1 << 20):
                received += len(piece)
    finally:
        sock.close()
    assert received < len(data), "the whole object arrived: the response never stalled"
    # the server is fine and the object whole
    assert s3.get_object(Bucket=slow_bucket, Key="big")["Body"].read() == data


# ---- many slow clients next to a normal one --------------------------------------------------


def test_many_slow_connections_are_cut_while_boto3_is_served(
    slow_server: ServerProc, slow_bucket: str
) -> None:
    client = slow_server.boto3_client(retries={"max_attempts": 1, "mode": "standard"})
    started = time.monotonic()
    watched: list[_Watched] = []
    try:
        for i in range(60):
            kind = ("idle", "trickle", "stall")[i % 3]
            if kind == "stall":
                sock, _ = _stalled_put(slow_server, slow_bucket, f"slow-{i}")
            else:
                sock = _open(slow_server)
            w = _Watched(sock, kind)
            if kind == "trickle":
                w.send(b"PUT / HTTP/1.1\r\n", started)
            watched.append(w)

        def normal_client() -> int:
            """PUT and GET round trips, small and erasure-coded, during the whole siege."""
            done = 0
            end = time.monotonic() + 2 * TIMEOUT_S
            while time.monotonic() < end or done < 6:
                data = random_bytes(64 * 1024 if done % 2 else 2 * MiB)
                key = f"normal-{done}"
                client.put_object(Bucket=slow_bucket, Key=key, Body=data)
                assert client.get_object(Bucket=slow_bucket, Key=key)["Body"].read() == data
                done += 1
            return done

        with ThreadPoolExecutor(1) as pool:
            normal = pool.submit(normal_client)
            _drive(watched, trickle=True, until=started + CUT_WITHIN_S, started=started)
            assert normal.result(timeout=60) >= 6
    finally:
        for w in watched:
            w.sock.close()
    still_open = [w.kind for w in watched if w.closed_after is None]
    assert still_open == [], f"{len(still_open)} slow connections were never cut: {still_open}"
    for w in watched:
        if w.kind == "idle":
            assert w.received == b""
        else:
            assert w.error_code() == "RequestTimeout", (w.kind, w.received[:300])
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=slow_bucket).get("Contents", [])]
    assert [k for k in keys if k.startswith("slow-")] == []


# ---- the connection cap ----------------------------------------------------------------------

CAP = 6


def _get(sock: socket.socket, host: str) -> bytes:
    """One anonymous GET / on a blocking socket; the raw response (b"" when closed)."""
    try:
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        data = b""
        while b"</Error>" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        return data
    except (ConnectionResetError, BrokenPipeError):
        return b""


def test_connections_beyond_the_cap_are_closed_and_the_others_served(
    tmp_path: Path,
) -> None:
    args = ["--set", f"http.max_connections={CAP}", "--set", "http.idle_timeout_s=60"]
    server = start_server(tmp_path / "data", workers=1, extra_args=args)
    held: list[socket.socket] = []
    try:
        # the server's own readiness probes may still be closing: wait until the cap is free
        time.sleep(0.5)
        for _ in range(CAP):
            sock = socket.create_connection((server.host, server.port), timeout=10)
            held.append(sock)
            assert b"AccessDenied" in _get(sock, server.host)
        # one more is closed before it is served, whatever it sends
        extra = socket.create_connection((server.host, server.port), timeout=10)
        try:
            assert _get(extra, server.host) == b""
        finally:
            extra.close()
        no_retry = server.boto3_client(
            retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=5
        )
        with pytest.raises(Exception, match=r"(?i)connection"):
            no_retry.list_buckets()
        # the connections inside the cap are served as before
        for sock in held:
            assert b"AccessDenied" in _get(sock, server.host)
        # a freed place is taken by the next client
        held.pop().close()
        deadline = time.monotonic() + 10
        while True:
            sock = socket.create_connection((server.host, server.port), timeout=10)
            reply = _get(sock, server.host)
            if reply:
                held.append(sock)
                break
            sock.close()
            assert time.monotonic() < deadline, "the freed place was never given out"
            time.sleep(0.1)
        assert b"AccessDenied" in reply
        assert "http.max_connections" in server.log_tail(200)
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_boto3_is_served_again_once_slow_clients_are_gone(tmp_path: Path) -> None:
    """A cap filled by idle connections frees itself at the idle deadline."""
    args = [
        "--set",
        f"http.max_connections={CAP}",
        "--set",
        f"http.idle_timeout_s={2 * TIMEOUT_S}",
    ]
    server = start_server(tmp_path / "data", workers=1, extra_args=args)
    held: list[socket.socket] = []
    try:
        time.sleep(0.5)
        held = [socket.create_connection((server.host, server.port)) for _ in range(CAP)]
        no_retry = server.boto3_client(retries={"max_attempts": 1, "mode": "standard"})
        with pytest.raises(Exception, match=r"(?i)connection"):
            no_retry.list_buckets()  # the cap is full
        client = server.boto3_client(retries={"max_attempts": 10, "mode": "standard"})
        # the idle ones are cut after TIMEOUT_S; botocore's retries carry it over the wait
        assert client.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        for sock in held:
            sock.close()
        server.stop()
