// stack/tombstone.cpp: saving, sealing and restoring compacted stacks, and
// the slot owner side table (see tombstone.hpp).
//
// The copies are made with `rep movsb` in inline assembly, not memcpy: a
// parked stack holds AddressSanitizer's poisoned redzones between frames,
// and the copy must move them byte for byte without being checked (the
// shadow memory itself is never touched, so the poisoning stays valid).
//
// The owner side table is one array of pointers per arena, with one
// candidate bit per slot beside it, allocated the first time a slot of that
// arena gets an owner, so processes that never compact pay nothing for it.
#include "stack/tombstone.hpp"

#include "stack/arena.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <new>

namespace goro::detail {

namespace {

using stack_internal::Arena;
using stack_internal::arena_at;
using stack_internal::arena_count;
using stack_internal::page_down;

using stack_internal::kPidfdSelfProcess;
constexpr std::size_t kSealBatch = 64;
constexpr std::uint32_t kMaxArenas = 262144;  // arena.cpp's registry bound

std::atomic<std::uint64_t> g_compactions{0};
std::atomic<std::uint64_t> g_restores{0};
std::atomic<std::int64_t> g_saved_bytes{0};
std::atomic<std::int64_t> g_compacted{0};

// Per arena: its slots' owner records, and a bit per slot marking
// compaction candidates; both null until the first owner is set.
std::atomic<std::atomic<void*>*> g_owner_tables[kMaxArenas];
std::atomic<std::atomic<std::uint64_t>*> g_candidate_tables[kMaxArenas];

void copy_bytes(std::byte* dst, const std::byte* src, std::size_t n) noexcept {
  asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

std::size_t slot_index(const Arena& a, const StackSpan& s) noexcept {
  return a.slot_of(static_cast<std::size_t>(s.top - a.base) - 1);
}

bool probe_process_madvise() noexcept {
  if (!stack_guards_use_madvise()) return false;
  // An empty vector is accepted by a kernel that has the call and allows
  // the self-process pidfd.
  iovec none{};
  long r = ::syscall(SYS_process_madvise, kPidfdSelfProcess, &none, std::size_t{0}, MADV_GUARD_INSTALL, 0u);
  return r == 0;
}

iovec range_of(const Tombstone& t) noexcept {
  return iovec{t.page_lo(), static_cast<std::size_t>(t.top - t.page_lo())};
}

void forget(Tombstone* t, bool sealed) noexcept {
  if (sealed) {
    g_restores.fetch_add(1, std::memory_order_relaxed);
    g_saved_bytes.fetch_sub(static_cast<std::int64_t>(t->bytes()), std::memory_order_relaxed);
    g_compacted.fetch_sub(1, std::memory_order_relaxed);
  }
  std::free(t->saved);
  t->saved = nullptr;
}

}  // namespace

std::byte* Tombstone::page_lo() const noexcept {
  return page_down(lo);
}

bool stack_can_compact() noexcept {
  static const bool ok = probe_process_madvise();
  return ok;
}

bool tombstone_save(Tombstone* t, const StackSpan& s, const void* sp, std::size_t max_bytes) noexcept {
  auto* lo = static_cast<const std::byte*>(sp) - kRedZoneBytes;
  if (lo < s.base || lo >= s.top) return false;
  auto bytes = static_cast<std::size_t>(s.top - lo);
  if (bytes > max_bytes) return false;
  auto* block = static_cast<std::byte*>(std::malloc(bytes));
  if (block == nullptr) return false;
  copy_bytes(block, lo, bytes);
  t->lo = const_cast<std::byte*>(lo);
  t->top = s.top;
  t->saved = block;
  return true;
}

std::size_t tombstone_seal(Tombstone* const* ts, std::size_t n) noexcept {
  std::size_t sealed = 0;
  while (sealed < n) {
    iovec ranges[kSealBatch];
    std::size_t count = std::min(kSealBatch, n - sealed);
    std::size_t want = 0;
    for (std::size_t i = 0; i < count; ++i) {
      ranges[i] = range_of(*ts[sealed + i]);
      want += ranges[i].iov_len;
    }
    // Drop the pages first: MADV_DONTNEED over many ranges flushes the TLB
    // once for all of them, where MADV_GUARD_INSTALL zaps (and flushes)
    // range by range; it then finds nothing to zap. Should the drop fail,
    // the guard install still zaps.
    ::syscall(SYS_process_madvise, kPidfdSelfProcess, ranges, count, MADV_DONTNEED, 0u);
    long done = ::syscall(SYS_process_madvise, kPidfdSelfProcess, ranges, count, MADV_GUARD_INSTALL, 0u);
    if (done < 0) break;
    // Ranges are advised in order: count the whole ones.
    auto left = static_cast<std::size_t>(done);
    std::size_t whole = 0;
    while (whole < count && left >= ranges[whole].iov_len) left -= ranges[whole++].iov_len;
    for (std::size_t i = 0; i < whole; ++i) {
      g_saved_bytes.fetch_add(static_cast<std::int64_t>(ts[sealed + i]->bytes()), std::memory_order_relaxed);
    }
    g_compactions.fetch_add(whole, std::memory_order_relaxed);
    g_compacted.fetch_add(static_cast<std::int64_t>(whole), std::memory_order_relaxed);
    sealed += whole;
    if (static_cast<std::size_t>(done) != want) break;
  }
  return sealed;
}

void tombstone_restore(Tombstone* t, bool sealed) noexcept {
  iovec r = range_of(*t);
  // Cannot fail for a range of a live slot short of ENOMEM in the kernel;
  // should it, the copy below faults and the fault is reported.
  ::madvise(r.iov_base, r.iov_len, MADV_GUARD_REMOVE);
  copy_bytes(t->lo, t->saved, t->bytes());
  forget(t, sealed);
}

void tombstone_discard(Tombstone* t) noexcept {
  iovec r = range_of(*t);
  ::madvise(r.iov_base, r.iov_len, MADV_GUARD_REMOVE);
  forget(t, true);
}

TombstoneCounters tombstone_counters() noexcept {
  TombstoneCounters c;
  c.compactions = g_compactions.load(std::memory_order_relaxed);
  c.restores = g_restores.load(std::memory_order_relaxed);
  c.saved_bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, g_saved_bytes.load()));
  c.compacted = static_cast<std::uint64_t>(std::max<std::int64_t>(0, g_compacted.load()));
  return c;
}

