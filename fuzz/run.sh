#!/usr/bin/env bash
# fuzz/run.sh: builds the libFuzzer targets (clang, libFuzzer + ASan + UBSan)
# and runs each in turn until RUNS executions or SECONDS seconds, whichever
# comes first:
#   json_fuzz            goro::json, seeded with the JSONTestSuite cases
#   http_request_fuzz    goro::http::parser, request side  (fuzz/http_seeds/request)
#   http_response_fuzz   goro::http::parser, response side (fuzz/http_seeds/response)
# Exits non-zero on any crash, disagreement, leak or sanitizer report.
#
#   fuzz/run.sh                 10,000,000 executions each (about 10-15 minutes for json)
#   fuzz/run.sh -n 1000000      one million executions each
#   fuzz/run.sh -t 30           30 seconds each (CI)
#   fuzz/run.sh -f http_request_fuzz   only that fuzzer (repeatable)
#   fuzz/run.sh -j 2            two fuzzing processes (default 1: cores are shared)
#   fuzz/run.sh -l 100000       inputs up to 100,000 bytes (default 16384: deep
#                               enough for stack segments, small enough to be fast)
#
# Environment: GORO_FUZZ_BUILD_DIR (default build-fuzz), GORO_JSON_TESTSUITE_DIR
# (default ../shared/data/JSONTestSuite/test_parsing beside the repository).
# The growing corpora are kept in $GORO_FUZZ_BUILD_DIR/<name>-corpus (json:
# json-corpus); a crashing input is written to $GORO_FUZZ_BUILD_DIR/artifacts/.
set -euo pipefail

runs=10000000
seconds=0
jobs=1
max_len=16384
fuzzers=()
while getopts "n:t:j:l:f:h" opt; do
  case "$opt" in
    n) runs="$OPTARG" ;;
    t) seconds="$OPTARG" ;;
    j) jobs="$OPTARG" ;;
    l) max_len="$OPTARG" ;;
    f) fuzzers+=("$OPTARG") ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done
[[ ${#fuzzers[@]} == 0 ]] && fuzzers=(json_fuzz http_request_fuzz http_response_fuzz)

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GORO_FUZZ_BUILD_DIR:-$repo/build-fuzz}"
suite="${GORO_JSON_TESTSUITE_DIR:-$repo/../shared/data/JSONTestSuite/test_parsing}"

if ! command -v clang++ >/dev/null; then
  echo "fuzz/run.sh: clang++ not found (apt-get install clang libclang-rt-dev)" >&2
  exit 1
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

cmake -S "$repo" -B "$build" "${generator[@]}" \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGORO_SANITIZE=address -DGORO_BUILD_FUZZ=ON \
  -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_INSTALL=OFF >/dev/null
cmake --build "$build" --target "${fuzzers[@]}"

mkdir -p "$build/artifacts"
args=(-runs="$runs" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
      -artifact_prefix="$build/artifacts/")
[[ "$seconds" != 0 ]] && args+=(-max_total_time="$seconds")
[[ "$jobs" != 1 ]] && args+=(-jobs="$jobs" -workers="$jobs")

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
for fuzzer in "${fuzzers[@]}"; do
  seeds=()
  case "$fuzzer" in
    json_fuzz)
      corpus="$build/json-corpus"
      if [[ -d "$suite" ]]; then
        seeds=("$suite")
      else
        echo "fuzz/run.sh: no JSONTestSuite at $suite; starting from an empty corpus" >&2
      fi ;;
    http_request_fuzz) corpus="$build/http-request-corpus"; seeds=("$repo/fuzz/http_seeds/request") ;;
    http_response_fuzz) corpus="$build/http-response-corpus"; seeds=("$repo/fuzz/http_seeds/response") ;;
    *) echo "fuzz/run.sh: unknown fuzzer $fuzzer" >&2; exit 2 ;;
  esac
  mkdir -p "$corpus"
  echo "fuzz/run.sh: $build/fuzz/$fuzzer ${args[*]} $corpus ${seeds[*]}"
  start=$(date +%s)
  "$build/fuzz/$fuzzer" "${args[@]}" "$corpus" "${seeds[@]}"
  echo "fuzz/run.sh: $fuzzer finished without a crash in $(( $(date +%s) - start )) s"
done
