"""The ``ninefold`` command line.

Every role command (``server``, ``gateway``, ``worker``, ``node``, ``cluster up``) turns its
flags into ``SECTION.FIELD`` values and builds the one ``Config`` (``cli.config``: flag > env >
TOML > default); ``ninefold config show [ROLE ...]`` runs the same commands' option handling and
prints the result instead of running.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ninefold.cli.cluster import ClusterPlan, load_or_create_cluster_secret, run_cluster
from ninefold.cli.compose import ClusterMap, MetaStore, NodeRecord, open_meta, prepare_data_dir
from ninefold.cli.config import (
    CONFIG_ENV,
    ROLES,
    Config,
    ConfigError,
    default_of,
    help_of,
    load_config,
    load_or_create_credentials,
    parse_address,
    render_config,
    with_section,
)
from ninefold.cli.drives import DriveSlot, ReplaceRefused, drive_lines, replace_drive, slots
from ninefold.cli.embedded import endpoint, supervise
from ninefold.cli.gateway import run_gateway
from ninefold.cli.heal import heal_view
from ninefold.cli.iam import account_app, group_app, key_app, policy_app, user_app
from ninefold.cli.maptable import cluster_map_table
from ninefold.cli.node import run_node
from ninefold.cli.supervisor import listen_problem
from ninefold.cli.worker import run_worker

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Ninefold object store.")


def _shown_default(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _flag(key: str, *names: str, help: str | None = None) -> Any:
    """A flag for setting ``key``: its default and help come from the settings class."""
    text = help or (help_of(key)[:1].upper() + help_of(key)[1:] + ".")
    text += f" (default: {_shown_default(default_of(key))})"
    return typer.Option(*names, help=text, show_default=False)


ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help=f"TOML configuration file (default: ${CONFIG_ENV}, else none).",
        show_default=False,
    ),
]
SetFlag = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="SECTION.FIELD=VALUE",
        help="Set any setting (repeatable); `ninefold config show` lists them.",
        show_default=False,
    ),
]


@dataclass(frozen=True, slots=True)
class _ShowRequest:
    """Put in the context by ``config show``: the role command prints instead of running."""

    config_file: Path | None
    sets: tuple[str, ...]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"ninefold: {message}", err=True)
    return typer.Exit(2)


def _load(
    ctx: typer.Context,
    flags: Mapping[str, object],
    config_file: Path | None,
    sets: list[str] | None,
) -> Config:
    show = ctx.obj if isinstance(ctx.obj, _ShowRequest) else None
    if show is not None:
        config_file = config_file or show.config_file
        sets = [*show.sets, *(sets or [])]
    try:
        return load_config(
            environ=os.environ,
            flags=flags,
            sets=sets or (),
            config_file=str(config_file) if config_file else None,
        )
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _shown(ctx: typer.Context, config: Config, role: str) -> bool:
    """Under ``config show``: print ``role``'s settings and report True."""
    if not isinstance(ctx.obj, _ShowRequest):
        return False
    typer.echo(render_config(config, ROLES[role]))
    return True


def _check_listen(address: str, flag: str) -> None:
    """Fail with one line, before anything starts, when ``address`` cannot be listened on."""
    problem = listen_problem(*parse_address(address))
    if problem is not None:
        raise _fail(f"{problem}; use {flag}")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")


@app.callback()
def _root() -> None:
    """Ninefold: an erasure-coded, S3-compatible object store."""


