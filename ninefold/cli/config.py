"""Typed settings of the embedded server, and the root credentials file.

The CLI is the only layer that reads the environment; everything below gets these frozen
objects.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RootCredentials", "ServerConfig", "load_or_create_credentials", "parse_address"]

CREDENTIALS_FILE = "credentials.json"


@dataclass(frozen=True, slots=True)
class RootCredentials:
    access_key: str
    secret_key: str


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path
    host: str
    port: int
    drives: int
    workers: int
    region: str
    domain: str | None
    tls_cert: str | None
    tls_key: str | None
    credentials: RootCredentials
    io_threads: int = 16
    gc_interval_s: float = 10.0
    repair_interval_s: float = 5.0
    scrub_interval_s: float = 30.0
    #: scrub throttle (None: unthrottled)
    scrub_max_bytes_per_s: float | None = None
    orphan_interval_s: float = 600.0

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"

    @property
    def endpoint(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def drive_dirs(self) -> list[Path]:
        return [self.data_dir / "drives" / f"d{i}" for i in range(1, self.drives + 1)]


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (all interfaces) -> (host, port)."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"address must be HOST:PORT, got {address!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def load_or_create_credentials(data_dir: Path) -> tuple[RootCredentials, bool]:
    """Root credentials from the environment, else the data dir's file, else new ones (0600).

    Returns the credentials and whether they were generated now.
    """
    env_access = os.environ.get("NINEFOLD_ROOT_ACCESS_KEY")
    env_secret = os.environ.get("NINEFOLD_ROOT_SECRET_KEY")
    if env_access and env_secret:
        return RootCredentials(env_access, env_secret), False
    if env_access or env_secret:
        raise ValueError(
            "set both NINEFOLD_ROOT_ACCESS_KEY and NINEFOLD_ROOT_SECRET_KEY, or neither"
        )
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        data = json.loads(path.read_text())
        return RootCredentials(data["access_key"], data["secret_key"]), False
    creds = RootCredentials(
        access_key=_random_key(20, string.ascii_uppercase + string.digits),
        secret_key=_random_key(40, string.ascii_letters + string.digits + "+/"),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"access_key": creds.access_key, "secret_key": creds.secret_key}, f)
        f.flush()
        os.fsync(f.fileno())
    return creds, True
