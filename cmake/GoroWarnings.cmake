# goro_target_warnings(<target>...): the warning set every goro target builds
# with. -Werror is added when GORO_WERROR is ON (the presets turn it on, so CI
# keeps g++ and clang builds warning-free). -Wshadow: a local that hides
# another variable or a member is a bug waiting to happen in a runtime whose
# functions juggle several goroutines, processors and workers at once.
function(goro_target_warnings)
  foreach(target IN LISTS ARGN)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra -Wshadow>
      $<$<AND:$<BOOL:${GORO_WERROR}>,$<COMPILE_LANGUAGE:C,CXX>>:-Werror>)
  endforeach()
endfunction()
