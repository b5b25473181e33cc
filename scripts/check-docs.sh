#!/usr/bin/env bash
# Builds the API reference from include/goro/ with Doxygen and fails if
# Doxygen warns: an undocumented public declaration, or a broken doc
# command. Configures a small tree of its own (build-docs/, or
# $GORO_DOCS_BUILD_DIR) that builds nothing but the docs target; the HTML
# is in build-docs/docs/html/index.html.
set -euo pipefail
cd "$(dirname "$(realpath "${BASH_SOURCE[0]}")")/.."
if ! command -v doxygen >/dev/null; then
  echo "check-docs.sh: doxygen not found (scripts/setup-debian.sh installs it)" >&2
  exit 2
fi
build=${GORO_DOCS_BUILD_DIR:-build-docs}
cmake -S . -B "$build" -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF \
  -DGORO_INSTALL=OFF >/dev/null
rm -f "$build/docs/warnings.log"
cmake --build "$build" --target docs >/dev/null
log=$build/docs/warnings.log
if [[ -s $log ]]; then
  cat "$log" >&2
  echo "check-docs.sh: $(grep -c 'warning:' "$log") Doxygen warning(s) in include/goro/ (see above)" >&2
  exit 1
fi
echo "check-docs.sh: include/goro/ documented, API reference in $build/docs/html/index.html"
