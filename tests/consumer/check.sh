#!/usr/bin/env bash
# Consumer checks, run by ctest (tests/CMakeLists.txt sets the environment):
#   check.sh install           install this build into $CONSUMER_WORK_DIR/prefix
#   check.sh find_package      build and run main.cpp with find_package(goro)
#   check.sh add_subdirectory  build and run main.cpp with add_subdirectory(goro)
#   check.sh pkg_config        build and run main.cpp, and the README's example,
#                              with pkg-config --cflags --libs goro, and
#                              json_main.cpp with pkg-config ... goro-json
#   check.sh package           a library-only build of the source tree (no
#                              tests, benchmarks, examples), its cmake --install,
#                              and cpack's .deb and .tar.gz, each extracted
#                              (dpkg-deb -x, tar) into a temporary folder; then
#                              find_package and pkg_config against each of the
#                              three
# find_package and pkg_config use the installation in $CONSUMER_PREFIX
# (default: $CONSUMER_WORK_DIR/prefix, where `install` puts it). Every
# consumer builds with -Wall -Wextra -Wshadow -Wconversion -Werror.
set -euo pipefail

mode=${1:?usage: check.sh install|find_package|add_subdirectory|pkg_config|package}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GORO_SOURCE_DIR:?}" "${GORO_BINARY_DIR:?}" "${CONSUMER_WORK_DIR:?}"
cmake=${CONSUMER_CMAKE:-cmake}
prefix=${CONSUMER_PREFIX:-$CONSUMER_WORK_DIR/prefix}
work=$CONSUMER_WORK_DIR/${CONSUMER_WORK_NAME:-$mode}
warnings=(-Wall -Wextra -Wshadow -Wconversion -Werror)

configure_args=()
[[ -n ${CONSUMER_GENERATOR:-} ]] && configure_args+=(-G "$CONSUMER_GENERATOR")
[[ -n ${CONSUMER_BUILD_TYPE:-} ]] && configure_args+=("-DCMAKE_BUILD_TYPE=$CONSUMER_BUILD_TYPE")
[[ -n ${CONSUMER_C_COMPILER:-} ]] && configure_args+=("-DCMAKE_C_COMPILER=$CONSUMER_C_COMPILER")
[[ -n ${CONSUMER_CXX_COMPILER:-} ]] && configure_args+=("-DCMAKE_CXX_COMPILER=$CONSUMER_CXX_COMPILER")

run() {
  echo "+ $*"
  "$@"
}

