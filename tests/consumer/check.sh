#!/usr/bin/env bash
# Consumer checks, run by ctest (tests/CMakeLists.txt sets the environment):
#   check.sh install           install this build into $CONSUMER_WORK_DIR/prefix
#   check.sh find_package      build and run main.cpp with find_package(goro)
#   check.sh add_subdirectory  build and run main.cpp with add_subdirectory(goro)
#   check.sh pkg_config        build and run main.cpp, and the README's example,
#                              with pkg-config --cflags --libs goro
set -euo pipefail

mode=${1:?usage: check.sh install|find_package|add_subdirectory|pkg_config}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${GORO_SOURCE_DIR:?}" "${GORO_BINARY_DIR:?}" "${CONSUMER_WORK_DIR:?}"
cmake=${CONSUMER_CMAKE:-cmake}
prefix=$CONSUMER_WORK_DIR/prefix
work=$CONSUMER_WORK_DIR/$mode

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
    for f in include/goro/goro.hpp; do
      [[ -f $prefix/$f ]] || { echo "check.sh: $f not installed" >&2; exit 1; }
    done
    for f in libgoro.a cmake/goro/goroConfig.cmake cmake/goro/goroConfigVersion.cmake \
             cmake/goro/goroTargets.cmake pkgconfig/goro.pc; do
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
    ;;
  add_subdirectory)
    rm -rf "$work"
    run "$cmake" -S "$here" -B "$work" "${configure_args[@]}" \
      -DGORO_CONSUMER_MODE=add_subdirectory "-DGORO_CONSUMER_SOURCE=$GORO_SOURCE_DIR" \
      "-DGORO_SANITIZE=${GORO_SANITIZE:-}"
    run "$cmake" --build "$work" --target consumer --parallel 2
    run "$work/consumer"
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
    echo "goro.pc: cflags: $cflags"
    echo "goro.pc: libs: $libs"
    for flag in -fstack-clash-protection -fno-omit-frame-pointer; do
      [[ " $cflags " == *" $flag "* ]] || { echo "check.sh: goro.pc Cflags lack $flag" >&2; exit 1; }
    done
    for flag in -lgoro -pthread -rdynamic; do
      [[ " $libs " == *" $flag "* ]] || { echo "check.sh: goro.pc Libs lack $flag" >&2; exit 1; }
    done
    cxx=${CONSUMER_CXX_COMPILER:-c++}
    # The README's C++ example (its first ```cpp block) must build and run too.
    awk '/^```cpp/ { on = 1; next } /^```/ { on = 0 } on' "$GORO_SOURCE_DIR/README.md" \
      > "$work/readme_example.cpp"
    for prog in "$here/main.cpp" "$work/readme_example.cpp"; do
      [[ -s $prog ]] || { echo "check.sh: $prog is empty" >&2; exit 1; }
      exe=$work/$(basename "$prog" .cpp)
      # shellcheck disable=SC2086 # pkg-config output is a list of flags
      run "$cxx" -std=c++20 -O1 -Wall -Wextra -Werror $cflags "$prog" -o "$exe" $libs
      run "$exe"
    done
    ;;
  *)
    echo "check.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
echo "check.sh: $mode OK"
