// goro/blocking.hpp: calls that may block the thread (Go's entersyscall and
// exitsyscall).
//
// Scheduling is cooperative, so a goroutine that blocks its thread in a
// system call or a C library would stall every goroutine queued on its
// processor. blocking(f) hands the processor to another worker thread while
// `f` runs, so the other goroutines keep running; afterwards the goroutine
// takes a processor back (its old one if it is free) before it continues.
#pragma once

#include <goro/config.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {
// Releases the current processor; returns false outside a goroutine.
bool enter_blocking() noexcept;
// Reacquires a processor for the current goroutine, parking it until one is
// free.
void exit_blocking() noexcept;
}  // namespace detail

// Runs `f` (file I/O, DNS, a C library call, a lock held by a foreign thread)
// while the worker's processor serves other goroutines, and returns its
// result. Exceptions from `f` propagate. `f` runs on the goroutine's own
// stack and must not call goro blocking functions (sleep, channel or mutex
// waits). Outside a goroutine it simply calls `f`.
// Thread-safe. Cost: about a microsecond (a processor handoff, and a wakeup
// of an idle worker when goroutines are waiting).
template <typename F>
decltype(auto) blocking(F&& f) {
  struct Exit {
    bool active;
    ~Exit() {
      if (active) detail::exit_blocking();
    }
  } exit{detail::enter_blocking()};
  return std::forward<F>(f)();
}

}  // namespace goro