@app.command()
def server(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Argument(
            help="Directory for metadata and the drives ([server] data_dir).", show_default=False
        ),
    ] = None,
    address: Annotated[str | None, _flag("server.address", "--address")] = None,
    drives: Annotated[int | None, _flag("server.drives", "--drives")] = None,
    workers: Annotated[int | None, _flag("server.workers", "--workers")] = None,
    tls_cert: Annotated[str | None, _flag("server.tls_cert", "--tls-cert")] = None,
    tls_key: Annotated[str | None, _flag("server.tls_key", "--tls-key")] = None,
    domain: Annotated[
        str | None,
        _flag("s3.domain", "--domain", help="Base domain for virtual-hosted-style addressing."),
    ] = None,
    region: Annotated[
        str | None, _flag("s3.region", "--region", help="Region this endpoint reports.")
    ] = None,
    scrub_mb_per_s: Annotated[float | None, _flag("scrub.mb_per_s", "--scrub-mb-per-s")] = None,
    orphan_grace_s: Annotated[float | None, _flag("orphan.grace_s", "--orphan-grace-s")] = None,
    orphan_interval_s: Annotated[
        float | None, _flag("orphan.interval_s", "--orphan-interval-s")
    ] = None,
    tmp_max_age_s: Annotated[float | None, _flag("orphan.tmp_max_age_s", "--tmp-max-age-s")] = None,
    config_file: ConfigFile = None,
    set_: SetFlag = None,
) -> None:
    """Run the embedded S3 server: 6+3 erasure coding over local drive directories, with
    every background job of a cluster worker."""
    flags = {
        "server.data_dir": str(data_dir) if data_dir is not None else None,
        "server.address": address,
        "server.drives": drives,
        "server.workers": workers,
        "server.tls_cert": tls_cert,
        "server.tls_key": tls_key,
        "s3.domain": domain,
        "s3.region": region,
        "scrub.mb_per_s": scrub_mb_per_s,
        "orphan.grace_s": orphan_grace_s,
        "orphan.interval_s": orphan_interval_s,
        "orphan.tmp_max_age_s": tmp_max_age_s,
    }
    config = _load(ctx, flags, config_file, set_)
    if _shown(ctx, config, "server"):
        return
    _logging()
    if config.server.data_dir is None:
        raise _fail("the server needs a data directory: DATA_DIR, or [server] data_dir")
    for path in (config.server.tls_cert, config.server.tls_key):
        if path and not Path(path).is_file():
            raise _fail(f"no such file: {path}")
    _check_listen(config.server.address, "--address")
    data = Path(config.server.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    credentials, origin = load_or_create_credentials(data, config.root)
    if origin == "configured":
        origin = {"env": "the environment", "toml": "the config file"}.get(
            config.sources["root.access_key"], "the command line"
        )
    config = with_section(
        config,
        "server",
        data_dir=str(data),
        workers=config.server.workers or os.cpu_count() or 1,
    )
    asyncio.run(prepare_data_dir(config))

    def announce() -> None:
        typer.echo(f"Ninefold S3 endpoint: {endpoint(config)}")
        typer.echo(f"  AccessKey: {credentials.access_key}")
        typer.echo(f"  SecretKey: {credentials.secret_key}   ({origin})")
        typer.echo(
            f"  Data: {data} ({config.server.drives} drives, erasure coding 6+3), "
            f"{config.server.workers} server processes. Ctrl-C stops."
        )

    raise typer.Exit(supervise(config, credentials, announce))


@app.command()
def node(
    ctx: typer.Context,
    listen: Annotated[str | None, _flag("node.listen", "--listen")] = None,
    drive: Annotated[
        list[Path] | None,
        _flag("node.drives", "--drive", help="A drive directory (repeat for more)."),
    ] = None,
    node_id: Annotated[str | None, _flag("node.id", "--node-id")] = None,
    zone: Annotated[str | None, _flag("node.zone", "--zone")] = None,
    tmp_max_age_s: Annotated[float | None, _flag("orphan.tmp_max_age_s", "--tmp-max-age-s")] = None,
    config_file: ConfigFile = None,
    set_: SetFlag = None,
) -> None:
    """Run a storage node: serve its drives' fragments to the cluster (HMAC-signed requests;
    the shared secret comes from NINEFOLD_CLUSTER_SECRET)."""
    flags = {
        "node.listen": listen,
        "node.drives": [str(d) for d in drive] if drive else None,
        "node.id": node_id,
        "node.zone": zone,
        "orphan.tmp_max_age_s": tmp_max_age_s,
    }
    config = _load(ctx, flags, config_file, set_)
    if _shown(ctx, config, "node"):
        return
    _logging()
    if config.node.listen is not None:
        _check_listen(str(config.node.listen), "--listen")
    try:
        run_node(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


@app.command()
def gateway(
    ctx: typer.Context,
    meta: Annotated[str | None, _flag("meta.dsn", "--meta")] = None,
    listen: Annotated[str | None, _flag("gateway.listen", "--listen")] = None,
    domain: Annotated[
        str | None,
        _flag("s3.domain", "--domain", help="Base domain for virtual-hosted-style addressing."),
    ] = None,
    region: Annotated[
        str | None, _flag("s3.region", "--region", help="Region this endpoint reports.")
    ] = None,
    cache: Annotated[str | None, _flag("cache.url", "--cache")] = None,
    cache_namespace: Annotated[str | None, _flag("cache.namespace", "--cache-namespace")] = None,
    workers: Annotated[int | None, _flag("gateway.workers", "--workers")] = None,
    config_file: ConfigFile = None,
    set_: SetFlag = None,
) -> None:
    """Run a stateless S3 gateway over the cluster (nodes from the cluster map in metadata).

    Root keys come from NINEFOLD_ROOT_ACCESS_KEY / NINEFOLD_ROOT_SECRET_KEY (the same on every
    gateway), the node secret from NINEFOLD_CLUSTER_SECRET (or the config file)."""
    flags = {
        "meta.dsn": meta,
        "gateway.listen": listen,
        "s3.domain": domain,
        "s3.region": region,
        "cache.url": cache,
        "cache.namespace": cache_namespace,
        "gateway.workers": workers,
    }
    config = _load(ctx, flags, config_file, set_)
    if _shown(ctx, config, "gateway"):
        return
    _logging()
    _check_listen(config.gateway.listen, "--listen")
    config = with_section(config, "gateway", workers=config.gateway.workers or os.cpu_count() or 1)
    try:
        code = run_gateway(config)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


admin = typer.Typer(no_args_is_help=True, help="Administer a cluster.")
admin_node = typer.Typer(no_args_is_help=True, help="The cluster map's storage nodes.")
admin.add_typer(admin_node, name="node")
admin.add_typer(account_app, name="account")
admin.add_typer(user_app, name="user")
admin.add_typer(key_app, name="key")
admin.add_typer(group_app, name="group")
admin.add_typer(policy_app, name="policy")
app.add_typer(admin, name="admin")

MetaOption = Annotated[str, typer.Option(help="Metadata: postgresql://... or a SQLite path.")]


def _print_map(cluster: ClusterMap) -> None:
    Console(width=160).print(cluster_map_table(cluster, time.time()))


async def _with_meta(dsn: str, action: Callable[[MetaStore], Awaitable[ClusterMap]]) -> ClusterMap:
    store = await open_meta(dsn)
    try:
        return await action(store)
    finally:
        await store.close()


admin_heal = typer.Typer(no_args_is_help=True, help="Repair and scrub progress.")
admin.add_typer(admin_heal, name="heal")


@admin_heal.command("status")
def heal_status(
    meta: MetaOption,
    watch: Annotated[bool, typer.Option("--watch", help="Refresh every second.")] = False,
) -> None:
    """Repair progress (bar, rate, ETA) and the scrubber's position."""

    async def snapshot() -> tuple[dict[str, tuple[dict[str, Any], float]], int]:
        store = await open_meta(meta)
        try:
            return await store.get_job_status(), await store.repair_count()
        finally:
            await store.close()

    console = Console(width=120)
    while True:
        status, queued = asyncio.run(snapshot())
        console.print(heal_view(status, queued, time.time()))
        if not watch:
            return
        time.sleep(1.0)


admin_drive = typer.Typer(
    no_args_is_help=True, help="Drive identities: list them, format a replacement."
)
admin.add_typer(admin_drive, name="drive")
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="An embedded server's data directory (drives/d1..dN)."),
]
NodeIdOption = Annotated[
    str | None, typer.Option("--node-id", help="A node's id (its drives' owner).")
]
PathOption = Annotated[
    list[Path] | None,
    typer.Option("--path", help="A node's drive directory, in its --drive order (repeat)."),
]


