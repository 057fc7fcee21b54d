#!/usr/bin/env bash
# Stop the benchmark server started by bench-start.sh: TERM to its process group, KILL after a
# grace period; then remove its data. Only the PID in the pidfile is touched.
set -uo pipefail
D="${NINEFOLD_PEERS_DATA:-$HOME/.cache/ninefold-peers}/ninefold"
[ -f "$D/server.pid" ] || exit 0
pid="$(cat "$D/server.pid")"
kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -KILL -- "-$pid" 2>/dev/null
rm -f "$D/server.pid"
rm -rf "$D/data"
echo "ninefold stopped"
