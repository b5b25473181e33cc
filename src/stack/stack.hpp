// stack/stack.hpp: goroutine stack memory (Go's stackalloc/stackfree,
// stackcache and stackpool), in place and never copied.
//
// Design
//   * A stack is a slot carved from a large shared mapping (an "arena") made
//     with PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE|
//     MAP_STACK and MADV_NOHUGEPAGE. Pages are committed by the kernel on
//     first touch, so a stack grows page by page and never moves.
//   * Slot layout, low to high: [guard][usable stack ... top). The guard is
//     installed once per slot with MADV_GUARD_INSTALL (Linux >= 6.13: no VMA
//     split), else mprotect(PROT_NONE) (2 VMAs per slot; when mappings run
//     out, the error names vm.max_map_count). A slot never exists without its
//     guard.
//   * Slot sizes are size classes: powers of two up to 2 MiB, multiples of
//     2 MiB above, so that slots never straddle a page-table page more than
//     they must. The guard is all of the slot below the usable range, at
//     least kMinGuard bytes.
//   * Exited goroutines' stacks go to the caller's per-processor StackCache
//     (no lock, no syscall), overflow to a bounded global pool (one lock),
//     and are trimmed there to a small resident top. Past the pool's bound the
//     pages go back to the kernel (MADV_DONTNEED); the slot stays reserved.
//   * Accounting is by resident pages (mincore), never reserved bytes.
//
// Invariants
//   * The top kKeepTopBytes of a live stack are never given back: the
//     scheduler keeps the goroutine record there.
//   * Shrinking only ever touches pages strictly below a parked goroutine's
//     saved stack pointer minus a margin.
//
// This layer includes nothing from sched/ or above.
#pragma once

#include <goro/stack.hpp>

#include <cstddef>
#include <cstdint>

namespace goro::detail {

inline constexpr std::size_t kPageSize = 4096;
inline constexpr std::size_t kMinGuard = 16 * 1024;
inline constexpr std::size_t kMinStackLimit = 16 * 1024;
inline constexpr std::size_t kMaxStackLimit = std::size_t{64} << 30;
inline constexpr std::size_t kDefaultStackLimit = 240 * 1024;
// A live stack's top bytes that are never shrunk (the goroutine record lives
// there).
inline constexpr std::size_t kKeepTopBytes = kPageSize;

// One goroutine stack. [base - guard, base) is the guard, [base, top) the
// usable stack; top is the slot's end and page-aligned.
struct StackSpan {
  std::byte* base = nullptr;
  std::byte* top = nullptr;
  std::size_t guard = 0;
  std::uint32_t size_class = 0;  // index into the size-class table

  std::size_t limit() const noexcept { return static_cast<std::size_t>(top - base); }
  bool contains(const void* p) const noexcept {
    auto* b = static_cast<const std::byte*>(p);
    return b >= base && b < top;
  }
  bool in_guard(const void* p) const noexcept {
    auto* b = static_cast<const std::byte*>(p);
    return b >= base - guard && b < base;
  }
  explicit operator bool() const noexcept { return base != nullptr; }
};

// Rounds a requested limit to what a stack will really get (page multiple,
// clamped to [kMinStackLimit, kMaxStackLimit]).
std::size_t normalize_stack_limit(std::size_t requested) noexcept;

// Per-processor cache of free stacks (Go's stackcache). Owned by one
// processor; only the thread holding that processor touches it. Holds a
// bounded number of stacks per size class; surplus goes to the global pool.
class StackCache {
 public:
  StackCache() = default;
  StackCache(const StackCache&) = delete;
  StackCache& operator=(const StackCache&) = delete;
  ~StackCache();  // flushes every cached stack to the global pool

  // Returns every cached stack to the global pool.
  void flush() noexcept;

 private:
  friend StackSpan stack_acquire(StackCache*, std::size_t);
  friend void stack_release(StackCache*, StackSpan) noexcept;
  static constexpr int kClasses = 4;      // classes cached per processor
  static constexpr int kPerClass = 32;    // stacks cached per class
  struct Bin {
    std::uint32_t size_class = UINT32_MAX;
    int count = 0;
    StackSpan stacks[kPerClass];
  };
  Bin bins_[kClasses];
};

// Returns a stack with exactly `limit` usable bytes (limit from
// normalize_stack_limit), taken from `cache` (may be null), else the global
// pool, else a fresh slot. The top kKeepTopBytes may hold stale data.
// Throws std::system_error when no slot can be reserved or guarded; the
// message names the cause (ENOMEM on mmap, or vm.max_map_count exhausted by
// guard mappings on kernels without MADV_GUARD_INSTALL).
// Cost: cache hit: a few loads and stores, no lock, no syscall.
StackSpan stack_acquire(StackCache* cache, std::size_t limit);

// Gives a stack back once its goroutine has exited (it must not be running
// on it). Cost: cache has room: no lock, no syscall.
void stack_release(StackCache* cache, StackSpan s) noexcept;

// Commits the top `bytes` of `s` now (MADV_POPULATE_WRITE, or touching).
// Best effort: on failure the pages fault in later as usual.
void stack_commit(const StackSpan& s, std::size_t bytes) noexcept;

// Per-goroutine memory of past shrinks, for hysteresis.
struct ShrinkState {
  std::int64_t last_shrink_ns = 0;   // CLOCK_MONOTONIC of the last shrink
  std::uint32_t recent_shrinks = 0;  // shrinks in quick succession
};

// Called for a parked goroutine (never the running one) whose saved stack
// pointer is `sp`. If the pages resident below sp far exceed what it uses,
// gives back those below sp minus a margin, unless the goroutine was shrunk
// very recently (hysteresis: a goroutine that recurses deeply in a loop
// must not fault the same pages in and out). Returns bytes given back.
// Cost: one mincore over the stack, plus one madvise when it shrinks.
std::size_t stack_shrink_parked(const StackSpan& s, const void* sp, ShrinkState& st,
                                std::int64_t now_ns) noexcept;

// Figures for goro::read_stack_stats (see goro/stack.hpp for meanings).
goro::stack_stats stack_read_stats();

// If `addr` lies in the guard of any slot ever carved, stores that slot's
// span in *out and returns true. Async-signal-safe (no locks, no allocation).
bool stack_find_by_guard(const void* addr, StackSpan* out) noexcept;

// Calls fn(span, ctx) for every stack currently handed out (live). Spans
// acquired or released concurrently may or may not be seen.
void stack_for_each_live(void (*fn)(const StackSpan&, void*), void* ctx);

// Installs an alternate signal stack (sigaltstack) for the calling thread,
// sized from sysconf(_SC_SIGSTKSZ) with a generous floor and its own guard
// page, so the overflow handler can run when a goroutine stack is exhausted.
// Idempotent per thread; released by remove_signal_stack or at thread exit.
void install_signal_stack();
void remove_signal_stack() noexcept;

}  // namespace goro::detail
