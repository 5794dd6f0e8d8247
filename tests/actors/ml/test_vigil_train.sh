#!/bin/sh
# test_vigil_train.sh: vigil-train end to end: usage errors, --csv (numeric
# checks naming row and column, evaluation, JSON), --data with vigil-loadgen
# traffic and labels (artifact written and reproducible, registry line),
# and MLflow tracking against a python3 stdlib mock of its REST API.
# usage: test_vigil_train.sh VIGIL_TRAIN VIGIL_LOADGEN
set -eu
train=$1
loadgen=$2
tmp=$(mktemp -d /tmp/vg_train_test.XXXXXX)
mock_pid=
cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_fail() { # expect_fail "message part" args...
  want=$1; shift
  if "$train" "$@" >"$tmp/out" 2>"$tmp/err"; then fail "vigil-train $* succeeded"; fi
  grep -qF -- "$want" "$tmp/err" || fail "vigil-train $*: expected '$want' in: $(cat "$tmp/err")"
}

# ---- usage
"$train" --help | grep -q -- "--registry FILE" || fail "--help lacks --registry"
"$train" --help | grep -q "MLFLOW_TRACKING_URI" || fail "--help lacks MLflow"
"$train" --list-features | grep -q "amount_to_median" || fail "--list-features"
expect_fail "give either --csv FILE or --data FILE"
expect_fail "unknown option" --csv x --frobnicate
expect_fail "--trees: expected an integer in 1..10000" --csv x --trees 0
expect_fail "--data needs --out" --data x
expect_fail "--holdout" --data x --out y --holdout 1

# ---- --csv
printf 'a,b,label\n1,2,0\n2,3,0\n3,x,1\n' > "$tmp/bad.csv"
expect_fail "row 3 (line 4), column 2 'b': 'x' is not a number" --csv "$tmp/bad.csv"
printf 'a,b,label\n1,2,0\n2,3,7\n' > "$tmp/badlabel.csv"
expect_fail "a label must be 0 or 1" --csv "$tmp/badlabel.csv"
expect_fail "no column named 'y'" --csv "$tmp/badlabel.csv" --label-column y
awk 'BEGIN { srand(3); print "x,y,label";
             for (i = 0; i < 400; i++) printf "%.4f,%.4f,0\n", rand(), rand();
             for (i = 0; i < 8; i++) printf "%.4f,%.4f,1\n", 5 + rand(), -4 - rand() }' \
  > "$tmp/easy.csv"
"$train" --csv "$tmp/easy.csv" --seeds 3 > "$tmp/out"
grep -q "AUC-ROC 1.0000" "$tmp/out" || fail "easy.csv: $(cat "$tmp/out")"
"$train" --csv "$tmp/easy.csv" --seeds 2 --json --scores "$tmp/scores.csv" > "$tmp/out"
grep -q '"auc_roc":{"mean":1,' "$tmp/out" || fail "easy.csv --json: $(cat "$tmp/out")"
[ "$(wc -l < "$tmp/scores.csv")" = 409 ] || fail "--scores rows"
cut -d, -f1,2 "$tmp/easy.csv" > "$tmp/nolabel.csv"
"$train" --csv "$tmp/nolabel.csv" --seeds 1 | grep -q "not evaluated" || fail "no label column"

# ---- --data
"$loadgen" --dry-run --quiet --count 4000 --users 60 --history-days 3 --seed 7 \
  --labels "$tmp/labels.csv" > "$tmp/tx.ndjson"
cd "$tmp"
"$train" --data tx.ndjson --labels labels.csv --out m1.vgm --quiet > out1
grep -q "^hold-out: .*AUC-ROC" out1 || fail "data mode output: $(cat out1)"
[ -s vigil-train-runs.ndjson ] || fail "default registry not written"
"$train" --data tx.ndjson --labels labels.csv --out m2.vgm --registry reg.ndjson --json \
  --quiet > out2
SOURCE_DATE_EPOCH=1767225600 "$train" --data tx.ndjson --out r1.vgm --no-registry --quiet >/dev/null
SOURCE_DATE_EPOCH=1767225600 "$train" --data tx.ndjson --out r2.vgm --no-registry --quiet >/dev/null
cmp -s r1.vgm r2.vgm || fail "same data, seed and SOURCE_DATE_EPOCH: artifacts differ"
SOURCE_DATE_EPOCH=1767225600 "$train" --data tx.ndjson --out r3.vgm --no-registry --quiet \
  --seed 2 > /dev/null
