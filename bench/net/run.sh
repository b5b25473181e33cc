#!/usr/bin/env bash
# bench/net/run.sh: goro's echo and HTTP servers side by side with the same
# servers in Go, in one run on one machine, and the resident memory each
# needs per idle connection.
#
#   bench/net/run.sh              everything (about 15 minutes on 2 vCPUs, a minute or two more for http-idle)
#   bench/net/run.sh --quick      1 run of 3 s each, 2,000 idle connections
#   bench/net/run.sh echo|http|idle|http-idle ...   only those parts
#
# Environment: BUILD_DIR (a Release/RelWithDebInfo build with
# GORO_BUILD_BENCH=ON; default ./build-bench), RUNS (5: each measurement is
# repeated RUNS times, alternating goro and Go, and the median is shown),
# SECS (10: seconds per throughput run), IDLE_CONNS (19000), TARGETS (8:
# idle connections are spread over 127.0.0.1..127.0.0.TARGETS), GO (the go
# tool; default /usr/lib/go-1.23/bin/go, else go on PATH), PROCS (2: the
# servers' GOMAXPROCS / GORO_MAXPROCS), PORT (17007: the servers listen on
# PORT, PORT+1 and PORT+2; move it if another run shares the machine).
#
# Workloads
#   echo   net_load_client keeps one 512-byte message in flight on each of 4,
#          64 and 1,000 connections; round trips/s, p50/p99 latency, and the
#          server's CPU time (user + system, /proc/PID/stat) per round trip.
#   http   wrk -t2 on GET / ("Hello, World!") with 100 and 1,000
#          keep-alive connections; requests/s, p50/p99 latency, server CPU
#          time per request.
#   idle   IDLE_CONNS connections opened (one echo each), then held idle;
#          (VmRSS + VmPTE after - before) / connections of the server.
#   http-idle  the same against the HTTP servers: IDLE_CONNS keep-alive
#          connections that each sent one "GET /healthz" and read the whole
#          response, so the server holds them waiting for a next request.
# Everything is loopback; every server is stopped at the end (trap).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
RUNS=${RUNS:-5}
SECS=${SECS:-10}
IDLE_CONNS=${IDLE_CONNS:-19000}
TARGETS=${TARGETS:-8}
PROCS=${PROCS:-2}
PORT=${PORT:-17007}
parts=()
for arg in "$@"; do
  case "$arg" in
    --quick) RUNS=1; SECS=3; IDLE_CONNS=2000 ;;
    echo|http|idle|http-idle) parts+=("$arg") ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done
