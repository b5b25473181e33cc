#!/usr/bin/env bash
# Soak test of compact parked stacks (not run by CI): builds
# goro-compact-stress in build/ and runs it for a long time.
#   scripts/soak-compact.sh [MINUTES] [GOROUTINES]   (defaults 10 and 5000)
# Each round is one process of 60 s with a new seed, so a failure names the
# seed that reproduces it (goro-compact-stress --seed X). Exits non-zero at
# the first failing round.
set -euo pipefail
self=$(realpath "${BASH_SOURCE[0]}")
cd "$(dirname "$self")/.."
minutes=${1:-10}
goroutines=${2:-5000}
build=${BUILD_DIR:-build}
[[ -f $build/build.ninja ]] || cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORO_WERROR=ON
nice -n 10 cmake --build "$build" --target goro-compact-stress
end=$((SECONDS + minutes * 60))
round=0
while ((SECONDS < end)); do
  round=$((round + 1))
  seed=$((RANDOM * 32768 + RANDOM))
  left=$((end - SECONDS))
  secs=$((left < 60 ? left : 60))
  ((secs > 0)) || break
  echo "soak-compact: round $round, seed $seed, ${secs}s, $goroutines goroutines"
  if ! "$build/tools/goro-compact-stress" --seconds "$secs" --goroutines "$goroutines" --seed "$seed"; then
    echo "soak-compact: FAILED in round $round (seed $seed)" >&2
    exit 1
  fi
done
echo "soak-compact: $round rounds passed"
