// stack/pool.cpp: handing stacks out and taking them back (Go's stackalloc
// and stackfree, with its per-P stackcache and global stackpool).
//
// Where a free stack lives
//   1. A processor's StackCache: bins keyed by exact limit (a slot's guard
//      fits one limit; changing it is a syscall). Untrimmed: a stack keeps
//      whatever its last goroutine made resident. No lock, no syscall.
//   2. The global pool of its size class, "warm": trimmed to its top
//      kPoolKeepTop bytes, so the next goroutine starts without faults.
//      One mutex per class. At most max(8, 64 MiB / slot) stacks per class
//      (256 at the default limit, i.e. 2 MiB resident at most).
//   3. The same pool, "cold": past the warm bound a stack gives back every
//      page and keeps only its address range and guard. Cold slots are
//      reused before new ones are carved, so address space is recycled;
//      they cost no memory beyond page tables.
//   4. Never carved: the rest of the class's current arena.
//
// Where trimming happens, and why spawn+join stays syscall-free
//   Trimming costs a mincore and a madvise (about 2 us), so it is kept off
//   the spawn and exit paths. A goroutine that is spawned and joined takes a
//   stack from its processor's bin and puts it back there. When a bin is
//   full, half of it moves to its pool's "dirty" list, untrimmed, under the
//   pool lock only. Dirty stacks are trimmed (into warm or cold) when the
//   dirty list passes its bound (max(8, 16 MiB / slot) stacks) and whenever
//   a worker goes idle (stack_trim_pools, called by the scheduler), so
//   bursts that overflow a bin and come back pay no syscall, and an idle
//   process holds only trimmed stacks. Bins hold at most 32 stacks and at
//   most 8 MiB of slots (fewer stacks for bigger classes), so untrimmed
//   cached stacks pin at most 4 x 8 MiB per processor. The exception is
//   slots over 2 MiB: a goroutine with a big ceiling may leave gigabytes
//   resident, so their release trims at once (cost proportional to what the
//   stack used, see scan_resident) before caching.
//
// Invariants
//   * A stack is in exactly one place: live (its goroutine), one cache bin,
//     the warm or the cold list of its class pool. Its slot word says which.
//   * Every stack in a cache or in the warm list of its pool is guarded for
//     its current limit; cold slots may have a guard for another limit (or
//     none if installing it failed), fixed up by fit_guard when taken.
//   * warm.size() + pending <= warm_cap, so the warm and cold vectors never
//     reallocate while releasing (stack_release is noexcept): their
//     capacity is reserved when a pool is created or an arena carved.
#include "stack/arena.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace goro::detail {

using namespace stack_internal;

