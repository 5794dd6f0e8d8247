#!/usr/bin/env bash
# Runs a local Vigil cluster on this machine: N vigil-node processes and one
# vigil-gateway in front of them, all on 127.0.0.1, state, logs and pid files
# under var/cluster/. `make cluster N=3` is `ops/cluster.sh start 3`.
#
# usage: ops/cluster.sh [options] COMMAND [ARGS]
#
# commands:
#   start N    start nodes 1..N that are not running (on a fresh cluster node 1
#              bootstraps, the others join it), wait until `vigilctl` shows
#              them all active, then start the gateway; safe to rerun
#   add        start the next node (highest id + 1); it joins the cluster
#   kill ID    kill -9 node ID (a crash: the leader marks it down after ~3 s
#              and moves its shards; `start N` brings it back)
#   stop       SIGTERM the gateway and every node, wait, report (state is
#              kept; rm -rf var/cluster to start afresh)
#   status     which processes run, then `vigilctl status`
#
# options:
#   --build DIR       build directory with bin/ (default build)
#   --dir DIR         state, logs, pid files (default var/cluster)
#   --http HOST:PORT  the gateway's HTTP address (default 127.0.0.1:8080)
#   --base-port P     node i listens on P+i, raft on P+1000+i (default 7100)
#   --wait S          seconds to wait for nodes / gateway / stop (default 60)
#   --no-gateway      start nodes only
#   --dry-run         print the commands instead of running them
#   -h, --help        this text
#
# Node i runs: vigil-node --node-id i --listen 127.0.0.1:$((P+i))
#   --raft 127.0.0.1:$((P+1000+i)) --data-dir DIR/node<i>/data [--join 127.0.0.1:$((P+1))]
#   logging to DIR/node<i>/node.log, pid in DIR/node<i>/pid. DIR/nodes lists
#   "ID HOST:PORT" per node: vigilctl run from here finds the cluster by it.
# Exit status: 0 ok, 1 failure (message and log tails on stderr), 2 usage.
# Id lists are split into words on purpose (SC2046/SC2086); `A && B || C` is
# used where C is the only reaction wanted (SC2015).
# shellcheck disable=SC2015,SC2046,SC2086,SC2001,SC2207
set -euo pipefail

build=build dir=var/cluster http=127.0.0.1:8080 base=7100 wait_s=60 gateway=1 dry=0

die() { echo "cluster.sh: $*" >&2; exit 1; }
usage() { echo "cluster.sh: $*" >&2; echo "(try 'ops/cluster.sh --help')" >&2; exit 2; }
say() { echo "cluster.sh: $*"; }
help() { sed -n '2,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]] && [ "${#1}" -le 6 ]; }

args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build|--dir|--http|--base-port|--wait)
      [ $# -ge 2 ] && [ -n "$2" ] || usage "$1 needs a value"
      case "$1" in
        --build) build=$2 ;; --dir) dir=$2 ;; --http) http=$2 ;;
        --base-port) base=$2 ;; --wait) wait_s=$2 ;;
      esac
      shift 2 ;;
    --no-gateway) gateway=0; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) help; exit 0 ;;
    --) shift; args+=("$@"); break ;;
    -*) usage "unknown option '$1'" ;;
    *) args+=("$1"); shift ;;
  esac
