// debug/traceback_level.hpp: how much a fatal report shows (Go's
// GOTRACEBACK, read from GORO_TRACEBACK).
//
//   none    the report's headline only, no goroutine stacks
//   single  the failing goroutine (the default; a SIGQUIT dump and a fatal
//           error off any goroutine, such as a deadlock, still show all)
//   all     every goroutine
//   system  every goroutine, with the runtime's entry frames
//   crash   as system, then abort() instead of exit status 2, so the kernel
//           writes a core file
// Go's numeric forms work too (0 = none, 1 = single, 2 = system). An
// unknown value means the default, as in Go.
//
// The level is read once when the fatal handlers are installed (no getenv
// in a signal handler) and may be changed later with goro::set_traceback.
#pragma once

#include <string_view>

namespace goro::detail {

enum class TracebackLevel : int { kNone, kSingle, kAll, kSystem, kCrash };

// The level for `text`, or kSingle if it names none.
TracebackLevel parse_traceback_level(std::string_view text) noexcept;

// The current level. Async-signal-safe.
TracebackLevel traceback_level() noexcept;
void set_traceback_level(TracebackLevel level) noexcept;
// Reads GORO_TRACEBACK, and stackfigures=0|1 from GORO_DEBUG
// (install_fatal_handlers calls it).
void load_traceback_level() noexcept;

// Whether goroutine headers show the stack's figures (resident/ceiling,
// peak) after the state, beyond Go's format: goro::set_dump_stack_figures
// or GORO_DEBUG=stackfigures=1. Off by default, so that tools that parse
// Go's headers read goro's. Async-signal-safe.
bool dump_stack_figures() noexcept;

// Ends the process after a report: abort() at level crash (with SIGABRT's
// default action restored, so a core file is written), else _exit(2).
[[noreturn]] void exit_after_report() noexcept;

}  // namespace goro::detail
