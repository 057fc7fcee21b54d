#!/usr/bin/env bash
# Start the embedded Ninefold server for a benchmark run: fresh data dir, fixed bench keys,
# pidfile for server-CPU accounting. Stopped by bench-stop.sh (by PID only).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="$(dirname "$here")"
D="${NINEFOLD_PEERS_DATA:-$HOME/.cache/ninefold-peers}/ninefold"
port="${NINEFOLD_BENCH_PORT:-19000}"
mkdir -p "$D"
if [ -f "$D/server.pid" ] && kill -0 "$(cat "$D/server.pid")" 2>/dev/null; then
  echo "ninefold already running (pid $(cat "$D/server.pid"))"; exit 0
fi
# every worker binds with SO_REUSEPORT: a second server on a busy port would share its traffic
if ss -ltnH "sport = :$port" 2>/dev/null | grep -q .; then
  echo "port 127.0.0.1:$port is busy (NINEFOLD_BENCH_PORT picks another)" >&2; exit 1
fi
rm -rf "$D/data"
NINEFOLD_ROOT_ACCESS_KEY=NFBENCHACCESSKEY0001 \
NINEFOLD_ROOT_SECRET_KEY=nf-bench-secret-key-0123456789abcdefghij \
  setsid "$repo/.venv/bin/ninefold" server "$D/data" --address "127.0.0.1:$port" \
  ${NINEFOLD_BENCH_ARGS:-} >"$D/server.log" 2>&1 &
echo $! >"$D/server.pid"
for _ in $(seq 1 150); do
  if grep -q "Ninefold S3 endpoint" "$D/server.log" 2>/dev/null; then
    echo "ninefold: http://127.0.0.1:$port pid $(cat "$D/server.pid")"; exit 0
  fi
  kill -0 "$(cat "$D/server.pid")" 2>/dev/null || { cat "$D/server.log"; exit 1; }
  sleep 0.2
done
echo "ninefold did not start"; cat "$D/server.log"; exit 1
