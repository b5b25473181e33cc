# Sanitizer builds, selected by GORO_SANITIZE:
#   ""        no sanitizer
#   address   AddressSanitizer + UndefinedBehaviorSanitizer
#   thread    ThreadSanitizer
# Sets GORO_SANITIZE_FLAGS (compile and link flags). The root CMakeLists puts
# them on goro::goro as PUBLIC usage requirements, so tests, examples and any
# consumer of a sanitizer build compile and link with the same runtime. The
# definition GORO_SANITIZER=1 tells the runtime and the tests that a sanitizer
# is present (fiber annotations, smaller stress sizes).

set(GORO_SANITIZE_FLAGS "")
if(GORO_SANITIZE STREQUAL "")
  return()
elseif(GORO_SANITIZE STREQUAL "address")
  # -fno-sanitize-recover: undefined behaviour aborts the test instead of
  # printing a line nobody reads.
  set(GORO_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined)
elseif(GORO_SANITIZE STREQUAL "thread")
  set(GORO_SANITIZE_FLAGS -fsanitize=thread)
else()
  message(FATAL_ERROR "GORO_SANITIZE must be '', 'address' or 'thread', not '${GORO_SANITIZE}'")
endif()

include(CheckCXXSourceCompiles)
set(CMAKE_REQUIRED_FLAGS "${GORO_SANITIZE_FLAGS}")
string(REPLACE ";" " " CMAKE_REQUIRED_FLAGS "${CMAKE_REQUIRED_FLAGS}")
set(CMAKE_REQUIRED_LINK_OPTIONS ${GORO_SANITIZE_FLAGS})
check_cxx_source_compiles("int main() { return 0; }" GORO_HAVE_SANITIZER_${GORO_SANITIZE})
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(NOT GORO_HAVE_SANITIZER_${GORO_SANITIZE})
  message(FATAL_ERROR
    "${CMAKE_CXX_COMPILER} cannot link with ${GORO_SANITIZE_FLAGS}. On Debian run "
    "scripts/setup-debian.sh (clang needs libclang-rt-<version>-dev).")
endif()
message(STATUS "goro: sanitizer build: ${GORO_SANITIZE_FLAGS}")
