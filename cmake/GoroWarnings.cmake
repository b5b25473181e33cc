# goro_target_warnings(<target>...): the warning set every goro target builds
# with. -Werror is added when GORO_WERROR is ON (the presets turn it on, so CI
# keeps g++ and clang builds warning-free). -Wshadow: a local that hides
# another variable or a member is a bug waiting to happen in a runtime whose
# functions juggle several goroutines, processors and workers at once.
# With clang, -Wthread-safety checks the lock annotations of
# include/goro/thread_annotations.hpp (GORO_GUARDED_BY and friends), -precise part
# included: the scheduler names its global state g_sched everywhere, never
# through a local reference the analysis could not match with it.
function(goro_target_warnings)
  foreach(target IN LISTS ARGN)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra -Wshadow>
      $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:Clang>>:-Wthread-safety>
      $<$<AND:$<BOOL:${GORO_WERROR}>,$<COMPILE_LANGUAGE:C,CXX>>:-Werror>)
  endforeach()
endfunction()
