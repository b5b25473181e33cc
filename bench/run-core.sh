#!/usr/bin/env bash
# bench/run-core.sh: goro's core figures, measured side by side with Go (and
# std::thread and Boost.Fiber where built), written into docs/PERFORMANCE.md.
#
#   bench/run-core.sh            build Release, run everything, update the doc
#   bench/run-core.sh --quick    small sizes, one run each, doc untouched (smoke)
#   bench/run-core.sh --no-doc   full run, print the table only
#
# Environment: BUILD_DIR (default ./build-bench; /work/build-bench for the
# checkout at /work/main), PARK_N (1000000), SPAWN_N (1000000), DEEP_MB (64), SWITCH_N (10000000),
# THREAD_PARK_N (10000), THREAD_SPAWN_N (20000), FIBER_PARK_N (50000),
# FIBER_SPAWN_N (200000), RUNS (3), GO (path of the go tool), RUN_PREFIX (a
# command every measured program runs under, for example `nice -n -20` as
# root on a machine others are using; recorded in the document).
#
# Every program prints `metric=value` lines. Runs alternate between the
# runtimes (goro, Go, threads, fibers, then again), each program RUNS times,
# and the table shows the median. The microbenchmarks run once with
# RUNS repetitions (median). The whole script stays under 10 minutes on a
# 2-vCPU machine; each program is killed after 120 s.
#
# It needs cmake, a C++20 compiler, Google Benchmark (libbenchmark-dev),
# python3 and Go (Debian: golang-1.23-go from bookworm-backports, else
# golang-go). It does not install anything; bench/compare does, and runs
# these programs with every peer, the channel and network benchmarks too,
# into docs/BENCHMARKS.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
quick=0
write_doc=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1; write_doc=0 ;;
    --no-doc) write_doc=0 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run-core.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

if [[ -z "${BUILD_DIR:-}" ]]; then
  # This project's workspace keeps build trees beside the checkout.
  if [[ "$root" == /work/main ]]; then BUILD_DIR=/work/build-bench; else BUILD_DIR="$root/build-bench"; fi
fi
RUNS=${RUNS:-3}
PARK_N=${PARK_N:-1000000}
SPAWN_N=${SPAWN_N:-1000000}
DEEP_MB=${DEEP_MB:-64}
SWITCH_N=${SWITCH_N:-10000000}
THREAD_PARK_N=${THREAD_PARK_N:-10000}
THREAD_SPAWN_N=${THREAD_SPAWN_N:-20000}
FIBER_PARK_N=${FIBER_PARK_N:-50000}
FIBER_SPAWN_N=${FIBER_SPAWN_N:-200000}
MICRO_MIN_TIME=${MICRO_MIN_TIME:-0.2}
RUN_PREFIX=${RUN_PREFIX:-}
if (( quick )); then
  RUNS=1 PARK_N=10000 SPAWN_N=10000 DEEP_MB=8 SWITCH_N=100000 THREAD_PARK_N=1000 THREAD_SPAWN_N=1000
  FIBER_PARK_N=1000 FIBER_SPAWN_N=1000 MICRO_MIN_TIME=0.01
fi

if [[ -z "${GO:-}" ]]; then
  for g in /usr/lib/go-1.23/bin/go /usr/lib/go/bin/go "$(command -v go || true)"; do
    if [[ -n "$g" && -x "$g" ]]; then GO="$g"; break; fi
  done
fi

started=$(date +%s)
echo "== build (Release) in $BUILD_DIR"
cmake -S "$root" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DGORO_BUILD_TESTS=OFF \
  -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_BENCH=ON >"$BUILD_DIR.cmake.log" 2>&1 ||
  { cat "$BUILD_DIR.cmake.log"; exit 1; }
targets=(bench_park bench_spawn bench_deep bench_switch micro_bench thread_park thread_spawn)
if cmake --build "$BUILD_DIR" --target help 2>/dev/null | grep -q 'fiber_park'; then
  targets+=(fiber_park fiber_spawn)
fi
if ! cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${targets[@]}" >"$BUILD_DIR.build.log" 2>&1; then
  # Build what builds; a program that does not is reported and skipped.
  for t in "${targets[@]}"; do
    cmake --build "$BUILD_DIR" --target "$t" >"$BUILD_DIR.build.$t.log" 2>&1 ||
      echo "run-core.sh: $t does not build (see $BUILD_DIR.build.$t.log); skipped" >&2
  done
