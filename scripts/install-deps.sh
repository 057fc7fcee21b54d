#!/usr/bin/env bash
# What the test suite needs from the system: rclone, s3cmd and Debian's chromium (installed
# when missing), PostgreSQL on 127.0.0.1:5432 (installed when missing, started when stopped;
# required: the MetaStore conformance suite runs on it), and Redis started when installed.
#
# Idempotent and quick when everything is there: `apt-get update` runs only when a package
# actually has to be installed. Uses sudo when not root.
set -euo pipefail

log() { printf 'install-deps: %s\n' "$*"; }

SUDO=()
NO_ROOT=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        NO_ROOT=1
    fi
fi

# --- command-line S3 clients --------------------------------------------------------------
missing=()
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v s3cmd >/dev/null 2>&1 || missing+=(s3cmd)

if ((${#missing[@]})); then
    if [[ -n $NO_ROOT ]]; then
        log "missing ${missing[*]}; not root and no sudo: install them by hand" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        log "missing ${missing[*]}; no apt-get here: install them by hand" >&2
        exit 1
    fi
    log "installing ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
log "$(rclone version 2>/dev/null | head -n1), $(s3cmd --version 2>/dev/null)"

# --- Chromium (required: tests/browser drives Debian's build through Playwright, never skipped;
# `playwright install` is not used, it downloads browser builds from outside the registries) --
if [[ ! -x /usr/bin/chromium ]]; then
    if [[ -n $NO_ROOT ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "chromium is missing and cannot be installed here: install it by hand" >&2
        exit 1
    fi
    log "installing chromium"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
log "$(/usr/bin/chromium --version 2>/dev/null)"

# --- PostgreSQL (required: the MetaStore conformance suite runs on it, never skipped) --------
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ ! -d /etc/postgresql ]]; then
    if [[ -n $NO_ROOT ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "postgresql is missing and cannot be installed here: install it by hand" >&2
        exit 1
    fi
    log "installing postgresql"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    # a fresh Debian cluster wants passwords on TCP; the tests connect as postgres over
    # 127.0.0.1 without one, as on this project's machines
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
        if ! grep -q "ninefold-tests" "$hba"; then
            { echo "# ninefold-tests: local test access"
              echo "host all all 127.0.0.1/32 trust"
              cat "$hba"; } | "${SUDO[@]}" tee "$hba.new" >/dev/null
            "${SUDO[@]}" mv "$hba.new" "$hba"
        fi
    done
fi
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    log "postgresql: running"
else
    for dir in /etc/postgresql/*/; do
        version=$(basename "$dir")
        log "postgresql: starting cluster $version/main"
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
    done
    for _ in $(seq 1 30); do
        pg_isready -q -h 127.0.0.1 -p 5432 && break
        sleep 1
    done
    pg_isready -q -h 127.0.0.1 -p 5432 || { log "postgresql did not come up" >&2; exit 1; }
    log "postgresql: running"
fi

# --- Redis (required: the cache and cluster tests run on a real one, never skipped) ---------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    if [[ -n $NO_ROOT ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "redis is missing and cannot be installed here: install it by hand" >&2
        exit 1
    fi
    log "installing redis-server"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi
if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    log "redis: running"
else
    log "redis: starting on 127.0.0.1:6379"
    redis_dir=/var/lib/redis
    redis_log=/var/log/redis/ci.log
    if [[ ! -w $redis_dir || ! -w $(dirname "$redis_log") ]]; then
        redis_dir=${TMPDIR:-/tmp}
        redis_log=${TMPDIR:-/tmp}/ninefold-redis.log
    fi
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir "$redis_dir" --logfile "$redis_log"
    for _ in $(seq 1 30); do
        redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
        sleep 0.2
    done
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || { log "redis did not come up" >&2; exit 1; }
    log "redis: running"
fi
