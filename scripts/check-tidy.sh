#!/usr/bin/env bash
# Runs clang-tidy 14 with the repository's .clang-tidy over every source of
# src/ (the headers of src/ and include/goro/ are checked through them) and
# fails on any warning. The checks include clang's -Wthread-safety, which
# proves the GORO_GUARDED_BY annotations, and -Wshadow.
#   scripts/check-tidy.sh               all of src/
#   scripts/check-tidy.sh src/chan/...  only these sources
# It configures (does not build) a clang tree of its own for the compile
# commands: build-tidy/, or $GORO_TIDY_BUILD_DIR. $GORO_TIDY_JOBS (default
# 2) files are checked in parallel.
set -euo pipefail
cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.."
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [[ -z $tidy ]]; then
  echo "check-tidy.sh: clang-tidy not found (scripts/setup-debian.sh installs clang-tidy-14)" >&2
  exit 2
fi
build=${GORO_TIDY_BUILD_DIR:-build-tidy}
jobs=${GORO_TIDY_JOBS:-2}
generator=()
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF \
  -DGORO_BUILD_EXAMPLES=OFF -DGORO_INSTALL=OFF >/dev/null

if (($#)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files 'src/*.cpp')
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
printf '%s\0' "${files[@]}" | xargs -0 -n 1 -P "$jobs" "$tidy" -p "$build" --quiet >"$log" 2>&1 || status=$?
# clang-tidy reports on stdout; "N warnings generated" notes are noise.
grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' "$log" || true
if ((status != 0)) || grep -q -E '(warning|error):' "$log"; then
  echo "check-tidy.sh: clang-tidy found problems in ${#files[@]} file(s) checked (see above)" >&2
  exit 1
fi
echo "check-tidy.sh: ${#files[@]} files clean"
