"""Run the real ``ninefold server`` as a child process group, for tests and benchmarks.

The server is started with ``start_new_session=True``: it and the worker processes it forks form
one process group whose id is the server's pid. :meth:`ServerProc.stop` asks politely (SIGTERM to
the server, which stops its workers) and then SIGKILLs that group; :meth:`ServerProc.kill`
SIGKILLs it at once (crash tests). Nothing here ever signals a process it did not start, and an
``atexit`` hook SIGKILLs the groups still registered when the interpreter exits, so a crashed
test run leaves no server behind.

Readiness is observed, not assumed: a start returns only after the server printed its
``Ninefold S3 endpoint:`` banner *and* answered an HTTP(S) ``GET /`` (any status, typically 403),
with TLS verified against the test CA. A start that fails raises :class:`ServerStartError` with
the tail of the server's log.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sysconfig
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

from tests.support.certs import TlsFiles, make_tls_files

__all__ = [
    "BANNER",
    "REGION",
    "ServerProc",
    "ServerStartError",
    "free_port",
    "ninefold_executable",
    "start_server",
]

REGION = "us-east-1"
#: printed by the server once it serves requests
BANNER = "Ninefold S3 endpoint:"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
#: how long the group may take to disappear after its leader exited or was SIGKILLed
GROUP_EXIT_TIMEOUT_S = 5.0
START_ATTEMPTS = 3

# pgid -> server, for the atexit safety net (only groups this module started)
_live: dict[int, ServerProc] = {}
_live_lock = threading.Lock()

# one botocore session for every client: it caches the loaded service models (creating a client
# from a warm session takes milliseconds); sessions are not thread-safe, hence the lock
_boto_lock = threading.Lock()
_boto_session: boto3.session.Session | None = None
_NOWHERE = Path("/nonexistent/ninefold-tests")


class ServerStartError(RuntimeError):
    """The server did not come up (it exited, or was not ready in time); carries its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """A base port B such that B .. B+count-1 were all free a moment ago, chosen below the
    kernel's ephemeral range (32768+ here), so outgoing connections of other processes cannot
    take one of them between now and the moment a server binds it."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.bind((host, port))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        return base
    raise RuntimeError(f"no block of {count} free ports found")


def ninefold_executable() -> str:
    """The ``ninefold`` script of the running interpreter's environment (the venv under test)."""
    candidate = Path(sysconfig.get_path("scripts")) / "ninefold"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ninefold")
    if found:
        return found
    raise ServerStartError("no `ninefold` executable next to this Python: run `make venv`")


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``."""
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: the kernel's answer is all we have
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ..."; comm may itself contain spaces and parentheses
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_registered_groups() -> None:
    with _live_lock:
        pgids = list(_live)
        _live.clear()
    for pgid in pgids:
        _killpg(pgid, signal.SIGKILL)


atexit.register(_kill_registered_groups)


def _shared_boto_session() -> boto3.session.Session:
    """A boto3 session that reads no config or credentials file (the test's keys are explicit)."""
    global _boto_session
    if _boto_session is None:
        core = botocore.session.Session()
        core.set_config_variable("config_file", str(_NOWHERE / "config"))
        core.set_config_variable("credentials_file", str(_NOWHERE / "credentials"))
        _boto_session = boto3.session.Session(botocore_session=core)
    return _boto_session


class ServerProc:
    """One ``ninefold server`` process group on a fixed port and data dir.

    Attributes are stable across :meth:`restart` (same port, data dir, keys and certificate);
    only :attr:`pid` changes.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str,
        port: int,
        tls_files: TlsFiles | None,
        drives: int,
        workers: int,
        domain: str | None,
        region: str,
        extra_args: Sequence[str],
        access_key: str | None,
        secret_key: str | None,
        log_path: Path,
        port_movable: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.tls_files = tls_files
        self.drives = drives
        self.workers = workers
        self.domain = domain
        self.region = region
        self.extra_args = tuple(extra_args)
        #: empty until a start read them from ``credentials.json`` (when the server made them)
        self.access_key: str = access_key or ""
        self.secret_key: str = secret_key or ""
        self._env_credentials = access_key is not None and secret_key is not None
        self.log_path = log_path
        self.drive_dirs: list[Path] = [data_dir / "drives" / f"d{i}" for i in range(1, drives + 1)]
        self.starts = 0
        #: exit status of the last stopped/killed generation (None while running or never run)
        self.returncode: int | None = None
        #: pids of the group still alive after the leader exited on the last stop (a leak)
        self.leftover_pids: list[int] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        # a port we picked ourselves may change until the first successful start
        self._port_movable = port_movable

    # ----------------------------------------------------------------------------- facts

    @property
    def tls(self) -> bool:
        return self.tls_files is not None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def ca_bundle(self) -> str | None:
        """The CA certificate clients must trust (None over plain HTTP)."""
        return str(self.tls_files.ca_cert) if self.tls_files else None

    @property
    def pid(self) -> int | None:
        """Pid of the server process (also its process group id); None when not running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else f"stopped rc={self.returncode}"
        return f"<ServerProc {self.endpoint} {self.data_dir} {state}>"

    # ----------------------------------------------------------------------------- clients

    def boto3_client(self, **config_kwargs: Any) -> Any:
        """A boto3 S3 client with botocore's default behaviour, path-style, against this server.

        ``config_kwargs`` go to :class:`botocore.config.Config` (e.g. ``retries=...``); an ``s3``
        dict is merged over ``{"addressing_style": "path"}``. Checksums stay at their defaults.
        """
        region = config_kwargs.pop("region_name", self.region)
        s3_options = {"addressing_style": "path", **config_kwargs.pop("s3", {})}
        config = Config(s3=s3_options, **config_kwargs)
        with _boto_lock:
            return _shared_boto_session().client(
                "s3",
                endpoint_url=self.endpoint,
                region_name=region,
                aws_access_key_id=self.access_key,
                aws_secret_access_key=self.secret_key,
                verify=self.ca_bundle if self.tls else None,
                config=config,
            )

    def env(self) -> dict[str, str]:
        """``AWS_*`` variables for command-line tools; no user config file can interfere."""
        nowhere = self.data_dir.parent / ".aws-nowhere"  # exists; the files in it never do
        nowhere.mkdir(exist_ok=True)
        env = {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_CONFIG_FILE": str(nowhere / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(nowhere / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        if self.ca_bundle:
            env["AWS_CA_BUNDLE"] = self.ca_bundle
        return env

    def log_tail(self, max_lines: int = 80, *, since: int = 0) -> str:
        """The last ``max_lines`` lines of the server log from byte offset ``since``."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"<no log at {self.log_path}: {exc}>"
        return "\n".join(text.splitlines()[-max_lines:])

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    # ----------------------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the server and wait until it serves; a no-op when it is running."""
        if self.running:
            return
        for attempt in range(1, START_ATTEMPTS + 1):
            self._launch()
            try:
                self._wait_ready()
                break
            except ServerStartError as exc:
                self.kill()
                port_taken = "address already in use" in str(exc).lower()
                if not port_taken or attempt == START_ATTEMPTS:
                    raise
                if self._port_movable:  # someone took the port we picked: pick another
                    self.port = free_port(self.host)
                else:  # a restart must keep its port: give the old sockets a moment
                    time.sleep(0.5 * attempt)
        self._port_movable = False
        if not self._env_credentials:
            creds = json.loads((self.data_dir / "credentials.json").read_text())
            self.access_key, self.secret_key = creds["access_key"], creds["secret_key"]

    def stop(self) -> int | None:
        """SIGTERM the server, wait up to 15 s, then SIGKILL its whole process group.

        Returns the server's exit status (None if it was not started). Processes of the group
        that outlive a clean exit are SIGKILLed too and recorded in :attr:`leftover_pids`.
        """
        proc = self._proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._note(f"did not exit {STOP_TIMEOUT_S:.0f}s after SIGTERM: SIGKILL")
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.leftover_pids = self._reap_group(proc.pid)
        if self.leftover_pids:
            self._note(f"processes left after the server exited: {self.leftover_pids}")
        return self._forget(proc)

    def kill(self) -> int | None:
        """SIGKILL the whole process group at once (a crash); returns the exit status."""
        proc = self._proc
        if proc is None:
            return self.returncode
        _killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self._reap_group(proc.pid)
        return self._forget(proc)

    def restart(self) -> None:
        """Stop the server if it runs, then start it again on the same port and data dir."""
        self.stop()
        self.start()

    def __enter__(self) -> ServerProc:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------------------- internals

    def _command(self) -> list[str]:
        cmd = [
            ninefold_executable(),
            "server",
            str(self.data_dir),
            "--address",
            f"{self.host}:{self.port}",
            "--drives",
            str(self.drives),
            "--workers",
            str(self.workers),
            "--region",
            self.region,
        ]
        if self.domain:
            cmd += ["--domain", self.domain]
        if self.tls_files:
            cmd += ["--tls-cert", str(self.tls_files.cert), "--tls-key", str(self.tls_files.key)]
        return cmd + list(self.extra_args)

    def _launch(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NINEFOLD_ROOT_")}
        env["PYTHONUNBUFFERED"] = "1"  # the banner must reach the log as soon as it is printed
        if self._env_credentials:
            env["NINEFOLD_ROOT_ACCESS_KEY"] = self.access_key
            env["NINEFOLD_ROOT_SECRET_KEY"] = self.secret_key
        cmd = self._command()
        self.starts += 1
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = time.strftime("%H:%M:%S")
            log.write(f"\n===== start #{self.starts} at {stamp}: {' '.join(cmd)}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.data_dir.parent,
                start_new_session=True,
            )
        with _live_lock:
            _live[self._proc.pid] = self
        self.returncode = None

    def _probe(self) -> None:
        """One ``GET /`` over a fresh connection; raises OSError/HTTPException if not served."""
        conn: http.client.HTTPConnection
        if self.tls_files:
            context = ssl.create_default_context(cafile=str(self.tls_files.ca_cert))
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=2, context=context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request("GET", "/")
            conn.getresponse().read()
        finally:
            conn.close()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error = "no attempt yet"
        served = banner = False
        while time.monotonic() < deadline:
            rc = self._proc.poll()
            if rc is not None:
                raise ServerStartError(
                    f"ninefold server exited with status {rc} before it was ready "
                    f"({self.endpoint}); log tail:\n{self.log_tail(since=self._log_offset)}"
                )
            if not banner:
                banner = BANNER in self.log_tail(10_000, since=self._log_offset)
            if not served:
                try:
                    with socket.create_connection((self.host, self.port), timeout=1):
                        pass
                    self._probe()
                    served = True
                except (OSError, http.client.HTTPException) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
            if served and banner:
                return
            time.sleep(0.1)
        missing = [] if banner else [f"no {BANNER!r} line in its output"]
        if not served:
            missing.append(f"GET / not answered (last error: {last_error})")
        raise ServerStartError(
            f"ninefold server not ready after {READY_TIMEOUT_S:.0f}s at {self.endpoint}: "
            f"{'; '.join(missing)}; log tail:\n{self.log_tail(since=self._log_offset)}"
        )

    def _reap_group(self, pgid: int) -> list[int]:
        """Wait for the group to empty; SIGKILL what is still there. Returns the stragglers."""
        deadline = time.monotonic() + GROUP_EXIT_TIMEOUT_S
        stragglers = _group_members(pgid)
        while stragglers and time.monotonic() < deadline:
            time.sleep(0.05)
            stragglers = _group_members(pgid)
        if stragglers:
            _killpg(pgid, signal.SIGKILL)
            deadline = time.monotonic() + GROUP_EXIT_TIMEOUT_S
            while _group_members(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
        return stragglers

    def _forget(self, proc: subprocess.Popen[bytes]) -> int | None:
        with _live_lock:
            _live.pop(proc.pid, None)
        self.returncode = proc.returncode
        self._proc = None
        return self.returncode

    def _note(self, message: str) -> None:
        with contextlib.suppress(OSError), self.log_path.open("a") as log:
            log.write(f"===== [test harness] {message}\n")


def start_server(
    data_dir: Path,
    *,
    tls: bool = False,
    drives: int = 9,
    workers: int = 2,
    domain: str | None = "s3.local",
    region: str = REGION,
    extra_args: Sequence[str] = (),
    access_key: str | None = None,
    secret_key: str | None = None,
    generated_credentials: bool = False,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> ServerProc:
    """Start ``ninefold server data_dir`` on a free port and return once it serves requests.

    Root keys are random per server (or ``access_key``/``secret_key``) and passed through
    ``NINEFOLD_ROOT_ACCESS_KEY``/``NINEFOLD_ROOT_SECRET_KEY``; with ``generated_credentials``
    the server makes its own and they are read back from ``data_dir/credentials.json``.
    The log (``<data_dir>-server.log``) and TLS files (``<data_dir>-tls/``) live next to
    ``data_dir``.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if generated_credentials:
        access_key = secret_key = None
    else:
        access_key = access_key or "NF" + _random_key(18, string.ascii_uppercase + string.digits)
        secret_key = secret_key or _random_key(40, string.ascii_letters + string.digits)
    tls_files = make_tls_files(data_dir.parent / f"{data_dir.name}-tls") if tls else None
    proc = ServerProc(
        data_dir,
        host=host,
        port=port or free_port(host),
        tls_files=tls_files,
        drives=drives,
        workers=workers,
        domain=domain,
        region=region,
        extra_args=extra_args,
        access_key=access_key,
        secret_key=secret_key,
        log_path=data_dir.parent / f"{data_dir.name}-server.log",
        port_movable=port is None,
    )
    proc.start()
    return proc