@admin_drive.command("list")
def drive_list(
    data_dir: DataDirOption = None, node_id: NodeIdOption = None, path: PathOption = None
) -> None:
    """Each drive slot: ok (and its uuid) or why it failed."""
    try:
        found = slots(data_dir, node_id, path or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    for line in drive_lines(found):
        typer.echo(line)


@admin_drive.command("replace")
def drive_replace(
    drive: Annotated[str, typer.Argument(help="The slot to format anew: d1, d2, ...")],
    data_dir: DataDirOption = None,
    node_id: NodeIdOption = None,
    path: Annotated[
        Path | None, typer.Option("--path", help="For a node: the slot's directory.")
    ] = None,
) -> None:
    """Format a replacement for a failed drive (a missing or empty directory) with a new
    identity; the running server or node uses it at its next health check, and repair and
    rebalance fill it."""
    if data_dir is not None:
        found = {s.name: s for s in slots(data_dir, None, [])}
        if drive not in found:
            number = drive[1:]
            if not (drive.startswith("d") and number.isdigit() and int(number) > 0):
                raise _fail(f"no drive {drive!r}: drives are named d1, d2, ...")
            found = {s.name: s for s in slots(data_dir, None, [], int(number))}
        slot = found[drive]
    elif node_id and path is not None:
        if not (drive.startswith("d") and drive[1:].isdigit()):
            raise _fail(f"no drive {drive!r}: a node's drives are named d1, d2, ...")
        slot = DriveSlot(drive, path.resolve(), node_id)
    else:
        raise _fail("give --data-dir, or --node-id and --path")
    try:
        ident, where = replace_drive(slot)
    except ReplaceRefused as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot format {slot.path}: {exc}") from None
    typer.echo(f"drive {slot.name} formatted at {slot.path}: uuid {ident.uuid} ({where})")


@admin.command("durability")
def admin_durability(
    ctx: typer.Context,
    meta: Annotated[
        str | None, typer.Option(help="A cluster's metadata: postgresql://... or a SQLite path.")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="An embedded server's data directory (9 local drives).")
    ] = None,
    scheme: Annotated[str, typer.Option(help="Redundancy: ec:K+M, or rep:N.")] = "ec:6+3",
    afr: Annotated[float, typer.Option(help="Assumed annual failure rate of a drive, %.")] = 2.0,
    zone_afr: Annotated[
        float, typer.Option(help="Assumed annual rate of losing a whole zone, % per zone.")
    ] = 0.1,
    device_tb: Annotated[float, typer.Option(help="Data per drive to rebuild, TB.")] = 4.0,
    used_bytes: Annotated[
        int | None,
        typer.Option(min=0, help="Bytes on all drives (parity included); overrides --device-tb."),
    ] = None,
    assume_repair_mb_s: Annotated[
        float, typer.Option(help="Repair rate to assume while none was measured, MB/s.")
    ] = 50.0,
    lost_after_s: Annotated[
        float | None,
        _flag(
            "repair.lost_after_s",
            "--lost-after-s",
            help="Detection delay before repair starts, seconds (the repair worker's setting).",
        ),
    ] = None,
    chunks: Annotated[
        int | None, typer.Option(min=0, help="Chunks stored (caps the placement groups).")
    ] = None,
    config_file: ConfigFile = None,
) -> None:
    """Annual durability (nines) of the cluster: a Markov model over k, m, drives, zones, an
    assumed failure rate and the repair rate measured here (docs/durability.md)."""
    from ninefold.cli.durability import Assumptions, durability_command

    config = _load(ctx, {"repair.lost_after_s": lost_after_s}, config_file, None)
    lost_after_s = config.repair.lost_after_s
    try:
        assumptions = Assumptions.from_options(
            scheme, afr, zone_afr, device_tb, used_bytes, assume_repair_mb_s, lost_after_s, chunks
        )
        view = asyncio.run(durability_command(meta, data_dir, assumptions))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    Console(width=120).print(view)