case $mode in
  install)
    rm -rf "$prefix"
    run "$cmake" --install "$GORO_BINARY_DIR" --prefix "$prefix"
    for f in include/goro/goro.hpp include/goro/json.hpp include/goro/config.hpp; do
      [[ -f $prefix/$f ]] || { echo "check.sh: $f not installed" >&2; exit 1; }
    done
    for f in libgoro.a libgoro_json.a cmake/goro/goroConfig.cmake cmake/goro/goroConfigVersion.cmake \
             cmake/goro/goroTargets.cmake pkgconfig/goro.pc pkgconfig/goro-json.pc; do
      found=$(find "$prefix" -path "*/$f" | head -n1)
      [[ -n $found ]] || { echo "check.sh: $f not installed" >&2; exit 1; }
    done
    ;;
  find_package)
    rm -rf "$work"
    run "$cmake" -S "$here" -B "$work" "${configure_args[@]}" \
      -DGORO_CONSUMER_MODE=find_package "-DCMAKE_PREFIX_PATH=$prefix"
    run "$cmake" --build "$work"
    run "$work/consumer"
    run "$work/consumer_json"
    ;;
  add_subdirectory)
    rm -rf "$work"
    run "$cmake" -S "$here" -B "$work" "${configure_args[@]}" \
      -DGORO_CONSUMER_MODE=add_subdirectory "-DGORO_CONSUMER_SOURCE=$GORO_SOURCE_DIR" \
      "-DGORO_SANITIZE=${GORO_SANITIZE:-}"
    run "$cmake" --build "$work" --target consumer consumer_json --parallel 2
    run "$work/consumer"
    run "$work/consumer_json"
    ;;
  pkg_config)
    rm -rf "$work"
    mkdir -p "$work"
    pkg_config=${CONSUMER_PKG_CONFIG:-pkg-config}
    pc=$(find "$prefix" -name goro.pc | head -n1)
    [[ -n $pc ]] || { echo "check.sh: goro.pc not installed under $prefix" >&2; exit 1; }
    export PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    cflags=$("$pkg_config" --cflags goro)
    libs=$("$pkg_config" --libs goro)
    json_cflags=$("$pkg_config" --cflags goro-json)
    json_libs=$("$pkg_config" --libs goro-json)
    echo "goro.pc: cflags: $cflags"
    echo "goro.pc: libs: $libs"
    echo "goro-json.pc: cflags: $json_cflags"
    echo "goro-json.pc: libs: $json_libs"
    for flag in -fstack-clash-protection -fno-omit-frame-pointer; do
      [[ " $cflags " == *" $flag "* ]] || { echo "check.sh: goro.pc Cflags lack $flag" >&2; exit 1; }
      [[ " $json_cflags " == *" $flag "* ]] || { echo "check.sh: goro-json.pc Cflags lack $flag" >&2; exit 1; }
    done
    for flag in -lgoro -pthread -rdynamic; do
      [[ " $libs " == *" $flag "* ]] || { echo "check.sh: goro.pc Libs lack $flag" >&2; exit 1; }
    done
    # goro_json's archive must come before goro's, which it uses.
    [[ " $json_libs " == *" -lgoro_json "*"-lgoro "* ]] ||
      { echo "check.sh: goro-json.pc Libs lack -lgoro_json before -lgoro" >&2; exit 1; }
    cxx=${CONSUMER_CXX_COMPILER:-c++}
    # The README's C++ example (its first ```cpp block) must build and run too.
    awk '/^```cpp/ && !done { on = 1; next } on && /^```/ { on = 0; done = 1 } on' \
      "$GORO_SOURCE_DIR/README.md" > "$work/readme_example.cpp"
    build_and_run() {  # <program.cpp> <cflags> <libs>
      local prog=$1 exe
      [[ -s $prog ]] || { echo "check.sh: $prog is empty" >&2; exit 1; }
      exe=$work/$(basename "$prog" .cpp)
      # shellcheck disable=SC2086 # pkg-config output is a list of flags
      run "$cxx" -std=c++20 -O1 "${warnings[@]}" $2 "$prog" -o "$exe" $3
      run "$exe"
    }
    build_and_run "$here/main.cpp" "$cflags" "$libs"
    # Without C++20, one clear error and nothing after it.
    # shellcheck disable=SC2086 # pkg-config output is a list of flags
    if "$cxx" -std=c++17 -fsyntax-only $cflags "$here/main.cpp" >"$work/cxx17.log" 2>&1; then
      echo "check.sh: main.cpp compiled as C++17" >&2
      exit 1
    fi
    cat "$work/cxx17.log"
    errors=$(grep -c 'error:' "$work/cxx17.log" || true)
    if ! grep -q 'goro requires C++20' "$work/cxx17.log" || ((errors > 2)); then
      echo "check.sh: without C++20, expected one '#error goro requires C++20' (got $errors errors)" >&2
      exit 1
    fi
    build_and_run "$work/readme_example.cpp" "$cflags" "$libs"
    build_and_run "$here/json_main.cpp" "$json_cflags" "$json_libs"
    ;;
  package)
    # What a newcomer does: build only the libraries, install them, pack them.
    command -v dpkg-deb >/dev/null || { echo "check.sh: SKIP: no dpkg-deb (not Debian)"; exit 0; }
    rm -rf "$work"
    mkdir -p "$work"
    lib=$work/build
    run "$cmake" -S "$GORO_SOURCE_DIR" -B "$lib" "${configure_args[@]}" \
      -DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_FUZZ=OFF
    start=$SECONDS
    run "$cmake" --build "$lib" --parallel 2 2>&1 | tee "$work/build.log"
    echo "check.sh: library-only build took $((SECONDS - start)) s"
    if grep -q 'warning:' "$work/build.log"; then
      echo "check.sh: the library-only build printed warnings" >&2
      exit 1
    fi
    # Only the libraries: no test, benchmark or example target was configured.
    built=$(find "$lib" -name '*.a' -o -type f -executable -name 'goro*' | sort)
    echo "check.sh: built: $(echo "$built" | tr '\n' ' ')"
    if echo "$built" | grep -v -E '/lib(goro|goro_json|goro_http)\.a$' | grep -q .; then
      echo "check.sh: the library-only build built more than the libraries" >&2
      exit 1
    fi
    # Every GORO_* cache entry has a help string (cmake -LAH prints it above).
    if "$cmake" -LAH -N "$lib" | grep -B1 '^GORO_' |
      grep -E '^// (No help|Path to a program|$)'; then
      echo "check.sh: a GORO_* option has no help string (cmake -LAH)" >&2
      exit 1
    fi
    run "$cmake" --install "$lib" --prefix "$work/prefix"
    (cd "$lib" && run cpack -G "DEB;TGZ" -B "$work/packages")
    deb=$(find "$work/packages" -maxdepth 1 -name 'libgoro-dev_*.deb' | head -n1)
    tgz=$(find "$work/packages" -maxdepth 1 -name 'goro-*.tar.gz' | head -n1)
    [[ -n $deb && -n $tgz ]] || { echo "check.sh: cpack wrote no .deb or no .tar.gz" >&2; exit 1; }
    run dpkg-deb --info "$deb"
    run dpkg-deb -x "$deb" "$work/deb"
    mkdir -p "$work/tgz"
    run tar -xzf "$tgz" -C "$work/tgz"
    roots=("$work/prefix" "$work/deb/usr" "$(find "$work/tgz" -mindepth 1 -maxdepth 1 -type d | head -n1)")
    n=0
    for root in "${roots[@]}"; do
      n=$((n + 1))
      for m in find_package pkg_config; do
        echo "=== check.sh: $m against $root ==="
        CONSUMER_PREFIX=$root CONSUMER_WORK_DIR=$work CONSUMER_WORK_NAME=$m.$n \
          bash "${BASH_SOURCE[0]}" "$m"
      done
    done
    ;;
  *)
    echo "check.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
echo "check.sh: $mode OK"
