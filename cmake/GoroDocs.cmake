# GoroDocs: the 'docs' target, goro's API reference from include/goro/ (Doxygen,
# optional; see docs/api/Doxyfile.in).
if(PROJECT_IS_TOP_LEVEL)
  find_package(Doxygen QUIET OPTIONAL_COMPONENTS dot)
  find_package(Python3 QUIET COMPONENTS Interpreter)
  if(DOXYGEN_FOUND AND Python3_Interpreter_FOUND)
    set(GORO_DOCS_OUTPUT "${PROJECT_BINARY_DIR}/docs")
    if(DOXYGEN_DOT_FOUND)
      set(GORO_DOCS_HAVE_DOT YES)
      get_filename_component(GORO_DOCS_DOT_PATH "${DOXYGEN_DOT_EXECUTABLE}" DIRECTORY)
    else()
      set(GORO_DOCS_HAVE_DOT NO)
      set(GORO_DOCS_DOT_PATH "")
    endif()
    configure_file(docs/api/Doxyfile.in "${PROJECT_BINARY_DIR}/Doxyfile" @ONLY)
    add_custom_target(docs
      COMMAND "${CMAKE_COMMAND}" -E make_directory "${GORO_DOCS_OUTPUT}"
      COMMAND Doxygen::doxygen "${PROJECT_BINARY_DIR}/Doxyfile"
      WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
      COMMENT "API reference from include/goro/ (Doxygen) in ${GORO_DOCS_OUTPUT}/html"
      VERBATIM)
  else()
    message(STATUS "goro: Doxygen or Python 3 not found; no 'docs' target (scripts/setup-debian.sh installs doxygen)")
  endif()
endif()
