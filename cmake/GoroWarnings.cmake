# goro_target_warnings(<target>...): the warning set every goro target builds
# with. -Werror is added when GORO_WERROR is ON (the presets turn it on, so CI
# keeps g++ and clang builds warning-free). -Wshadow: a local that hides
# another variable or a member is a bug waiting to happen in a runtime whose
# functions juggle several goroutines, processors and workers at once.
# With clang, -Wthread-safety checks the lock annotations of
# src/arch/thread_safety.hpp (GORO_GUARDED_BY and friends); its -precise
# part is off because the scheduler reaches its global state through a
# local reference the analysis cannot match with the global (a lock not
# held at all is still an error).
function(goro_target_warnings)
  foreach(target IN LISTS ARGN)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:C,CXX>:-Wall -Wextra -Wshadow>
      $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:Clang>>:-Wthread-safety -Wno-thread-safety-precise>
      $<$<AND:$<BOOL:${GORO_WERROR}>,$<COMPILE_LANGUAGE:C,CXX>>:-Werror>)
  endforeach()
endfunction()
