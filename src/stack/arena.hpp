// stack/arena.hpp: internals of the stack layer shared by its .cpp files:
// size classes (size_class.cpp), the arena registry (arena.cpp), per-slot
// state, guards (guard.cpp), residency (residency.cpp) and the errors of
// mapping and guarding (map_errors.cpp). Nothing outside src/stack includes
// this.
//
// An arena is one mmap'd range cut into equal slots of one size class. The
// registry of arenas only grows (arenas are never unmapped), so any address
// that was once a slot stays one, and a signal handler can walk the registry
// without locks: an arena's fields are written before the release store that
// publishes the new arena count, and never change afterwards. What does
// change, a slot's state and guard size, is one atomic word per slot.
#pragma once

#include "stack/stack.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>

// Linux 6.13's guard markers, for headers that predate them.
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

namespace goro::detail::stack_internal {

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * kKiB;
inline constexpr std::size_t kMinSlot = 64 * kKiB;
// The reach of one page-table page: slots up to this size step by 32 KiB,
// bigger ones are multiples of it.
inline constexpr std::size_t kHugeSpan = 2 * kMiB;
inline constexpr std::size_t kArenaBytes = 64 * kMiB;
// The calling process for process_madvise, named without a pidfd (Linux
// 6.15's PIDFD_SELF_THREAD_GROUP): nothing to reopen after a fork.
inline constexpr int kPidfdSelfProcess = -10001;

constexpr std::size_t round_up(std::size_t n, std::size_t a) noexcept {
  return (n + a - 1) / a * a;
}
inline std::byte* page_down(const void* p) noexcept {
  return reinterpret_cast<std::byte*>(reinterpret_cast<std::uintptr_t>(p) & ~(kPageSize - 1));
}

// Size classes (see stack.hpp). Class c <= 5 is a 64 KiB << c slot; class
// c >= 6 is a (c - 4) * 2 MiB slot.
std::size_t slot_size_for_limit(std::size_t limit) noexcept;
std::uint32_t class_of_slot(std::size_t slot) noexcept;
std::size_t slot_size_of_class(std::uint32_t cls) noexcept;
inline bool is_big_slot(std::size_t slot) noexcept {
  return slot > kHugeSpan;
}

// Who owns a slot. Only the owner changes it (a live goroutine's scheduler,
// a processor's cache, the pool under its lock); statistics read it racily.
enum class SlotState : std::uint8_t {
  kUncarved = 0,  // never handed out; no guard yet
  kLive,          // a goroutine's stack
  kCached,        // in a processor's StackCache
  kPooled,        // in the global pool's resident ring (or being trimmed)
  kCold,          // free, nothing resident; address space kept for reuse
};

// A slot's word: state in the low 8 bits, guard size in pages above, so a
// signal handler reads both at once.
inline std::uint32_t slot_word(SlotState st, std::size_t guard) noexcept {
  return static_cast<std::uint32_t>(st) | static_cast<std::uint32_t>(guard / kPageSize) << 8;
}
inline SlotState word_state(std::uint32_t w) noexcept {
  return static_cast<SlotState>(w & 0xff);
}
inline std::size_t word_guard(std::uint32_t w) noexcept {
  return std::size_t{w >> 8} * kPageSize;
}

struct Arena {
  std::byte* base = nullptr;
  std::size_t bytes = 0;
  std::size_t slot_size = 0;
  std::uint32_t slots = 0;
  std::uint32_t size_class = 0;
  std::uint8_t slot_shift = 0;   // log2(slot_size) if a power of two, else 0
  bool mprotect_guards = false;  // guards are PROT_NONE mappings, not markers
  std::atomic<std::uint32_t>* words = nullptr;

