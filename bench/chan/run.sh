#!/usr/bin/env bash
# bench/chan/run.sh: goro's channel, select and timer benchmarks run side by
# side with the same programs in Go (bench/chan/go), alternately, each RUNS
# times, with GORO_MAXPROCS/GOMAXPROCS = 1 and 2; prints a Markdown table of
# medians (wall and CPU time per operation) and the goro/Go ratios, then the
# scheduler's floor under the ping-pong (chan_floor, which has no Go peer).
#
#   bench/chan/run.sh            full sizes
#   bench/chan/run.sh --quick    small sizes, one run (smoke test)
#
# Environment: BUILD_DIR (default /work/build-chan-bench if /work is
# writable, else ./build-chan-bench), RUNS (5), PROCS ("1 2"), PROGRAMS
# (default "pingpong buffered select timer": which of them to run), GO (the go
# tool; default /usr/lib/go-1.23/bin/go, Debian's golang-1.23-go from
# bookworm-backports), RUN_PREFIX (a command each program runs under, e.g.
# `nice -n -20` or `taskset -c 1`), and the sizes PINGPONG_N (2e6),
# BUFFERED_N (1e7), SELECT_N (2e6), TIMER_N (2e6).
#
# CPU time per operation is the robust figure on a machine shared with other
# work (wall time includes waiting for a CPU); both are shown.
#
# Builds goro in Release through the main tree. bench/compare runs the same
# programs (and more peers) and writes docs/BENCHMARKS.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

if [[ -z "${BUILD_DIR:-}" ]]; then
  if [[ -w /work ]]; then BUILD_DIR=/work/build-chan-bench; else BUILD_DIR="$root/build-chan-bench"; fi
fi
RUNS=${RUNS:-5}
PROCS=${PROCS:-"1 2"}
PINGPONG_N=${PINGPONG_N:-2000000}
BUFFERED_N=${BUFFERED_N:-10000000}
SELECT_N=${SELECT_N:-2000000}
TIMER_N=${TIMER_N:-2000000}
RUN_PREFIX=${RUN_PREFIX:-}
if ((quick)); then
  RUNS=1 PINGPONG_N=20000 BUFFERED_N=100000 SELECT_N=20000 TIMER_N=20000
fi
if [[ -z "${GO:-}" ]]; then
  for g in /usr/lib/go-1.23/bin/go "$(command -v go || true)"; do
    if [[ -n "$g" && -x "$g" ]]; then GO="$g"; break; fi
  done
fi
[[ -n "${GO:-}" ]] || { echo "run.sh: no Go toolchain (apt-get install golang-1.23-go)" >&2; exit 1; }

read -r -a programs <<<"${PROGRAMS:-pingpong buffered select timer}"
for p in "${programs[@]}"; do
  case "$p" in
    pingpong | buffered | select | timer) ;;
    *) echo "run.sh: PROGRAMS holds $p; the programs are pingpong, buffered, select and timer" >&2; exit 2 ;;
  esac
done
declare -A size=([pingpong]=$PINGPONG_N [buffered]=$BUFFERED_N [select]=$SELECT_N [timer]=$TIMER_N)

echo "== build (Release) in $BUILD_DIR" >&2
mkdir -p "$BUILD_DIR"
cmake -S "$root" -B "$BUILD_DIR/cpp" -DCMAKE_BUILD_TYPE=Release -DGORO_BUILD_TESTS=OFF \
  -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_BENCH=ON >"$BUILD_DIR/cmake.log" 2>&1 ||
  { cat "$BUILD_DIR/cmake.log"; exit 1; }
bin="$BUILD_DIR/cpp/bench/chan"
cmake --build "$BUILD_DIR/cpp" -j"$(nproc)" --target "${programs[@]/#/chan_}" chan_floor >"$BUILD_DIR/build.log" 2>&1 ||
  { tail -30 "$BUILD_DIR/build.log"; exit 1; }
mkdir -p "$BUILD_DIR/go"
for p in "${programs[@]}"; do
  (cd "$here/go" && GOCACHE="$BUILD_DIR/go-cache" GOFLAGS=-mod=mod "$GO" build -o "$BUILD_DIR/go/$p" "$p.go" common.go)
