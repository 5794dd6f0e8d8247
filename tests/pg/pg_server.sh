#!/usr/bin/env bash
# pg_server.sh: a throw-away PostgreSQL server for tests and benchmarks.
#   pg_server.sh start DIR     initdb into DIR/data (first time), start on a free
#                              loopback port (kept in DIR/port, so a restart keeps
#                              its DSN), socket dir DIR/sock; prints the DSN
#   pg_server.sh stop DIR      fast shutdown (data kept: start again)
#   pg_server.sh destroy DIR   stop and remove DIR
#   pg_server.sh sql DIR SQL [DB]
#                              run SQL through psql (on DB, default postgres),
#                              unaligned tuples on stdout
# As root, the server runs as the `postgres` user (initdb refuses root) and
# DIR is handed to it. Environment: PG_BIN (default the newest
# /usr/lib/postgresql/*/bin), PG_SERVER_FAST=1 (fsync off: tests only),
# PG_SERVER_OPTS (extra "-c name=value" options for postgres).
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
    echo "usage: $0 start|stop|destroy|sql DIR [SQL [DB]]" >&2
    exit 2
}
if [ -z "${PG_BIN:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
fi
[ -x "$PG_BIN/postgres" ] || { echo "pg_server: no postgres in '$PG_BIN'" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

dsn() {
    echo "host=127.0.0.1 port=$(cat "$dir/port") user=postgres dbname=${1:-postgres}"
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_on() {
    local port=$1 opts
    opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/sock"
    if [ "${PG_SERVER_FAST:-0}" = 1 ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    opts="$opts ${PG_SERVER_OPTS:-}"
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -o "$opts" -w -t 60 start >/dev/null
}

case "$cmd" in
start)
    mkdir -p "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        [ "$(id -u)" = 0 ] && chown postgres: "$dir"
        as_owner mkdir -p "$dir/sock"
        as_owner "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
            --no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
            { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if [ -f "$dir/port" ]; then
        start_on "$(cat "$dir/port")" || { tail -20 "$dir/log" >&2; exit 1; }
    else
        # below the kernel's ephemeral range: a port in it can be taken while
        # the server is stopped (a client's local port, or a reconnecting
        # client connected to itself), and a restart on it then fails
        lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
        span=$((lo - 20000))
        [ "$span" -ge 2000 ] || span=40000
        ok=0
        for _ in 1 2 3 4 5 6 7 8; do
            port=$((20000 + RANDOM % span))
            port_free "$port" || continue
            if start_on "$port" 2>/dev/null; then
                ok=1
                break
            fi
        done
        [ $ok = 1 ] || { echo "pg_server: could not start" >&2; tail -20 "$dir/log" >&2; exit 1; }
        echo "$port" | as_owner tee "$dir/port" >/dev/null
    fi
    dsn
    ;;
stop)
    [ -f "$dir/data/postmaster.pid" ] || exit 0
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
destroy)
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 60 stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
sql)
    [ -n "${3:-}" ] || { echo "usage: $0 sql DIR SQL [DB]" >&2; exit 2; }
    PGOPTIONS="-c client_min_messages=warning" \
        as_owner "$PG_BIN/psql" "$(dsn "${4:-}")" -X -q -A -t -v ON_ERROR_STOP=1 -c "$3"
    ;;
*)
    echo "pg_server: unknown command $cmd" >&2
    exit 2
    ;;
esac
