# CPack settings: `cpack` in a build directory packs what `cmake --install`
# installs (libraries, headers, CMake package, pkg-config files) as
#   libgoro-dev_<version>_amd64.deb   files under /usr
#   goro-<version>-Linux.tar.gz       files under goro-<version>-Linux/
# Both are relocatable: the CMake package and the .pc files find their files
# relative to themselves, so an extracted package works where it lands
# (tests/consumer/check.sh package checks this with dpkg-deb -x and tar).
# The libraries are static: the .deb depends on nothing at run time but the
# shared libdw that programs linked with goro load (libdw-dev brings it and
# its pkg-config file, which goro.pc and the CMake package require).

set(CPACK_GENERATOR "DEB;TGZ" CACHE STRING "Package formats cpack writes by default")
mark_as_advanced(CPACK_GENERATOR)
set(CPACK_PACKAGE_NAME "goro")
set(CPACK_PACKAGE_VENDOR "goro")
set(CPACK_PACKAGE_CONTACT "goro maintainers <goro@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_FILE_NAME "goro-${PROJECT_VERSION}-Linux")
set(CPACK_STRIP_FILES OFF)

set(CPACK_DEBIAN_PACKAGE_NAME "libgoro-dev")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_SECTION "libdevel")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE "amd64")
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6-dev, libstdc++-dev | libstdc++-12-dev, libdw-dev, pkg-config | pkgconf")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "Static libraries, headers, CMake package and pkg-config files of goro (goroutines with growable stacks, an M:N work-stealing scheduler, an epoll netpoller, channels, select, timers, context, goro::net) and goro::json.")

include(CPack)
