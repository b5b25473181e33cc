// stack/cache.hpp: a processor's cache of free stacks (Go's stackcache),
// used by stack_acquire and stack_release. Nothing outside src/stack
// includes this.
//
// A cache has a few bins, each holding stacks of one exact limit (a slot's
// guard fits one limit; changing it is a syscall). A hit takes or puts a
// stack with no lock and no syscall, so take and put are inline here; a
// miss refills half a bin from the class pool, and a full bin spills its
// oldest half there (cache.cpp).
//
// Invariants
//   * Only the thread holding the cache's processor touches it.
//   * A bin pops from its end, so the most recently cached (hottest) stack
//     goes first; cached stacks have the word kCached, except cold or
//     uncarved ones taken by a refill, which keep theirs so stack_acquire
//     can tell they are empty.
#pragma once

#include "stack/arena.hpp"
#include "stack/stack.hpp"

#include <algorithm>
#include <cstddef>

namespace goro::detail {

namespace stack_internal {

inline constexpr std::size_t kCacheBytesPerBin = 8 * kMiB;

inline int bin_capacity(std::size_t slot) noexcept {
  return static_cast<int>(std::clamp<std::size_t>(kCacheBytesPerBin / slot, 2, 32));
}

}  // namespace stack_internal

// The StackCache side; a friend of StackCache. Everything here runs on the
// processor that owns the cache, so it needs no synchronisation.
struct StackCacheAccess {
  using Bin = StackCache::Bin;

  // The bin for `limit`, or an empty bin taken over for it, or null when
  // all bins hold stacks of other limits (then the pool serves directly).
  static Bin* bin_for(StackCache& c, std::size_t limit, std::size_t slot) noexcept {
    Bin* empty = nullptr;
    for (Bin& b : c.bins_) {
      if (b.limit == limit) return &b;
      if (b.count == 0 && empty == nullptr) empty = &b;
    }
    if (empty != nullptr) {
      empty->limit = limit;
      empty->capacity = stack_internal::bin_capacity(slot);
    }
    return empty;
  }

  // Pops a stack of `limit` (slots of `slot` bytes) into *out, refilling an
  // empty bin from the pool first; false when the cache cannot serve it.
  static bool take(StackCache& c, std::size_t limit, std::size_t slot, StackSpan* out) noexcept {
    Bin* b = bin_for(c, limit, slot);
    if (b == nullptr) return false;
    if (b->count == 0) refill(*b, slot);
    if (b->count == 0) return false;
    *out = b->stacks[--b->count];
    return true;
  }

  // Half a bin of free stacks from the pool, so that the next misses hit.
  // Cold ones keep their kCold word, so stack_acquire can tell they are
  // empty, and are used last.
  static void refill(Bin& b, std::size_t slot) noexcept;

  // Caches a free stack, spilling half a full bin to the pool first; false
  // when no bin can take its limit.
  static bool put(StackCache& c, const StackSpan& s) noexcept {
    Bin* b = bin_for(c, s.limit(), s.top - s.base + s.guard);
    if (b == nullptr) return false;
    if (b->count == b->capacity) spill(*b, b->capacity / 2);
    stack_internal::set_slot_state(s, stack_internal::SlotState::kCached);
    b->stacks[b->count++] = s;
    return true;
  }

  // Moves the n oldest stacks of a bin to the pool (they are the least
  // likely to still be in the CPU's caches).
  static void spill(Bin& b, int n) noexcept;

  // Moves every cached stack to the pool.
  static void flush(StackCache& c) noexcept;
};

}  // namespace goro::detail
