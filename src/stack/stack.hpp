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
//   * Slot sizes are size classes: 32 KiB steps from 64 KiB to 2 MiB,
//     multiples of 2 MiB above. A page-table page (4 KiB) maps 2 MiB, so an
//     idle goroutine costs its one resident page plus 4 KiB x slot / 2 MiB:
//     the default 208 KiB limit takes a 224 KiB slot, 448 bytes of page
//     table, 4.44 KiB in all. The guard is all of the slot below the usable
//     range, at least kMinGuard bytes.
//   * Exited goroutines' stacks go to the caller's per-processor StackCache
//     (no lock, no syscall), overflow to a global pool (one lock), still
//     resident. A background scavenger gives back what the pools hold beyond
//     a retained target, oldest first, at about 1% of the CPU (details in
//     pool.cpp and scavenge.cpp); slots over 2 MiB are trimmed to their top
//     at release.
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
inline constexpr std::size_t kDefaultStackLimit = 208 * 1024;
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
  std::uint32_t arena = 0;       // which arena it was carved from (stack layer only)

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
  friend struct StackCacheAccess;       // stack/cache.hpp
  static constexpr int kClasses = 4;    // distinct limits cached per processor
  static constexpr int kPerClass = 32;  // stacks cached per limit, at most
  // One bin per stack limit (stacks of one size class but different limits
  // have different guards, so they are not interchangeable without a
  // syscall). A bin with count 0 may be taken over by another limit.
  struct Bin {
    std::size_t limit = 0;
    int count = 0;
    int capacity = 0;  // kPerClass, fewer for big slots
    StackSpan stacks[kPerClass];
  };
  Bin bins_[kClasses];
};

// Returns a stack with exactly `limit` usable bytes (limit from
// normalize_stack_limit), taken from `cache` (may be null), else the global
// pool, else a fresh slot; the most recently released first. The top
// kKeepTopBytes may hold stale data. If `empty` is not null, it tells
// whether nothing of the stack is resident (a fresh slot, or one the
// scavenger gave back), i.e. whether every page will fault when touched.
// Throws std::system_error when no slot can be reserved or guarded; the
// message names the cause (ENOMEM on mmap, or vm.max_map_count exhausted by
// guard mappings on kernels without MADV_GUARD_INSTALL).
// Cost: cache hit: a few loads and stores, no lock, no syscall.
StackSpan stack_acquire(StackCache* cache, std::size_t limit, bool* empty = nullptr);

// Gives a stack back once its goroutine has exited (it must not be running
// on it). Cost: no syscall (slots over 2 MiB, i.e. limits over
// 2 MiB - 16 KiB, are first trimmed to their top: one mincore per 8 MiB they
// used, and a madvise if they grew); a full cache moves half its stacks to
// the global pool under its lock. The first release that takes the pools
// past the retained target wakes the scavenger (one futex wake).
void stack_release(StackCache* cache, StackSpan s) noexcept;

// Gives back every page of every stack in the global pools now, on the
// calling thread (free_os_memory). Stacks in processors' caches stay.
// Cost: one mincore per run of neighbouring slots and one process_madvise
// per 256 stacks; uses about 30 KiB of stack.
void stack_trim_pools() noexcept;

// Commits the top `bytes` of `s` now (MADV_POPULATE_WRITE, or touching).
// Best effort: on failure the pages fault in later as usual.
void stack_commit(const StackSpan& s, std::size_t bytes) noexcept;

// Gives back what is resident in `s` below `sp` minus an 8 KiB margin (never
// the top kKeepTopBytes) if that is more than 16 KiB, with no hysteresis.
// The goroutine must be parked and must stay so meanwhile. Returns the bytes
// given back. Cost: as stack_shrink_parked's when it looks.
std::size_t stack_shrink_below(const StackSpan& s, const void* sp) noexcept;

// A shrink of a parked goroutine's stack, done later by the scavenger thread
// if the goroutine is parked then (Go shrinks stacks at the next garbage
// collection, not at the park: a goroutine that parks briefly between two
// deep runs keeps its pages). The request names the goroutine's claim word
// (accessed only through std::atomic_ref) and, for when the shrink is done,
// where its stack span and saved stack pointer are; `id` is unique in the
// process. The claim word is 0, or id << 2 | kShrinkArmed while the
// goroutine is parked and may be shrunk, or id << 2 while it runs, or
// id << 2 | kShrinkArmed | kShrinkBusy while the scavenger shrinks it. When
// the request is due the scavenger moves armed to busy, shrinks below the
// saved stack pointer, and stores 0; it drops the request if the goroutine
// is running (id << 2 to 0, a compare-and-swap against the park that arms
// it), or if the word holds anything else (the goroutine exited). Whoever
// switches the goroutine in disarms the word, or waits while it is busy;
// the next park arms it again with a compare-and-swap, which fails only if
// the request was dropped.
struct DeferredShrink {
  const StackSpan* span = nullptr;
  void* const* sp = nullptr;
  std::uint64_t* claim = nullptr;
  std::uint64_t id = 0;
};
inline constexpr std::uint64_t kShrinkArmed = 1;
inline constexpr std::uint64_t kShrinkBusy = 2;
// How long a goroutine must stay parked before its deferred shrink.
inline constexpr std::int64_t kDeferredShrinkNs = 20'000'000;

