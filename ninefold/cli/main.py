"""The ``ninefold`` command line."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ninefold.cli.cluster import ClusterPlan, load_or_create_cluster_secret, run_cluster
from ninefold.cli.config import (
    RootCredentials,
    ServerConfig,
    load_or_create_credentials,
    parse_address,
)
from ninefold.cli.embedded import prepare_data_dir, supervise
from ninefold.cli.gateway import GatewayConfig, run_gateway
from ninefold.cli.heal import heal_view
from ninefold.cli.iam import group_app, key_app, policy_app, user_app
from ninefold.cli.maptable import cluster_map_table
from ninefold.cli.node import cluster_secret, run_node
from ninefold.cli.wiring import open_meta
from ninefold.cli.worker import WorkerConfig, run_worker
from ninefold.meta.models import ClusterMap, NodeRecord
from ninefold.meta.store import MetaStore

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Ninefold object store.")


#: the scrubber's default pace: a background check, not a load (1 TB in ~5.5 hours)
SCRUB_MB_PER_S = 50.0


@app.callback()
def _root() -> None:
    """Ninefold: an erasure-coded, S3-compatible object store."""


@app.command()
def server(
    data_dir: Annotated[Path, typer.Argument(help="Directory for metadata and the drives.")],
    address: Annotated[str, typer.Option(help="HOST:PORT to listen on.")] = "127.0.0.1:9000",
    drives: Annotated[int, typer.Option(min=9, help="Number of drive directories.")] = 9,
    workers: Annotated[int, typer.Option(min=0, help="Server processes (0: one per core).")] = 0,
    tls_cert: Annotated[str | None, typer.Option(help="PEM certificate: serve HTTPS.")] = None,
    tls_key: Annotated[str | None, typer.Option(help="PEM private key for --tls-cert.")] = None,
    domain: Annotated[
        str | None, typer.Option(help="Base domain for virtual-hosted-style bucket addressing.")
    ] = None,
    region: Annotated[str, typer.Option(help="Region this endpoint reports.")] = "us-east-1",
    scrub_mb_per_s: Annotated[
        float, typer.Option(min=0.0, help="Scrub throttle in MB/s (0: unthrottled).")
    ] = SCRUB_MB_PER_S,
) -> None:
    """Run the embedded S3 server: 6+3 erasure coding over local drive directories."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if bool(tls_cert) != bool(tls_key):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path and not Path(path).is_file():
            raise typer.BadParameter(f"no such file: {path}")
    try:
        host, port = parse_address(address)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        credentials, generated = load_or_create_credentials(data_dir)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    config = ServerConfig(
        data_dir=data_dir,
        host=host,
        port=port,
        drives=drives,
        workers=workers or os.cpu_count() or 1,
        region=region,
        domain=domain,
        tls_cert=tls_cert,
        tls_key=tls_key,
        credentials=credentials,
        scrub_max_bytes_per_s=scrub_mb_per_s * 1e6 or None,
    )
    asyncio.run(prepare_data_dir(config))

    def announce() -> None:
        origin = "generated, stored in" if generated else "from"
        source = (
            "the environment"
            if "NINEFOLD_ROOT_ACCESS_KEY" in os.environ
            else f"{origin} {data_dir / 'credentials.json'}"
        )
        typer.echo(f"Ninefold S3 endpoint: {config.endpoint}")
        typer.echo(f"  AccessKey: {credentials.access_key}")
        typer.echo(f"  SecretKey: {credentials.secret_key}   ({source})")
        typer.echo(
            f"  Data: {data_dir} ({drives} drives, erasure coding 6+3), "
            f"{config.workers} server processes. Ctrl-C stops."
        )

    raise typer.Exit(supervise(config, announce))