// ---- owner side table -----------------------------------------------------------

void* stack_owner(const StackSpan& s) noexcept {
  if (s.arena >= kMaxArenas) return nullptr;
  std::atomic<void*>* table = g_owner_tables[s.arena].load(std::memory_order_acquire);
  if (table == nullptr) return nullptr;
  return table[slot_index(arena_at(s.arena), s)].load(std::memory_order_acquire);
}

namespace {

// The table in `cell`, made (with `count` zeroed entries) if there is none.
template <typename T>
std::atomic<T>* table_of(std::atomic<std::atomic<T>*>& cell, std::size_t count) {
  std::atomic<T>* table = cell.load(std::memory_order_acquire);
  if (table != nullptr) return table;
  auto* fresh = new std::atomic<T>[count]();
  if (cell.compare_exchange_strong(table, fresh, std::memory_order_acq_rel)) return fresh;
  delete[] fresh;  // another thread installed one first; `table` is it
  return table;
}

}  // namespace

void stack_set_owner(const StackSpan& s, void* owner) {
  if (owner == nullptr && g_owner_tables[s.arena].load(std::memory_order_acquire) == nullptr) return;
  const std::size_t slots = arena_at(s.arena).slots;
  // The candidate bits first: an arena with owners always has them.
  table_of(g_candidate_tables[s.arena], (slots + 63) / 64);
  std::atomic<void*>* table = table_of(g_owner_tables[s.arena], slots);
  table[slot_index(arena_at(s.arena), s)].store(owner, std::memory_order_release);
}

void stack_mark_candidate(const StackSpan& s) noexcept {
  if (s.arena >= kMaxArenas) return;
  std::atomic<std::uint64_t>* bits = g_candidate_tables[s.arena].load(std::memory_order_acquire);
  if (bits == nullptr) return;
  std::size_t slot = slot_index(arena_at(s.arena), s);
  bits[slot / 64].fetch_or(std::uint64_t{1} << (slot % 64), std::memory_order_release);
}

void stack_for_each_candidate(bool (*fn)(void* owner, void* ctx), void* ctx) {
  for (std::uint32_t i = 0, n = std::min(arena_count(), kMaxArenas); i < n; ++i) {
    std::atomic<void*>* owners = g_owner_tables[i].load(std::memory_order_acquire);
    std::atomic<std::uint64_t>* bits = g_candidate_tables[i].load(std::memory_order_acquire);
    if (owners == nullptr || bits == nullptr) continue;
    for (std::size_t w = 0, words = (arena_at(i).slots + 63) / 64; w < words; ++w) {
      if (bits[w].load(std::memory_order_relaxed) == 0) continue;
      std::uint64_t taken = bits[w].exchange(0, std::memory_order_acquire);
      std::uint64_t again = 0;
      for (std::uint64_t left = taken; left != 0; left &= left - 1) {
        int b = std::countr_zero(left);
        void* owner = owners[w * 64 + static_cast<std::size_t>(b)].load(std::memory_order_acquire);
        if (owner != nullptr && fn(owner, ctx)) again |= std::uint64_t{1} << b;
      }
      if (again != 0) bits[w].fetch_or(again, std::memory_order_relaxed);
    }
  }
}

bool stack_find_live(const void* addr, StackSpan* out) noexcept {
  stack_internal::SlotAt at;
  if (!stack_internal::slot_at(addr, &at) ||
      stack_internal::word_state(at.word) != stack_internal::SlotState::kLive)
    return false;
  StackSpan s = stack_internal::slot_span(at.arena, at.slot, at.word);
  if (!s.contains(addr)) return false;
  *out = s;
  return true;
}

}  // namespace goro::detail
