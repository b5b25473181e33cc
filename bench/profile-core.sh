#!/usr/bin/env bash
# bench/profile-core.sh: where goro's hot paths spend their time, and which
# system calls they make per operation. Input for optimization work; the
# tables go into docs/PERFORMANCE.md (between the profile markers).
#
#   bench/profile-core.sh            measure and update the doc
#   bench/profile-core.sh --no-doc   print only
#
# Uses bench_hotpaths (bench/hotpaths.cpp), which runs one hot path a fixed
# number of times:
#   * system calls per operation: `strace -f -c` at N and at N/10
#     operations; the difference divided by the difference in operations
#     removes start-up and shutdown. Calls at 0.01 per operation or more are
#     listed: a hot path should make none.
#   * instructions per operation by function: `valgrind --tool=callgrind`
#     at 100,000 and 10,000 operations, differenced the same way (exact
#     instruction counts, unaffected by other load on the machine; time in
#     the kernel is not included).
# Needs strace and valgrind (Debian packages of the same names). About a
# minute on 2 vCPUs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
write_doc=1
[[ "${1:-}" == "--no-doc" ]] && write_doc=0
if [[ -z "${BUILD_DIR:-}" ]]; then
  # This project's workspace keeps build trees beside the checkout.
  if [[ "$root" == /work/main ]]; then BUILD_DIR=/work/build-bench; else BUILD_DIR="$root/build-bench"; fi
fi
cmake -S "$root" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DGORO_BUILD_TESTS=OFF \
  -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD_DIR" --target bench_hotpaths >/dev/null
hp="$BUILD_DIR/bench/bench_hotpaths"
tables="$here/profile_tables.py"
work="$BUILD_DIR/profile"
rm -rf "$work"
mkdir -p "$work"

N=${N:-200000}
small=$((N / 10))
report="$work/report.md"
{
  echo "Measured $(date -u +%Y-%m-%d) with \`bench/profile-core.sh\` on $(nproc) vCPU, Linux $(uname -r)."
  echo
  echo "System calls per operation (strace -f -c, $N against $small operations; calls at 0.01 or"
  echo "more per operation; \`-\` means none). An operation is one iteration of the hot path (see"
  echo "bench/hotpaths.cpp); for \`burst\` it is one goroutine."
  echo
  echo "| hot path | maxprocs | system calls per operation |"
  echo "|---|--:|---|"
} >"$report"

for path in switch yield spawn spawn64 burst pingpong mutex syscall blocking; do
  for mp in 1 2; do
    strace -f -c -o "$work/$path.$mp.big" "$hp" "$path" "$N" "$mp" >/dev/null 2>&1 || true
    strace -f -c -o "$work/$path.$mp.small" "$hp" "$path" "$small" "$mp" >/dev/null 2>&1 || true
    per_op=$(python3 "$tables" syscalls "$work/$path.$mp.big" "$work/$path.$mp.small" "$N" "$small")
    echo "| $path | $mp | $per_op |" >>"$report"
  done
done

if command -v valgrind >/dev/null; then
  ops=100000
  for path in switch spawn spawn64 burst; do
    for n in "$ops" $((ops / 10)); do
      valgrind --tool=callgrind --callgrind-out-file="$work/cg.$path.$n" "$hp" "$path" "$n" 1 >/dev/null 2>&1
      callgrind_annotate "$work/cg.$path.$n" >"$work/cg.$path.$n.txt" 2>/dev/null
    done
    per=$((ops - ops / 10))
    label="per operation"
    if [[ $path == switch ]]; then per=$((2 * per)); label="per switch (two per yield of the main goroutine)"; fi
    {
      echo
      echo "Instructions $label, \`$path\`, by function (callgrind self cost, maxprocs 1):"
      echo
      echo "| function | instructions | share |"
      echo "|---|--:|--:|"
      python3 "$tables" callgrind "$work/cg.$path.$ops.txt" "$work/cg.$path.$((ops / 10)).txt" "$per"
    } >>"$report"
  done
fi

cat "$report"
if (( write_doc )); then
  python3 - "$root/docs/PERFORMANCE.md" "$report" <<'EOF'
import os, sys
doc, rep = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
B, E = "<!-- profile:begin -->", "<!-- profile:end -->"
section = f"{B}\n{rep}\n{E}"
text = open(doc).read() if os.path.exists(doc) else "# goro performance\n"
if B in text and E in text:
    text = text[:text.index(B)] + section + text[text.index(E) + len(E):]
else:
    text = text.rstrip("\n") + "\n\n## Profile of the hot paths\n\n" + section + "\n"
open(doc, "w").write(text)
print(f"wrote {doc}", file=sys.stderr)
EOF
fi