cmp -s r1.vgm r3.vgm && fail "another seed gave the same artifact"
grep -q '"artifact":{"path":"m2.vgm","xxh64":"' reg.ndjson || fail "registry: $(cat reg.ndjson)"
grep -q '"auc_roc":0\.' out2 || fail "--json: $(cat out2)"
[ "$(wc -l < reg.ndjson)" = 1 ] || fail "one registry line per run"
"$train" --data tx.ndjson --out m3.vgm --features log_amount,new_device --holdout 0 \
  --no-registry --scores s3.csv > out3
grep -q "not evaluated" out3 || fail "no labels: $(cat out3)"
head -1 s3.csv | grep -q "^id,score$" || fail "data --scores header"
expect_fail "'shoe_size' is not a feature of this engine" --data tx.ndjson --out m4.vgm \
  --features log_amount,shoe_size
printf '{"id":"a"}\n' > junk.ndjson
expect_fail "rows for training" --data junk.ndjson --out m5.vgm --no-registry
printf 'id,label\nt1,5\n' > badlabels.csv
expect_fail "badlabels.csv: line 2: label must be 0 or 1" --data tx.ndjson --labels badlabels.csv \
  --out m6.vgm

# ---- MLflow: unreachable is a warning; a mock server receives the run
MLFLOW_TRACKING_URI=http://127.0.0.1:9 "$train" --data tx.ndjson --out m7.vgm \
  --registry reg7.ndjson --quiet > out7 2> err7 || fail "unreachable MLflow must not fail"
grep -q "warning: mlflow" err7 || fail "no MLflow warning: $(cat err7)"
grep -q '"mlflow_error":"mlflow: ' reg7.ndjson || fail "registry lacks mlflow_error"
if command -v python3 > /dev/null; then
  cat > mock.py <<'PY'
import http.server, json, sys
log = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        log.write("GET " + self.path + "\n"); log.flush()
        self.reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such experiment"})
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        json.loads(body)
        log.write("POST " + self.path + " " + body + "\n"); log.flush()
        if self.path.endswith("/experiments/create"): self.reply(200, {"experiment_id": "42"})
        elif self.path.endswith("/runs/create"):
            self.reply(200, {"run": {"info": {"run_id": "r-abc", "experiment_id": "42"}}})
        else: self.reply(200, {})
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
  python3 mock.py requests.log port &
  mock_pid=$!
  i=0
  while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
  [ -s port ] || fail "mock MLflow did not start"
  MLFLOW_TRACKING_URI=http://127.0.0.1:$(cat port)/ MLFLOW_EXPERIMENT_NAME="vigil test" \
    "$train" --data tx.ndjson --labels labels.csv --out m8.vgm --registry reg8.ndjson \
    --quiet > out8 || fail "mlflow run failed"
  grep -q "^mlflow run: r-abc" out8 || fail "mlflow run id: $(cat out8)"
  grep -q "GET /api/2.0/mlflow/experiments/get-by-name?experiment_name=vigil%20test" requests.log \
    || fail "get-by-name: $(cat requests.log)"
  grep -q 'POST /api/2.0/mlflow/experiments/create {"name":"vigil test"}' requests.log \
    || fail "experiments/create"
  grep -q 'POST /api/2.0/mlflow/runs/create {"experiment_id":"42","run_name":"m8.vgm"' \
    requests.log || fail "runs/create"
  grep 'runs/log-batch' requests.log | grep -q '"key":"auc_roc","value":0\.' \
    || fail "log-batch: $(grep log-batch requests.log)"
  grep 'runs/log-batch' requests.log | grep -q '{"key":"trees","value":"100"}' \
    || fail "log-batch params"
  grep -q 'runs/update {"run_id":"r-abc","status":"FINISHED"' requests.log || fail "runs/update"
  grep -q '"mlflow_run_id":"r-abc"' reg8.ndjson || fail "registry lacks the MLflow run"
fi
echo "vigil-train CLI: all checks passed"
