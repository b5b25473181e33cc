#!/usr/bin/env bash
# Installs what building and testing goro needs on Debian (12 or later), and
# nothing that is already there. Safe to run again: with everything present it
# only checks and says so. Runs as root (CI) or through sudo; never prompts.
#
#   scripts/setup-debian.sh                  required and optional packages
#   scripts/setup-debian.sh --required-only  only what the library and its tests need
#
# Required: a C++20 toolchain (g++ 12, clang 14), CMake, Ninja, pkg-config
# and libdw (elfutils) build the library; GoogleTest, curl, wrk, llvm,
# python3 and clang's sanitizer runtime run the tests, gdb the gdb
# extension's test, clang-format and clang-tidy check the formatting and
# the source (scripts/check-format.sh, scripts/check-tidy.sh).
# Optional: what configure looks for besides, for the benchmarks and their
# peers (Google Benchmark, Boost.Fiber, nlohmann-json, RapidJSON). Without
# them the benchmarks that need them are left out and configure says so;
# with them installed, configure reports nothing missing. Also optional: the
# tools that read the debug endpoints in tests (promtool, Chromium, Go's
# pprof from bookworm-backports when configured); those tests skip without
# them. Doxygen and Graphviz build the API reference (cmake --build build
# --target docs; scripts/check-docs.sh).
set -euo pipefail

required=(
  build-essential cmake ninja-build g++ clang pkg-config   # toolchain
  libdw-dev                                                # elfutils' libdw: source lines in tracebacks
  libgtest-dev libgmock-dev googletest                     # tests
  curl wrk                                                 # HTTP clients the http tests drive
  apache2-utils nghttp2-client                             # ab, h2load --h1: goro::http interop tests
  llvm                                                     # llvm-symbolizer: TSan reports with source lines
  python3                                                  # the docs samples test (tests/docs)
  gdb                                                      # tests/gdb_test.cpp: the gdb extension (tools/gdb)
  clang-format                                             # scripts/check-format.sh
  clang-tidy-14                                            # scripts/check-tidy.sh
)
optional=(
  libbenchmark-dev                                         # bench/ (Google Benchmark)
  libboost-fiber-dev                                       # bench/peers/fiber: Boost.Fiber peers
  nlohmann-json3-dev rapidjson-dev                         # bench/json: JSON parser peers
  prometheus chromium                                      # tests/http_debug_example_test.cpp: promtool, headless Chromium
  doxygen graphviz                                         # the docs target: API reference (scripts/check-docs.sh)
)

case ${1:-} in
  --required-only) optional=() ;;
  "") ;;
  -h | --help)
    sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *)
    echo "setup-debian: unknown option $1 (try --help)" >&2
    exit 2
    ;;
esac
# Go (for `go tool pprof` in tests/http_debug*_test.cpp) is in
# bookworm-backports only: installed when apt knows the package.
if ((${#optional[@]})) && command -v apt-cache >/dev/null 2>&1 && apt-cache show golang-1.23-go >/dev/null 2>&1; then
  optional+=(golang-1.23-go)
fi
packages=("${required[@]}" "${optional[@]}")

say() { echo "setup-debian: $*"; }

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  say "not a Debian system (no dpkg-query/apt-get); install the equivalents of:"
  say "  ${packages[*]} and clang's sanitizer runtime"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi

installed() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

updated=false
apt_update() {
  if ! $updated; then
    say "apt-get update"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
    updated=true
  fi
}

install_missing() {
  local missing=() p
  for p in "$@"; do
    installed "$p" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  say "installing: ${missing[*]}"
  if ((${#sudo[@]})) && ! command -v sudo >/dev/null 2>&1; then
    say "not root and no sudo: install them as root first" >&2
    exit 1
  fi
  apt_update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" </dev/null
  installed_now+=("${missing[@]}")
}

installed_now=()
install_missing "${packages[@]}"

# clang's sanitizer runtimes are a separate package since Debian 12
# (libclang-rt-<major>-dev, only recommended by clang); the TSan preset needs it.
clang_major=$(clang -dumpversion | cut -d. -f1)
rt=libclang-rt-${clang_major}-dev
if ! installed "$rt"; then
  if ! apt-cache show "$rt" >/dev/null 2>&1; then
    apt_update
  fi
  if apt-cache show "$rt" >/dev/null 2>&1; then
    install_missing "$rt"
  else
    say "no package $rt here; assuming clang $clang_major ships its sanitizer runtime"
  fi
fi

if ((${#installed_now[@]} == 0)); then
  say "all packages present: required: ${required[*]} $rt${optional:+; optional: ${optional[*]}}"
else
  say "installed ${installed_now[*]}"
fi
