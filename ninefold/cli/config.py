"""Ninefold's one configuration: typed, built once from flags, environment and TOML.

Every setting is a field of a frozen per-component dataclass, and that field's default is the
only place the default is written: the components' own settings (``CoordinatorSettings``,
``ApiSettings``, ``ninefold.workers.settings``) and the process-level ones below. ``Config``
holds one of each, as *sections*. A setting ``SECTION.FIELD`` can be given

* by a command-line flag (the commands' named flags, or ``--set SECTION.FIELD=VALUE``),
* by the environment variable ``NINEFOLD_<SECTION>_<FIELD>`` (upper case),
* by a TOML file (``--config FILE`` or ``NINEFOLD_CONFIG``): ``[SECTION]`` tables of
  ``FIELD = value``,

with that precedence (flag > env > TOML > default). Unknown TOML sections and keys, values of
the wrong type and values out of range are errors (``ConfigError``, one line for the operator);
unknown ``NINEFOLD_*`` variables are not (the environment is shared with other tools). ``Config``
remembers where each value came from, for ``ninefold config show``.

This module (and the rest of ``ninefold.cli``) is the only place that reads the environment;
everything below gets these frozen objects.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import secrets
import string
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ninefold.api.s3.context import ApiSettings
from ninefold.coordinator.settings import CoordinatorSettings
from ninefold.workers.settings import (
    GcSettings,
    HealthSettings,
    OrphanSettings,
    RebalanceSettings,
    RepairSettings,
    ScrubSettings,
)

__all__ = [
    "CONFIG_ENV",
    "ROLES",
    "SECTIONS",
    "CacheSettings",
    "ClusterSettings",
    "ClusterUpSettings",
    "Config",
    "ConfigError",
    "GatewaySettings",
    "MetaSettings",
    "NodeRoleSettings",
    "RootCredentials",
    "RootSettings",
    "ServerSettings",
    "config_rows",
    "default_of",
    "env_name",
    "help_of",
    "load_config",
    "load_or_create_credentials",
    "parse_address",
    "render_config",
    "with_section",
]

CREDENTIALS_FILE = "credentials.json"
#: the environment variable naming the TOML file when ``--config`` is not given
CONFIG_ENV = "NINEFOLD_CONFIG"
ENV_PREFIX = "NINEFOLD_"
#: where an S3 endpoint listens unless told otherwise (embedded server and gateway)
DEFAULT_S3_ADDRESS = "127.0.0.1:9000"


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line for the operator."""


