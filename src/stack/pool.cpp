// stack/pool.cpp: the global pool of free stacks of each size class (Go's
// stackpool; see pool.hpp for where a free stack lives and the invariants).
//
// A pool hands out the best free stack it has for a limit: one of exactly
// that limit, resident (newest first) or cold, which needs no syscall; then
// one whose guard must be refitted; then a freshly carved slot of the
// class's current arena, whose guards are installed 64 slots at a time (a
// whole 1 GiB arena at once, for a class past its first 8 GiB). It
// takes stacks back untouched, into its resident ring: memory goes back to
// the kernel lazily, as Go's scavenger returns free heap memory (trim.cpp,
// scavenge.cpp).
//
// Locks: each pool's spin lock (ClassPool::mu) guards its ring and cold
// list, and its carve_mu its carving state (taken first when both are);
// g_pools_mu guards the map of the rare pools of slots over 120 MiB and the
// creation of pools.
#include "stack/pool.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"
#include "stack/scavenge.hpp"

#include <algorithm>
#include <map>
#include <system_error>

namespace goro::detail::stack_internal {

std::atomic<std::size_t> g_pooled_resident{0};

namespace {

// How far from the hot end of a free list to look for a slot of the right
// limit.
constexpr std::size_t kMatchScan = 64;

// Pools of the first 64 classes (slots up to 120 MiB) are found without a
// lock; the rare bigger ones through a map. Pools are never destroyed:
// stacks may be released by thread_local destructors after static ones ran.
constexpr std::uint32_t kDirectPools = 64;
// Written under g_pools_mu (creation), read without it.
std::atomic<ClassPool*> g_direct_pools[kDirectPools];
Mutex g_pools_mu;

std::map<std::uint32_t, ClassPool*>& big_pools() GORO_REQUIRES(g_pools_mu) {
  static auto* m = new std::map<std::uint32_t, ClassPool*>;
  return *m;
}

// ---- the resident ring (callers hold p.mu) ------------------------------------

// Index from the newest end of a resident stack of exactly `limit` among the
// kMatchScan newest, or npos.
std::size_t find_resident(const ClassPool& p, std::size_t limit) noexcept GORO_REQUIRES(p.mu) {
  for (std::size_t i = 0, n = std::min(p.resident.size(), kMatchScan); i < n; ++i) {
    if (p.resident.from_newest(i).limit() == limit) return i;
  }
  return SIZE_MAX;
}

// ---- the cold list (callers hold p.mu) ---------------------------------------

StackSpan pop_at(std::vector<StackSpan>& v, std::size_t i) noexcept {
  StackSpan s = v[i];
  v[i] = v.back();
  v.pop_back();
  return s;
}

// Index of a stack of exactly `limit` among the last kMatchScan, or npos.
std::size_t find_limit(const std::vector<StackSpan>& v, std::size_t limit) noexcept {
  for (std::size_t i = v.size(), seen = 0; i-- > 0 && seen < kMatchScan; ++seen) {
    if (v[i].limit() == limit) return i;
  }
  return SIZE_MAX;
}

// ---- carving new slots (callers hold p.mu) ---------------------------------------

// At scale, a class's arenas are 1 GiB and guarded whole when mapped: see
// arena.hpp (kBigArenaBytes) for why.
bool next_arena_big(const ClassPool& p) noexcept GORO_REQUIRES(p.carve_mu) {
  return p.arenas >= kSmallArenasPerClass && p.slot <= kHugeSpan && big_arenas_allowed();
}

// Installs the guards of every slot of a fresh big arena, for `limit`, before
// any of its stacks is touched. A short count (a failed call) leaves the
// rest to carve's batches.
void guard_whole_arena(ClassPool& p, std::size_t limit) GORO_REQUIRES(p.carve_mu) {
  const std::uint32_t slots = arena_at(p.arena).slots;
  p.guarded_limit = limit;
  while (p.guarded_end < slots) {
    std::uint32_t done = pre_guard_slots(p.arena, p.guarded_end, kCarveBatch, limit);
    p.guarded_end += done;
    if (done < kCarveBatch) break;
  }
}

// Maps the class's next arena and makes it the one being carved; a big one
// is guarded whole for `limit` at once.
void add_arena(ClassPool& p, std::size_t limit) GORO_REQUIRES(p.carve_mu) {
  bool big = next_arena_big(p);
  {
    // Before mapping, so there is nothing to undo if it throws; doubling
    // keeps a million stacks from copying the vectors once per arena.
    lock_guard lock(p.mu);
    const std::size_t need = p.carved_capacity + arena_slots(p.slot, big);
    if (p.cold.capacity() < need) p.cold.reserve(std::max(need, 2 * p.cold.capacity()));
    p.resident.reserve(need);
  }
  std::uint32_t index;
  try {
    index = new_arena(p.cls, big);
  } catch (const std::system_error&) {
    if (!big) throw;
    big = false;  // 1 GiB did not fit (overcommit, address space)
    index = new_arena(p.cls, false);
  }
  p.arena = index;
  p.next_slot = 0;
  p.guarded_end = 0;
  p.populated_end = 0;
  ++p.arenas;
  {
    lock_guard lock(p.mu);
    p.carved_capacity += arena_at(index).slots;
  }
  if (big) guard_whole_arena(p, limit);
}

StackSpan carve(ClassPool& p, std::size_t limit) GORO_REQUIRES(p.carve_mu) {
  if (p.arena == UINT32_MAX || p.next_slot == arena_at(p.arena).slots) add_arena(p, limit);
  if (p.next_slot >= p.guarded_end) {
    // Guard the next slots in one go: a burst of spawns carves them one
    // after another.
    p.guarded_limit = limit;
    p.guarded_end = p.next_slot + pre_guard_slots(p.arena, p.next_slot, kCarveBatch, limit);
  }
  if (p.next_slot >= p.populated_end) {
    p.populated_end = std::min(p.guarded_end, p.next_slot + kCarveBatch);
    populate_slot_tops(arena_at(p.arena), p.next_slot, p.populated_end - p.next_slot);
  }
  StackSpan s = slot_span(p.arena, p.next_slot, 0);
  if (p.next_slot < p.guarded_end) {
    // Guarded for guarded_limit; fit_guard adjusts it if `limit` differs.
    s.guard = p.slot - p.guarded_limit;
    s.base = s.top - p.guarded_limit;
  }
  ++p.next_slot;
  return s;
}

StackSpan take_resident(ClassPool& p, std::size_t i) noexcept GORO_REQUIRES(p.mu) {
  g_pooled_resident.fetch_sub(1, std::memory_order_relaxed);
  return p.resident.take_from_newest(i);
}

// Any free stack of the class, best first: same limit resident or cold (no
// syscall), then one needing a new guard size (resident ones have their
// pages that become guard given back by fit_guard). False if it has none.
bool take_free(ClassPool& p, std::size_t limit, StackSpan* out) noexcept GORO_REQUIRES(p.mu) {
  if (std::size_t i = find_resident(p, limit); i != SIZE_MAX) {
    *out = take_resident(p, i);
  } else if (std::size_t j = find_limit(p.cold, limit); j != SIZE_MAX) {
    *out = pop_at(p.cold, j);
  } else if (!p.resident.empty()) {
    *out = take_resident(p, 0);
  } else if (!p.cold.empty()) {
    *out = pop_at(p.cold, p.cold.size() - 1);
  } else {
    return false;
  }
  return true;
}

bool take_free_locked(ClassPool& p, std::size_t limit, StackSpan* out) noexcept {
  lock_guard lock(p.mu);
  return take_free(p, limit, out);
}

}  // namespace

// ---- the pools of each class ----------------------------------------------------

ClassPool* find_pool(std::uint32_t cls) noexcept {
  if (cls < kDirectPools) return g_direct_pools[cls].load(std::memory_order_acquire);
  lock_guard lock(g_pools_mu);
  auto it = big_pools().find(cls);
  return it == big_pools().end() ? nullptr : it->second;
}

ClassPool& pool_for(std::uint32_t cls) {
  if (ClassPool* p = find_pool(cls)) return *p;
  lock_guard lock(g_pools_mu);
  if (cls < kDirectPools) {
    ClassPool* p = g_direct_pools[cls].load(std::memory_order_relaxed);
    if (p == nullptr) {
      p = new ClassPool(cls);
      g_direct_pools[cls].store(p, std::memory_order_release);
    }
    return *p;
  }
  ClassPool*& p = big_pools()[cls];
  if (p == nullptr) p = new ClassPool(cls);
  return *p;
}

void for_each_pool(void (*fn)(ClassPool&, void*), void* ctx) {
  for (auto& slot : g_direct_pools) {
    if (ClassPool* p = slot.load(std::memory_order_acquire)) fn(*p, ctx);
  }
  std::vector<ClassPool*> big;
  {
    lock_guard lock(g_pools_mu);
    for (auto& [cls, p] : big_pools()) big.push_back(p);
  }
  for (ClassPool* p : big) fn(*p, ctx);
}

// ---- taking and putting -------------------------------------------------------------

int take_matching(ClassPool& p, std::size_t limit, StackSpan* out, int n, int* resident) noexcept {
  lock_guard lock(p.mu);
  int got = 0;
  for (std::size_t i; got < n && (i = find_resident(p, limit)) != SIZE_MAX;)
    out[got++] = p.resident.take_from_newest(i);
  *resident = got;
  for (std::size_t i; got < n && (i = find_limit(p.cold, limit)) != SIZE_MAX;) out[got++] = pop_at(p.cold, i);
  return got;
}

void pool_put(ClassPool& p, const StackSpan* spans, std::size_t n) noexcept {
  const std::int64_t now = coarse_now_ns();
  {
    lock_guard lock(p.mu);
    for (std::size_t i = 0; i < n; ++i) {
      set_slot_state(spans[i], SlotState::kPooled);
      p.resident.push_newest(spans[i], now);
    }
  }
  std::size_t pooled = g_pooled_resident.fetch_add(n, std::memory_order_relaxed) + n;
  scavenger_note_pooled(pooled * kPooledStackBytes);
}

StackSpan acquire_from_pool(ClassPool& p, std::size_t limit) {
  StackSpan s;
  if (!take_free_locked(p, limit, &s)) {
    lock_guard carving(p.carve_mu);
    // Stacks may have come back while this thread waited for another carve.
    if (!take_free_locked(p, limit, &s)) s = carve(p, limit);
  }
  try {
    fit_guard(s, limit);
  } catch (...) {
    pool_put(p, &s, 1);  // still guarded as before
    throw;
  }
  return s;
}

}  // namespace goro::detail::stack_internal