@admin_node.command("add")
def node_add(
    meta: MetaOption,
    node_id: Annotated[str, typer.Option(help="The node's id (as given to `ninefold node`).")],
    url: Annotated[str, typer.Option(help="Where the node listens, e.g. http://10.0.0.5:7000.")],
    zone: Annotated[str, typer.Option(help="Failure domain.")] = "default",
    drives: Annotated[int, typer.Option(min=1, help="Number of drives the node serves.")] = 1,
    weight: Annotated[float, typer.Option(min=0.0, help="Share of new data.")] = 1.0,
) -> None:
    """Add a node to the cluster map (or update its entry: url, zone, drives and weight; a node
    being drained stays draining)."""

    async def action(store: MetaStore) -> ClusterMap:
        current = {n.node_id: n for n in (await store.get_cluster_map()).nodes}
        state = current[node_id].state if node_id in current else "up"
        drive_ids = tuple(f"d{i}" for i in range(1, drives + 1))
        return await store.put_node(
            NodeRecord(node_id, url.rstrip("/"), zone, drive_ids, weight, state)
        )

    _print_map(asyncio.run(_with_meta(meta, action)))


def _set_state(meta: str, node_id: str, state: str) -> None:
    async def action(store: MetaStore) -> ClusterMap:
        current = {n.node_id: n for n in (await store.get_cluster_map()).nodes}
        if node_id not in current:
            raise typer.BadParameter(f"no node {node_id!r} in the cluster map")
        n = current[node_id]
        return await store.put_node(NodeRecord(n.node_id, n.url, n.zone, n.drives, n.weight, state))

    _print_map(asyncio.run(_with_meta(meta, action)))