done
is_uint "$base" && [ "$base" -ge 1 ] && [ "$base" -le 55000 ] || usage "--base-port '$base': expected 1..55000"
is_uint "$wait_s" && [ "$wait_s" -ge 1 ] || usage "--wait '$wait_s': expected seconds >= 1"
[[ "$http" =~ ^[^:[:space:]]+:[0-9]+$ ]] || usage "--http '$http': expected HOST:PORT"
[ ${#args[@]} -gt 0 ] || usage "no command (start N, add, kill ID, stop, status)"
cmd=${args[0]}

node_bin="$build/bin/vigil-node" gw_bin="$build/bin/vigil-gateway" ctl_bin="$build/bin/vigilctl"
gw_dir="$dir/gateway"

node_addr() { echo "127.0.0.1:$((base + $1))"; }
raft_addr() { echo "127.0.0.1:$((base + 1000 + $1))"; }

# Prints a command the way a shell would read it back.
q() { if [[ "$1" =~ ^[A-Za-z0-9_./:,=@%+-]+$ ]]; then echo "$1"; else printf '%q\n' "$1"; fi; }
show() { local out="+" a; for a in "$@"; do out+=" $(q "$a")"; done; echo "$out"; }
# Runs a command, or only shows it with --dry-run.
run() { if [ "$dry" = 1 ]; then show "$@"; else "$@"; fi; }

# True when pid file $1 names a live process whose command line has $2
# (a recycled pid does not count).
alive() {
  local pid
  [ -f "$1" ] && pid=$(cat "$1" 2>/dev/null) && [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}
node_alive() { alive "$dir/node$1/pid" "vigil-node"; }
gw_alive() { alive "$gw_dir/pid" "vigil-gateway"; }
pid_of() { cat "$1" 2>/dev/null || true; }
# The running gateway's address (as started), else --http.
gw_http() { if gw_alive && [ -s "$gw_dir/http" ]; then cat "$gw_dir/http"; else echo "$http"; fi; }

started=() # ids started by this run (their directories may not exist with --dry-run)
# Ids of every node this cluster has had (a node<i> directory), ascending.
known_ids() {
  local d
  {
    for d in "$dir"/node*; do
      [ -d "$d" ] || continue
      d=${d##*/node}
      if is_uint "$d"; then echo "$d"; fi
    done
    for d in "${started[@]}"; do echo "$d"; done
  } | sort -nu
}
running_ids() { local i; for i in $(known_ids); do node_alive "$i" && echo "$i"; done; true; }
addr_list() { local i out=""; for i in "$@"; do out+="${out:+,}$(node_addr "$i")"; done; echo "$out"; }

write_nodes_file() {
  local i tmp="$dir/nodes.tmp"
  if [ "$dry" = 1 ]; then
    echo "+ write $dir/nodes: $(for i in $(known_ids); do printf '"%s %s" ' "$i" "$(node_addr "$i")"; done)"
    return
  fi
  for i in $(known_ids); do echo "$i $(node_addr "$i")"; done >"$tmp"
  mv "$tmp" "$dir/nodes"
}

log_tail() { # file [lines]
  [ -f "$1" ] || { echo "  ($1: no log yet)" >&2; return; }
  echo "--- last lines of $1:" >&2
  tail -n "${2:-15}" "$1" | sed 's/^/  /' >&2
}

# Starts "$@" in the background, detached from this terminal, appending to
# log $1 and writing the pid to $2.
launch() {
  local log=$1 pidfile=$2; shift 2
  if [ "$dry" = 1 ]; then
    echo "$(show "$@") >>$(q "$log") 2>&1 &  # pid -> $pidfile"
    return
  fi
  mkdir -p "$(dirname "$log")"
  echo "==== $(date -u +%FT%TZ) $*" >>"$log"
  if command -v setsid >/dev/null; then
    setsid "$@" >>"$log" 2>&1 </dev/null &
  else
    nohup "$@" >>"$log" 2>&1 </dev/null &
  fi
  echo $! >"$pidfile"
}

# True when node $1 has raft state: it restarts from it (no --join).
has_state() { [ -n "$(ls -A "$dir/node$1/data/raft" 2>/dev/null)" ]; }

start_node() { # id [join-addr]
  local i=$1 join=${2:-} nd="$dir/node$1"
  local a=(--node-id "$i" --listen "$(node_addr "$i")" --raft "$(raft_addr "$i")"
           --data-dir "$nd/data")
  [ -n "$join" ] && a+=(--join "$join")
  run mkdir -p "$nd/data"
  run rm -f "$nd/pid"
  started+=("$i")
  launch "$nd/node.log" "$nd/pid" "$node_bin" "${a[@]}"
  if [ -n "$join" ]; then
    say "node $i starting on $(node_addr "$i"), joining $join"
  elif has_state "$i"; then
    say "node $i restarting on $(node_addr "$i") from its state in $nd/data"
  else
    say "node $i starting on $(node_addr "$i"), bootstrapping a new cluster"
  fi
}

# Prints vigilctl's members table (empty when no node answers).
members_table() { "$ctl_bin" --timeout 1000 --node "$(addr_list "$@")" nodes 2>&1 || true; }

# Waits until every node in "$@" is active and alive in `vigilctl nodes`.
wait_active() {
  local ids=("$@") deadline=$((SECONDS + wait_s)) table missing i
  if [ "$dry" = 1 ]; then
    echo "$(show "$ctl_bin" --node "$(addr_list "${ids[@]}")" nodes)  # until node(s) ${ids[*]} active and alive, at most ${wait_s} s"
    return
  fi
  while :; do
    for i in "${ids[@]}"; do
      node_alive "$i" || { log_tail "$dir/node$i/node.log"; die "node $i exited while starting (log: $dir/node$i/node.log)"; }
    done
    table=$(members_table $(running_ids))
    missing=""
    for i in "${ids[@]}"; do
      echo "$table" | awk -v id="$i" '$1 ~ ("^" id "\\*?$") && $2 == "active" && $4 == "yes" {ok=1} END {exit !ok}' ||
        missing+="${missing:+ }$i"
    done
    [ -z "$missing" ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: after ${wait_s} s, not active yet: node(s) $missing; vigilctl nodes says:" >&2
      echo "$table" | sed 's/^/  /' >&2
      for i in $missing; do log_tail "$dir/node$i/node.log"; done
      die "the cluster did not come up (more time: --wait S; what started is left running for a look, 'ops/cluster.sh stop' stops it)"
    fi
    sleep 0.3
  done
}

start_gateway() {
  [ "$gateway" = 1 ] || return 0
  if gw_alive; then say "gateway already running (pid $(pid_of "$gw_dir/pid")) on http://$(gw_http)"; return; fi
  run mkdir -p "$gw_dir"
  run rm -f "$gw_dir/pid"
  launch "$gw_dir/gateway.log" "$gw_dir/pid" "$gw_bin" --http "$http" --cluster "$(addr_list $(known_ids))"
  [ "$dry" = 1 ] || echo "$http" >"$gw_dir/http"
  say "gateway starting on http://$http"
  if [ "$dry" = 1 ]; then
    echo "$(show curl -fsS "http://$http/readyz")  # until ready, at most ${wait_s} s"
    return
  fi
  command -v curl >/dev/null || { say "curl not found: not waiting for the gateway"; return; }
  local deadline=$((SECONDS + wait_s))
  until curl -fsS -o /dev/null "http://$http/readyz" 2>/dev/null; do
    gw_alive || { log_tail "$gw_dir/gateway.log"; die "vigil-gateway exited (port ${http##*:} in use? log: $gw_dir/gateway.log)"; }
    [ "$SECONDS" -lt "$deadline" ] || { log_tail "$gw_dir/gateway.log"; die "the gateway is not ready after ${wait_s} s"; }
    sleep 0.2
  done
}

check_bins() {
  local b missing=()
  for b in "$@"; do [ -x "$b" ] || missing+=("$b"); done
  [ ${#missing[@]} -eq 0 ] && return
  [ "$dry" = 1 ] && { say "note: not built: ${missing[*]}"; return; }
  die "not built: ${missing[*]} (run 'make build')"
}

where_to_look() {
  [ "$dry" = 1 ] && return
  local n; n=$(running_ids | wc -l)
  cat <<MSG

  Vigil cluster: $n node(s)$([ "$gateway" = 1 ] && echo " + gateway"), state and logs under $dir/

MSG
  local pw; pw=$(sed -n 's/.*user: admin *password: \([^ ]*\).*/\1/p' "$gw_dir/gateway.log" 2>/dev/null | tail -1)
  [ "$gateway" = 1 ] && cat <<MSG
  gateway       http://$(gw_http)    (log $gw_dir/gateway.log)
  admin login   user admin, password ${pw:-"(printed once in $gw_dir/gateway.log at the first start)"}
  get a token   curl -s -XPOST http://$(gw_http)/v1/auth/token -H 'Content-Type: application/json' -d '{"username":"admin","password":"${pw:-PASSWORD}"}'
  score one     curl -s -XPOST http://$(gw_http)/v1/transactions -H "Authorization: Bearer \$TOKEN" -d '{"id":"t1","user_id":"u1","amount":42,"currency":"EUR","timestamp":"$(date -u +%Y-%m-%dT%H:%M:%SZ)"}'
MSG
  local ctl="$ctl_bin" # vigilctl finds ./var/cluster/nodes by itself
  [ "$dir" = var/cluster ] || ctl+=" --node $(addr_list $(known_ids))"
  cat <<MSG
  cluster       $ctl status    (also: nodes, map, drain ID, remove ID, --json)
  node logs     $dir/node<ID>/node.log
  add a node    ops/cluster.sh add
  crash one     ops/cluster.sh kill ID
  stop all      ops/cluster.sh stop    (state kept; rm -rf $dir to start afresh)

MSG
}

# ---- commands ---------------------------------------------------------------

cmd_start() {
  [ ${#args[@]} -eq 2 ] || usage "start needs the number of nodes: start N"
  local n=${args[1]} i ids=() join="" first
  is_uint "$n" && [ "$n" -ge 1 ] && [ "$n" -le 99 ] || usage "start: N '$n' must be 1..99"
  check_bins "$node_bin" "$ctl_bin" $([ "$gateway" = 1 ] && echo "$gw_bin")
  run mkdir -p "$dir"
  local up=($(running_ids)) fresh=()
  first=${up[0]:-}
  for i in $(seq 1 "$n"); do
    if node_alive "$i"; then
      say "node $i already running (pid $(pid_of "$dir/node$i/pid")) on $(node_addr "$i")"
    elif has_state "$i"; then # a member before: it restarts from its raft state
      start_node "$i"
      ids+=("$i")
      first=${first:-$i}
    else
      fresh+=("$i")
    fi
  done
  for i in "${fresh[@]}"; do
    ids+=("$i")
    if [ -z "$first" ]; then # a new cluster: this one bootstraps, the rest join it
      start_node "$i"
      write_nodes_file
      wait_active "$i"
      first=$i
    else
      start_node "$i" "$(node_addr "$first")"
    fi
  done
  write_nodes_file
  [ ${#ids[@]} -gt 0 ] && wait_active $(seq 1 "$n")
  [ "$dry" = 1 ] || say "nodes 1..$n are active"
  start_gateway
  where_to_look
}

cmd_add() {
  [ ${#args[@]} -eq 1 ] || usage "add takes no argument"
  check_bins "$node_bin" "$ctl_bin"
  local up=($(running_ids)) known=($(known_ids)) first id
  first=${up[0]:-}
  [ -n "$first" ] || [ "$dry" = 1 ] || die "no node is running: 'ops/cluster.sh start N' first"
  id=$(( ${known[${#known[@]}-1]:-0} + 1 ))
  start_node "$id" "$(node_addr "${first:-1}")"
  write_nodes_file
  wait_active "$id"
  [ "$dry" = 1 ] || say "node $id is active ($(node_addr "$id"), log $dir/node$id/node.log)"
}

cmd_kill() {
  [ ${#args[@]} -eq 2 ] || usage "kill needs a node id: kill ID"
  local id=${args[1]}
  is_uint "$id" && [ "$id" -ge 1 ] || usage "kill: ID '$id' must be a node id >= 1"
  if ! node_alive "$id"; then
    say "node $id is not running"
    return 0
  fi
  local pid; pid=$(pid_of "$dir/node$id/pid")
  run kill -9 "$pid"
  run rm -f "$dir/node$id/pid"
  [ "$dry" = 1 ] || say "node $id killed (pid $pid, SIGKILL); the leader marks it down and moves its shards after ~3 s"
}

# Waits for the process of pid file $2 (named $1) to exit after SIGTERM,
# until the deadline $3 (in SECONDS), then SIGKILLs it; reports either way.
reap() {
  local what=$1 pidfile=$2 deadline=$3 pid
  pid=$(pid_of "$pidfile")
  if [ "$dry" = 1 ]; then echo "+ # wait for $what to exit, at most ${wait_s} s, then kill -9"; return; fi
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    say "$what (pid $pid) did not stop within ${wait_s} s of SIGTERM: killed with SIGKILL"
  else
    say "$what stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}

cmd_stop() {
  [ ${#args[@]} -eq 1 ] || usage "stop takes no argument"
  local i n=0 ids
  if gw_alive; then # first, so it stops sending work to the nodes
    run kill -TERM "$(pid_of "$gw_dir/pid")" || true
    reap gateway "$gw_dir/pid" $((SECONDS + wait_s))
    n=1
  fi
  ids=$(running_ids)
  for i in $ids; do run kill -TERM "$(pid_of "$dir/node$i/pid")" || true; done
  local deadline=$((SECONDS + wait_s))
  for i in $ids; do
    reap "node $i" "$dir/node$i/pid" "$deadline"
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || say "nothing was running"
  [ "$dry" = 1 ] || [ "$n" -eq 0 ] || say "stopped $n process(es); state kept in $dir (rm -rf $dir to start afresh)"
}

cmd_status() {
  [ ${#args[@]} -eq 1 ] || usage "status takes no argument"
  local i ids
  ids=$(known_ids)
  [ -n "$ids" ] || { say "no cluster in $dir ('ops/cluster.sh start N' makes one)"; return 1; }
  for i in $ids; do
    if node_alive "$i"; then
      printf 'node %-3s running  pid %-8s %s  log %s\n' "$i" "$(pid_of "$dir/node$i/pid")" "$(node_addr "$i")" "$dir/node$i/node.log"
    else
      printf 'node %-3s stopped  %-12s %s  log %s\n' "$i" "" "$(node_addr "$i")" "$dir/node$i/node.log"
    fi
  done
  if gw_alive; then
    printf 'gateway  running  pid %-8s http://%s  log %s\n' "$(pid_of "$gw_dir/pid")" "$(gw_http)" "$gw_dir/gateway.log"
  else
    printf 'gateway  stopped\n'
  fi
  echo
  [ -x "$ctl_bin" ] || die "$ctl_bin not built"
  run "$ctl_bin" --node "$(addr_list $ids)" status
}

case "$cmd" in
  start) cmd_start ;;
  add) cmd_add ;;
  kill) cmd_kill ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  help) help ;;
  *) usage "unknown command '$cmd' (start N, add, kill ID, stop, status)" ;;
esac