[[ ${#parts[@]} -eq 0 ]] && parts=(echo http idle http-idle)

BUILD_DIR=${BUILD_DIR:-$root/build-bench}
[[ -d $BUILD_DIR ]] || { echo "run.sh: no build at $BUILD_DIR (set BUILD_DIR)" >&2; exit 1; }
pick() {  # first existing file of the arguments
  for f in "$@"; do [[ -x $f ]] && { echo "$f"; return; }; done
  echo "run.sh: none of $* is built" >&2
  exit 1
}
goro_echo=$(pick "$BUILD_DIR/bench/net/bench_net_echo_server" "$BUILD_DIR/examples/echo_server")
goro_http=$(pick "$BUILD_DIR/bench/net/bench_net_http_server" "$BUILD_DIR/examples/http_server")
client=$(pick "$BUILD_DIR/bench/net/net_load_client")

GO=${GO:-}
if [[ -z $GO ]]; then
  if [[ -x /usr/lib/go-1.23/bin/go ]]; then GO=/usr/lib/go-1.23/bin/go; else GO=$(command -v go || true); fi
fi
[[ -n $GO ]] || { echo "run.sh: Go not found (apt-get install -t bookworm-backports golang-1.23-go)" >&2; exit 1; }
command -v wrk > /dev/null || { echo "run.sh: wrk not found (apt-get install wrk)" >&2; exit 1; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill -9 "$server_pid" 2> /dev/null || true
  exec 9>&- 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "run.sh: building the Go peers with $($GO version)"
(cd "$here/go" && GOFLAGS=-mod=mod GOCACHE="${GOCACHE:-$tmp/gocache}" "$GO" build -o "$tmp/go_echo_server" ./echo &&
  GOCACHE="${GOCACHE:-$tmp/gocache}" "$GO" build -o "$tmp/go_http_server" ./http)
go_echo=$tmp/go_echo_server
go_http=$tmp/go_http_server

# The servers and the client need more descriptors than the default soft limit.
ulimit -n "$(ulimit -Hn)"
export GORO_MAXPROCS=$PROCS GOMAXPROCS=$PROCS
results=$tmp/results  # lines: part impl conns metric value
: > "$results"

# start_server BINARY PORT: starts it on 0.0.0.0:PORT (dual-stack ":PORT")
# and waits for its "listening on" line.
start_server() {
  # A fresh file: the previous server's "listening on" must not count.
  rm -f "$tmp/server.out"
  "$1" --addr ":$2" > "$tmp/server.out" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$tmp/server.out" 2> /dev/null && return 0
    sleep 0.05
  done
  echo "run.sh: $1 did not start:" >&2
  cat "$tmp/server.out" >&2
  exit 1
}
stop_server() {
  kill -INT "$server_pid" 2> /dev/null || true
  for _ in $(seq 100); do kill -0 "$server_pid" 2> /dev/null || break; sleep 0.05; done
  kill -9 "$server_pid" 2> /dev/null || true
  wait "$server_pid" 2> /dev/null || true
  server_pid=
}
# kB of VmRSS + VmPTE of the server.
resident_kb() {
  awk '/^VmRSS:|^VmPTE:/ { s += $2 } END { print s }' "/proc/$server_pid/status"
}
record() { echo "$*" >> "$results"; }
# CPU time (user + system) the server has used, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
# Microseconds of server CPU per request: cpu_us TICKS_BEFORE TICKS_AFTER REQUESTS
cpu_us() {
  awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { if (n > 0) printf "%.2f", (b - a) * 1000000 / hz / n; else print 0 }'
}
# Odd runs goro first, even runs Go first.
order() { if (($1 % 2)); then echo goro go; else echo go goro; fi; }

run_echo() {
  local port=$PORT
  for conns in 4 64 1000; do
    for run in $(seq "$RUNS"); do
      for impl in $(order "$run"); do
        [[ $impl == goro ]] && bin=$goro_echo || bin=$go_echo
        start_server "$bin" $port
        t0=$(cpu_ticks)
        out=$("$client" echo $port "$conns" 512 "$SECS" 4 || true)
        t1=$(cpu_ticks)
        stop_server
        n=$(sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' <<< "$out")
        cpu=$(cpu_us "$t0" "$t1" "${n:-0}")
        echo "  echo $impl conns=$conns: $out server_cpu_us=$cpu"
        for kv in $out; do
          case $kv in rps=* | p50_us=* | p99_us=*) record echo "$impl" "$conns" "${kv%%=*}" "${kv#*=}" ;; esac
        done
        record echo "$impl" "$conns" cpu_us_per_req "$cpu"
      done
    done
  done
}

# wrk's latency figures ("1.23ms") in microseconds.
to_us() {
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
    if (u == "us") n *= 1; else if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000; print n }'
}

run_http() {
  local port=$((PORT + 1))
  for conns in 100 1000; do
    for run in $(seq "$RUNS"); do
      for impl in $(order "$run"); do
        [[ $impl == goro ]] && bin=$goro_http || bin=$go_http
        start_server "$bin" $port
        t0=$(cpu_ticks)
        out=$(wrk -t2 -c"$conns" -d"${SECS}s" --timeout 10s --latency "http://127.0.0.1:$port/" 2>&1 || true)
        t1=$(cpu_ticks)
        stop_server
        n=$(awk '/requests in/ { print $1 }' <<< "$out")
        cpu=$(cpu_us "$t0" "$t1" "${n:-0}")
        rps=$(awk '/^Requests\/sec:/ { print $2 }' <<< "$out")
        p50=$(awk '$1 == "50%" { print $2 }' <<< "$out")
        p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
        errs=$(grep -E "Socket errors|Non-2xx" <<< "$out" | tr -s ' ' || true)
        echo "  http $impl conns=$conns: rps=$rps p50=$p50 p99=$p99 server_cpu_us=$cpu $errs"
        # (if, not &&: a failed test as the loop's last command would end
        # the script under set -e)
        if [[ -z $rps ]]; then
          echo "    wrk said:"
          sed 's/^/    /' <<< "$out" | head -5
          continue
        fi
        record http "$impl" "$conns" rps "$rps"
        if [[ -n $p50 ]]; then record http "$impl" "$conns" p50_us "$(to_us "$p50")"; fi
        if [[ -n $p99 ]]; then record http "$impl" "$conns" p99_us "$(to_us "$p99")"; fi
        record http "$impl" "$conns" cpu_us_per_req "$cpu"
      done
    done
  done
}

# hold_idle PART MODE GORO_BIN GO_BIN: memory per idle connection, with
# net_load_client MODE (hold or http-hold) holding the connections.
hold_idle() {
  local part=$1 mode=$2 goro_bin=$3 go_bin=$4
  local port=$((PORT + 2)) runs=$(((RUNS + 1) / 2))
  for run in $(seq "$runs"); do
    for impl in $(order "$run"); do
      [[ $impl == goro ]] && bin=$goro_bin || bin=$go_bin
      start_server "$bin" $port
      sleep 0.5
      before=$(resident_kb)
      mkfifo "$tmp/hold.in"
      "$client" "$mode" $port "$IDLE_CONNS" "$TARGETS" < "$tmp/hold.in" > "$tmp/hold.out" 2>&1 &
      local cpid=$!
      exec 9> "$tmp/hold.in"
      for _ in $(seq 1200); do grep -q ready "$tmp/hold.out" && break; sleep 0.1; done
      sleep 3  # let parked stacks be trimmed and the runtime settle
      after=$(resident_kb)
      ready=$(cat "$tmp/hold.out")
      open=$(sed -n 's/.*open=\([0-9]*\).*/\1/p' "$tmp/hold.out")
      exec 9>&-
      wait "$cpid" || true
      rm -f "$tmp/hold.in"
      stop_server
      per=$(awk -v a="$after" -v b="$before" -v n="${open:-0}" 'BEGIN { if (n > 0) printf "%.0f", (a - b) * 1024 / n; else print 0 }')
      echo "  $part $impl: $ready; VmRSS+VmPTE ${before} kB -> ${after} kB: $per bytes/connection"
      record "$part" "$impl" "$open" bytes_per_conn "$per"
      record "$part" "$impl" "$open" total_kb "$after"
    done
  done
}
run_idle() { hold_idle idle hold "$goro_echo" "$go_echo"; }
run_http-idle() { hold_idle http-idle http-hold "$goro_http" "$go_http"; }

echo "run.sh: machine $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r), RUNS=$RUNS SECS=$SECS"
for p in "${parts[@]}"; do
  echo "== $p"
  "run_$p"
done

echo
echo "run.sh: load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== medians (goro / Go)"
python3 - "$results" << 'EOF'
import statistics, sys
from collections import defaultdict
vals = defaultdict(list)
for line in open(sys.argv[1]):
    part, impl, conns, metric, value = line.split()
    vals[(part, conns, metric, impl)].append(float(value))
keys = sorted({(p, c, m) for (p, c, m, _) in vals}, key=lambda k: (k[0], int(k[1]), k[2]))
print("| workload | conns | metric | goro | Go | goro/Go |")
print("|---|---:|---|---:|---:|---:|")
for p, c, m in keys:
    g = vals.get((p, c, m, "goro")); o = vals.get((p, c, m, "go"))
    if not g or not o:
        continue
    gm, om = statistics.median(g), statistics.median(o)
    ratio = gm / om if om else float("nan")
    fmt = (lambda v: f"{v:,.2f}") if m == "cpu_us_per_req" else (lambda v: f"{v:,.0f}")
    print(f"| {p} | {c} | {m} | {fmt(gm)} | {fmt(om)} | {ratio:.2f} |")
EOF
