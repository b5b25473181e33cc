// stack/cold_regions.cpp: giving back the page tables of 2 MiB regions whose
// every slot is cold, for the scavenger (scavenge.cpp) and free_os_memory.
//
// A cold slot has no resident page, but its guard marker lives in the
// page-table page that maps its region, and no MADV_DONTNEED frees a
// page-table page while a marker is in it: after a burst of a million
// goroutines, about 450 bytes per default stack stay in page tables. Once
// every slot of a 2 MiB-aligned region is in its pool's cold list, nothing
// runs on, points into or counts any of them, so the region's markers go
// (one MADV_GUARD_REMOVE) and one MADV_DONTNEED over the whole region lets
// the kernel free the page-table page (Linux's page-table reclaim,
// CONFIG_PT_RECLAIM). Its slots go back to the cold list with no guard;
// fit_guard installs one when a slot is taken again (a system call per
// stack, where a fresh slot's guard is batched), so they are put at the
// front of the list, where slots with a guard for the wanted limit are
// taken before them.
//
// Slots need not tile regions (a 224 KiB slot straddles region
// boundaries): a region qualifies when every slot overlapping it is cold,
// and neighbouring qualifying regions are handled as one run of slots, so
// a slot on the boundary between two of them is taken once. Only classes
// of slots up to 2 MiB with guard markers are looked at, and only regions
// wholly inside one arena. The pass copies the cold list's slots out under
// the pool's lock, finds the runs without it, and takes a run's slots out
// under the lock again; a run that lost a slot meanwhile goes back
// untouched.
#include "stack/pool.hpp"
#include "stack/scavenge.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

