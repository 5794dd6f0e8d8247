#!/usr/bin/env bash
# bench_rules_http: scoring throughput of one vigil-node --gateway with 0,
# 100 and 1000 rules (vigil-loadgen, 500 tx per request, 4 connections;
# both share this machine's cores). The rule sets are generated: mixed
# realistic conditions (amount thresholds, country and category lists,
# velocity counts, hours, novelty flags, string functions); a few of them
# fire on a few percent of the traffic (amounts are in local currencies),
# so hits are combined into verdicts too. Prints
# "BENCH scoring_rules_<n>_tx_per_s <value> tx/s" for ops/bench.sh.
# Usage: bench_rules_http [seconds per run, default 10]
set -euo pipefail
bin=$(cd "$(dirname "$0")" && pwd)
secs=${1:-10}
work=$(mktemp -d /tmp/vigil-bench-rules-XXXXXX)
node_pid=""
cleanup() { [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

gen_rules() { # $1 = count, $2 = file
  python3 - "$1" "$2" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(42)
countries = ["US", "CA", "GB", "DE", "FR", "NL", "ES", "IT", "BR", "MX", "JP", "AU", "IN", "NG", "RU"]
conds = [
    lambda: "amount > %d and country not in (%s)" % (rnd.randint(5000, 50000), ", ".join('"%s"' % c for c in rnd.sample(countries, 4))),
    lambda: "count_1h >= %d and amount_to_median > %.1f" % (rnd.randint(20, 60), rnd.uniform(8, 30)),
    lambda: "count_10m > %d or sum_1h > %d" % (rnd.randint(30, 90), rnd.randint(50000, 200000)),
    lambda: "new_device = 1 and new_country = 1 and amount > %d" % rnd.randint(3000, 20000),
    lambda: "hour_of_day between %d and %d and amount > %d" % (2, 4, rnd.randint(8000, 40000)),
    lambda: "speed_kmh > %d and distance_km > %d" % (rnd.randint(2000, 5000), rnd.randint(1000, 5000)),
    lambda: "lower(channel) = \"atm\" and amount > %d" % rnd.randint(5000, 30000),
    lambda: "starts_with(merchant_id, \"zz%d\") and amount > 10" % rnd.randint(0, 999),
    lambda: "merchant_category in (\"%d\", \"%d\", \"%d\") and amount > %d" % (rnd.randint(1000, 9999), rnd.randint(1000, 9999), rnd.randint(1000, 9999), rnd.randint(100, 5000)),
    lambda: "attributes.risk > %.2f" % rnd.uniform(0.95, 0.999),
    lambda: "secs_since_prev < %d and amount > %d and n_prior > 5" % (rnd.randint(1, 5), rnd.randint(10000, 50000)),
]
with open(path, "w") as f:
    for i in range(n):
        f.write("rule r%d {\n  severity = %s\n  action = %s\n  when = %s\n}\n" % (
            i, rnd.choice(["low", "medium", "high"]), rnd.choice(["flag", "review"]), rnd.choice(conds)()))
PY
}

start_node() { # $@ = extra flags
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$work/data"
  "$bin/vigil-node" --gateway --http "127.0.0.1:$port" --data-dir "$work/data" --log-level warn "$@" 2>>"$work/node.log" &
  node_pid=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench_rules_http: node did not start" >&2; cat "$work/node.log" >&2; exit 1
}
stop_node() { kill "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=""; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

for n in 0 100 1000; do
  flags=()
  if [ "$n" -gt 0 ]; then gen_rules "$n" "$work/rules$n.vr"; flags=(--rules "$work/rules$n.vr"); fi
  echo "== scoring with $n rules (500 tx/request, 4 connections, 5000 users, ${secs}s)"
  start_node "${flags[@]}"
  out=$("$bin/vigil-loadgen" --target "http://127.0.0.1:$port" --json --batch 500 --concurrency 4 \
        --users 5000 --history-days 3 --duration "$secs" 2>/dev/null)
  hits=$(curl -fsS "http://127.0.0.1:$port/v1/rules" | field "sum(r['hits'] for r in d['rules'])")
  echo "$out" | field "'  %.0f tx/s, request p50 %.1f ms p99 %.1f ms, rule hits $hits' % (d['measured']['tx_per_s'], d['latency_ms']['p50'], d['latency_ms']['p99'])"
  echo "BENCH scoring_rules_${n}_tx_per_s $(echo "$out" | field "round(d['measured']['tx_per_s'])") tx/s"
  stop_node
done