namespace {

constexpr std::size_t kPoolKeepTop = 2 * kPageSize;
constexpr std::size_t kPoolBytesPerClass = 64 * kMiB;
constexpr std::size_t kDirtyBytesPerClass = 16 * kMiB;
constexpr std::size_t kPoolMinStacks = 8;
constexpr std::size_t kCacheBytesPerBin = 8 * kMiB;
// How far from the end of a free list to look for a slot of the right limit.
constexpr std::size_t kMatchScan = 64;

struct ClassPool {
  explicit ClassPool(std::uint32_t c)
      : cls(c),
        slot(slot_size_of_class(c)),
        warm_cap(std::max(kPoolMinStacks, kPoolBytesPerClass / slot)),
        dirty_cap(std::max(kPoolMinStacks, kDirtyBytesPerClass / slot)) {
    warm.reserve(warm_cap);
    dirty.reserve(dirty_cap);
  }
  std::mutex mu;
  const std::uint32_t cls;
  const std::size_t slot;
  const std::size_t warm_cap;
  const std::size_t dirty_cap;
  std::vector<StackSpan> dirty;      // untrimmed, LIFO; trimmed when idle or over dirty_cap
  std::size_t pending = 0;           // warm places promised to releasers trimming outside the lock
  std::vector<StackSpan> warm;       // trimmed to their top, guarded, LIFO
  std::vector<StackSpan> cold;       // nothing resident
  std::size_t carved_capacity = 0;   // slots in all arenas of this class
  std::uint32_t arena = UINT32_MAX;  // arena being carved
  std::uint32_t next_slot = 0;
};

// Pools of the first 64 classes (slots up to 120 MiB) are found without a
// lock; the rare bigger ones through a map. Pools are never destroyed:
// stacks may be released by thread_local destructors after static ones ran.
constexpr std::uint32_t kDirectPools = 64;
std::atomic<ClassPool*> g_direct_pools[kDirectPools];
std::mutex g_pools_mu;

std::map<std::uint32_t, ClassPool*>& big_pools() {
  static auto* m = new std::map<std::uint32_t, ClassPool*>;
  return *m;
}

ClassPool* find_pool(std::uint32_t cls) noexcept {
  if (cls < kDirectPools) return g_direct_pools[cls].load(std::memory_order_acquire);
  std::lock_guard lock(g_pools_mu);
  auto it = big_pools().find(cls);
  return it == big_pools().end() ? nullptr : it->second;
}

ClassPool& pool_for(std::uint32_t cls) {
  if (ClassPool* p = find_pool(cls)) return *p;
  std::lock_guard lock(g_pools_mu);
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

// ---- the pool's lists (callers hold p.mu) -------------------------------------

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

StackSpan carve(ClassPool& p) {
  if (p.arena == UINT32_MAX || p.next_slot == arena_at(p.arena).slots) {
    const std::size_t slots = p.slot <= kArenaBytes ? kArenaBytes / p.slot : 1;
    p.cold.reserve(p.carved_capacity + slots);  // before mapping: nothing to undo if it throws
    p.arena = new_arena(p.cls);
    p.next_slot = 0;
    p.carved_capacity += slots;
  }
  return slot_span(p.arena, p.next_slot++, 0);
}

// Any free stack of the class, best first: same limit dirty, warm or cold
// (no syscall), then one needing a new guard size: warm, dirty (trimmed
// first), cold, a new slot.
StackSpan take_any(ClassPool& p, std::size_t limit) {
  if (std::size_t i = find_limit(p.dirty, limit); i != SIZE_MAX) return pop_at(p.dirty, i);
  if (std::size_t i = find_limit(p.warm, limit); i != SIZE_MAX) return pop_at(p.warm, i);
  if (std::size_t i = find_limit(p.cold, limit); i != SIZE_MAX) return pop_at(p.cold, i);
  if (!p.warm.empty()) return pop_at(p.warm, p.warm.size() - 1);
  if (!p.dirty.empty()) {
    // Rare: no stack of this limit anywhere. Trim before the guard moves.
    StackSpan s = pop_at(p.dirty, p.dirty.size() - 1);
    give_back(s.base, s.top - kPoolKeepTop);
    return s;
  }
  if (!p.cold.empty()) return pop_at(p.cold, p.cold.size() - 1);
  return carve(p);
}

// Moves up to n warm stacks of exactly `limit` to out[]. No syscall.
int take_warm(ClassPool& p, std::size_t limit, StackSpan* out, int n) noexcept {
  std::lock_guard lock(p.mu);
  int got = 0;
  for (std::size_t i; got < n && (i = find_limit(p.dirty, limit)) != SIZE_MAX;)
    out[got++] = pop_at(p.dirty, i);
  for (std::size_t i; got < n && (i = find_limit(p.warm, limit)) != SIZE_MAX;) out[got++] = pop_at(p.warm, i);
  return got;
}

// Gives back every resident page of n free stacks that go cold. Slots that
// are neighbours in an arena share one madvise: each madvise costs a TLB
// shootdown (an interrupt to every CPU running this process, a VM exit
// under a hypervisor), which made a mass exit cost microseconds per
// goroutine when paid per stack. A run may span guards: MADV_GUARD_INSTALL
// markers and PROT_NONE guards both survive MADV_DONTNEED.
void give_back_cold(const StackSpan* spans, std::size_t n) noexcept {
  StackSpan sorted[64];
  for (std::size_t at = 0; at < n; at += std::size(sorted)) {
    const std::size_t m = std::min(n - at, std::size(sorted));
    std::copy_n(spans + at, m, sorted);
    std::sort(sorted, sorted + m, [](const StackSpan& a, const StackSpan& b) { return a.base < b.base; });
    std::byte* lo = nullptr;  // deepest resident page of the run
    std::byte* hi = nullptr;  // top of its last stack with resident pages
    std::size_t pages = 0;
    std::size_t stacks = 0;
    for (std::size_t i = 0; i < m; ++i) {
      const StackSpan& s = sorted[i];
      const bool adjacent = i > 0 && s.arena == sorted[i - 1].arena && s.base - s.guard == sorted[i - 1].top;
      if (!adjacent && pages != 0) {
        give_back_run(lo, hi, pages, stacks);
        lo = hi = nullptr;
        pages = stacks = 0;
      }
      Residency r = scan_resident(s.base, s.top);
      if (r.pages == 0) continue;
      if (lo == nullptr) lo = r.lowest;
      hi = s.top;
      pages += r.pages;
      ++stacks;
    }
    give_back_run(lo, hi, pages, stacks);
  }
}

// Takes back n stacks of pool p: as many as the warm bound allows are trimmed
// to their top, the rest go cold. The syscalls run outside the lock.
void pool_put_trimmed(ClassPool& p, const StackSpan* spans, std::size_t n) noexcept {
  std::size_t warm;
  {
    std::lock_guard lock(p.mu);
    std::size_t used = p.warm.size() + p.pending;
    warm = std::min(n, p.warm_cap > used ? p.warm_cap - used : 0);
    p.pending += warm;
  }
  for (std::size_t i = 0; i < warm; ++i) give_back(spans[i].base, spans[i].top - kPoolKeepTop);
  give_back_cold(spans + warm, n - warm);
  for (std::size_t i = 0; i < n; ++i)
    set_slot_state(spans[i], i < warm ? SlotState::kPooled : SlotState::kCold);
  std::lock_guard lock(p.mu);
  p.pending -= warm;
  p.warm.insert(p.warm.end(), spans, spans + warm);
  p.cold.insert(p.cold.end(), spans + warm, spans + n);
}

// Takes back n stacks of pool p without a syscall while the dirty list has
// room; the rest are trimmed at once.
void pool_put(ClassPool& p, const StackSpan* spans, std::size_t n) noexcept {
  std::size_t k;
  {
    std::lock_guard lock(p.mu);
    k = std::min(n, p.dirty_cap - p.dirty.size());
    for (std::size_t i = 0; i < k; ++i) set_slot_state(spans[i], SlotState::kPooled);
    p.dirty.insert(p.dirty.end(), spans, spans + k);
  }
  if (k < n) pool_put_trimmed(p, spans + k, n - k);
}

// Trims every dirty stack of pool p.
void trim_dirty(ClassPool& p) noexcept {
  StackSpan batch[64];
  for (;;) {
    std::size_t n = 0;
    {
      std::lock_guard lock(p.mu);
      while (n < std::size(batch) && !p.dirty.empty()) {
        batch[n++] = p.dirty.back();
        p.dirty.pop_back();
      }
    }
    if (n == 0) return;
    pool_put_trimmed(p, batch, n);
  }
}

// A stack straight from the pool (no cache, or a cache miss the pool could
// not refill), its guard fitted to `limit`.
StackSpan acquire_from_pool(ClassPool& p, std::size_t limit) {
  StackSpan s;
  {
    std::lock_guard lock(p.mu);
    s = take_any(p, limit);
  }
  try {
    fit_guard(s, limit);
  } catch (...) {
    std::lock_guard lock(p.mu);
    p.cold.push_back(s);  // capacity reserved; still guarded as before
    throw;
  }
  return s;
}

int bin_capacity(std::size_t slot) noexcept {
  return static_cast<int>(std::clamp<std::size_t>(kCacheBytesPerBin / slot, 2, 32));
}

}  // namespace

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
      empty->capacity = bin_capacity(slot);
    }
    return empty;
  }

  static bool take(StackCache& c, std::size_t limit, std::size_t slot, StackSpan* out) noexcept {
    Bin* b = bin_for(c, limit, slot);
    if (b == nullptr) return false;
    if (b->count == 0) refill(*b, slot);
    if (b->count == 0) return false;
    *out = b->stacks[--b->count];
    return true;
  }

  // Half a bin of warm stacks from the pool, so that the next misses hit.
  static void refill(Bin& b, std::size_t slot) noexcept {
    ClassPool* p = find_pool(class_of_slot(slot));
    if (p == nullptr) return;
    b.count = take_warm(*p, b.limit, b.stacks, std::max(1, b.capacity / 2));
    for (int i = 0; i < b.count; ++i) set_slot_state(b.stacks[i], SlotState::kCached);
  }

  static bool put(StackCache& c, const StackSpan& s) noexcept {
    Bin* b = bin_for(c, s.limit(), s.top - s.base + s.guard);
    if (b == nullptr) return false;
    if (b->count == b->capacity) spill(*b, b->capacity / 2);
    set_slot_state(s, SlotState::kCached);
    b->stacks[b->count++] = s;
    return true;
  }

  // Moves the n oldest stacks of a bin to the pool (they are the least
  // likely to still be in the CPU's caches).
  static void spill(Bin& b, int n) noexcept {
    if (n <= 0) return;
    ClassPool* p = find_pool(b.stacks[0].size_class);
    pool_put(*p, b.stacks, static_cast<std::size_t>(n));
    std::memmove(b.stacks, b.stacks + n, sizeof(StackSpan) * static_cast<std::size_t>(b.count - n));
    b.count -= n;
  }

  static void flush(StackCache& c) noexcept {
    for (Bin& b : c.bins_) spill(b, b.count);
  }
};

