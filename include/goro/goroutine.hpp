// goro/goroutine.hpp: starting goroutines (Go's `go` statement).
//
// A goroutine is a function running on its own small stack. The stack is a
// reserved range of `max_stack` bytes committed page by page as it is
// touched, so a goroutine that only needs a page costs a page. The stack
// never moves: pointers into it stay valid for the goroutine's lifetime.
//
// The goroutine's record and its function object live in the top page of its
// stack, so starting a goroutine whose function object is small allocates
// nothing from the heap once the per-processor stack cache is warm.
#pragma once

#include <goro/config.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

namespace goro {

// Per-goroutine options for go(spawn_options, f).
struct spawn_options {
  // Bytes of stack the goroutine may use (Go's debug.SetMaxStack, per
  // goroutine). 0 means the process default, goro::max_stack(). Rounded up to
  // a page; at least 16 KiB; at most 64 GiB.
  std::size_t max_stack = 0;
  // Bytes at the top of the stack to commit before the goroutine starts (the
  // reference's "warmup"), so the first deep call takes no page faults.
  std::size_t initial_commit = 0;
  // Shown in overflow and panic reports and goroutine dumps. Truncated to 39
  // bytes.
  std::string_view name = {};
  // Compact the goroutine's stack once it has been parked this long (see
  // goro/compact.hpp for the contract this opts into). Zero means the process
  // default, goro::compact_after(), which is itself zero (never) unless set;
  // a negative value means never, whatever the default. Kept in whole
  // milliseconds, rounded up. The main goroutine is never compacted.
  std::chrono::nanoseconds compact_after{0};
};

namespace detail {

struct Goroutine;

// The function object of a goroutine, type-erased. The storage lives in the
// goroutine's top stack page.
struct ClosureOps {
  void (*invoke)(void* storage);
  void (*destroy)(void* storage) noexcept;
};

// Largest function object kept in the stack's top page; larger ones are boxed
// on the heap.
inline constexpr std::size_t kInlineClosureBytes = 256;

// Reserves a goroutine (stack and record) and returns where its function
// object must be constructed. Throws std::system_error if no stack can be
// reserved (mappings or memory exhausted), naming the cause.
// `closure_bytes` is the function object's size (at most kInlineClosureBytes).
Goroutine* new_goroutine(const spawn_options& opts, void** closure_storage, void* creator_pc,
                         std::size_t closure_bytes = kInlineClosureBytes);
// Makes a goroutine from new_goroutine runnable; returns its id.
std::uint64_t start_goroutine(Goroutine* g, const ClosureOps* ops) noexcept;
// Gives back a goroutine whose function object could not be constructed.
void abandon_goroutine(Goroutine* g) noexcept;

template <typename F>
struct InlineClosure {
  static void invoke(void* p) { (*static_cast<F*>(p))(); }
  static void destroy(void* p) noexcept { static_cast<F*>(p)->~F(); }
  static constexpr ClosureOps ops{&invoke, &destroy};
};

template <typename Fn>
std::uint64_t spawn(const spawn_options& opts, Fn&& fn, void* creator_pc) {
  using F = std::decay_t<Fn>;
  if constexpr (sizeof(F) <= kInlineClosureBytes && alignof(F) <= 16) {
    void* storage = nullptr;
    Goroutine* g = new_goroutine(opts, &storage, creator_pc, sizeof(F));
    try {
      ::new (storage) F(std::forward<Fn>(fn));
    } catch (...) {
      abandon_goroutine(g);
      throw;
    }
    return start_goroutine(g, &InlineClosure<F>::ops);
  } else {
    // Too big for the top page: keep it on the heap, run it through a box.
    auto boxed = [p = std::make_unique<F>(std::forward<Fn>(fn))] { (*p)(); };
    return spawn(opts, std::move(boxed), creator_pc);
  }
}

}  // namespace detail

// Starts `f` as a new goroutine (Go's `go f()`), and returns its id.
//
// `f` is moved or copied into the goroutine; it must be invocable with no
// arguments. The goroutine may run on any worker thread and may move between
// threads whenever it parks, so do not keep thread_local addresses (errno's
// included) across a blocking goro call.
//
// Contract: callable from a goroutine or from any thread while a runtime is
// running (throws std::logic_error otherwise). Throws std::system_error when
// no stack can be reserved: the error names the cause (for example the
// vm.max_map_count limit). An exception escaping `f` is fatal (Go's
// unrecovered panic).
// Thread-safe. Cost: about the cost of a context switch plus a cached stack
// from the per-processor cache; no heap allocation for small `f`.
//
// Called from a goroutine, go() is also where a spawning loop is preempted:
// when the new goroutine fills the processor's run queue (every few hundred
// spawns with no blocking call between them), the caller yields, as if
// preempted, behind the goroutines it queued, and may resume on another
// worker thread. So a loop of go() calls never outruns the goroutines it
// starts by more than a few hundred stacks.
template <typename F>
[[gnu::noinline]] std::uint64_t go(F&& f) {
  return detail::spawn(spawn_options{}, std::forward<F>(f), __builtin_return_address(0));
}

// As go(f), with options: stack ceiling, warmup commit, name.
template <typename F>
[[gnu::noinline]] std::uint64_t go(const spawn_options& opts, F&& f) {
  return detail::spawn(opts, std::forward<F>(f), __builtin_return_address(0));
}

namespace this_goroutine {
// The calling goroutine's id (ids start at 1 for the main goroutine and are
// never reused in one run()). 0 when not called from a goroutine.
std::uint64_t id() noexcept;
// The calling goroutine's name ("" if none was given).
std::string_view name() noexcept;
}  // namespace this_goroutine

}  // namespace goro
