"""Start and stop real ``ninefold worker`` processes for cluster tests (by process group)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.node import BIN


class WorkerProc:
    """A ``ninefold worker --meta DSN`` daemon; its log is the file at ``log_path``."""

    def __init__(
        self, meta_dsn: str, secret: str, log_path: Path, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.meta_dsn = meta_dsn
        self.env = dict(os.environ, NINEFOLD_CLUSTER_SECRET=secret)
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.proc: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> WorkerProc:
        args = [str(BIN), "worker", "--meta", self.meta_dsn, *self.extra_args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.log()[-3000:]}")
            if "Ninefold worker:" in self.log():
                return self
            time.sleep(0.1)
        raise RuntimeError("worker did not start")

    def terminate(self, timeout_s: float = 15) -> int:
        """SIGTERM and wait: the exit code of a clean shutdown."""
        assert self.proc is not None
        self.proc.terminate()
        code = self.proc.wait(timeout_s)
        self.proc = None
        return code

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


def run_worker_once(meta_dsn: str, secret: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``ninefold worker --once``: every job one round; returns the finished process."""
    return subprocess.run(
        [str(BIN), "worker", "--meta", meta_dsn, "--once", *args],
        env=dict(os.environ, NINEFOLD_CLUSTER_SECRET=secret),
        capture_output=True,
        text=True,
        timeout=120,
    )
