// stack/pool.cpp: handing stacks out and taking them back (Go's stackalloc
// and stackfree, with its per-P stackcache and global stackpool).
//
// Where a free stack lives
//   1. A processor's StackCache: bins keyed by exact limit (a slot's guard
//      fits one limit; changing it is a syscall). No lock, no syscall.
//   2. The global pool of its size class, "resident": stacks that keep
//      whatever pages their last goroutine touched, in a ring that is LIFO at
//      one end (reuse) and FIFO at the other (the scavenger). One spin lock
//      per class. The ring is an array, not a list threaded through the
//      stacks: walking a list would take a TLB miss per stack.
//   3. The same pool, "cold": every page given back, only the address range
//      and the guard kept. Cold slots are reused before new ones are carved,
//      so address space is recycled; they cost no memory beyond page tables.
//   4. Never carved: the rest of the class's current arena.
//
// Memory goes back to the kernel lazily, as Go's scavenger returns free
// heap memory: neither spawn nor exit makes a system call (a burst of a
// million exits used to pay a mincore and a TLB-shootdown madvise per few
// stacks). Stacks leave a cache for the resident ring untouched, and the
// scavenger (scavenge.cpp) turns the least recently pooled ones cold while
// the pools hold more than the retained target. Reuse is hottest first: the
// cache and the resident ring are both LIFO, so a new goroutine lands on
// pages that are resident and likely still in the CPU's caches. Slots over
// 2 MiB are the exception: a goroutine with a big ceiling may leave
// gigabytes resident, so their release trims at once (cost proportional to
// what the stack used, see scan_resident).
//
// Trimming a batch (the scavenger, free_os_memory) sorts it by address and
// works in runs of neighbouring slots: one mincore per run, and all the
// resulting ranges in one process_madvise(MADV_DONTNEED), because every
// madvise that frees pages interrupts each CPU running this process to
// flush its TLB.
//
// Invariants
//   * A stack is in exactly one place: live (its goroutine), one cache bin,
//     the resident ring or the cold list of its class pool, or a batch the
//     scavenger is trimming. Its slot word says which (kLive, kCached,
//     kPooled, kCold; a batch being trimmed is still kPooled; a cold stack
//     in a cache bin keeps kCold, and a fresh one kUncarved, so that
//     stack_acquire can tell the caller it is empty).
//   * Every stack in a cache or in the resident ring is guarded for its
//     current limit; cold slots may have a guard for another limit (or none
//     if installing it failed), fixed up by fit_guard when taken.
//   * The ring's and cold's capacities are >= the slots ever carved for the
//     class, so neither reallocates while taking stacks back (noexcept
//     paths): they grow when an arena is added.
#include "stack/scavenge.hpp"

#include "arch/spinlock.hpp"

#include <sys/mman.h>
#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace goro::detail {

using namespace stack_internal;

namespace {

constexpr std::size_t kCacheBytesPerBin = 8 * kMiB;
// How far from the hot end of a free list to look for a slot of the right
// limit.
constexpr std::size_t kMatchScan = 64;

// A ring of free stacks: push and pop at the newest end, pop at the oldest.
// Each entry remembers when it was pooled, so the scavenger can leave stacks
// alone that a burst still in progress is about to reuse. Capacity is a
// power of two, grown only by reserve().
class SpanRing {
 public:
  SpanRing() = default;
  SpanRing(const SpanRing&) = delete;
  SpanRing& operator=(const SpanRing&) = delete;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // The i-th stack from the newest end.
  const StackSpan& from_newest(std::size_t i) const noexcept { return at_newest(i).span; }
  void push_newest(const StackSpan& s, std::int64_t now) noexcept {
    buf_[(head_ + size_) & mask_] = Entry{s, now};
    ++size_;
  }
  // The oldest stack if it was pooled before `before`.
  bool pop_oldest(std::int64_t before, StackSpan* out) noexcept {
    if (size_ == 0 || buf_[head_].since >= before) return false;
    *out = buf_[head_].span;
    head_ = (head_ + 1) & mask_;
    --size_;
    return true;
  }
  // Removes the i-th from the newest end; the newest takes its place.
  StackSpan take_from_newest(std::size_t i) noexcept {
    Entry& at = at_newest(i);
    StackSpan s = at.span;
    at = at_newest(0);
    --size_;
    return s;
  }
  // Makes room for n stacks in all. Throws std::bad_alloc.
  void reserve(std::size_t n) {
    if (n <= mask_ + 1 && buf_ != nullptr) return;
    std::size_t cap = std::bit_ceil(std::max<std::size_t>(n, 64));
    // Raw storage, not value-initialized: a million slots' worth would
    // otherwise be written (and made resident) up front, 40 bytes a slot.
    std::unique_ptr<Entry[], RawDelete> fresh(static_cast<Entry*>(::operator new(cap * sizeof(Entry))));
    for (std::size_t i = 0; i < size_; ++i) fresh[i] = buf_[(head_ + i) & mask_];
    buf_ = std::move(fresh);
    head_ = 0;
    mask_ = cap - 1;
  }