fi
bin="$BUILD_DIR/bench"

go_version=none
if [[ -n "${GO:-}" ]]; then
  mkdir -p "$BUILD_DIR/peers-go"
  for p in park spawn deep switch; do
    (cd "$here/peers/go" && GOCACHE="$BUILD_DIR/go-cache" GOFLAGS=-mod=mod \
      "$GO" build -o "$BUILD_DIR/peers-go/$p" "$p.go" common.go)
  done
  go_version=$("$GO" version | awk '{print $3}')
else
  echo "run-core.sh: no Go toolchain found; the Go column stays empty" >&2
fi

out="$BUILD_DIR/results"
rm -rf "$out"
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# run <name> <program> <args...>: one run, its metric lines kept in $out.
run() {
  local name=$1 run_no=$2
  shift 2
  if [[ ! -x "$1" ]]; then return 0; fi
  local rc=0
  timeout 120 $RUN_PREFIX "$@" >"$out/$name.$run_no" 2>"$out/$name.$run_no.err" || rc=$?
  if (( rc != 0 )); then
    echo "   $name run $run_no failed (status $rc): $(tail -n 3 "$out/$name.$run_no.err")" >&2
    rm -f "$out/$name.$run_no"
  fi
}

for ((r = 1; r <= RUNS; r++)); do
  echo "== round $r of $RUNS"
  run goro.park "$r" "$bin/bench_park" "$PARK_N"
  run go.park "$r" "$BUILD_DIR/peers-go/park" "$PARK_N"
  run thread.park "$r" "$bin/thread_park" "$THREAD_PARK_N"
  run fiber.park "$r" "$bin/fiber_park" "$FIBER_PARK_N"
  run goro.spawn "$r" "$bin/bench_spawn" "$SPAWN_N"
  run go.spawn "$r" "$BUILD_DIR/peers-go/spawn" "$SPAWN_N"
  run thread.spawn "$r" "$bin/thread_spawn" "$THREAD_SPAWN_N"
  run fiber.spawn "$r" "$bin/fiber_spawn" "$FIBER_SPAWN_N"
  run goro.deep "$r" "$bin/bench_deep" "$DEEP_MB"
  run go.deep "$r" "$BUILD_DIR/peers-go/deep" "$DEEP_MB"
  run goro.switch "$r" "$bin/bench_switch" "$SWITCH_N"
  run go.switch "$r" "$BUILD_DIR/peers-go/switch" "$SWITCH_N"
done

echo "== microbenchmarks"
$RUN_PREFIX "$bin/micro_bench" --benchmark_min_time="$MICRO_MIN_TIME" --benchmark_repetitions="$RUNS" \
  --benchmark_report_aggregates_only=true --benchmark_format=json >"$out/micro.json" \
  2>"$out/micro.err" || { cat "$out/micro.err" >&2; exit 1; }
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cxx=$(grep -m1 '^CMAKE_CXX_COMPILER:' "$BUILD_DIR/CMakeCache.txt" | cut -d= -f2)
export OUT="$out" RUNS PARK_N SPAWN_N DEEP_MB SWITCH_N THREAD_PARK_N THREAD_SPAWN_N FIBER_PARK_N FIBER_SPAWN_N
export MACHINE_NPROC="$(nproc)" MACHINE_KERNEL="$(uname -r)" MACHINE_CPU="$cpu_model"
export MACHINE_MEM="$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
export GO_VERSION="$go_version" CXX_VERSION="$("$cxx" --version | head -1)"
export LOAD_BEFORE="$load_before" LOAD_AFTER="$load_after"
export GUARD_KIND="$(uname -r | awk -F. '{ if ($1 > 6 || ($1 == 6 && $2 >= 13)) print "MADV_GUARD_INSTALL"; else print "mprotect"; }')"
export COMMAND="${RUN_PREFIX:+RUN_PREFIX='$RUN_PREFIX' }bench/run-core.sh${*:+ $*}" DATE="$(date -u +%Y-%m-%d)"
export DOC="$root/docs/PERFORMANCE.md" WRITE_DOC="$write_doc"
python3 "$here/report.py"
echo "== done in $(( $(date +%s) - started )) s"