  // Which slot an offset into the arena falls in; a shift, not a division,
  // for the classes every goroutine uses.
  std::size_t slot_of(std::size_t offset) const noexcept {
    return slot_shift != 0 ? offset >> slot_shift : offset / slot_size;
  }
};

// Whether arenas created now get mprotect guards rather than guard markers
// (no MADV_GUARD_INSTALL, or mprotect forced by a test or
// GORO_FORCE_MPROTECT_GUARD=1). Fixed per arena at its creation.
bool new_arenas_use_mprotect() noexcept;

// Throw std::system_error(err) for a failed arena mapping of `bytes` in
// slots of `slot` bytes, or a failed guard call `how`; on ENOMEM the
// message counts the mappings in use and names vm.max_map_count. They
// allocate nothing before the exception itself.
[[noreturn]] void throw_map_failure(int err, std::size_t bytes, std::size_t slot);
[[noreturn]] void throw_guard_failure(int err, const char* how);

// Big arenas. Past its first kSmallArenasPerClass arenas, a class of slots
// up to 2 MiB (with guard markers) gets 1 GiB arenas aligned to 1 GiB, and
// the pool installs the guards of all their slots when it maps one, before
// any stack in it is touched. Why: that writes all 512 entries of the
// arena's page directory while no vCPU has walked through it. On a host
// whose hypervisor shadows guest page tables (KVM's shadow MMU, as under
// PVM), a guard batch that writes three or more page-directory entries of
// a page directory already in use counts as write flooding and makes the
// hypervisor drop its shadow, so every 2 MiB region under it, with the
// parked goroutines in it, faults again at its next visit. Pages in a big
// arena write their page directory once, when nothing below it runs yet.
// Cost: its page-table pages (2 MiB) exist from the start. A class gets
// big arenas only after 8 GiB of 64 MiB ones, so that cost is at most 56 B
// per default stack of the class (37,376 of them by then); at a million
// stacks it is 2 B.
inline constexpr std::size_t kBigArenaBytes = std::size_t{1} << 30;
inline constexpr std::uint32_t kSmallArenasPerClass = 128;
// Whether big arenas may be made: guards are markers (mprotect guards are
// made slot by slot anyway) and the address space is not limited
// (RLIMIT_AS), since aligning one maps 2 GiB for a moment.
bool big_arenas_allowed() noexcept;
// Slots in an arena of slots of `slot` bytes, 64 MiB or big.
inline std::size_t arena_slots(std::size_t slot, bool big) noexcept {
  if (big) return kBigArenaBytes / slot;
  return slot <= kArenaBytes ? kArenaBytes / slot : 1;
}

// Maps and registers a new arena for class `cls`; returns its index.
// Throws std::system_error naming the size when the mapping fails.
std::uint32_t new_arena(std::uint32_t cls, bool big = false);
// Number of registered arenas (acquire) and the arena at an index below it.
// Both async-signal-safe.
std::uint32_t arena_count() noexcept;
const Arena& arena_at(std::uint32_t index) noexcept;

// The slot an address lies in, if any slot of any arena holds it: its
// arena index, slot index and word (acquire). Async-signal-safe.
struct SlotAt {
  std::uint32_t arena = 0;
  std::uint32_t slot = 0;
  std::uint32_t word = 0;
};
bool slot_at(const void* addr, SlotAt* out) noexcept;

// The span of slot `slot` of arena `index` as its word describes it now.
StackSpan slot_span(std::uint32_t index, std::uint32_t slot, std::uint32_t word) noexcept;
std::atomic<std::uint32_t>& slot_word_of(const StackSpan& s) noexcept;
inline void set_slot_state(const StackSpan& s, SlotState st) noexcept {
  slot_word_of(s).store(slot_word(st, s.guard), std::memory_order_release);
}

// Makes `s` a stack of exactly `limit` usable bytes by growing or shrinking
// its guard (nothing to do when it already is). Pages that become guard are
// given back first. Updates s and its slot word. Throws std::system_error
// (naming vm.max_map_count when mprotect runs out of mappings); s is then
// unchanged and still correctly guarded.
void fit_guard(StackSpan& s, std::size_t limit);

// How many fresh slots the pool prepares together: one process_madvise
// guards them (pre_guard_slots) and one faults in their top pages
// (populate_slot_tops). Why not fewer or more on shadow-paging VM hosts:
// docs/ARCHITECTURE.md, "Fresh slots are guarded 64 at a time".
inline constexpr std::uint32_t kCarveBatch = 64;

// Installs the guards of `count` uncarved neighbouring slots of arena
// `index`, from slot `first`, for stacks of `limit`, with one system call
// (process_madvise on the calling process), so that a burst of fresh stacks
// does not pay one madvise each. Returns how many slots got their guard
// (0 on kernels without it, or with mprotect guards: fit_guard then guards
// each slot as it is carved).
std::uint32_t pre_guard_slots(std::uint32_t index, std::uint32_t first, std::uint32_t count,
                              std::size_t limit) noexcept;

// Faults in the top page of `count` neighbouring uncarved slots of `a`, from
// slot `first`, with one system call (MADV_POPULATE_WRITE through
// process_madvise), as pre_guard_slots does for their guards. Best effort:
// a page left out faults in at first use. Why: a goroutine's record and
// first frames live on that page, and each page fault writes the 2 MiB
// page-table page it shares with its neighbours. Done one slot at a time,
// a burst of spawns keeps rewriting the page-table pages of goroutines that
// already ran, and on some VM hosts the first later visit to a page beside
// MADV_GUARD_INSTALL guards then costs 4-6 us instead of 50 ns
// (bench/guard_revisit.cpp). At most kCarveBatch - 1 top pages are
// resident before a goroutine needs them.
void populate_slot_tops(const Arena& a, std::uint32_t first, std::uint32_t count) noexcept;

// Resident pages found scanning [lo, hi) from the top down.
struct Residency {
  std::size_t pages = 0;
  std::byte* lowest = nullptr;  // deepest resident page, hi if none
};
// Scans [lo, hi) (page-aligned) with mincore, from hi downwards, and stops
// early after 16 MiB with nothing resident below the deepest resident page:
// stacks fill from the top down and -fstack-clash-protection probes every
// page of a big frame, so such a gap means the rest was never touched. This
// keeps the cost proportional to what a stack used, not to its limit (a
// full scan of an empty 1 GiB stack costs 130 us).
Residency scan_resident(std::byte* lo, std::byte* hi) noexcept;
// Gives back the resident pages `r` found below `hi` (MADV_DONTNEED from
// the deepest one up to hi), counts them into the statistics, and returns
// the bytes given back.
std::size_t give_back(const Residency& r, std::byte* hi) noexcept;
// Same, scanning [lo, hi) first.
std::size_t give_back(std::byte* lo, std::byte* hi) noexcept;

// Global counters behind stack_read_stats (stats.cpp).
struct Counters {
  std::atomic<std::uint64_t> released_pages{0};  // pages ever given back
  std::atomic<std::uint64_t> shrinks{0};
  std::atomic<std::uint64_t> shrunk_bytes{0};
  std::atomic<std::uint64_t> scavenged_bytes{0};  // pooled stacks given back (scavenge.cpp)
};
Counters& counters() noexcept;

// Under ASan (alloc.cpp): clears the poison that exited frames left on a
// stack's usable range, so its next goroutine does not trip over it. No-op
// otherwise.
void unpoison_stack(const StackSpan& s) noexcept;

}  // namespace goro::detail::stack_internal
