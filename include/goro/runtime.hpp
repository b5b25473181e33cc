// goro/runtime.hpp: starting the runtime and asking it about itself.
//
// A goro program runs its concurrent part inside goro::run(). run() turns the
// calling thread into the first worker (Go's m0), starts GOMAXPROCS-many
// processors, runs `f` as the main goroutine, and returns when `f` returns.
// Goroutines still alive at that point are abandoned, as when a Go program's
// main returns: they never run again and their destructors do not run.
#pragma once

#include <goro/config.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {
int run_main(std::function<int()> main_fn);
}  // namespace detail

// Runs `f` as the main goroutine of a fresh runtime and returns when it
// returns. If `f` returns an int, run() returns it; otherwise run() returns 0.
//
// The number of processors is set_maxprocs()'s value if it was called, else
// the GORO_MAXPROCS environment variable, else the number of CPUs this
// process may run on, lowered to its cgroup's CPU limit (rounded up, at
// least 2) as in Go 1.25.
//
// A goroutine that holds its worker for 10 ms without switching (a loop
// that never yields, a blocking call outside goro::blocking) does not hold
// up the others: another processor, or a spare one put in service when none
// is free, takes over its queue until it switches again
// (GORO_DEBUG=schedtrace=<ms> reports each such goroutine and prints the
// scheduler's state every <ms>, as Go's schedtrace does).
//
// Contract: not reentrant; one run() at a time per process (a second
// concurrent call throws std::logic_error). run() may be called again after
// it returns. An exception escaping `f` (or any goroutine) is fatal: it
// prints "panic: <type>: <what()>" with a traceback and exits with status 2.
// Cost: starts worker threads (a few tens of microseconds).
template <typename F>
int run(F&& f) {
  if constexpr (std::is_convertible_v<std::invoke_result_t<F&>, int>) {
    return detail::run_main(std::function<int()>(std::forward<F>(f)));
  } else {
    return detail::run_main([fn = std::forward<F>(f)]() mutable -> int {
      fn();
      return 0;
    });
  }
}

// Sets the number of processors (Go's GOMAXPROCS) and returns the previous
// value. n <= 0 only queries. While a runtime runs the change is immediate
// (Go's procresize): new processors start serving queued goroutines at once;
// removed ones hand their queues and timers over the next time their worker
// looks for work. The setting also holds for later run() calls. At most 1024.
// Thread-safe. Cost: one lock; growing may start worker threads.
int set_maxprocs(int n);

// The number of processors of the running runtime (spares excluded), or the
// value the next run() will use. Thread-safe.
int maxprocs();

// Wires the calling goroutine to its current thread (Go's
// runtime.LockOSThread): until as many unlock_os_thread() calls as lock
// calls, it runs only on this thread and the thread runs no other goroutine.
// While it is parked the thread sleeps and its processor serves other
// goroutines on other threads. A goroutine that exits while locked takes its
// thread with it (the thread ends; the thread that called run() instead
// sleeps until run() returns), so thread-local state a C library left on it
// cannot leak to other goroutines. Outside a goroutine it does nothing.
// Nesting deeper than 65,535 calls is a fatal error.
// Cost: a counter; each park of a locked goroutine then costs two thread
// wakeups (its processor leaves and comes back), like a blocking call.
void lock_os_thread();

// Undoes one lock_os_thread() (Go's runtime.UnlockOSThread). More unlocks
// than locks are ignored, as in Go.
void unlock_os_thread();

// Whether the calling goroutine is locked to its thread.
bool locked_os_thread() noexcept;

// Number of goroutines that exist now (Go's runtime.NumGoroutine), including
// the main goroutine. Thread-safe; sums a per-processor counter, O(maxprocs).
std::int64_t num_goroutine();

// Lets other goroutines run (Go's runtime.Gosched). The caller goes to the
// back of its processor's run queue (Go uses the global queue; the local one
// needs no lock, and the global queue still gets a turn every 61 switches).
// Outside a goroutine it calls std::this_thread::yield().
// Cost: one context switch when others wait.
void yield();

// True while the calling code runs on a goroutine's stack.
bool in_goroutine() noexcept;

}  // namespace goro