std::size_t normalize_stack_limit(std::size_t requested) noexcept {
  if (requested >= kMaxStackLimit) return kMaxStackLimit;
  return std::max(kMinStackLimit, round_up(requested, kPageSize));
}

StackSpan stack_acquire(StackCache* cache, std::size_t limit) {
  limit = normalize_stack_limit(limit);
  const std::size_t slot = slot_size_for_limit(limit);
  StackSpan s;
  if (cache == nullptr || !StackCacheAccess::take(*cache, limit, slot, &s)) {
    s = acquire_from_pool(pool_for(class_of_slot(slot)), limit);
  }
  set_slot_state(s, SlotState::kLive);
  return s;
}

void stack_release(StackCache* cache, StackSpan s) noexcept {
  if (!s) return;
  unpoison_stack(s);
  const std::size_t slot = s.top - s.base + s.guard;
  if (is_big_slot(slot)) give_back(s.base, s.top - kPoolKeepTop);
  if (cache != nullptr && StackCacheAccess::put(*cache, s)) return;
  pool_put(*find_pool(s.size_class), &s, 1);
}

void stack_trim_pools() noexcept {
  for (auto& slot : g_direct_pools) {
    if (ClassPool* p = slot.load(std::memory_order_acquire)) trim_dirty(*p);
  }
}

StackCache::~StackCache() {
  flush();
}

void StackCache::flush() noexcept {
  StackCacheAccess::flush(*this);
}

}  // namespace goro::detail