def _meta(text: str, *, min_value: float | None = None, secret: str = "") -> dict[str, object]:
    """Field metadata: help text, the smallest allowed number, and how to hide a secret
    (``"all"``: the whole value; ``"url"``: a URL's password)."""
    out: dict[str, object] = {"help": text}
    if min_value is not None:
        out["min"] = min_value
    if secret:
        out["secret"] = secret
    return out


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (all interfaces) -> (host, port).

    >>> parse_address("127.0.0.1:9000"), parse_address("[::1]:80"), parse_address(":7000")
    (('127.0.0.1', 9000), ('::1', 80), ('0.0.0.0', 7000))
    """
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"address must be HOST:PORT, got {address!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port_text)


def _check_address(name: str, address: str | None) -> None:
    if address is not None:
        try:
            parse_address(address)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None


# ---- the process-level sections ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """``ninefold server``: the embedded server (S3, drives, workers in one command)."""

    data_dir: str | None = field(
        default=None, metadata=_meta("directory for metadata and the drives (DATA_DIR)")
    )
    address: str = field(default=DEFAULT_S3_ADDRESS, metadata=_meta("HOST:PORT to listen on"))
    drives: int = field(default=9, metadata=_meta("number of drive directories", min_value=9))
    workers: int = field(default=0, metadata=_meta("server processes (0: one per core)"))
    tls_cert: str | None = field(default=None, metadata=_meta("PEM certificate: serve HTTPS"))
    tls_key: str | None = field(default=None, metadata=_meta("PEM private key for tls_cert"))
    io_threads: int = field(default=16, metadata=_meta("disk I/O threads per process", min_value=1))

    def __post_init__(self) -> None:
        _check_address("server.address", self.address)
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("server.tls_cert and server.tls_key go together")


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """``ninefold gateway``: a stateless S3 gateway over the cluster."""

    listen: str = field(default=DEFAULT_S3_ADDRESS, metadata=_meta("HOST:PORT to serve S3 on"))
    workers: int = field(default=1, metadata=_meta("server processes (0: one per core)"))
    cpu_threads: int = field(
        default=8, metadata=_meta("threads for hashing and erasure coding", min_value=1)
    )

    def __post_init__(self) -> None:
        _check_address("gateway.listen", self.listen)


@dataclass(frozen=True, slots=True)
class NodeRoleSettings:
    """``ninefold node``: a storage-node daemon serving its drives."""

    listen: str | None = field(
        default=None, metadata=_meta("HOST:PORT to serve the cluster on (required)")
    )
    id: str | None = field(
        default=None, metadata=_meta("this node's id in the cluster map (required)")
    )
    zone: str = field(default="default", metadata=_meta("failure domain (availability zone)"))
    drives: tuple[str, ...] = field(
        default=(), metadata=_meta("drive directories (comma-separated in the environment)")
    )
    io_threads: int = field(default=16, metadata=_meta("disk I/O threads", min_value=1))

    def __post_init__(self) -> None:
        _check_address("node.listen", self.listen)


@dataclass(frozen=True, slots=True)
class ClusterUpSettings:
    """``ninefold cluster up``: a local multi-process cluster on loopback."""

    data_dir: str | None = field(
        default=None, metadata=_meta("directory for node drives, logs, metadata (DATA_DIR)")
    )
    nodes: int = field(default=9, metadata=_meta("storage node processes", min_value=4))
    zones: int = field(default=3, metadata=_meta("zones the nodes are spread over", min_value=1))
    drives: int = field(default=1, metadata=_meta("drives per node", min_value=1))
    gateways: int = field(default=2, metadata=_meta("gateway processes", min_value=1))
    gateway_workers: int = field(
        default=1, metadata=_meta("server processes per gateway (0: one per core)")
    )
    node_base_port: int = field(default=7000, metadata=_meta("node i listens on this + i"))
    gateway_port: int = field(default=9000, metadata=_meta("gateway g listens on this + g"))


@dataclass(frozen=True, slots=True)
class MetaSettings:
    """Where the cluster's metadata lives (gateway, worker, cluster up)."""

    dsn: str | None = field(
        default=None,
        metadata=_meta("PostgreSQL URL (postgresql://...) or a SQLite file path", secret="url"),
    )


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The gateways' shared Redis cache (optional)."""

    url: str | None = field(
        default=None, metadata=_meta("redis://, rediss:// or unix:// URL (unset: no cache)")
    )
    namespace: str = field(
        default="ninefold", metadata=_meta("key prefix in Redis; the same on every gateway")
    )

    def __post_init__(self) -> None:
        if self.url is not None and not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("cache.url takes a redis://, rediss:// or unix:// URL")


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """What every member of a cluster shares."""

    secret: str | None = field(
        default=None,
        metadata=_meta("signs gateway/worker -> node requests (16+ characters)", secret="all"),
    )
    map_refresh_s: float = field(
        default=2.0,
        metadata=_meta("seconds between two checks of the cluster map", min_value=0.01),
    )

    def secret_bytes(self) -> bytes:
        """The secret, which every member must have; ConfigError when missing or short."""
        if self.secret is None or len(self.secret) < 16:
            raise ConfigError(
                "set NINEFOLD_CLUSTER_SECRET (or [cluster] secret; at least 16 characters) "
                "on every member"
            )
        return self.secret.encode()


@dataclass(frozen=True, slots=True)
class RootSettings:
    """The root user's keys (unset on the embedded server: read from or generated into
    DATA_DIR/credentials.json)."""

    access_key: str | None = field(default=None, metadata=_meta("root access key id"))
    secret_key: str | None = field(
        default=None, metadata=_meta("root secret access key", secret="all")
    )

    def __post_init__(self) -> None:
        if bool(self.access_key) != bool(self.secret_key):
            raise ConfigError(
                "set both NINEFOLD_ROOT_ACCESS_KEY and NINEFOLD_ROOT_SECRET_KEY, or neither"
            )


# ---- the whole configuration ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Config:
    """One section per component; ``sources`` maps ``SECTION.FIELD`` to where its value came
    from (``default | toml | env | flag``)."""

    server: ServerSettings
    gateway: GatewaySettings
    node: NodeRoleSettings
    cluster_up: ClusterUpSettings
    meta: MetaSettings
    cache: CacheSettings
    cluster: ClusterSettings
    root: RootSettings
    s3: ApiSettings
    coordinator: CoordinatorSettings
    health: HealthSettings
    gc: GcSettings
    repair: RepairSettings
    scrub: ScrubSettings
    orphan: OrphanSettings
    rebalance: RebalanceSettings
    #: the TOML file read, if any
    config_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


