// stack/scavenge.hpp: between the stack pools (pool.cpp, trim.cpp) and the scavenger
// that gives their memory back (scavenge.cpp). Nothing outside src/stack
// includes this.
#pragma once

#include "stack/arena.hpp"

#include <cstddef>
#include <cstdint>
#include <ctime>

namespace goro::detail::stack_internal {

// What a pooled stack is assumed to keep resident: its top page (record,
// closure, first frames) and often the next one. The pools count stacks, not
// pages (counting pages would take a mincore per exit); the scavenger learns
// the real figure when it trims.
inline constexpr std::size_t kPooledStackBytes = 2 * kPageSize;
// Stacks trimmed per scavenger step: sorted, they form runs of neighbours
// that one mincore and one process_madvise cover.
inline constexpr std::size_t kScavengeBatch = 256;

// trim.cpp: resident bytes the pools hold (stacks x kPooledStackBytes),
// and trimming up to max_stacks of the least recently pooled stacks, those
// pooled before `pooled_before` (coarse_now_ns), to cold.
// trim_oldest_pooled returns how many it trimmed.
std::size_t pooled_resident_bytes() noexcept;
std::size_t trim_oldest_pooled(std::size_t max_stacks, std::int64_t pooled_before) noexcept;

// CLOCK_MONOTONIC_COARSE in nanoseconds (a vDSO read, a few ns).
inline std::int64_t coarse_now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// scavenge.cpp: called by the pools after taking stacks back, with what
// they hold now; wakes the scavenger when that passes the retained target.
// Cost: a load and a compare, except once per burst (a futex wake).
void scavenger_note_pooled(std::size_t pooled_bytes) noexcept;

// cold_regions.cpp: gives back the page-table pages of the 2 MiB regions
// whose every slot is cold (their guards are removed; fit_guard puts one
// back when a slot is taken). Returns how many slots lost their guard.
// Cost: a copy and a sort of the cold lists' regions, two madvise calls per
// region; the pools' locks are held only to copy and to move slots.
std::size_t release_cold_regions() noexcept;

// Trims every pooled stack now (free_os_memory), on the calling thread.
void scavenge_all() noexcept;
// CPU time the scavenger thread and scavenge_all have spent.
std::uint64_t scavenger_cpu_ns() noexcept;

// Gives back every page of n free stacks (sorted into runs of neighbours:
// one mincore per run, one process_madvise for the batch), counting them as
// scavenged. Returns the bytes given back.
std::size_t release_stacks(const StackSpan* spans, std::size_t n) noexcept;

}  // namespace goro::detail::stack_internal
