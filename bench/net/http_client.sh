#!/usr/bin/env bash
# bench/net/http_client.sh: goro's HTTP client (examples/http_get) against
# Go's net/http client (bench/net/go/httpget) on the same server (goro's
# examples/http_server, GET / "Hello, World!"), at 1, 64 and 1,000
# concurrent requests, each client keeping at most that many pooled
# keep-alive connections.
#
#   bench/net/http_client.sh            3 runs of each, alternating goro and Go
#   bench/net/http_client.sh --quick    1 run of each, fewer requests
#
# Environment: BUILD_DIR (a build with examples; default ./build), RUNS (3:
# the median is shown), REQUESTS (20000 per run; a tenth at concurrency 1),
# PROCS (2: GOMAXPROCS / --procs of both clients and of the server), GO (the
# go tool; default /usr/lib/go-1.23/bin/go, else go on PATH), PORT (17017).
# Figures per run: requests/s, p99 latency (ms), client CPU time (user +
# system) per request (us).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
RUNS=${RUNS:-3}
REQUESTS=${REQUESTS:-20000}
PROCS=${PROCS:-2}
PORT=${PORT:-17017}
[[ "${1:-}" == --quick ]] && { RUNS=1; REQUESTS=5000; }
BUILD_DIR=${BUILD_DIR:-$root/build}
server=$BUILD_DIR/examples/http_server
client=$BUILD_DIR/examples/http_get
for f in "$server" "$client"; do
  [[ -x $f ]] || { echo "http_client.sh: $f is not built" >&2; exit 1; }
done
GO=${GO:-/usr/lib/go-1.23/bin/go}
[[ -x $GO ]] || GO=$(command -v go) || { echo "http_client.sh: no go tool" >&2; exit 1; }

tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
(cd "$here/go" && GOCACHE="${GOCACHE:-$tmp/gocache}" "$GO" build -o "$tmp/go_httpget" ./httpget)

"$server" --addr "127.0.0.1:$PORT" --procs "$PROCS" > "$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do grep -q "listening on" "$tmp/server.log" && break; sleep 0.1; done
url="http://127.0.0.1:$PORT/"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-6s %6s %12s %10s %14s\n" client conns "req/s" "p99 ms" "cpu us/req"
for conns in 1 64 1000; do
  n=$REQUESTS
  [[ $conns == 1 ]] && n=$((REQUESTS / 10))
  for impl in goro go; do : > "$tmp/$impl.$conns"; done
  for _ in $(seq "$RUNS"); do
    for impl in goro go; do
      if [[ $impl == goro ]]; then
        out=$("$client" --procs "$PROCS" --conns "$conns" --requests "$n" "$url" 2>&1)
      else
        out=$(GOMAXPROCS=$PROCS "$tmp/go_httpget" -conns "$conns" -requests "$n" "$url" 2>&1)
      fi
      if ! grep -q " 0 failed" <<< "$out"; then echo "http_client.sh: $impl failed:"; echo "$out"; exit 1; fi
      rps=$(sed -n 's/.* s, \([0-9]*\) req\/s.*/\1/p' <<< "$out")
      p99=$(sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' <<< "$out")
      cpu=$(sed -n 's/^cpu: *\([0-9.]*\) us.*/\1/p' <<< "$out")
      echo "$rps $p99 $cpu" >> "$tmp/$impl.$conns"
    done
  done
  for impl in goro go; do
    rps=$(cut -d' ' -f1 "$tmp/$impl.$conns" | median)
    p99=$(cut -d' ' -f2 "$tmp/$impl.$conns" | median)
    cpu=$(cut -d' ' -f3 "$tmp/$impl.$conns" | median)
    printf "%-6s %6s %12s %10s %14s\n" "$impl" "$conns" "$rps" "$p99" "$cpu"
  done
done
