// stack/alloc.cpp: handing stacks out and taking them back (Go's stackalloc
// and stackfree).
//
// stack_acquire tries the caller's processor cache (cache.hpp), then the
// global pool of the size class (pool.cpp), which reuses a resident stack,
// then a cold one, then carves a fresh slot. stack_release puts a stack
// back in the cache, or the pool when the cache has no bin for its limit.
// Neither makes a system call on these paths: memory goes back to the
// kernel lazily (trim.cpp, scavenge.cpp), as Go's scavenger returns free
// heap memory. Reuse is hottest first: the cache and the resident ring are
// both LIFO, so a new goroutine lands on pages that are resident and likely
// still in the CPU's caches. Slots over 2 MiB are the exception: a
// goroutine with a big ceiling may leave gigabytes resident, so their
// release trims at once (cost proportional to what the stack used, see
// scan_resident).
//
// Invariant: a stack handed out is guarded for exactly its limit and its
// slot word says kLive before stack_acquire returns.
#include "stack/cache.hpp"
#include "stack/pool.hpp"
#include "stack/scavenge.hpp"

#include <algorithm>

#if defined(GORO_SANITIZER)
#if defined(__SANITIZE_ADDRESS__)
#define GORO_STACK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_STACK_ASAN 1
#endif
#endif
#endif
#if defined(GORO_STACK_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace goro::detail {

namespace stack_internal {

void unpoison_stack([[maybe_unused]] const StackSpan& s) noexcept {
#if defined(GORO_STACK_ASAN)
  // ASan clears big shadow ranges by remapping them, small ones by memset,
  // which would commit the shadow of every pooled stack: for small stacks
  // look first (reading untouched shadow commits nothing) and clear only
  // from the lowest poisoned byte up.
  if (s.limit() > kMiB) {
    __asan_unpoison_memory_region(s.base, s.limit());
  } else if (void* p = __asan_region_is_poisoned(s.base, s.limit())) {
    __asan_unpoison_memory_region(p, static_cast<std::size_t>(s.top - static_cast<std::byte*>(p)));
  }
#endif
}

}  // namespace stack_internal

using namespace stack_internal;

std::size_t normalize_stack_limit(std::size_t requested) noexcept {
  if (requested >= kMaxStackLimit) return kMaxStackLimit;
  return std::max(kMinStackLimit, round_up(requested, kPageSize));
}

StackSpan stack_acquire(StackCache* cache, std::size_t limit, bool* empty) {
  limit = normalize_stack_limit(limit);
  const std::size_t slot = slot_size_for_limit(limit);
  StackSpan s;
  if (cache == nullptr || !StackCacheAccess::take(*cache, limit, slot, &s)) {
    s = acquire_from_pool(pool_for(class_of_slot(slot)), limit);
  }
  std::atomic<std::uint32_t>& word = slot_word_of(s);
  if (empty != nullptr) {
    SlotState was = word_state(word.load(std::memory_order_relaxed));
    *empty = was == SlotState::kCold || was == SlotState::kUncarved;
  }
  word.store(slot_word(SlotState::kLive, s.guard), std::memory_order_release);
  return s;
}

void stack_release(StackCache* cache, StackSpan s) noexcept {
  if (!s) return;
  unpoison_stack(s);
  const std::size_t slot = s.top - s.base + s.guard;
  if (is_big_slot(slot)) give_back(s.base, s.top - kPooledStackBytes);
  if (cache != nullptr && StackCacheAccess::put(*cache, s)) return;
  pool_put(*find_pool(s.size_class), &s, 1);
}

}  // namespace goro::detail
