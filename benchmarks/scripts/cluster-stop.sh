#!/usr/bin/env bash
# Stop the cluster started by cluster-start.sh: TERM to its process group (the PID in the
# pidfile leads its own session), KILL after a grace period; then drop its PostgreSQL database,
# delete its Redis keys and its data dir. Only that PID/process group is signalled.
set -uo pipefail
D="${NINEFOLD_PEERS_DATA:-$HOME/.cache/ninefold-peers}/ninefold-cluster"
PG_ADMIN="${NINEFOLD_BENCH_PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/postgres}"
REDIS="${NINEFOLD_BENCH_REDIS:-redis://127.0.0.1:6379/0}"

if [ -f "$D/cluster.pid" ]; then
  pid="$(cat "$D/cluster.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
    # `cluster up` gives each child 15 s to exit before it KILLs it
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  # whatever is left of the group (nothing, normally)
  kill -KILL -- "-$pid" 2>/dev/null
  for _ in $(seq 1 25); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
  rm -f "$D/cluster.pid"
  echo "ninefold cluster stopped (pid $pid)"
fi
if [ -s "$D/db-name" ]; then
  db="$(cat "$D/db-name")"
  psql "$PG_ADMIN" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null &&
    rm -f "$D/db-name" && echo "dropped database $db"
fi
if [ -s "$D/cache-namespace" ]; then
  ns="$(cat "$D/cache-namespace")"
  n=$(redis-cli -u "$REDIS" --scan --pattern "$ns:*" 2>/dev/null |
    xargs -r -d '\n' -n 500 redis-cli -u "$REDIS" del 2>/dev/null | awk '{s += $1} END {print s + 0}')
  rm -f "$D/cache-namespace"
  echo "deleted $n Redis keys under $ns:"
fi
rm -rf "$D/data"
exit 0