 private:
  struct Entry {
    StackSpan span;
    std::int64_t since = 0;  // coarse monotonic ns when pooled
  };
  Entry& at_newest(std::size_t i) const noexcept { return buf_[(head_ + size_ - 1 - i) & mask_]; }

  struct RawDelete {
    void operator()(Entry* p) const noexcept { ::operator delete(p); }
  };
  std::unique_ptr<Entry[], RawDelete> buf_;
  std::size_t mask_ = 0;
  std::size_t head_ = 0;  // the oldest
  std::size_t size_ = 0;
};

struct ClassPool {
  explicit ClassPool(std::uint32_t c) : cls(c), slot(slot_size_of_class(c)) {}
  SpinLock mu;  // short holds; only carving (a guard call per 64 slots, an mmap per arena) syscalls under it
  const std::uint32_t cls;
  const std::size_t slot;
  SpanRing resident;                 // guarded by mu
  std::vector<StackSpan> cold;       // guarded by mu; nothing resident
  std::size_t carved_capacity = 0;   // guarded by mu; slots in all arenas of this class
  std::uint32_t arena = UINT32_MAX;  // guarded by mu; arena being carved
  std::uint32_t next_slot = 0;
  std::uint32_t guarded_end = 0;  // slots of `arena` below it are guarded for guarded_limit
  std::size_t guarded_limit = 0;
};

// Stacks in all resident rings; read without locks by the scavenger.
std::atomic<std::size_t> g_pooled_resident{0};

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

template <typename F>
void for_each_pool(F&& f) {
  for (auto& slot : g_direct_pools) {
    if (ClassPool* p = slot.load(std::memory_order_acquire)) f(*p);
  }
  std::vector<ClassPool*> big;
  {
    std::lock_guard lock(g_pools_mu);
    for (auto& [cls, p] : big_pools()) big.push_back(p);
  }
  for (ClassPool* p : big) f(*p);
}

// ---- the resident ring (callers hold p.mu) ------------------------------------

// Index from the newest end of a resident stack of exactly `limit` among the
// kMatchScan newest, or npos.
std::size_t find_resident(const ClassPool& p, std::size_t limit) noexcept {
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

void add_arena(ClassPool& p) {
  const std::size_t slots = p.slot <= kArenaBytes ? kArenaBytes / p.slot : 1;
  const std::size_t need = p.carved_capacity + slots;
  // Before mapping, so there is nothing to undo if it throws; doubling keeps
  // a million stacks from copying the vectors once per arena.
  if (p.cold.capacity() < need) p.cold.reserve(std::max(need, 2 * p.cold.capacity()));
  p.resident.reserve(need);
  p.arena = new_arena(p.cls);
  p.next_slot = 0;
  p.guarded_end = 0;
  p.carved_capacity = need;
}

StackSpan carve(ClassPool& p, std::size_t limit) {
  if (p.arena == UINT32_MAX || p.next_slot == arena_at(p.arena).slots) add_arena(p);
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

// Any free stack of the class, best first: same limit resident or cold (no
// syscall), then one needing a new guard size (resident ones have their
// pages that become guard given back by fit_guard), then a new slot.
StackSpan take_any(ClassPool& p, std::size_t limit) {
  if (std::size_t i = find_resident(p, limit); i != SIZE_MAX) return p.resident.take_from_newest(i);
  if (std::size_t i = find_limit(p.cold, limit); i != SIZE_MAX) return pop_at(p.cold, i);
  if (!p.resident.empty()) return p.resident.take_from_newest(0);
  if (!p.cold.empty()) return pop_at(p.cold, p.cold.size() - 1);
  return carve(p, limit);
}

// Moves up to n free stacks of exactly `limit` to out[]: resident ones
// first (*resident says how many), then cold ones. No syscall.
int take_matching(ClassPool& p, std::size_t limit, StackSpan* out, int n, int* resident) noexcept {
  std::lock_guard lock(p.mu);
  int got = 0;
  for (std::size_t i; got < n && (i = find_resident(p, limit)) != SIZE_MAX;)
    out[got++] = p.resident.take_from_newest(i);
  *resident = got;
  for (std::size_t i; got < n && (i = find_limit(p.cold, limit)) != SIZE_MAX;) out[got++] = pop_at(p.cold, i);
  return got;
}

// Takes back n stacks of pool p, untrimmed, and wakes the scavenger if the
// pools now hold more than the retained target. No syscall (unless the
// scavenger must be woken from its sleep: one futex wake per burst).
void pool_put(ClassPool& p, const StackSpan* spans, std::size_t n) noexcept {
  const std::int64_t now = coarse_now_ns();
  {
    std::lock_guard lock(p.mu);
    for (std::size_t i = 0; i < n; ++i) {
      set_slot_state(spans[i], SlotState::kPooled);
      p.resident.push_newest(spans[i], now);
    }
  }
  std::size_t pooled = g_pooled_resident.fetch_add(n, std::memory_order_relaxed) + n;
  scavenger_note_pooled(pooled * kPooledStackBytes);
}

// Trims a batch of free stacks entirely and moves them to p's cold list.
void make_cold(ClassPool& p, const StackSpan* spans, std::size_t n) noexcept {
  release_stacks(spans, n);
  std::lock_guard lock(p.mu);
  for (std::size_t i = 0; i < n; ++i) set_slot_state(spans[i], SlotState::kCold);
  p.cold.insert(p.cold.end(), spans, spans + n);
}

// Takes up to n of p's least recently pooled resident stacks, pooled before
// `before`, out of its ring.
std::size_t take_oldest(ClassPool& p, StackSpan* out, std::size_t n, std::int64_t before) noexcept {
  std::lock_guard lock(p.mu);
  std::size_t got = 0;
  while (got < n && p.resident.pop_oldest(before, &out[got])) ++got;
  g_pooled_resident.fetch_sub(got, std::memory_order_relaxed);
  return got;
}

// A stack straight from the pool (no cache, or a cache miss the pool could
// not refill), its guard fitted to `limit`.
StackSpan acquire_from_pool(ClassPool& p, std::size_t limit) {
  StackSpan s;
  bool was_resident;
  {
    std::lock_guard lock(p.mu);
    std::size_t before = p.resident.size();
    s = take_any(p, limit);
    was_resident = p.resident.size() != before;
  }
  if (was_resident) g_pooled_resident.fetch_sub(1, std::memory_order_relaxed);
  try {
    fit_guard(s, limit);
  } catch (...) {
    pool_put(p, &s, 1);  // still guarded as before
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

  // Half a bin of free stacks from the pool, so that the next misses hit.
  // Cold ones keep their kCold word, so stack_acquire can tell they are
  // empty, and are used last.
  static void refill(Bin& b, std::size_t slot) noexcept {
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

namespace stack_internal {

std::size_t pooled_resident_bytes() noexcept {
  return g_pooled_resident.load(std::memory_order_relaxed) * kPooledStackBytes;
}

std::size_t trim_oldest_pooled(std::size_t max_stacks, std::int64_t pooled_before) noexcept {
  StackSpan batch[kScavengeBatch];
  std::size_t done = 0;
  for_each_pool([&](ClassPool& p) {
    while (done < max_stacks) {
      std::size_t n = take_oldest(p, batch, std::min(std::size(batch), max_stacks - done), pooled_before);
      if (n == 0) break;
      make_cold(p, batch, n);
      done += n;
    }
  });
  return done;
}

}  // namespace stack_internal

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

StackCache::~StackCache() {
  flush();
}

void StackCache::flush() noexcept {
  StackCacheAccess::flush(*this);
}

}  // namespace goro::detail