// Queues `d`; false when the queue is full (the caller shrinks at once).
// Cost: a spin lock and, the first time and when the scavenger sleeps, a
// futex wake.
bool stack_shrink_later(const DeferredShrink& d) noexcept;

// Bytes from the top of `s` down to its deepest resident page (0 if none),
// looking at most `max_bytes` deep. Cost: one mincore.
std::size_t stack_resident_depth(const StackSpan& s, std::size_t max_bytes) noexcept;

// Per-goroutine memory of past shrinks, for hysteresis.
struct ShrinkState {
  std::int64_t last_shrink_ns = 0;   // CLOCK_MONOTONIC of the last shrink
  std::int64_t last_check_ns = 0;    // ... of the last look (mincore), shrunk or not
  std::uint32_t recent_shrinks = 0;  // shrinks in quick succession
};

// Called for a parked goroutine (never the running one) whose saved stack
// pointer is `sp`. If more than 16 KiB are resident below sp minus an 8 KiB
// margin, gives them back, unless the goroutine was shrunk very recently
// (hysteresis: a goroutine that recurses deeply in a loop must not fault the
// same pages in and out; the window starts at 10 ms and doubles, up to
// 320 ms, while shrinks keep coming less than a second apart). It also looks
// at most once per 10 ms per goroutine (st.last_check_ns), so calling it at
// every park costs a syscall only now and then; set last_check_ns to the
// spawn time to leave goroutines younger than 10 ms alone. Returns bytes
// given back (0 when skipped).
// Cost: mincore from sp down to the deepest resident page (one call per
// 8 MiB, 1-3 us for a default stack), plus one madvise when it shrinks
// (0.1-0.5 us a page). Uses < 4 KiB of stack.
std::size_t stack_shrink_parked(const StackSpan& s, const void* sp, ShrinkState& st,
                                std::int64_t now_ns) noexcept;

// One stack's memory, by resident pages (goro::goroutine_stack_figures
// gives the meanings).
struct StackFigures {
  std::size_t resident = 0;  // bytes of [base, top) resident now
  std::size_t peak = 0;      // bytes from top down to the deepest resident page
  std::size_t ceiling = 0;   // usable bytes, limit()
};

// Reads the figures of `s`. The stack may be in use meanwhile (the figures
// are then those of some moment during the call). Async-signal-safe.
// Cost: one mincore per 8 MiB from the top down to the deepest resident page
// (one for a default stack); uses 2.2 KiB of stack.
StackFigures stack_figures(const StackSpan& s) noexcept;

// Writes "stack <resident>/<ceiling>, peak <peak>" (sizes in B, KiB, MiB or
// GiB, rounded down: "stack 12 KiB/208 KiB, peak 64 KiB") to buf, always
// terminated and truncated to n - 1 characters; returns the characters
// written. For the header of a goroutine in a dump. Async-signal-safe.
std::size_t format_stack_figures(const StackFigures& f, char* buf, std::size_t n) noexcept;

// Figures for goro::read_stack_stats (see goro/stack.hpp for meanings).
goro::stack_stats stack_read_stats();

// The figures of stack_read_stats that need no walk: stack_reserved, the
// shrink and scavenger counters and retain_target; the others are 0.
// Cost: a load per arena and a few more.
goro::stack_stats stack_read_counters();

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
// Throws std::system_error if the stack cannot be mapped or installed.
// Restores the thread's previous alternate stack (e.g. a sanitizer's) on
// removal.
void install_signal_stack();
void remove_signal_stack() noexcept;

// Testing and diagnostics. Guards of arenas made from now on use
// mprotect(PROT_NONE), as on kernels without MADV_GUARD_INSTALL (also set by
// the environment variable GORO_FORCE_MPROTECT_GUARD=1, read once).
void stack_force_mprotect_guards(bool on) noexcept;
// True if new arenas get their guards from MADV_GUARD_INSTALL.
bool stack_guards_use_madvise() noexcept;

}  // namespace goro::detail
