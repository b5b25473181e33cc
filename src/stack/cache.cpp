// stack/cache.cpp: the slow paths of a processor's stack cache (Go's
// stackcacherefill and stackcacherelease; see cache.hpp): refilling an empty
// bin from the class pool, spilling a full one to it, and flushing every bin
// when the processor goes away.
//
// Invariant: refill and spill move stacks between a bin and the pool under
// the pool's lock only; the bin itself is touched only by its processor.
#include "stack/cache.hpp"

#include "stack/pool.hpp"

#include <algorithm>
#include <cstring>

namespace goro::detail {

using namespace stack_internal;

void StackCacheAccess::refill(Bin& b, std::size_t slot) noexcept {
  ClassPool* p = find_pool(class_of_slot(slot));
  if (p == nullptr) return;
  int resident = 0;
  b.count = take_matching(*p, b.limit, b.stacks, std::max(1, b.capacity / 2), &resident);
  // The bin pops from its end: the hottest resident stack goes there.
  std::reverse(b.stacks, b.stacks + b.count);
  for (int i = b.count - resident; i < b.count; ++i) set_slot_state(b.stacks[i], SlotState::kCached);
  if (resident != 0)
    g_pooled_resident.fetch_sub(static_cast<std::size_t>(resident), std::memory_order_relaxed);
}

void StackCacheAccess::spill(Bin& b, int n) noexcept {
  if (n <= 0) return;
  ClassPool* p = find_pool(b.stacks[0].size_class);
  pool_put(*p, b.stacks, static_cast<std::size_t>(n));
  std::memmove(b.stacks, b.stacks + n, sizeof(StackSpan) * static_cast<std::size_t>(b.count - n));
  b.count -= n;
}

void StackCacheAccess::flush(StackCache& c) noexcept {
  for (Bin& b : c.bins_) spill(b, b.count);
}

StackCache::~StackCache() {
  flush();
}

void StackCache::flush() noexcept {
  StackCacheAccess::flush(*this);
}

}  // namespace goro::detail
