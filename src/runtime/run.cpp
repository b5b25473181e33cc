// runtime/run.cpp: goro::run, where the layers meet.
//
// This is the one place above every layer: it installs the fatal-error
// machinery of debug/ (overflow and panic reports, fatal errors with
// tracebacks) and then hands over to the scheduler.
#include "debug/debug.hpp"
#include "sched/scheduler.hpp"

#include <goro/runtime.hpp>

namespace goro::detail {

int run_main(std::function<int()> main_fn) {
  install_fatal_handlers();
  set_fatal_reporter(&fatal_error);
  return run_scheduler(std::move(main_fn));
}

}  // namespace goro::detail