namespace goro::detail::stack_internal {
namespace {

// A run of neighbouring slots of one arena, [first, last], covering one or
// more whole regions.
struct SlotRun {
  std::uint32_t arena = 0;
  std::uint32_t first = 0;
  std::uint32_t last = 0;
};

bool eligible(const StackSpan& s) noexcept {
  const Arena& a = arena_at(s.arena);
  return s.guard != 0 && !a.mprotect_guards && a.slot_size <= kHugeSpan;
}

std::uint32_t slot_index(const StackSpan& s) noexcept {
  const Arena& a = arena_at(s.arena);
  return static_cast<std::uint32_t>(a.slot_of(static_cast<std::size_t>(s.top - a.base) - 1));
}

std::uint64_t key_of(const StackSpan& s) noexcept {
  return std::uint64_t{s.arena} << 32 | slot_index(s);
}

// Appends the runs of arena `index` whose regions have every slot cold
// (cold[i] for slot i).
void find_runs(std::uint32_t index, const std::vector<char>& cold, std::vector<SlotRun>& runs) {
  const Arena& a = arena_at(index);
  const auto base = reinterpret_cast<std::uintptr_t>(a.base);
  const std::uintptr_t end = base + std::size_t{a.slots} * a.slot_size;
  bool open = false;
  for (std::uintptr_t r = (base + kHugeSpan - 1) & ~std::uintptr_t{kHugeSpan - 1}; r + kHugeSpan <= end;
       r += kHugeSpan) {
    const auto first = static_cast<std::uint32_t>((r - base) / a.slot_size);
    const auto last = static_cast<std::uint32_t>((r + kHugeSpan - 1 - base) / a.slot_size);
    bool all = true;
    for (std::uint32_t i = first; all && i <= last; ++i) all = cold[i] != 0;
    if (!all) {
      open = false;
    } else if (open && runs.back().last + 1 >= first) {
      runs.back().last = last;
    } else {
      runs.push_back(SlotRun{index, first, last});
      open = true;
    }
  }
}

// The runs whose every slot was in p's cold list a moment ago, sorted.
std::vector<SlotRun> complete_runs(ClassPool& p) {
  std::vector<std::uint64_t> keys;
  std::size_t want;
  {
    lock_guard lock(p.mu);
    want = p.cold.size();
  }
  if (want == 0) return {};
  keys.reserve(want);
  {
    lock_guard lock(p.mu);
    for (const StackSpan& s : p.cold) {
      if (keys.size() == keys.capacity()) break;
      if (eligible(s)) keys.push_back(key_of(s));
    }
  }
  std::sort(keys.begin(), keys.end());
  std::vector<SlotRun> runs;
  std::vector<char> cold;
  for (std::size_t i = 0, j; i < keys.size(); i = j) {
    const auto index = static_cast<std::uint32_t>(keys[i] >> 32);
    cold.assign(arena_at(index).slots, 0);
    for (j = i; j < keys.size() && keys[j] >> 32 == index; ++j) cold[keys[j] & 0xffffffffu] = 1;
    find_runs(index, cold, runs);
  }
  return runs;
}

// The run holding the slot of `key`, or nullptr.
const SlotRun* run_of(const std::vector<SlotRun>& runs, std::uint64_t key) noexcept {
  auto it = std::upper_bound(runs.begin(), runs.end(), key, [](std::uint64_t k, const SlotRun& r) {
    return k < (std::uint64_t{r.arena} << 32 | r.first);
  });
  if (it == runs.begin()) return nullptr;
  --it;
  return key >> 32 == it->arena && (key & 0xffffffffu) <= it->last ? &*it : nullptr;
}

// Removes the guard markers of a run's slots and gives the run back; false
// if the markers stay (the slots keep their guards).
bool release_run(const SlotRun& run) noexcept {
  const Arena& a = arena_at(run.arena);
  std::byte* lo = a.base + std::size_t{run.first} * a.slot_size;
  const std::size_t bytes = std::size_t{run.last - run.first + 1} * a.slot_size;
  if (::madvise(lo, bytes, MADV_GUARD_REMOVE) != 0) return false;
  // Nothing was resident; this is what frees the page-table pages.
  (void)::madvise(lo, bytes, MADV_DONTNEED);
  return true;
}

std::size_t release_pool_regions(ClassPool& p) {
  if (p.slot > kHugeSpan) return 0;
  std::vector<SlotRun> runs = complete_runs(p);
  if (runs.empty()) return 0;
  std::size_t most = 0;
  for (const SlotRun& r : runs) most += r.last - r.first + 1;
  std::vector<StackSpan> taken;
  taken.reserve(most);
  {
    lock_guard lock(p.mu);
    std::size_t kept = 0;
    for (const StackSpan& s : p.cold) {
      if (taken.size() < most && eligible(s) && run_of(runs, key_of(s)) != nullptr) {
        taken.push_back(s);
      } else {
        p.cold[kept++] = s;
      }
    }
    p.cold.resize(kept);
  }
  std::sort(taken.begin(), taken.end(),
            [](const StackSpan& a, const StackSpan& b) { return key_of(a) < key_of(b); });
  std::size_t released = 0;
  for (std::size_t i = 0, j; i < taken.size(); i = j) {
    const SlotRun* run = run_of(runs, key_of(taken[i]));
    for (j = i; j < taken.size() && run_of(runs, key_of(taken[j])) == run; ++j) {
    }
    // A run that lost a slot meanwhile is left as it was.
    if (j - i != std::size_t{run->last - run->first + 1} || !release_run(*run)) continue;
    for (std::size_t k = i; k < j; ++k) {
      StackSpan& s = taken[k];
      s.base = s.top - p.slot;
      s.guard = 0;
      set_slot_state(s, SlotState::kCold);
    }
    released += j - i;
  }
  // Back at the front; the list's size is what it was, so it does not grow.
  lock_guard lock(p.mu);
  p.cold.insert(p.cold.begin(), taken.begin(), taken.end());
  return released;
}

}  // namespace

std::size_t release_cold_regions() noexcept {
  std::size_t slots = 0;
  try {
    for_each_pool([&](ClassPool& p) { slots += release_pool_regions(p); });
  } catch (const std::bad_alloc&) {
    // No memory for the pass: the page tables stay until the next one.
  }
  return slots;
}

}  // namespace goro::detail::stack_internal
