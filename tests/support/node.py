"""Start and stop real ``ninefold node`` processes for cluster tests (stopped by PID group)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.server import free_port

BIN = Path(sys.executable).parent / "ninefold"


class NodeProc:
    def __init__(self, root: Path, node_id: str, zone: str, drives: int, secret: str) -> None:
        self.root = root
        self.node_id = node_id
        self.zone = zone
        self.drive_dirs = [root / f"drive{i}" for i in range(1, drives + 1)]
        self.secret = secret
        self.port = free_port()
        self.log_path = root.parent / f"{root.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> NodeProc:
        args = [
            str(BIN),
            "node",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--node-id",
            self.node_id,
            "--zone",
            self.zone,
        ]
        for drive in self.drive_dirs:
            args += ["--drive", str(drive)]
        env = dict(os.environ, NINEFOLD_CLUSTER_SECRET=self.secret)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited:\n{self.log_path.read_text()[-3000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return self
            time.sleep(0.1)
        raise RuntimeError("node did not start")

    def kill(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            self.kill()


class GatewayProc:
    """A ``ninefold gateway`` process on a free port (stopped by its process group)."""

    def __init__(
        self,
        meta_dsn: str,
        secret: str,
        access_key: str,
        secret_key: str,
        log_path: Path,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.meta_dsn = meta_dsn
        self.extra_args = list(extra_args)
        self.port = free_port()
        self.env = dict(
            os.environ,
            NINEFOLD_CLUSTER_SECRET=secret,
            NINEFOLD_ROOT_ACCESS_KEY=access_key,
            NINEFOLD_ROOT_SECRET_KEY=secret_key,
        )
        self.access_key, self.secret_key = access_key, secret_key
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProc:
        args = [str(BIN), "gateway", "--meta", self.meta_dsn, "--listen", f"127.0.0.1:{self.port}"]
        args += self.extra_args
        # the log is appended to across restarts: look for the banner past what is there now
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited:\n{self.log_path.read_text()[-3000:]}")
            if b"Ninefold gateway on" in self.log_path.read_bytes()[offset:]:
                return self
            time.sleep(0.1)
        raise RuntimeError("gateway did not start")

    def client(self, **kwargs: object) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            **kwargs,
        )

    def kill(self) -> None:
        """``kill -9`` of the gateway and its server processes (its whole process group)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None