_NOT_SECTIONS = {"config_file", "sources"}
SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Config)[f.name]
    for f in fields(Config)
    if f.name not in _NOT_SECTIONS
}

#: the sections each command uses (what ``ninefold config show ROLE`` prints); a
#: ``SECTION.FIELD`` entry is one setting of a section the command uses only in part
ROLES: dict[str, tuple[str, ...]] = {
    "server": (
        "server",
        "root",
        "s3",
        "coordinator",
        "health",
        "gc",
        "repair",
        "scrub",
        "orphan",
        "rebalance",
    ),
    "gateway": ("gateway", "meta", "cache", "cluster", "root", "s3", "coordinator"),
    "worker": (
        "meta",
        "server.data_dir",
        "server.drives",
        "server.io_threads",
        "cluster",
        "coordinator",
        "health",
        "gc",
        "repair",
        "scrub",
        "orphan",
        "rebalance",
    ),
    "node": ("node", "cluster", "orphan.interval_s", "orphan.tmp_max_age_s"),
    "cluster-up": ("cluster_up", "meta", "cache", "cluster", "root"),
}


def env_name(key: str) -> str:
    """``scrub.mb_per_s`` -> ``NINEFOLD_SCRUB_MB_PER_S``."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def _field(key: str) -> Any:
    section, _, name = key.partition(".")
    cls = SECTIONS.get(section)
    if cls is None:
        raise ConfigError(f"unknown section {section!r} (known: {', '.join(SECTIONS)})")
    for f in fields(cls):
        if f.name == name:
            return f
    known = ", ".join(f.name for f in fields(cls))
    raise ConfigError(f"unknown setting {key!r} (known in [{section}]: {known})")


def default_of(key: str) -> Any:
    """The default of ``SECTION.FIELD`` (defined once, on its dataclass)."""
    f = _field(key)
    return f.default_factory() if f.default is MISSING else f.default


def help_of(key: str) -> str:
    return str(_field(key).metadata.get("help", ""))


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(value: object, tp: Any, text: bool) -> object:
    """``value`` as type ``tp``; ``text``: it is a string from the environment or ``--set``.
    Raises ValueError with what was expected."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if text and value == "":
            return None
        inner = next(a for a in args if a is not type(None))
        return _convert(value, inner, text)
    if origin is tuple:
        if text:
            items: list[object] = [v.strip() for v in str(value).split(",") if v.strip()]
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise ValueError("expected a list")
        return tuple(_convert(v, args[0], text) for v in items)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if text and str(value).lower() in _TRUE | _FALSE:
            return str(value).lower() in _TRUE
        raise ValueError("expected true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if text:
            with contextlib.suppress(ValueError):
                return int(str(value))
        raise ValueError("expected an integer")
    if tp is float:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif text:
            with contextlib.suppress(ValueError):
                number = float(str(value))
        if number is None or not math.isfinite(number):
            raise ValueError("expected a number")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, Path):
            return str(value)
        raise ValueError("expected a string")
    raise TypeError(f"unsupported setting type {tp!r}")  # a bug in a settings class


def _typed(key: str, value: object, text: bool, where: str) -> object:
    section, _, name = key.partition(".")
    tp = typing.get_type_hints(SECTIONS[section])[name]
    try:
        out = _convert(value, tp, text)
    except ValueError as exc:
        raise ConfigError(f"{key} = {value!r} ({where}): {exc}") from None
    lowest = _field(key).metadata.get("min", 0)
    if isinstance(out, int | float) and not isinstance(out, bool) and out < lowest:
        raise ConfigError(f"{key} = {value!r} ({where}): must be >= {lowest:g}")
    return out


def _read_toml(path: str) -> dict[str, dict[str, object]]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: not found") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: invalid TOML: {exc}") from None
    out: dict[str, dict[str, object]] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"config file {path}: {section!r} must be a [section] table, not a value"
            )
        for name, value in table.items():
            key = f"{section}.{name}"
            try:
                _field(key)
            except ConfigError as exc:
                raise ConfigError(f"config file {path}: {exc}") from None
            out.setdefault(section, {})[name] = _typed(key, value, False, f"in {path}")
    return out


