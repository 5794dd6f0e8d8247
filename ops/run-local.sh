#!/usr/bin/env bash
# Starts one Vigil node (a one-node cluster: control plane, users, rules)
# with the in-process gateway plus demo traffic from vigil-loadgen, prints
# where to look and the admin login, and stops both cleanly on Ctrl-C.
# Used by `make run`. Usage:
#   ops/run-local.sh [--build DIR] [--http HOST:PORT] [--listen HOST:PORT] [--data-dir DIR] [--rate TX_PER_S] [--no-demo]
set -euo pipefail
build=build http=127.0.0.1:8080 listen=127.0.0.1:7101 data=var rate=20 demo=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --http) http=$2; shift 2 ;;
    --listen) listen=$2; shift 2 ;;
    --data-dir) data=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --no-demo) demo=0; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-local: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
node_bin="$build/bin/vigil-node" loadgen_bin="$build/bin/vigil-loadgen"
[ -x "$node_bin" ] || { echo "run-local: $node_bin not built (run 'make build')" >&2; exit 1; }
mkdir -p "$data"
log="$data/vigil-node.log"

node_pid="" gen_pid=""
stop() {
  trap - INT TERM EXIT
  echo
  echo "run-local: stopping..."
  [ -n "$gen_pid" ] && kill -INT "$gen_pid" 2>/dev/null && wait "$gen_pid" 2>/dev/null || true
  [ -n "$node_pid" ] && kill -TERM "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null || true
  echo "run-local: stopped (state kept in $data/data; node log in $log)"
}
trap stop INT TERM EXIT

"$node_bin" --gateway --http "$http" --listen "$listen" --data-dir "$data/data" 2>>"$log" &
node_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://$http/readyz" >/dev/null 2>&1 && break
  kill -0 "$node_pid" 2>/dev/null || { echo "run-local: vigil-node exited; see $log:" >&2; tail -5 "$log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://$http/readyz" >/dev/null || { echo "run-local: vigil-node not ready; see $log" >&2; exit 1; }

# The first start creates user admin with a generated password, printed
# once into the node's log: show it, and make an ingest API key for the
# demo traffic (kept in $data/demo-api-key, mode 600).
pw=$(sed -n 's/.*user: admin *password: \([^ ]*\).*/\1/p' "$log" | tail -1)
key_file="$data/demo-api-key"
if [ ! -s "$key_file" ] && [ -n "$pw" ]; then
  token=$(curl -fsS -XPOST "http://$http/v1/auth/token" -H 'Content-Type: application/json' \
            -d "{\"username\":\"admin\",\"password\":\"$pw\"}" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  (umask 077; curl -fsS -XPOST "http://$http/v1/apikeys" -H "Authorization: Bearer $token" \
     -H 'Content-Type: application/json' -d '{"name":"demo-loadgen","role":"ingest"}' |
     sed -n 's/.*"key":"\([^"]*\)".*/\1/p' > "$key_file") || true
fi
key=$(cat "$key_file" 2>/dev/null || true)

cat <<MSG

  Vigil is running: one node + gateway on http://$http (LMDB state in $data/data)

  dashboard      http://$http/   (log in as admin)
  admin login    user admin, password ${pw:-"(shown in $log at the first start)"}
  get a token    TOKEN=\$(curl -s -XPOST http://$http/v1/auth/token -H 'Content-Type: application/json' -d '{"username":"admin","password":"${pw:-PASSWORD}"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  anomalies      curl -s -H "Authorization: Bearer \$TOKEN" http://$http/v1/anomalies?limit=5
  trends         curl -s -H "Authorization: Bearer \$TOKEN" 'http://$http/v1/stats/anomalies?bucket=1m'
  API reference  http://$http/v1/openapi.json
  metrics        curl -s http://$http/metrics
  score one      curl -s -XPOST http://$http/v1/transactions -H "X-API-Key: ${key:-KEY}" -d '{"id":"t1","user_id":"u1","amount":42,"currency":"EUR","timestamp":"$(date -u +%Y-%m-%dT%H:%M:%SZ)"}'
  node log       $log

MSG
if [ "$demo" = 1 ] && [ -x "$loadgen_bin" ]; then
  echo "  demo traffic: vigil-loadgen, $rate tx/s with injected anomalies (progress below)"
  echo "  Ctrl-C stops everything."
  echo
  "$loadgen_bin" --target "http://$http" --realtime --rate "$rate" --users 5000 --history-days 7 \
      --batch 1 --report-every 10 ${key:+--header "X-API-Key: $key"} &
  gen_pid=$!
else
  echo "  Ctrl-C stops the node."
fi
wait "$node_pid"