@admin_node.command("drain")
def node_drain(meta: MetaOption, node_id: Annotated[str, typer.Argument()]) -> None:
    """Stop placing new data on a node (reads still reach it)."""
    _set_state(meta, node_id, "draining")


@admin_node.command("list")
def node_list(meta: MetaOption) -> None:
    """Show the cluster map."""
    _print_map(asyncio.run(_with_meta(meta, lambda m: m.get_cluster_map())))


@admin_node.command("remove")
def node_remove(meta: MetaOption, node_id: Annotated[str, typer.Argument()]) -> None:
    """Remove a node from the cluster map."""

    async def action(store: MetaStore) -> ClusterMap:
        try:
            return await store.remove_node(node_id)
        except KeyError:
            raise typer.BadParameter(f"no node {node_id!r} in the cluster map") from None

    _print_map(asyncio.run(_with_meta(meta, action)))


cluster = typer.Typer(no_args_is_help=True, help="A local multi-process cluster.")
app.add_typer(cluster, name="cluster")


@cluster.command("up")
def cluster_up(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Argument(
            help="Directory for node drives, logs, metadata ([cluster_up] data_dir).",
            show_default=False,
        ),
    ] = None,
    nodes: Annotated[int | None, _flag("cluster_up.nodes", "--nodes")] = None,
    zones: Annotated[int | None, _flag("cluster_up.zones", "--zones")] = None,
    drives: Annotated[int | None, _flag("cluster_up.drives", "--drives")] = None,
    gateways: Annotated[int | None, _flag("cluster_up.gateways", "--gateways")] = None,
    gateway_workers: Annotated[
        int | None, _flag("cluster_up.gateway_workers", "--gateway-workers")
    ] = None,
    meta: Annotated[
        str | None,
        _flag("meta.dsn", "--meta", help="postgresql://... (default: SQLite in DATA_DIR)."),
    ] = None,
    node_base_port: Annotated[
        int | None, _flag("cluster_up.node_base_port", "--node-base-port")
    ] = None,
    gateway_port: Annotated[int | None, _flag("cluster_up.gateway_port", "--gateway-port")] = None,
    cache: Annotated[str | None, _flag("cache.url", "--cache")] = None,
    config_file: ConfigFile = None,
    set_: SetFlag = None,
) -> None:
    """Start nodes, register them in the cluster map, start a worker and the gateways;
    Ctrl-C stops it all. The processes get the same config file (NINEFOLD_CONFIG)."""
    flags = {
        "cluster_up.data_dir": str(data_dir) if data_dir is not None else None,
        "cluster_up.nodes": nodes,
        "cluster_up.zones": zones,
        "cluster_up.drives": drives,
        "cluster_up.gateways": gateways,
        "cluster_up.gateway_workers": gateway_workers,
        "meta.dsn": meta,
        "cluster_up.node_base_port": node_base_port,
        "cluster_up.gateway_port": gateway_port,
        "cache.url": cache,
    }
    config = _load(ctx, flags, config_file, set_)
    if _shown(ctx, config, "cluster-up"):
        return
    _logging()
    up = config.cluster_up
    if up.data_dir is None:
        raise _fail("cluster up needs a data directory: DATA_DIR, or [cluster_up] data_dir")
    if up.nodes * up.drives < 9:
        raise _fail("6+3 erasure coding needs at least 9 drives in the cluster")
    data = Path(up.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    credentials, _ = load_or_create_credentials(data, config.root)
    secret = load_or_create_cluster_secret(data, config.cluster.secret)
    plan = ClusterPlan(
        data_dir=data,
        nodes=up.nodes,
        zones=up.zones,
        drives_per_node=up.drives,
        gateways=up.gateways,
        gateway_workers=up.gateway_workers or os.cpu_count() or 1,
        meta_dsn=config.meta.dsn or str(data / "meta.db"),
        node_base_port=up.node_base_port,
        gateway_base_port=up.gateway_port,
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
        cluster_secret=secret,
        cache_url=config.cache.url,
        # one namespace per cluster, stable across restarts: clusters may share a Redis
        cache_namespace="ninefold-" + hashlib.sha256(secret.encode()).hexdigest()[:12],
        config_file=config.config_file,
    )

    def announce(endpoints: list[str]) -> None:
        typer.echo(
            f"Ninefold cluster: {up.nodes} nodes in {up.zones} zones, metadata "
            f"{plan.meta_dsn}, cache {config.cache.url or 'none'}"
        )
        for url in endpoints:
            typer.echo(f"Ninefold S3 endpoint: {url}")
        typer.echo(f"  AccessKey: {credentials.access_key}")
        typer.echo(f"  SecretKey: {credentials.secret_key}")
        typer.echo("Ctrl-C stops the cluster.")

    try:
        code = run_cluster(plan, announce)
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        # a process that did not come up (port taken, bad drive path, ...): say which, no trace
        typer.echo(f"ninefold: the cluster did not start: {exc}", err=True)
        raise typer.Exit(1) from None
    raise typer.Exit(code)


@app.command()
def worker(
    ctx: typer.Context,
    meta: Annotated[str | None, _flag("meta.dsn", "--meta")] = None,
    data_dir: Annotated[
        Path | None,
        _flag(
            "server.data_dir",
            "--data-dir",
            help="An embedded server's data directory: run its jobs over its drives and "
            "meta.db (instead of --meta and a cluster; the server may be running).",
        ),
    ] = None,
    drives: Annotated[
        int | None,
        _flag("server.drives", "--drives", help="With --data-dir: the server's drive count."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run every job one round, then exit.")
    ] = False,
    health_interval_s: Annotated[
        float | None, _flag("health.interval_s", "--health-interval-s")
    ] = None,
    down_after_s: Annotated[float | None, _flag("health.down_after_s", "--down-after-s")] = None,
    gc_interval_s: Annotated[float | None, _flag("gc.interval_s", "--gc-interval-s")] = None,
    gc_grace_s: Annotated[
        float | None,
        _flag(
            "coordinator.gc_grace_s",
            "--gc-grace-s",
            help="Keep fragments of replaced versions this long (seconds).",
        ),
    ] = None,
    repair_interval_s: Annotated[
        float | None, _flag("repair.interval_s", "--repair-interval-s")
    ] = None,
    lost_after_s: Annotated[float | None, _flag("repair.lost_after_s", "--lost-after-s")] = None,
    repair_mb_per_s: Annotated[float | None, _flag("repair.mb_per_s", "--repair-mb-per-s")] = None,
    scrub_interval_s: Annotated[
        float | None, _flag("scrub.interval_s", "--scrub-interval-s")
    ] = None,
    scrub_mb_per_s: Annotated[float | None, _flag("scrub.mb_per_s", "--scrub-mb-per-s")] = None,
    orphan_grace_s: Annotated[float | None, _flag("orphan.grace_s", "--orphan-grace-s")] = None,
    orphan_interval_s: Annotated[
        float | None, _flag("orphan.interval_s", "--orphan-interval-s")
    ] = None,
    tmp_max_age_s: Annotated[float | None, _flag("orphan.tmp_max_age_s", "--tmp-max-age-s")] = None,
    rebalance_interval_s: Annotated[
        float | None, _flag("rebalance.interval_s", "--rebalance-interval-s")
    ] = None,
    rebalance_mb_per_s: Annotated[
        float | None, _flag("rebalance.mb_per_s", "--rebalance-mb-per-s")
    ] = None,
    config_file: ConfigFile = None,
    set_: SetFlag = None,
) -> None:
    """Run the background jobs (node health, GC, repair, scrub, orphans, rebalance) with
    leader election: start several, each job runs in one of them at a time. The node secret
    comes from NINEFOLD_CLUSTER_SECRET (or the config file). With --data-dir: the jobs of an
    embedded server's data dir (no cluster, no secret)."""
    flags = {
        "meta.dsn": meta,
        "server.data_dir": str(data_dir.resolve()) if data_dir is not None else None,
        "server.drives": drives,
        "health.interval_s": health_interval_s,
        "health.down_after_s": down_after_s,
        "gc.interval_s": gc_interval_s,
        "coordinator.gc_grace_s": gc_grace_s,
        "repair.interval_s": repair_interval_s,
        "repair.lost_after_s": lost_after_s,
        "repair.mb_per_s": repair_mb_per_s,
        "scrub.interval_s": scrub_interval_s,
        "scrub.mb_per_s": scrub_mb_per_s,
        "orphan.grace_s": orphan_grace_s,
        "orphan.interval_s": orphan_interval_s,
        "orphan.tmp_max_age_s": tmp_max_age_s,
        "rebalance.interval_s": rebalance_interval_s,
        "rebalance.mb_per_s": rebalance_mb_per_s,
    }
    config = _load(ctx, flags, config_file, set_)
    if _shown(ctx, config, "worker"):
        return
    _logging()
    try:
        code = run_worker(config, once=once)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)


config_app = typer.Typer(no_args_is_help=True, help="Ninefold's configuration.")
show_app = typer.Typer(
    help="Print every effective setting: value, source (default | toml | env | flag) and its "
    "environment variable. With a ROLE and that command's flags: the settings that command "
    "would run with."
)
config_app.add_typer(show_app, name="show")
app.add_typer(config_app, name="config")


@show_app.callback(invoke_without_command=True)
def config_show(ctx: typer.Context, config_file: ConfigFile = None, set_: SetFlag = None) -> None:
    ctx.obj = _ShowRequest(config_file, tuple(set_ or ()))
    if ctx.invoked_subcommand is None:
        typer.echo(render_config(_load(ctx, {}, None, None)))


show_app.command("server", help="The embedded server's settings.")(server)
show_app.command("gateway", help="A gateway's settings.")(gateway)
show_app.command("worker", help="A worker's settings.")(worker)
show_app.command("node", help="A storage node's settings.")(node)
show_app.command("cluster-up", help="`cluster up`'s settings.")(cluster_up)


def main() -> None:
    app()
