// goro/stack.hpp: goroutine stack limits, statistics and the system stack.
//
// Stacks grow in place: each goroutine owns a reserved, guarded range of
// max_stack bytes whose pages the kernel commits on first touch. Nothing is
// ever copied, so pointers into a stack stay valid. A parked goroutine whose
// resident stack is far larger than what it uses gives the unused pages back
// (with hysteresis), and stacks of exited goroutines are pooled.
//
// Overflowing the limit is fatal and reported like Go's "stack overflow"
// (status 2). Build code that runs on goroutines with -fstack-clash-protection
// so that a large frame cannot jump over the guard; the CMake target and the
// pkg-config file export that flag.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace goro {

// Default stack ceiling for goroutines started after this call (Go's
// debug.SetMaxStack); returns the previous value. Rounded up to a page;
// values below 16 KiB are raised to 16 KiB, values above 64 GiB lowered to
// 64 GiB. Goroutines that already run keep the ceiling they started with.
// Thread-safe. Cost: an atomic exchange.
std::size_t set_max_stack(std::size_t bytes);

// The current default stack ceiling: 208 KiB unless changed. With its
// 16 KiB guard a stack then takes a 224 KiB slot, and an idle goroutine
// costs one resident page plus 448 bytes of page table (4 KiB of page table
// maps 2 MiB of slots), within the 4.5 KiB budget. Thread-safe.
std::size_t max_stack();

// Stack memory figures, in the sense of Go's runtime.MemStats.
struct stack_stats {
  // Resident bytes in the stacks of live goroutines (resident pages, as the
  // kernel reports them, not reserved bytes). Go's StackInuse.
  std::size_t stack_inuse = 0;
  // Resident bytes of all stack memory: live stacks plus pooled ones.
  // Go's StackSys.
  std::size_t stack_sys = 0;
  // Virtual bytes reserved for stacks, guards included.
  std::size_t stack_reserved = 0;
  // Stacks of exited goroutines kept for reuse.
  std::size_t pooled_stacks = 0;
  // Stacks in use by live goroutines.
  std::size_t live_stacks = 0;
  // Pages committed to stacks since the process started (first touches,
  // counting a page again if it was given back and touched again).
  std::uint64_t growth_pages = 0;
  // Times a parked goroutine's or a pooled stack's unused pages were given
  // back to the operating system.
  std::uint64_t shrinks = 0;
  // Bytes given back by those shrinks.
  std::uint64_t shrunk_bytes = 0;
};

// Reads the figures above. Walks the residency of every stack mapping
// (mincore), so it costs about a microsecond per megabyte reserved: call it
// for monitoring, not on a hot path. Thread-safe.
stack_stats read_stack_stats();

// Bytes of stack left below the caller's frame before the goroutine reaches
// its ceiling. On a thread that is not running a goroutine, the bytes left on
// that thread's stack. Cost: a few loads; no syscall.
std::size_t stack_remaining() noexcept;

namespace detail {
// Runs fn(arg) on the current worker's system stack.
void call_on_system_stack(void (*fn)(void*), void* arg);

// A call of f made on another stack (system stack, stack segment): run()
// is the type-erased entry, finish() rethrows f's exception or returns its
// result back on the caller's stack.
template <typename F>
struct CapturedCall {
  using R = std::invoke_result_t<F&>;
  using Stored = std::conditional_t<std::is_reference_v<R>, std::reference_wrapper<std::remove_reference_t<R>>, R>;
  static_assert(!std::is_rvalue_reference_v<R>, "f must not return an rvalue reference");

  std::remove_reference_t<F>* fn;
  std::exception_ptr error = nullptr;
  std::conditional_t<std::is_void_v<R>, bool, std::optional<Stored>> result = {};

  static void run(void* p) noexcept {
    auto* c = static_cast<CapturedCall*>(p);
    try {
      if constexpr (std::is_void_v<R>) {
        (*c->fn)();
      } else {
        c->result.emplace((*c->fn)());
      }
    } catch (...) {
      c->error = std::current_exception();
    }
  }

  R finish() {
    if (error) std::rethrow_exception(error);
    if constexpr (std::is_reference_v<R>) {
      return static_cast<R>(result->get());
    } else if constexpr (!std::is_void_v<R>) {
      return R(std::move(*result));
    }
  }
};
}  // namespace detail

// Runs `f` on the worker thread's own large stack (8 MiB; Go's systemstack,
// the reference's cgo section) and returns its result: the way to call a
// deeply recursive C library from a goroutine with a small stack. Exceptions
// thrown by `f` propagate to the caller. `f` must not park (no goro blocking
// calls inside it): it holds the worker's thread for its whole run. Called
// outside a goroutine, it simply calls `f`.
// Cost: two context switches (a few tens of nanoseconds).
template <typename F>
decltype(auto) on_system_stack(F&& f) {
  detail::CapturedCall<F> call{&f};
  detail::call_on_system_stack(&detail::CapturedCall<F>::run, &call);
  return call.finish();
}

}  // namespace goro
