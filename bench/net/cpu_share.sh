#!/usr/bin/env bash
# bench/net/cpu_share.sh: how much CPU an HTTP server gets under wrk, and how
# long its threads wait for one, to tell a server that is slow from one that
# is starved by the machine.
#
#   bench/net/cpu_share.sh SERVER CONNS [SECS]
#
# Starts SERVER (goro's examples/http_server or the Go peer built by run.sh;
# it must accept --addr and print "listening on") on 127.0.0.1:PORT, runs
# wrk -t2 -cCONNS on GET / for SECS+2 seconds (default SECS 3) and, over SECS
# seconds in the middle, samples /proc/PID/task/*/schedstat and status of
# the server and of wrk. Prints requests/s and, per process, the CPU it ran
# (100% = one CPU), the time its threads spent runnable but waiting for a
# CPU (summed over threads), its thread count and its voluntary and
# involuntary context switches. Environment: PORT (17027), PROCS (2:
# GORO_MAXPROCS / GOMAXPROCS).
set -euo pipefail

[[ $# -ge 2 ]] || { sed -n '2,17p' "$0"; exit 2; }
server=$1
conns=$2
secs=${3:-3}
PORT=${PORT:-17027}
PROCS=${PROCS:-2}
command -v wrk > /dev/null || { echo "cpu_share.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
export GORO_MAXPROCS=$PROCS GOMAXPROCS=$PROCS

tmp=$(mktemp -d)
spid=
wpid=
cleanup() {
  [[ -n $wpid ]] && kill "$wpid" 2> /dev/null || true
  [[ -n $spid ]] && kill -9 "$spid" 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

"$server" --addr "127.0.0.1:$PORT" > "$tmp/server.out" 2>&1 &
spid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$tmp/server.out" 2> /dev/null && break
  sleep 0.05
done
wrk -t2 -c"$conns" -d"$((secs + 2))s" "http://127.0.0.1:$PORT/" > "$tmp/wrk.out" 2>&1 &
wpid=$!
sleep 1

# One line per thread: role run_ns wait_ns voluntary involuntary.
sample() {
  local role pid t
  for role in server wrk; do
    [[ $role == server ]] && pid=$spid || pid=$wpid
    for t in /proc/"$pid"/task/*; do
      {
        read -r run wait _ < "$t/schedstat"
        awk -v r="$role" -v id="${t##*/}" -v run="$run" -v wait="$wait" \
          '/^voluntary_ctxt/ { v = $2 } /^nonvoluntary_ctxt/ { n = $2 }
           END { print r, id, run, wait, v, n }' "$t/status"
      } 2> /dev/null || true
    done
  done
}
sample > "$tmp/before"
sleep "$secs"
sample > "$tmp/after"
wait "$wpid" || true
wpid=
kill -INT "$spid" 2> /dev/null || true
wait "$spid" 2> /dev/null || true
spid=

echo "$(basename "$server") conns=$conns $(awk '/^Requests\/sec:/ { print "rps=" $2 }' "$tmp/wrk.out")"
awk -v secs="$secs" '
  FNR == NR { run[$1 " " $2] = $3; wait[$1 " " $2] = $4; vol[$1 " " $2] = $5; inv[$1 " " $2] = $6; next }
  ($1 " " $2) in run {
    k = $1 " " $2
    r[$1] += $3 - run[k]; w[$1] += $4 - wait[k]; v[$1] += $5 - vol[k]; n[$1] += $6 - inv[k]; th[$1]++
  }
  END {
    for (p in r)
      printf "  %-6s ran %3.0f%% of a CPU, waited for one %4.0f%% (thread sum), %d threads, %d voluntary / %d involuntary switches\n",
        p, r[p] / secs / 1e7, w[p] / secs / 1e7, th[p], v[p], n[p]
  }' "$tmp/before" "$tmp/after"
