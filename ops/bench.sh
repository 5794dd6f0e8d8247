#!/usr/bin/env bash
# Runs every benchmark in <build>/bin/bench_*, prints their figures and
# compares each "BENCH <name> <value> <unit>" line with the previous run
# (kept in <build>/bench-history/last.txt). Usage: ops/bench.sh [build-dir]
set -euo pipefail
build=${1:-build}
hist="$build/bench-history"
mkdir -p "$hist"
now="$hist/$(date -u +%Y%m%dT%H%M%SZ).txt"
: > "$now"
shopt -s nullglob
benches=("$build"/bin/bench_*)
[ ${#benches[@]} -gt 0 ] || { echo "bench: no benchmarks in $build/bin (build first)" >&2; exit 1; }
for b in "${benches[@]}"; do
  echo "== $(basename "$b")"
  "$b" | tee /dev/stderr | grep '^BENCH ' >> "$now" || { echo "bench: $b failed" >&2; exit 1; }
done 2>&1
echo
echo "== summary (vs previous run)"
prev="$hist/last.txt"
while read -r _ name value unit; do
  old=$( [ -f "$prev" ] && awk -v n="$name" '$2==n {print $3}' "$prev" | tail -1 || true)
  if [ -n "$old" ] && [ "$old" != "0" ]; then
    delta=$(awk -v a="$value" -v b="$old" 'BEGIN { printf "%+.1f%%", (a-b)*100/b }')
    printf '%-36s %14s %-8s (prev %s, %s)\n' "$name" "$value" "$unit" "$old" "$delta"
  else
    printf '%-36s %14s %-8s\n' "$name" "$value" "$unit"
  fi
done < "$now"
cp "$now" "$prev"