def _parse_set(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or "." not in key:
        raise ConfigError(f"--set takes SECTION.FIELD=VALUE, got {item!r}")
    return key.strip(), value.strip()


def load_config(
    *,
    environ: Mapping[str, str],
    flags: Mapping[str, object] | None = None,
    sets: Sequence[str] = (),
    config_file: str | None = None,
) -> Config:
    """Build the configuration: ``flags`` (``SECTION.FIELD`` -> a typed value; None: not
    given) and ``sets`` (``--set`` items) over ``environ`` over the TOML file (``config_file``,
    else ``environ[NINEFOLD_CONFIG]``) over the defaults. Raises ConfigError."""
    path = config_file or environ.get(CONFIG_ENV) or None
    toml = _read_toml(path) if path else {}
    values: dict[str, dict[str, object]] = {s: {} for s in SECTIONS}
    sources: dict[str, str] = {}
    for section, table in toml.items():
        for name, value in table.items():
            values[section][name] = value
            sources[f"{section}.{name}"] = "toml"
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            key = f"{section}.{f.name}"
            var = env_name(key)
            if var in environ:
                values[section][f.name] = _typed(key, environ[var], True, f"from {var}")
                sources[key] = "env"
    given: list[tuple[str, object, bool]] = [(*_parse_set(i), True) for i in sets]
    given += [(k, v, False) for k, v in (flags or {}).items() if v is not None]
    for key, value, text in given:
        _field(key)
        section, _, name = key.partition(".")
        values[section][name] = _typed(key, value, text, "flag")
        sources[key] = "flag"
    built: dict[str, Any] = {}
    for section, cls in SECTIONS.items():
        for f in fields(cls):
            sources.setdefault(f"{section}.{f.name}", "default")
        try:
            built[section] = cls(**values[section])
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"[{section}]: {exc}") from None
    return Config(**built, config_file=path, sources=sources)


# ---- showing it -------------------------------------------------------------------------------

_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")


def _shown(value: object, secret: str) -> str:
    if value is None:
        return "-"
    if secret == "all":
        return "***"
    if isinstance(value, tuple):
        text = ", ".join(str(v) for v in value) or "(none)"
    elif isinstance(value, str):
        text = value if value else '""'
    else:
        text = str(value)
    return _URL_PASSWORD.sub(r"\1***@", text) if secret == "url" else text


def config_rows(config: Config, sections: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """(setting, value as shown, source, environment variable) for every field of
    ``sections``; secrets are ``***``."""
    rows = []
    for entry in sections:
        section, _, only = entry.partition(".")
        settings = getattr(config, section)
        for f in fields(settings):
            if only and f.name != only:
                continue
            key = f"{section}.{f.name}"
            value = _shown(getattr(settings, f.name), str(f.metadata.get("secret", "")))
            rows.append((key, value, config.sources.get(key, "default"), env_name(key)))
    return rows


def render_config(config: Config, sections: Sequence[str] | None = None) -> str:
    """Every effective value and its source as aligned text, one setting per line."""
    rows = [("SETTING", "VALUE", "SOURCE", "ENVIRONMENT")]
    rows += config_rows(config, sections or list(SECTIONS))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"# config file: {config.config_file or '(none)'}"]
    for key, value, source, env in rows:
        lines.append(
            f"{key:<{widths[0]}}  {value:<{widths[1]}}  {source:<{widths[2]}}  {env}".rstrip()
        )
    return "\n".join(lines)


# ---- root credentials -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RootCredentials:
    access_key: str
    secret_key: str


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def load_or_create_credentials(data_dir: Path, root: RootSettings) -> tuple[RootCredentials, str]:
    """The configured root keys, else the data dir's file, else new ones (written 0600).

    Returns the credentials and where they came from, for the operator."""
    if root.access_key and root.secret_key:
        return RootCredentials(root.access_key, root.secret_key), "configured"
    path = data_dir / CREDENTIALS_FILE
    if path.exists():
        data = json.loads(path.read_text())
        return RootCredentials(data["access_key"], data["secret_key"]), f"from {path}"
    creds = RootCredentials(
        access_key=_random_key(20, string.ascii_uppercase + string.digits),
        secret_key=_random_key(40, string.ascii_letters + string.digits + "+/"),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"access_key": creds.access_key, "secret_key": creds.secret_key}, f)
        f.flush()
        os.fsync(f.fileno())
    return creds, f"generated, stored in {path}"


def with_section(config: Config, section: str, **changes: object) -> Config:
    """``config`` with some fields of one section replaced (same sources)."""
    return replace(config, **{section: replace(getattr(config, section), **changes)})