@app.command()
def node(
    listen: Annotated[str, typer.Option(help="HOST:PORT to serve the cluster on.")],
    drive: Annotated[list[Path], typer.Option(help="A drive directory (repeat for more).")],
    node_id: Annotated[str, typer.Option(help="This node's id in the cluster map.")],
    zone: Annotated[str, typer.Option(help="Failure domain (availability zone).")] = "default",
) -> None:
    """Run a storage node: serve its drives' fragments to the cluster (HMAC-signed requests;
    the shared secret comes from NINEFOLD_CLUSTER_SECRET)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        parse_address(listen)
        run_node(listen, [d.resolve() for d in drive], node_id, zone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@app.command()
def gateway(
    meta: Annotated[str, typer.Option(help="Metadata: postgresql://... or a SQLite file path.")],
    listen: Annotated[str, typer.Option(help="HOST:PORT to serve S3 on.")] = "127.0.0.1:9000",
    domain: Annotated[
        str | None, typer.Option(help="Base domain for virtual-hosted-style bucket addressing.")
    ] = None,
    region: Annotated[str, typer.Option(help="Region this endpoint reports.")] = "us-east-1",
    cache: Annotated[
        str | None, typer.Option(help="redis://... shared cache for every gateway (optional).")
    ] = None,
    cache_namespace: Annotated[
        str, typer.Option(help="Key prefix in Redis; the same on every gateway of a cluster.")
    ] = "ninefold",
    workers: Annotated[int, typer.Option(min=0, help="Server processes (0: one per core).")] = 1,
) -> None:
    """Run a stateless S3 gateway over the cluster (nodes from the cluster map in metadata).

    Root keys come from NINEFOLD_ROOT_ACCESS_KEY / NINEFOLD_ROOT_SECRET_KEY (the same on every
    gateway), the node secret from NINEFOLD_CLUSTER_SECRET."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    access = os.environ.get("NINEFOLD_ROOT_ACCESS_KEY")
    secret = os.environ.get("NINEFOLD_ROOT_SECRET_KEY")
    if not access or not secret:
        raise typer.BadParameter(
            "set NINEFOLD_ROOT_ACCESS_KEY and NINEFOLD_ROOT_SECRET_KEY for the gateway"
        )
    try:
        host, port = parse_address(listen)
        config = GatewayConfig(
            meta_dsn=meta,
            host=host,
            port=port,
            region=region,
            domain=domain,
            credentials=RootCredentials(access, secret),
            cluster_secret=cluster_secret(),
            cache_url=cache,
            cache_namespace=cache_namespace,
            workers=workers or os.cpu_count() or 1,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if cache is not None and not cache.startswith(("redis://", "rediss://", "unix://")):
        raise typer.BadParameter("--cache takes a redis://, rediss:// or unix:// URL")
    raise typer.Exit(run_gateway(config))


admin = typer.Typer(no_args_is_help=True, help="Administer a cluster.")
admin_node = typer.Typer(no_args_is_help=True, help="The cluster map's storage nodes.")
admin.add_typer(admin_node, name="node")
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


@admin.command("durability")
def admin_durability(
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
        float, typer.Option(min=0.0, help="Detection delay before repair starts, seconds.")
    ] = 300.0,
    chunks: Annotated[
        int | None, typer.Option(min=0, help="Chunks stored (caps the placement groups).")
    ] = None,
) -> None:
    """Annual durability (nines) of the cluster: a Markov model over k, m, drives, zones, an
    assumed failure rate and the repair rate measured here (docs/durability.md)."""
    from ninefold.cli.durability import Assumptions, durability_command

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
    data_dir: Annotated[Path, typer.Argument(help="Directory for node drives, logs, metadata.")],
    nodes: Annotated[int, typer.Option(min=4, help="Storage node processes.")] = 9,
    zones: Annotated[int, typer.Option(min=1, help="Zones the nodes are spread over.")] = 3,
    drives: Annotated[int, typer.Option(min=1, help="Drives per node.")] = 1,
    gateways: Annotated[int, typer.Option(min=1, help="Gateway processes.")] = 2,
    gateway_workers: Annotated[
        int, typer.Option(min=0, help="Server processes per gateway (0: one per core).")
    ] = 1,
    meta: Annotated[
        str | None, typer.Option(help="postgresql://... (default: SQLite in DATA_DIR).")
    ] = None,
    node_base_port: Annotated[int, typer.Option(help="Node i listens on this + i.")] = 7000,
    gateway_port: Annotated[int, typer.Option(help="Gateway g listens on this + g.")] = 9000,
    cache: Annotated[
        str | None, typer.Option(help="redis://... cache shared by the gateways (optional).")
    ] = None,
) -> None:
    """Start nodes, register them in the cluster map, start gateways; Ctrl-C stops it all."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        credentials, _ = load_or_create_credentials(data_dir)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if cache is not None and not cache.startswith(("redis://", "rediss://", "unix://")):
        raise typer.BadParameter("--cache takes a redis://, rediss:// or unix:// URL")
    secret = load_or_create_cluster_secret(data_dir)
    if nodes * drives < 9:
        raise typer.BadParameter("6+3 erasure coding needs at least 9 drives in the cluster")
    plan = ClusterPlan(
        data_dir=data_dir,
        nodes=nodes,
        zones=zones,
        drives_per_node=drives,
        gateways=gateways,
        gateway_workers=gateway_workers or os.cpu_count() or 1,
        meta_dsn=meta or str(data_dir / "meta.db"),
        node_base_port=node_base_port,
        gateway_base_port=gateway_port,
        access_key=credentials.access_key,
        secret_key=credentials.secret_key,
        cluster_secret=secret,
        cache_url=cache,
        # one namespace per cluster, stable across restarts: clusters may share a Redis
        cache_namespace="ninefold-" + hashlib.sha256(secret.encode()).hexdigest()[:12],
    )

    def announce(endpoints: list[str]) -> None:
        typer.echo(
            f"Ninefold cluster: {nodes} nodes in {zones} zones, metadata {plan.meta_dsn}, "
            f"cache {cache or 'none'}"
        )
        for endpoint in endpoints:
            typer.echo(f"Ninefold S3 endpoint: {endpoint}")
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
    meta: Annotated[str, typer.Option(help="Metadata: postgresql://... or a SQLite file path.")],
    once: Annotated[
        bool, typer.Option("--once", help="Run every job one round, then exit.")
    ] = False,
    health_interval_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two health probes of every node.")
    ] = 1.0,
    down_after_s: Annotated[
        float, typer.Option(min=0.1, help="A node silent this many seconds is marked down.")
    ] = 3.0,
    gc_interval_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two garbage-collection rounds.")
    ] = 10.0,
    gc_grace_s: Annotated[
        float, typer.Option(min=0.0, help="Keep fragments of replaced versions this long.")
    ] = 30.0,
    repair_interval_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two repair rounds.")
    ] = 2.0,
    lost_after_s: Annotated[
        float,
        typer.Option(min=0.0, help="A node down this long is lost: rebuild its fragments."),
    ] = 300.0,
    repair_mb_per_s: Annotated[
        float, typer.Option(min=0.0, help="Repair throttle in MB/s (0: unthrottled).")
    ] = 0.0,
    scrub_interval_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two scrub rounds.")
    ] = 10.0,
    scrub_mb_per_s: Annotated[
        float, typer.Option(min=0.0, help="Scrub throttle in MB/s (0: unthrottled).")
    ] = SCRUB_MB_PER_S,
    orphan_grace_s: Annotated[
        float,
        typer.Option(min=0.0, help="Delete unreferenced fragments this long after first seen."),
    ] = 3600.0,
    orphan_interval_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two orphan sweeps.")
    ] = 60.0,
    rebalance_interval_s: Annotated[
        float, typer.Option(min=0.1, help="Seconds between two rebalance rounds.")
    ] = 5.0,
    rebalance_mb_per_s: Annotated[
        float, typer.Option(min=0.0, help="Rebalance throttle in MB/s (0: unthrottled).")
    ] = 0.0,
) -> None:
    """Run the background jobs (node health, GC, repair, scrub) with leader election:
    start several, each job runs in one of them at a time. The node secret comes from
    NINEFOLD_CLUSTER_SECRET."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        config = WorkerConfig(
            meta_dsn=meta,
            cluster_secret=cluster_secret(),
            health_interval_s=health_interval_s,
            down_after_s=down_after_s,
            gc_interval_s=gc_interval_s,
            gc_grace_s=gc_grace_s,
            repair_interval_s=repair_interval_s,
            lost_after_s=lost_after_s,
            repair_max_bytes_per_s=repair_mb_per_s * 1e6 or None,
            scrub_interval_s=scrub_interval_s,
            scrub_max_bytes_per_s=scrub_mb_per_s * 1e6 or None,
            orphan_grace_s=orphan_grace_s,
            orphan_interval_s=orphan_interval_s,
            rebalance_interval_s=rebalance_interval_s,
            rebalance_max_bytes_per_s=rebalance_mb_per_s * 1e6 or None,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    raise typer.Exit(run_worker(config, once=once))


def main() -> None:
    app()
