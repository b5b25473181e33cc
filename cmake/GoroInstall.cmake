# Install rules: headers, libgoro.a, the CMake package (goroConfig.cmake,
# goroConfigVersion.cmake, goroTargets.cmake exporting goro::goro and the
# libraries on top of it, such as goro::json) and one pkg-config file per
# library (goro.pc; goro-json.pc from src/json through goro_install_pc).
# Everything is relocatable, so
#   cmake --install <build> --prefix <anywhere>
# gives a usable installation, and so does a package extracted anywhere
# (tests/consumer checks both).

include(CMakePackageConfigHelpers)

set(GORO_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/goro"
  CACHE STRING "Where goroConfig.cmake is installed, relative to the prefix")
set(GORO_PKGCONFIG_INSTALL_DIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
  CACHE STRING "Where goro.pc and goro-json.pc are installed, relative to the prefix")
mark_as_advanced(GORO_CMAKE_INSTALL_DIR GORO_PKGCONFIG_INSTALL_DIR)

install(TARGETS goro EXPORT goroTargets
  ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/goro"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING PATTERN "*.hpp")
# The gdb extension, where the .debug_gdb_scripts entry looks for it
# (src/debug/gdb_scripts.cpp).
install(FILES "${PROJECT_SOURCE_DIR}/tools/gdb/goro-gdb.py"
  DESTINATION "${GORO_GDB_SCRIPT_DIR}")
install(EXPORT goroTargets
  NAMESPACE goro::
  DESTINATION "${GORO_CMAKE_INSTALL_DIR}")

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/goroConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/goroConfig.cmake"
  INSTALL_DESTINATION "${GORO_CMAKE_INSTALL_DIR}")
# 0.x: minor versions may break the API.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/goroConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${PROJECT_BINARY_DIR}/goroConfig.cmake"
  "${PROJECT_BINARY_DIR}/goroConfigVersion.cmake"
  DESTINATION "${GORO_CMAKE_INSTALL_DIR}")

# goro.pc: paths relative to the .pc file's own directory (${pcfiledir}), so
# the file stays right when the prefix is chosen at install time.
function(_goro_pc_path var dir)
  if(IS_ABSOLUTE "${dir}")
    set(${var} "${dir}" PARENT_SCOPE)
  else()
    set(${var} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
if(IS_ABSOLUTE "${GORO_PKGCONFIG_INSTALL_DIR}")
  set(GORO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _goro_up "/prefix/${GORO_PKGCONFIG_INSTALL_DIR}" "/prefix")
  string(REGEX REPLACE "/$" "" _goro_up "${_goro_up}")
  set(GORO_PC_PREFIX "\${pcfiledir}/${_goro_up}")
endif()
_goro_pc_path(GORO_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
_goro_pc_path(GORO_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")

set(_goro_pc_cflags ${GORO_USER_FLAGS} ${GORO_SANITIZE_FLAGS})
if(GORO_SANITIZE_FLAGS)
  list(APPEND _goro_pc_cflags -DGORO_SANITIZER=1)
endif()
set(_goro_pc_libs ${GORO_SANITIZE_FLAGS} -pthread -rdynamic -Wl,--undefined=goro_gdb_scripts)
foreach(lib IN LISTS CMAKE_DL_LIBS)
  list(APPEND _goro_pc_libs "-l${lib}")
endforeach()
list(JOIN _goro_pc_cflags " " GORO_PC_CFLAGS)
list(JOIN _goro_pc_libs " " GORO_PC_LIBS)

# goro_install_pc(<name> <description> <cflags> <libs> <requires>): writes and
# installs <name>.pc. A library on top of goro passes "goro" as <requires>, so
# `pkg-config --libs <name>` lists its archive before libgoro.a and goro's
# flags come with it.
function(goro_install_pc name description cflags libs requires)
  set(GORO_PC_NAME "${name}")
  set(GORO_PC_DESCRIPTION "${description}")
  set(GORO_PC_THIS_CFLAGS "${cflags}")
  set(GORO_PC_THIS_LIBS "${libs}")
  set(GORO_PC_REQUIRES "${requires}")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/goro.pc.in" "${PROJECT_BINARY_DIR}/${name}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${name}.pc" DESTINATION "${GORO_PKGCONFIG_INSTALL_DIR}")
endfunction()

# libgoro.a is a static archive, so the libdw it calls (source lines in
# tracebacks) must be on every consumer's link line: a public Requires, as
# `pkg-config --libs` without --static leaves Requires.private out.
goro_install_pc(goro "${PROJECT_DESCRIPTION}" "-I\${includedir} ${GORO_PC_CFLAGS}"
  "-L\${libdir} -lgoro ${GORO_PC_LIBS}" "libdw")
