// goro/stack.hpp: goroutine stack limits, statistics and the system stack.
//
// Stacks grow in place: each goroutine owns a reserved, guarded range of
// max_stack bytes whose pages the kernel commits on first touch. Nothing is
// ever copied, so pointers into a stack stay valid. A goroutine that grew its
// stack and then stays parked for 20 ms gets the pages far below its stack
// pointer given back (a background thread does it; a brief park keeps them),
// and stacks of exited goroutines are pooled, resident, and given back in the
// background beyond a retained target (set_stack_retain_target).
//
// Overflowing the limit is fatal and reported like Go's "stack overflow"
// (status 2). Build code that runs on goroutines with -fstack-clash-protection
// so that a large frame cannot jump over the guard; the CMake target and the
// pkg-config file export that flag.
#pragma once

#include <goro/config.hpp>

#include <chrono>
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
  // Go's StackSys. What exceeds stack_inuse is held by free stacks, which the
  // scavenger brings down to the retained target.
  std::size_t stack_sys = 0;
  // Virtual bytes reserved for stacks, guards included.
  std::size_t stack_reserved = 0;
  // Stacks of exited goroutines kept resident for reuse (in the pools and
  // the per-processor caches; slots whose memory the scavenger gave back are
  // not counted).
  std::size_t pooled_stacks = 0;
  // Stacks in use by live goroutines.
  std::size_t live_stacks = 0;
  // Pages committed to stacks since the process started (first touches,
  // counting a page again if it was given back and touched again).
  std::uint64_t growth_pages = 0;
  // Times a parked goroutine's unused pages (or a big stack's, at exit) were
  // given back to the operating system.
  std::uint64_t shrinks = 0;
  // Bytes given back by those shrinks.
  std::uint64_t shrunk_bytes = 0;
  // Bytes of free (pooled) stacks given back by the background scavenger
  // and free_os_memory (Go's /gc/scavenge and HeapReleased, for stacks).
  std::uint64_t scavenged_bytes = 0;
  // CPU time spent giving them back (Go's /cpu/classes/scavenge/total).
  std::chrono::nanoseconds scavenger_cpu{0};
  // The retained target in force (set_stack_retain_target).
  std::size_t retain_target = 0;
};

// Reads the figures above. Walks the residency of every stack mapping
// (mincore), so it costs about a microsecond per megabyte reserved: call it
// for monitoring, not on a hot path. Thread-safe.
stack_stats read_stack_stats();

// One goroutine's stack memory, by resident pages (finer than Go, which
// reports only totals). A goroutine dump shows them in its header as
// "stack 12 KiB/208 KiB, peak 64 KiB" (resident/ceiling, peak) when asked
// to (goro::set_dump_stack_figures in goro/debug.hpp).
struct goroutine_stack_figures {
  // Bytes of the goroutine's stack resident now (pages the kernel has
  // committed), including its record and function object at the top.
  std::size_t resident = 0;
  // High-water mark: bytes from the stack's top down to its deepest resident
  // page, i.e. how deep it has reached since pages below were last given
  // back (a shrink after a long park, see above). A stack reused from a
  // cache brings the pages its previous goroutine touched; they count.
  std::size_t peak = 0;
  // The stack's ceiling: max_stack() when the goroutine started, or its
  // spawn_options::max_stack.
  std::size_t ceiling = 0;
};

// The figures of the calling goroutine's stack; nullopt outside a goroutine.
// While the goroutine runs on a stack segment (grow_if_needed), the
// figures are the segment's. Cost: a mincore system call per 8 MiB down to
// the deepest resident page, one for a default stack (12-16 us a call on a
// busy 2-core VM).
std::optional<goroutine_stack_figures> read_goroutine_stack();

// The figures of the live goroutine with id `id` (this_goroutine::id()), or
// nullopt if none has it. The goroutine may run or exit meanwhile: the
// figures are those of some moment during the call, and a goroutine exiting
// during it may or may not be found.
// Thread-safe. Cost: a walk over every stack slot (a load each) plus the
// mincore above for the one found.
std::optional<goroutine_stack_figures> read_goroutine_stack(std::uint64_t id);

// Sets how many bytes of free stacks the runtime keeps resident for reuse,
// and returns the previous target (in the spirit of Go's
// debug.SetMemoryLimit, for goroutine stacks). Stacks of exited goroutines
// are not given back on the exit path: they stay resident, and the next
// goroutines reuse them hottest first, with no page fault and no system
// call. A background scavenger gives back what free stacks hold beyond this
// target, least recently used first, at about 1% of the machine's CPU time;
// docs/PERFORMANCE.md gives the time it takes after a burst. The default is
// 64 MiB, or the GORO_STACK_RETAIN environment variable read at the first
// use ("512MiB", "1GiB", a plain number of bytes; GOMEMLIMIT's syntax).
// 0 gives back every free stack soon after it is pooled. Stacks in the
// per-processor caches (at most 32 per limit, 8 MiB of slots, per processor)
// are not counted and not given back.
// Thread-safe. Cost: an atomic exchange; lowering it may wake the scavenger.
std::size_t set_stack_retain_target(std::size_t bytes);
std::size_t stack_retain_target();

// Gives back the memory of every free stack in the global pools now, on the
// calling thread (Go's debug.FreeOSMemory, for goroutine stacks). Runs on
// the system stack when called from a goroutine; the calling processor's
// stack cache is flushed to the pools first.
// Thread-safe. Cost: about 1.4 us of CPU per free stack that holds memory
// (docs/PERFORMANCE.md, "Stack memory after a burst").
void free_os_memory();

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
  using Stored =
      std::conditional_t<std::is_reference_v<R>, std::reference_wrapper<std::remove_reference_t<R>>, R>;
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
