#!/usr/bin/env bash
# Builds goro and runs every test, on a fresh Debian machine too:
#   scripts/test.sh            default preset (g++, RelWithDebInfo, -Werror), then the
#                              asan (ASan+UBSan, g++) and tsan (TSan, clang) presets
#   scripts/test.sh --quick    the default preset only
#   scripts/test.sh asan ...   the named presets only
# Each preset: cmake --preset P; cmake --build --preset P; ctest --preset P.
# All presets run even if one fails; the exit status is non-zero if any did.
set -euo pipefail
self=$(realpath "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."

presets=(default asan tsan)
case ${1:-} in
  --quick) presets=(default) ;;
  -h | --help)
    sed -n '2,8s/^# \{0,1\}//p' "$self"
    exit 0
    ;;
  -*)
    echo "test.sh: unknown option $1 (try --help)" >&2
    exit 2
    ;;
  "") ;;
  *) presets=("$@") ;;
esac

scripts/setup-debian.sh

# Old sanitizer runtimes cannot map their shadow memory when the kernel
# randomizes mmap with more than 28 bits; run those builds without ASLR then.
no_aslr=()
if [[ $(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0) -gt 28 ]] &&
  setarch "$(uname -m)" -R true 2>/dev/null; then
  no_aslr=(setarch "$(uname -m)" -R)
fi

passed=0
failed=0
failures=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for preset in "${presets[@]}"; do
  echo
  echo "=== test.sh: preset $preset ==="
  start=$SECONDS
  wrap=()
  [[ $preset != default ]] && wrap=("${no_aslr[@]}")
  if ! cmake --preset "$preset"; then
    failures+=("$preset: configure")
    continue
  fi
  if ! "${wrap[@]}" cmake --build --preset "$preset"; then
    failures+=("$preset: build")
    continue
  fi
  set +e
  "${wrap[@]}" ctest --preset "$preset" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  # "100% tests passed, 0 tests failed out of 42"
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1 || true)
  if [[ $summary =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
    failed=$((failed + BASH_REMATCH[1]))
    passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
  fi
  if ((status != 0)) || [[ -z $summary ]]; then
    failures+=("$preset: tests")
  fi
  echo "=== test.sh: preset $preset took $((SECONDS - start)) s ==="
done

echo
if ((${#failures[@]})); then
  printf 'test.sh: FAILED: %s\n' "${failures[@]}"
else
  echo "test.sh: presets ${presets[*]}: all tests passed"
fi
echo "total: $passed passed, $failed failed"
((${#failures[@]} == 0))
