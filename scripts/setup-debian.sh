#!/usr/bin/env bash
# Installs what building and testing goro needs on Debian (12 or later), and
# nothing that is already there. Safe to run again: with everything present it
# only checks and says so. Runs as root (CI) or through sudo; never prompts.
set -euo pipefail

packages=(
  build-essential cmake ninja-build g++ clang pkg-config   # toolchain
  libgtest-dev libgmock-dev googletest                     # tests
  curl wrk                                                 # HTTP clients the http tests drive
  apache2-utils nghttp2-client python3                     # ab, h2load --h1, http.server: goro::http interop tests
  libbenchmark-dev                                         # bench/
  llvm                                                     # llvm-symbolizer: TSan reports with source lines
)

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
  say "all packages present (${packages[*]} $rt)"
else
  say "installed ${installed_now[*]}"
fi