done

out="$BUILD_DIR/results"
rm -rf "$out"
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)

# run <runtime> <procs> <program> <run number>: one run, its metrics kept.
run() {
  local rt=$1 procs=$2 prog=$3 r=$4 exe
  if [[ $rt == goro ]]; then exe="$bin/chan_$prog"; else exe="$BUILD_DIR/go/$prog"; fi
  local file="$out/$rt.$procs.$prog.$r" rc=0
  GORO_MAXPROCS=$procs GOMAXPROCS=$procs timeout 300 $RUN_PREFIX "$exe" "${size[$prog]}" >"$file" 2>"$file.err" || rc=$?
  if ((rc != 0)); then
    echo "   $rt $prog (procs $procs) run $r failed (status $rc): $(tail -n 3 "$file.err")" >&2
    rm -f "$file"
  fi
}

for ((r = 1; r <= RUNS; r++)); do
  echo "== round $r of $RUNS" >&2
  for procs in $PROCS; do
    for prog in "${programs[@]}"; do
      run goro "$procs" "$prog" "$r"
      run go "$procs" "$prog" "$r"
    done
  done
done
# The scheduler's share of the ping-pong (no Go peer): median of RUNS.
floor_lines=""
for procs in $PROCS; do
  for ((r = 1; r <= RUNS; r++)); do
    GORO_MAXPROCS=$procs timeout 300 $RUN_PREFIX "$bin/chan_floor" "$PINGPONG_N" >"$out/floor.$procs.$r" 2>/dev/null || true
  done
  floor_lines+="$procs $(cat "$out"/floor.$procs.* | python3 -c '
import statistics, sys
v = {}
for line in sys.stdin:
    k, _, x = line.strip().partition("=")
    if x: v.setdefault(k, []).append(float(x))
print("%.1f %.1f" % (statistics.median(v.get("floor_rt_ns", [0])), statistics.median(v.get("floor_rt_cpu_ns", [0]))))
')"$'\n'
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) x $cpu, kernel $(uname -r),"
echo "$("$GO" version | awk '{print $3}'), $(c++ --version | head -1); $RUNS runs each, alternating goro and Go;"
echo "load average before $load_before, after $load_after; $(( $(date +%s) - started )) s."
echo "Command: bench/chan/run.sh${RUN_PREFIX:+ (RUN_PREFIX=$RUN_PREFIX)}"
echo
python3 - "$out" "$RUNS" "$PROCS" "${programs[@]}" <<'EOF'
import glob, os, statistics, sys
out, runs, procs, programs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4:]

def medians(rt, p, prog):
    vals = {}
    for f in glob.glob(os.path.join(out, f"{rt}.{p}.{prog}.*")):
        if f.endswith(".err"):
            continue
        for line in open(f):
            k, _, v = line.strip().partition("=")
            if v and k != "maxprocs":
                vals.setdefault(k, []).append(float(v))
    return {k: statistics.median(v) for k, v in vals.items()}

print("| benchmark | procs | goro wall ns | Go wall ns | goro/Go wall | goro CPU ns | Go CPU ns | goro/Go CPU |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for prog in programs:
    for p in procs:
        g, o = medians("goro", p, prog), medians("go", p, prog)
        for k in sorted(g):
            if k.endswith("_cpu_ns") or not k.endswith("_ns"):
                continue
            name = k[: -len("_ns")]
            c = name + "_cpu_ns"
            def cell(d, key):
                return f"{d[key]:.1f}" if key in d else "-"
            def ratio(key):
                return f"{g[key] / o[key]:.2f}" if key in g and key in o and o[key] > 0 else "-"
            print(f"| {name} | {p} | {cell(g, k)} | {cell(o, k)} | {ratio(k)} | {cell(g, c)} | {cell(o, c)} | {ratio(c)} |")
EOF
echo
echo "Scheduler floor (chan_floor: the ping-pong round trip through bare park/ready, no channel):"
echo
echo "| procs | wall ns | CPU ns |"
echo "|---:|---:|---:|"
printf '%s' "$floor_lines" | while read -r p w c; do [[ -n "$p" ]] && echo "| $p | $w | $c |"; done
