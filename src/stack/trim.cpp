// stack/trim.cpp: turning the least recently pooled resident stacks cold,
// for the scavenger (scavenge.cpp) and free_os_memory.
//
// The scavenger asks for up to a batch at a time, oldest first and only
// stacks pooled before a given time (a burst still in progress is about to
// reuse the newer ones). A batch leaves its pool's ring under the pool's
// lock, is trimmed without it (release_stacks: sorted by address, one
// mincore per run of neighbouring slots and all the resulting ranges in one
// process_madvise(MADV_DONTNEED), because every madvise that frees pages
// interrupts each CPU running this process to flush its TLB), then joins
// the pool's cold list.
//
// Invariant: a stack being trimmed is in no ring, list or cache, and keeps
// its kPooled word until it is cold, so nothing else takes or counts it
// twice.
#include "stack/pool.hpp"

#include "stack/scavenge.hpp"

#include <algorithm>
#include <mutex>

namespace goro::detail::stack_internal {
namespace {

// Trims a batch of free stacks entirely and moves them to p's cold list.
void make_cold(ClassPool& p, const StackSpan* spans, std::size_t n) noexcept {
  release_stacks(spans, n);
  lock_guard lock(p.mu);
  for (std::size_t i = 0; i < n; ++i) set_slot_state(spans[i], SlotState::kCold);
  p.cold.insert(p.cold.end(), spans, spans + n);
}

// Takes up to n of p's least recently pooled resident stacks, pooled before
// `before`, out of its ring.
std::size_t take_oldest(ClassPool& p, StackSpan* out, std::size_t n, std::int64_t before) noexcept {
  lock_guard lock(p.mu);
  std::size_t got = 0;
  while (got < n && p.resident.pop_oldest(before, &out[got])) ++got;
  g_pooled_resident.fetch_sub(got, std::memory_order_relaxed);
  return got;
}

}  // namespace

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

}  // namespace goro::detail::stack_internal
