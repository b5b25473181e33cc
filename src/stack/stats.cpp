// stack/stats.cpp: what stacks cost, and which stacks exist.
//
// Accounting is by resident pages, as the kernel reports them (mincore),
// never by reserved bytes: a 1 GiB stack that used one page costs a page.
// The registry is walked arena by arena with one mincore per 256 MiB, and
// each page is attributed to its slot by position; a slot's state is read
// racily, so a stack acquired or released meanwhile may be counted on
// either side. Nothing here takes a lock or frees anything, so it is safe
// against concurrent acquire/release on other threads.
//
// growth_pages counts commits without watching faults: every page the stack
// layer gives back is counted (exactly, by mincore just before the
// MADV_DONTNEED), so pages committed so far = pages resident now + pages
// ever given back.
#include "stack/scavenge.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <vector>

namespace goro::detail {

using namespace stack_internal;

namespace {

constexpr std::size_t kStatsChunkPages = 64 * 1024;  // 256 MiB per mincore

struct Tally {
  std::size_t live_pages = 0;
  std::size_t all_pages = 0;
};

// Resident usable pages among vec[from, to), which map to pages
// [first, first + (to - from)) of slot `word`'s slot.
std::size_t count_usable(const unsigned char* vec, std::size_t from, std::size_t to, std::size_t first,
                         std::uint32_t word) noexcept {
  std::size_t guard_pages = word_guard(word) / kPageSize;
  if (first < guard_pages) from += std::min(guard_pages - first, to - from);
  std::size_t n = 0;
  for (std::size_t i = from; i < to; ++i) n += vec[i] & 1;
  return n;
}

void tally_chunk(const Arena& a, const unsigned char* vec, std::size_t first, std::size_t n,
                 Tally& t) noexcept {
  const std::size_t slot_pages = a.slot_size / kPageSize;
  for (std::size_t i = 0; i < n;) {
    std::size_t page = first + i;
    std::size_t slot = page / slot_pages, in_slot = page % slot_pages;
    std::size_t end = std::min(n, i + (slot_pages - in_slot));
    std::uint32_t w = a.words[slot].load(std::memory_order_relaxed);
    std::size_t c = count_usable(vec, i, end, in_slot, w);
    t.all_pages += c;
    if (word_state(w) == SlotState::kLive) t.live_pages += c;
    i = end;
  }
}

void tally_arena(const Arena& a, unsigned char* vec, Tally& t) noexcept {
  const std::size_t total = a.bytes / kPageSize;
  for (std::size_t first = 0; first < total; first += kStatsChunkPages) {
    std::size_t n = std::min(kStatsChunkPages, total - first);
    if (::mincore(a.base + first * kPageSize, n * kPageSize, vec) == 0) tally_chunk(a, vec, first, n, t);
  }
}

void count_states(const Arena& a, goro::stack_stats& out) noexcept {
  for (std::uint32_t j = 0; j < a.slots; ++j) {
    SlotState st = word_state(a.words[j].load(std::memory_order_relaxed));
    out.live_stacks += st == SlotState::kLive;
    out.pooled_stacks += st == SlotState::kCached || st == SlotState::kPooled;
  }
}

}  // namespace

namespace stack_internal {

Counters& counters() noexcept {
  static Counters c;
  return c;
}

}  // namespace stack_internal

goro::stack_stats stack_read_counters() {
  goro::stack_stats out;
  for (std::uint32_t i = 0, n = arena_count(); i < n; ++i) out.stack_reserved += arena_at(i).bytes;
  const Counters& c = counters();
  out.shrinks = c.shrinks.load(std::memory_order_relaxed);
  out.shrunk_bytes = c.shrunk_bytes.load(std::memory_order_relaxed);
  out.scavenged_bytes = c.scavenged_bytes.load(std::memory_order_relaxed);
  out.scavenger_cpu = std::chrono::nanoseconds(scavenger_cpu_ns());
  out.retain_target = goro::stack_retain_target();
  return out;
}

goro::stack_stats stack_read_stats() {
  goro::stack_stats out = stack_read_counters();
  std::vector<unsigned char> vec(kStatsChunkPages);
  Tally t;
  // Reserved bytes again, over the arenas walked: one made since counts in
  // both or in neither.
  out.stack_reserved = 0;
  for (std::uint32_t i = 0, n = arena_count(); i < n; ++i) {
    const Arena& a = arena_at(i);
    tally_arena(a, vec.data(), t);
    count_states(a, out);
    out.stack_reserved += a.bytes;
  }
  out.stack_inuse = t.live_pages * kPageSize;
  out.stack_sys = t.all_pages * kPageSize;
  out.growth_pages = t.all_pages + counters().released_pages.load(std::memory_order_relaxed);
  return out;
}

void stack_for_each_live(void (*fn)(const StackSpan&, void*), void* ctx) {
  for (std::uint32_t i = 0, n = arena_count(); i < n; ++i) {
    const Arena& a = arena_at(i);
    for (std::uint32_t j = 0; j < a.slots; ++j) {
      std::uint32_t w = a.words[j].load(std::memory_order_acquire);
      if (word_state(w) == SlotState::kLive) fn(slot_span(i, j, w), ctx);
    }
  }
}

bool stack_find_by_guard(const void* addr, StackSpan* out) noexcept {
  SlotAt at;
  if (!slot_at(addr, &at)) return false;
  const Arena& a = arena_at(at.arena);
  std::size_t guard = word_guard(at.word);
  if (guard == 0 ||
      static_cast<const std::byte*>(addr) >= a.base + std::size_t{at.slot} * a.slot_size + guard)
    return false;
  *out = slot_span(at.arena, at.slot, at.word);
  return true;
}

}  // namespace goro::detail

namespace goro {

stack_stats read_stack_stats() {
  return detail::stack_read_stats();
}

}  // namespace goro
