#!/usr/bin/env bash
# bench_http: end-to-end HTTP benchmarks of one vigil-node --gateway driven
# by vigil-loadgen on this machine (both share its cores). Prints figures
# and "BENCH <name> <value> <unit>" lines for ops/bench.sh:
#   1. batch ingest: 500 tx per request, 4 connections, as fast as possible
#   2. single-transaction requests at 1000 req/s (open loop), latency
#   3. detection quality of the loadgen scenario (30 days of history per
#      user, then labelled traffic), precision / recall / false-positive rate
# Usage: bench_http [seconds per phase, default 15]
set -euo pipefail
bin=$(cd "$(dirname "$0")" && pwd)
secs=${1:-15}
work=$(mktemp -d /tmp/vigil-bench-XXXXXX)
node_pid=""
cleanup() { [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

start_node() { # $1 = data dir name
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$bin/vigil-node" --gateway --http "127.0.0.1:$port" --data-dir "$work/$1" --log-level warn 2>>"$work/node.log" &
  node_pid=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench_http: node did not start" >&2; cat "$work/node.log" >&2; exit 1
}
stop_node() { kill "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=""; }
loadgen() { "$bin/vigil-loadgen" --target "http://127.0.0.1:$port" --json "$@" 2>/dev/null; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "== HTTP batch ingest (500 tx/request, 4 connections, 5000 users, ${secs}s)"
start_node batch
out=$(loadgen --batch 500 --concurrency 4 --users 5000 --history-days 14 --duration "$secs")
echo "$out" | field "'  %.0f tx/s, request p50 %.1f ms p99 %.1f ms, errors %s' % (d['measured']['tx_per_s'], d['latency_ms']['p50'], d['latency_ms']['p99'], d['errors']['http'] or 'none')"
echo "BENCH http_batch500_tx_per_s $(echo "$out" | field "round(d['measured']['tx_per_s'])") tx/s"

echo "== single-transaction requests at 1000 req/s (open loop, ${secs}s)"
out=$(loadgen --batch 1 --rate 1000 --concurrency 4 --users 5000 --history-days 0 --duration "$secs")
echo "$out" | field "'  %.0f req/s, latency p50 %.3f p99 %.3f p99.9 %.3f max %.3f ms' % (d['measured']['req_per_s'], d['latency_ms']['p50'], d['latency_ms']['p99'], d['latency_ms']['p999'], d['latency_ms']['max'])"
for p in p50 p99 p999; do
  echo "BENCH http_single_1k_${p}_ms $(echo "$out" | field "round(d['latency_ms']['$p'], 3)") ms"
done
stop_node

echo "== detection quality (2000 users, 30 days history, 300k labelled tx, seed 7)"
start_node quality
out=$(loadgen --batch 200 --concurrency 2 --users 2000 --history-days 30 --count 300000 --seed 7)
echo "$out" | field "'\n'.join('  %-18s n=%-7d %s %.2f%%' % (k, v['n'], 'recall' if v['anomaly'] else 'FPR   ', 100*v['anomaly_rate']) for k, v in d['quality']['kinds'].items())"
q=$(echo "$out" | field "'%.4f %.4f %.5f %.4f' % tuple(d['quality']['anomaly'][k] for k in ('precision','recall','fpr','f1'))")
read -r prec rec fpr f1 <<<"$q"
echo "  precision $prec recall $rec F1 $f1 false-positive rate $fpr"
echo "BENCH quality_precision $prec ratio"
echo "BENCH quality_recall $rec ratio"
echo "BENCH quality_fpr $fpr ratio"
stop_node
