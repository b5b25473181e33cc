#!/usr/bin/env bash
# tests/thread_annotations/check.sh CLANGXX INCLUDE_DIR: compiles guarded.cpp
# with clang's -Wthread-safety -Werror, first as is (must be clean), then
# once per MISUSE_* macro it declares, each of which must fail with the
# diagnostic written beside it. Only syntax is checked (-fsyntax-only).
set -euo pipefail
cxx=$1
inc=$2
src="$(dirname "${BASH_SOURCE[0]}")/guarded.cpp"
flags=(-std=c++20 -fsyntax-only -Wthread-safety -Werror -I"$inc" "$src")

"$cxx" "${flags[@]}" || { echo "FAIL: guarded.cpp should compile clean"; exit 1; }
echo "ok: the correct program compiles clean"

n=0
while read -r macro expected; do
  n=$((n + 1))
  if out=$("$cxx" -D"$macro" "${flags[@]}" 2>&1); then
    echo "FAIL: $macro compiled; the analysis should reject it ($expected)"
    exit 1
  fi
  if ! grep -qF -- "$expected" <<<"$out"; then
    echo "FAIL: $macro was rejected, but not with \"$expected\":"
    echo "$out"
    exit 1
  fi
  echo "ok: $macro rejected: $expected"
done < <(sed -n 's|^#ifdef \(MISUSE_[A-Z_]*\) *// *\(.*\)$|\1 \2|p' "$src")
((n >= 4)) || { echo "FAIL: found $n misuse cases, expected 4"; exit 1; }
