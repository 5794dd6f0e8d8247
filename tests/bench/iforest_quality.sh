#!/bin/sh
# iforest_quality.sh: Isolation Forest quality against the published
# figures. For every dataset of the outlier data directory (README.md there
# lists the published iForest AUC-ROC, Liu, Ting & Zhou 2008/2012, t=100,
# psi=256), runs `vigil-train --csv` over 5 seeds and prints
#   dataset  n  d  ours (mean +- sd)  published  delta  ok
# A dataset is ok when |mean - published| <= 0.03. Exit status 1 if any is
# not (0 otherwise; 77 = data not found, a skip for ctest).
#
# usage: iforest_quality.sh [--ctest] [--bin vigil-train] [--data DIR]
#   --ctest  only the small datasets (fast enough for every ctest run)
set -eu
bin=build/bin/vigil-train
data=${VG_OUTLIER_DATA:-/work/shared/data/outlier}
small="pima breastw ionosphere arrhythmia annthyroid satellite mammography"
only_small=0
tol=0.03
while [ $# -gt 0 ]; do
  case $1 in
    --ctest) only_small=1 ;;
    --bin) bin=$2; shift ;;
    --data) data=$2; shift ;;
    *) echo "iforest_quality: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
readme=$data/README.md
if [ ! -f "$readme" ]; then
  echo "iforest_quality: $readme not found: skipped" >&2
  exit 77
fi
[ -x "$bin" ] || { echo "iforest_quality: $bin is not executable (build first)" >&2; exit 2; }

# "| name | rows | features | anomalies | published | sklearn |" -> "name published"
published=$(awk -F'|' 'NF >= 7 { n = $2; p = $6; gsub(/ /, "", n); gsub(/ /, "", p);
                                 if (p ~ /^[0-9.]+$/) print n, p }' "$readme")
[ -n "$published" ] || { echo "iforest_quality: no figures in $readme" >&2; exit 2; }

printf '%-12s %8s %4s  %-17s %9s %7s  %s\n' dataset n d "ours (mean+-sd)" published delta ok
bad=0
for name in $(echo "$published" | awk '{print $1}'); do
  if [ $only_small = 1 ]; then
    case " $small " in *" $name "*) ;; *) continue ;; esac
  fi
  csv=$data/$name.csv
  [ -f "$csv" ] || { echo "iforest_quality: $csv missing" >&2; bad=1; continue; }
  pub=$(echo "$published" | awk -v n="$name" '$1 == n {print $2}')
  json=$("$bin" --csv "$csv" --trees 100 --sample 256 --seeds 5 --seed 1 --json --quiet) || {
    echo "iforest_quality: vigil-train failed on $csv" >&2; bad=1; continue; }
  echo "$json" | awk -v name="$name" -v pub="$pub" -v tol="$tol" '
    function num(key,   s) {
      s = $0; sub(".*\"" key "\":", "", s); sub(/[,}].*/, "", s); return s + 0 }
    {
      n = num("rows"); d = num("features")
      roc = $0; sub(/.*"auc_roc":\{/, "", roc); sub(/\}.*/, "", roc)
      m = roc; sub(/.*"mean":/, "", m); sub(/,.*/, "", m)
      s = roc; sub(/.*"sd":/, "", s); sub(/,.*/, "", s)
      delta = m - pub; ok = (delta <= tol && delta >= -tol) ? "ok" : "FAIL"
      printf "%-12s %8d %4d  %.3f +- %.3f     %9.2f %+7.3f  %s\n", name, n, d, m, s, pub, delta, ok
      exit ok == "ok" ? 0 : 1
    }' || bad=1
done
if [ $bad != 0 ]; then
  echo "iforest_quality: some datasets are outside +-$tol of the published AUC-ROC" >&2
  exit 1
fi
