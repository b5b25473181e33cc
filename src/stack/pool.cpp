// stack/pool.cpp: handing stacks out and taking them back (Go's stackalloc
// and stackfree, with its per-P stackcache and global stackpool).
//
// Where a free stack lives
//   1. A processor's StackCache: bins keyed by exact limit (a slot's guard
//      fits one limit; changing it is a syscall). Untrimmed: a stack keeps
//      whatever its last goroutine made resident. No lock, no syscall.
//   2. The global pool of its size class, "warm": trimmed to its top
//      kPoolKeepTop bytes, so the next goroutine starts without faults.
//      One mutex per class. At most 4096 stacks per class (32 MiB resident
//      at most).
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

#include <sys/mman.h>
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

namespace goro::detail {

using namespace stack_internal;

namespace {

constexpr std::size_t kPoolKeepTop = 2 * kPageSize;
// Warm stacks keep kPoolKeepTop resident each: 4096 of them per class hold
// at most 32 MiB, and cover a server whose goroutine count swings by a few
// thousand without a page fault, mincore or madvise per goroutine.
constexpr std::size_t kPoolWarmResident = 32 * kMiB;
constexpr std::size_t kDirtyBytesPerClass = 16 * kMiB;
constexpr std::size_t kPoolMinStacks = 8;
constexpr std::size_t kCacheBytesPerBin = 8 * kMiB;
// How far from the end of a free list to look for a slot of the right limit.
constexpr std::size_t kMatchScan = 64;

struct ClassPool {
  explicit ClassPool(std::uint32_t c)
      : cls(c),
        slot(slot_size_of_class(c)),
        warm_cap(std::max(kPoolMinStacks, kPoolWarmResident / kPoolKeepTop)),
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
  std::uint32_t guarded_end = 0;  // slots of `arena` below it are guarded for guarded_limit
  std::size_t guarded_limit = 0;
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

StackSpan carve(ClassPool& p, std::size_t limit) {
  if (p.arena == UINT32_MAX || p.next_slot == arena_at(p.arena).slots) {
    const std::size_t slots = p.slot <= kArenaBytes ? kArenaBytes / p.slot : 1;
    p.cold.reserve(p.carved_capacity + slots);  // before mapping: nothing to undo if it throws
    p.arena = new_arena(p.cls);
    p.next_slot = 0;
    p.guarded_end = 0;
    p.carved_capacity += slots;
  }
  if (p.next_slot >= p.guarded_end) {
    // Guard the next slots in one go: a burst of spawns carves them one
    // after another.
    p.guarded_limit = limit;
    p.guarded_end = p.next_slot + pre_guard_slots(p.arena, p.next_slot, 64, limit);
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
  return carve(p, limit);
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

// ---- trimming a batch of free stacks -------------------------------------------
//
// Each mincore and madvise is a syscall, and each madvise that frees pages a
// TLB shootdown (an interrupt to every CPU running this process, a VM exit
// under a hypervisor). Paid per stack they made bursts of goroutine exits
// cost microseconds each, so a batch is sorted by address and handled in
// runs of neighbouring slots: one mincore per run, and one madvise per
// stretch of cold stacks. A stretch may span guards: MADV_GUARD_INSTALL
// markers and PROT_NONE guards both survive MADV_DONTNEED. Big slots (over
// 2 MiB) keep the per-stack scan, which stops early in a huge empty stack.

struct TrimItem {
  StackSpan span;
  bool warm;  // keeps its top kPoolKeepTop; else gives back everything
};

constexpr std::size_t kRunScanPages = 4096;  // one mincore covers at most 16 MiB

bool neighbours(const StackSpan& below, const StackSpan& s) noexcept {
  return s.arena == below.arena && s.base - s.guard == below.top;
}

// Accumulates cold stacks of one stretch of neighbours into one madvise.
struct ColdStretch {
  std::byte* lo = nullptr;  // deepest resident page
  std::byte* hi = nullptr;  // top of the last stack with resident pages
  std::size_t pages = 0;
  std::size_t stacks = 0;

  void add(const StackSpan& s, const Residency& r) noexcept {
    if (r.pages == 0) return;
    if (lo == nullptr) lo = r.lowest;
    hi = s.top;
    pages += r.pages;
    ++stacks;
  }
  void flush() noexcept {
    give_back_run(lo, hi, pages, stacks);
    *this = ColdStretch{};
  }
};

// Residency of [s.base, hi) read from a run's mincore vector, which starts
// at run_lo.
Residency residency_in(const unsigned char* vec, std::byte* run_lo, const StackSpan& s,
                       std::byte* hi) noexcept {
  Residency r{0, hi};
  for (std::byte* page = hi - kPageSize; page >= s.base; page -= kPageSize) {
    if (vec[static_cast<std::size_t>(page - run_lo) / kPageSize] & 1) {
      ++r.pages;
      r.lowest = page;
    }
  }
  return r;
}

// Trims items[0, n) (sorted by base, small slots, neighbours throughout).
void trim_run(const TrimItem* items, std::size_t n) noexcept {
  static_assert(kRunScanPages * kPageSize >= 2 * kMiB, "a run holds at least one small slot");
  unsigned char vec[kRunScanPages];
  std::byte* run_lo = items[0].span.base;
  std::byte* run_hi = items[n - 1].span.top;
  bool scanned = ::mincore(run_lo, static_cast<std::size_t>(run_hi - run_lo), vec) == 0;
  ColdStretch cold;
  for (std::size_t i = 0; i < n; ++i) {
    const StackSpan& s = items[i].span;
    std::byte* hi = items[i].warm ? s.top - kPoolKeepTop : s.top;
    Residency r = scanned ? residency_in(vec, run_lo, s, hi) : scan_resident(s.base, hi);
    if (items[i].warm) {
      cold.flush();  // its kept top splits the stretch
      give_back(r, hi);
    } else {
      cold.add(s, r);
    }
  }
  cold.flush();
}

// Trims up to 64 stacks: sorted, then run by run.
void trim_sorted(TrimItem* items, std::size_t n) noexcept {
  std::sort(items, items + n, [](const TrimItem& a, const TrimItem& b) { return a.span.base < b.span.base; });
  for (std::size_t i = 0; i < n;) {
    const StackSpan& first = items[i].span;
    if (is_big_slot(static_cast<std::size_t>(first.top - first.base) + first.guard)) {
      give_back(first.base, items[i].warm ? first.top - kPoolKeepTop : first.top);
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < n && neighbours(items[j - 1].span, items[j].span) &&
           static_cast<std::size_t>(items[j].span.top - first.base) / kPageSize <= kRunScanPages) {
      ++j;
    }
    trim_run(items + i, j - i);
    i = j;
  }
}

// Trims n free stacks: the first `warm` to their top, the rest entirely.
void trim_batch(const StackSpan* spans, std::size_t n, std::size_t warm) noexcept {
  TrimItem items[64];
  for (std::size_t at = 0; at < n; at += std::size(items)) {
    const std::size_t m = std::min(n - at, std::size(items));
    for (std::size_t i = 0; i < m; ++i) items[i] = TrimItem{spans[at + i], at + i < warm};
    trim_sorted(items, m);
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
  trim_batch(spans, n, warm);
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
