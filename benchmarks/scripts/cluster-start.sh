#!/usr/bin/env bash
# Start `ninefold cluster up` for a benchmark run (the s3suite target "ninefold-cluster"):
#   9 node processes in 3 zones (one drive each), 1 gateway on 127.0.0.1:19010 with one server
#   process per core (as the embedded server has), the worker;
#   metadata in a FRESH PostgreSQL database ninefold_bench_<UTC timestamp> (dropped by
#   cluster-stop.sh); the gateway cache in Redis under the cluster's own namespace (derived by
#   `cluster up` from the fresh cluster secret; its keys are deleted by cluster-stop.sh);
#   fixed bench keys; the PID of the `cluster up` process in a pidfile (s3bench counts it and
#   all its descendants: gateway, nodes, worker; NOT PostgreSQL or Redis).
# The cluster runs in its own session/process group; cluster-stop.sh stops it by that PID only.
#
# Environment (all optional):
#   NINEFOLD_BENCH_PG_ADMIN     admin DSN, default postgresql://postgres@127.0.0.1:5432/postgres
#   NINEFOLD_BENCH_REDIS        default redis://127.0.0.1:6379/0
#   NINEFOLD_BENCH_CLUSTER_PORT gateway port, default 19010 (nodes on 19101..19109)
#   NINEFOLD_BENCH_GATEWAYS     gateway processes, default 1 (s3bench drives one endpoint; a
#                               second gateway would only add idle RSS)
#   NINEFOLD_BENCH_CLUSTER_ARGS extra words for `ninefold cluster up`
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(dirname "$here")"
D="${NINEFOLD_PEERS_DATA:-$HOME/.cache/ninefold-peers}/ninefold-cluster"
PG_ADMIN="${NINEFOLD_BENCH_PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/postgres}"
REDIS="${NINEFOLD_BENCH_REDIS:-redis://127.0.0.1:6379/0}"
gw_port="${NINEFOLD_BENCH_CLUSTER_PORT:-19010}"
node_base="${NINEFOLD_BENCH_NODE_BASE_PORT:-19100}"
gateways="${NINEFOLD_BENCH_GATEWAYS:-1}"
mkdir -p "$D"

if [ -f "$D/cluster.pid" ] && kill -0 "$(cat "$D/cluster.pid")" 2>/dev/null; then
  echo "ninefold cluster already running (pid $(cat "$D/cluster.pid"))"; exit 0
fi
# leftovers of a run that was not stopped cleanly (database, data dir): clean them first
"$here/scripts/cluster-stop.sh" >/dev/null 2>&1 || true

for p in "$gw_port" $(seq $((node_base + 1)) $((node_base + 9))); do
  if ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
    echo "port 127.0.0.1:$p is busy" >&2; exit 1
  fi
done

db="ninefold_bench_$(date -u +%Y%m%dt%H%M%S)_$$"
psql "$PG_ADMIN" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$db\"" >/dev/null
echo "$db" >"$D/db-name"
dsn="${PG_ADMIN%/*}/$db"

rm -rf "$D/data"
# shellcheck disable=SC2086  # NINEFOLD_BENCH_CLUSTER_ARGS is a list of words on purpose
NINEFOLD_ROOT_ACCESS_KEY=NFBENCHACCESSKEY0001 \
NINEFOLD_ROOT_SECRET_KEY=nf-bench-secret-key-0123456789abcdefghij \
  setsid "$repo/.venv/bin/ninefold" cluster up "$D/data" --nodes 9 --zones 3 \
  --gateways "$gateways" --meta "$dsn" --cache "$REDIS" \
  --node-base-port "$node_base" --gateway-port "$gw_port" --gateway-workers 0 \
  ${NINEFOLD_BENCH_CLUSTER_ARGS:-} >"$D/cluster.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$D/cluster.pid"

for _ in $(seq 1 900); do
  if grep -q "Ctrl-C stops the cluster." "$D/cluster.log" 2>/dev/null; then
    # the cache namespace `cluster up` chose, from the gateway's command line (for cleanup)
    for c in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
      args=$(tr '\0' '\n' <"/proc/$c/cmdline" 2>/dev/null || true)
      ns=$(printf '%s\n' "$args" | grep -A1 -x -- "--cache-namespace" | tail -1 || true)
      if [ -n "$ns" ] && [ "$ns" != "--cache-namespace" ]; then echo "$ns" >"$D/cache-namespace"; break; fi
    done
    echo "ninefold cluster: http://127.0.0.1:$gw_port pid $pid database $db" \
      "cache namespace $(cat "$D/cache-namespace" 2>/dev/null || echo '?')"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "ninefold cluster exited at start:" >&2; tail -30 "$D/cluster.log" >&2
    "$here/scripts/cluster-stop.sh" >/dev/null 2>&1 || true
    exit 1
  fi
  sleep 0.2
done
echo "ninefold cluster did not start in 180 s:" >&2; tail -30 "$D/cluster.log" >&2
"$here/scripts/cluster-stop.sh" >/dev/null 2>&1 || true
exit 1
