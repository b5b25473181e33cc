// Tests of the stack layer (src/stack): reservations, guards, caches and
// pools, shrinking, accounting and signal stacks. Residency is checked with
// mincore, mappings with /proc/self/maps, faults in death-test children.
#include "stack/stack.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace gd = goro::detail;

namespace {

constexpr std::size_t kPage = gd::kPageSize;
constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;
constexpr std::size_t kGiB = 1024 * kMiB;
constexpr std::int64_t kMs = 1'000'000;

std::size_t resident_pages(const std::byte* lo, const std::byte* hi) {
  std::vector<unsigned char> vec((hi - lo) / kPage);
  if (vec.empty()) return 0;
  EXPECT_EQ(::mincore(const_cast<std::byte*>(lo), hi - lo, vec.data()), 0) << std::strerror(errno);
  std::size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}
std::size_t resident_pages(const gd::StackSpan& s) {
  return resident_pages(s.base, s.top);
}

// Writes one byte in each of the `bytes / kPage` pages below `top`, from the
// top down, as a growing stack would.
void touch_down(std::byte* top, std::size_t bytes) {
  for (std::size_t off = kPage; off <= bytes; off += kPage) *reinterpret_cast<volatile char*>(top - off) = 1;
}

// Mappings (lines of /proc/self/maps) that hold at least one of the stacks.
int count_maps_holding(std::vector<gd::StackSpan> spans) {
  std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) { return a.base < b.base; });
  std::ifstream f("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(f, line);) {
    std::uintptr_t lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) != 2) continue;
    auto it = std::lower_bound(spans.begin(), spans.end(), lo, [](const gd::StackSpan& s, std::uintptr_t a) {
      return reinterpret_cast<std::uintptr_t>(s.base) < a;
    });
    n += it != spans.end() && reinterpret_cast<std::uintptr_t>(it->base) < hi;
  }
  return n;
}

int count_maps() {
  std::ifstream f("/proc/self/maps");
  int n = 0;
  for (std::string line; std::getline(f, line);) ++n;
  return n;
}

long status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key) + 1));
  }
  return -1;
}

void touch_byte(const std::byte* p) {
  *reinterpret_cast<volatile const char*>(p);
}

// In a death-test child: the default SIGSEGV action, whatever a sanitizer
// installed, so that a guard hit shows as "killed by SIGSEGV".
void fault_at(const std::byte* p) {
  ::signal(SIGSEGV, SIG_DFL);
  ::signal(SIGBUS, SIG_DFL);
  touch_byte(p);
  std::_Exit(0);  // not reached if p is guarded
}

bool same_span(const gd::StackSpan& a, const gd::StackSpan& b) {
  return a.base == b.base && a.top == b.top && a.guard == b.guard;
}

void use_threadsafe_death_tests() {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
}

}  // namespace

// ---- limits and classes ----------------------------------------------------------

TEST(StackLimit, NormalizeRoundsAndClamps) {
  EXPECT_EQ(gd::normalize_stack_limit(0), gd::kMinStackLimit);
  EXPECT_EQ(gd::normalize_stack_limit(1), gd::kMinStackLimit);
  EXPECT_EQ(gd::normalize_stack_limit(16 * kKiB + 1), 20 * kKiB);
  EXPECT_EQ(gd::normalize_stack_limit(gd::kDefaultStackLimit), gd::kDefaultStackLimit);
  EXPECT_EQ(gd::normalize_stack_limit(SIZE_MAX), gd::kMaxStackLimit);
  EXPECT_EQ(gd::normalize_stack_limit(gd::kMaxStackLimit + 1), gd::kMaxStackLimit);
}

TEST(StackAcquire, SpanHasTheLimitAndTheRestOfTheSlotAsGuard) {
  struct Case {
    std::size_t limit, slot;
  } cases[] = {
      {16 * kKiB, 64 * kKiB},
      {48 * kKiB, 64 * kKiB},
      {52 * kKiB, 96 * kKiB},
      {gd::kDefaultStackLimit, 224 * kKiB},
      {1 * kMiB, 1 * kMiB + 32 * kKiB},
      {2 * kMiB - 16 * kKiB, 2 * kMiB},
      {2 * kMiB, 4 * kMiB},
      {5 * kMiB, 6 * kMiB},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.limit);
    gd::StackSpan s = gd::stack_acquire(nullptr, c.limit);
    ASSERT_TRUE(s);
    EXPECT_EQ(s.limit(), c.limit);
    EXPECT_EQ(s.guard, c.slot - c.limit);
    EXPECT_GE(s.guard, gd::kMinGuard);
    auto lo = reinterpret_cast<std::uintptr_t>(s.base - s.guard);
    EXPECT_EQ(lo % (c.slot < 2 * kMiB ? 32 * kKiB : 2 * kMiB), 0u)
        << "slots are aligned to 32 KiB (2 MiB above)";
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(s.top) % kPage, 0u);
    EXPECT_TRUE(s.contains(s.base) && s.contains(s.top - 1) && !s.contains(s.top));
    EXPECT_TRUE(s.in_guard(s.base - 1) && s.in_guard(s.base - s.guard) && !s.in_guard(s.base));
    gd::stack_release(nullptr, s);
  }
}

TEST(StackAcquire, WholeUsableRangeIsWritable) {
  for (std::size_t limit : {gd::kMinStackLimit, gd::kDefaultStackLimit, 3 * kMiB}) {
    gd::StackSpan s = gd::stack_acquire(nullptr, limit);
    std::memset(s.base, 0xab, s.limit());
    EXPECT_EQ(s.base[0], std::byte{0xab});
    EXPECT_EQ(s.top[-1], std::byte{0xab});
    EXPECT_EQ(resident_pages(s), s.limit() / kPage);
    gd::stack_release(nullptr, s);
  }
}

TEST(StackAcquire, OneGiBLimitWorks) {
  gd::StackSpan s = gd::stack_acquire(nullptr, kGiB);
  ASSERT_TRUE(s);
  EXPECT_EQ(s.limit(), kGiB);
  EXPECT_GE(s.guard, gd::kMinGuard);
  EXPECT_LE(resident_pages(s), 2u) << "fresh, or pooled with its top 2 pages";
  s.base[0] = std::byte{1};  // the deepest usable byte
  s.top[-1] = std::byte{2};
  EXPECT_LE(resident_pages(s), 3u) << "a 1 GiB stack costs what it touches";
  EXPECT_EQ(resident_pages(s.base, s.base + kPage), 1u);
  // Trimming scans down from the top only as far as the stack was used
  // (stacks fill contiguously), so give the lone deep page back by hand.
  ASSERT_EQ(::madvise(s.base, kPage, MADV_DONTNEED), 0);
  touch_down(s.top, 3 * kMiB);
  gd::stack_release(nullptr, s);
  EXPECT_EQ(resident_pages(s.base, s.top - 2 * kPage), 0u) << "release trims a big stack at once";
}

// ---- guards ---------------------------------------------------------------------

TEST(StackGuardDeathTest, TouchingTheGuardFaults) {
  use_threadsafe_death_tests();
  gd::StackSpan s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  EXPECT_EXIT(fault_at(s.base - 1), testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(fault_at(s.base - s.guard), testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(fault_at(s.base), testing::ExitedWithCode(0), "") << "the lowest usable byte is not guard";
  gd::StackSpan big = gd::stack_acquire(nullptr, kGiB);
  EXPECT_EXIT(fault_at(big.base - 1), testing::KilledBySignal(SIGSEGV), "");
  gd::stack_release(nullptr, big);
  gd::stack_release(nullptr, s);
}

TEST(StackGuardDeathTest, GuardSurvivesDontneedOfTheStack) {
  use_threadsafe_death_tests();
  gd::StackSpan s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  std::memset(s.base, 1, s.limit());
  ASSERT_EQ(::madvise(s.base, s.limit(), MADV_DONTNEED), 0);
  // Also over the guard itself: markers and PROT_NONE both survive it.
  ASSERT_EQ(::madvise(s.base - s.guard, s.limit() + s.guard, MADV_DONTNEED), 0);
  EXPECT_EQ(resident_pages(s), 0u);
  EXPECT_EXIT(fault_at(s.base - 1), testing::KilledBySignal(SIGSEGV), "");
  gd::stack_release(nullptr, s);
}

TEST(StackGuardDeathTest, GuardSurvivesPoolingAndShrinking) {
  use_threadsafe_death_tests();
  gd::StackSpan s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  touch_down(s.top, s.limit());
  gd::ShrinkState st;
  EXPECT_GT(gd::stack_shrink_parked(s, s.top - 100, st, 1000 * kMs), 0u);
  EXPECT_EXIT(fault_at(s.base - 1), testing::KilledBySignal(SIGSEGV), "");
  gd::stack_release(nullptr, s);  // trimmed into the pool
  gd::StackSpan again = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  EXPECT_TRUE(same_span(again, s)) << "the pool hands out its most recent stack";
  EXPECT_EXIT(fault_at(again.base - 1), testing::KilledBySignal(SIGSEGV), "");
  gd::stack_release(nullptr, again);
}

// Neighbouring stacks that go cold are given back by one madvise range across
// their guards (scavenge.cpp, release_stacks): the memory goes, the guards
// stay, with either kind of guard.
void release_a_cold_run_then_touch_a_guard(std::size_t limit, bool mprotect_guards) {
  constexpr int kStacks = 4500;
  gd::stack_force_mprotect_guards(mprotect_guards);
  std::vector<gd::StackSpan> v;
  for (int i = 0; i < kStacks; ++i) {
    v.push_back(gd::stack_acquire(nullptr, limit));
    touch_down(v.back().top, 16 * kKiB);
  }
  for (const auto& s : v) gd::stack_release(nullptr, s);
  gd::stack_trim_pools();
  std::size_t left = 0;
  for (const auto& s : v) left += resident_pages(s);
  if (left != 0) std::_Exit(20);  // trimming gives every page back
  std::vector<gd::StackSpan> again;
  for (int i = 0; i < kStacks; ++i) again.push_back(gd::stack_acquire(nullptr, limit));
  for (const auto& s : again) std::memset(s.base, 1, s.limit());  // usable, no guard moved in
  fault_at(again[kStacks / 2].base - 1);
}

TEST(StackGuardDeathTest, ColdRunsKeepTheirGuards) {
  use_threadsafe_death_tests();
  // Classes no other test uses, so the slots are carved side by side.
  EXPECT_EXIT(release_a_cold_run_then_touch_a_guard(72 * kKiB, false), testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(release_a_cold_run_then_touch_a_guard(136 * kKiB, true), testing::KilledBySignal(SIGSEGV), "");
}

TEST(StackGuardDeathTest, GuardIsRefittedForAnotherLimitOfTheSameClass) {
  use_threadsafe_death_tests();
  // 100 KiB and 96 KiB limits both take 128 KiB slots (a class no other test uses).
  gd::StackSpan a = gd::stack_acquire(nullptr, 100 * kKiB);
  touch_down(a.top, a.limit());
  gd::stack_release(nullptr, a);
  gd::StackSpan b = gd::stack_acquire(nullptr, 96 * kKiB);
  EXPECT_EQ(b.top, a.top) << "same slot, reused";
  EXPECT_EQ(b.limit(), 96 * kKiB);
  EXPECT_EQ(b.guard, 32 * kKiB);
  std::memset(b.base, 2, b.limit());
  EXPECT_EXIT(fault_at(b.base - 1), testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(fault_at(a.base), testing::KilledBySignal(SIGSEGV), "") << "a's old range is guard now";
  gd::stack_release(nullptr, b);
  gd::StackSpan c = gd::stack_acquire(nullptr, 100 * kKiB);
  EXPECT_EQ(c.top, a.top);
  std::memset(c.base, 3, c.limit());  // the guard shrank back
  EXPECT_EXIT(fault_at(c.base - 1), testing::KilledBySignal(SIGSEGV), "");
  gd::stack_release(nullptr, c);
}

// Past its first 128 arenas (8 GiB), a class gets 1 GiB arenas aligned to
// 1 GiB, with the guards of all their slots installed when mapped (see
// kBigArenaBytes in stack/arena.hpp).
TEST(StackGuardDeathTest, AtScaleArenasAreOneGiBAndGuardedWhole) {
  if (!gd::stack_guards_use_madvise()) GTEST_SKIP() << "no MADV_GUARD_INSTALL: slots are guarded one by one";
  use_threadsafe_death_tests();
  // 1.09 MiB slots, a class no other test uses: 58 to a 64 MiB arena.
  // (Each stack's top page is faulted in ahead: 29 MiB for the 7,424.)
  constexpr std::size_t kLimit = 1100 * kKiB;
  std::vector<gd::StackSpan> v;
  int arenas = 0;  // slots of one arena are carved side by side, upwards
  while (arenas <= 128) {
    v.push_back(gd::stack_acquire(nullptr, kLimit));
    if (v.size() == 1 || v.back().base - v.back().guard != v[v.size() - 2].top) ++arenas;
  }
  const gd::StackSpan& first = v.back();
  const std::byte* big_base = first.base - first.guard;
  const auto slot = static_cast<std::size_t>(first.top - big_base);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(big_base) % kGiB, 0u) << "the 129th arena is aligned to 1 GiB";
  EXPECT_EQ(v.size() - 1, 128 * (64 * kMiB / slot)) << "the first 128 arenas are 64 MiB";
  // The arena's last slot was never handed out, yet its guard is in place,
  // and its usable range is not guard.
  const std::byte* last = big_base + (kGiB / slot - 1) * slot;
  EXPECT_EXIT(fault_at(last), testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(fault_at(last + slot - kLimit - 1), testing::KilledBySignal(SIGSEGV), "");
  EXPECT_EXIT(fault_at(last + slot - kLimit), testing::ExitedWithCode(0), "");
  for (const auto& s : v) gd::stack_release(nullptr, s);
}

TEST(StackFindByGuard, FindsTheStackWhoseGuardHoldsTheAddress) {
  gd::StackSpan s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  gd::StackSpan t = gd::stack_acquire(nullptr, 8 * kMiB);
  gd::StackSpan found;
  ASSERT_TRUE(gd::stack_find_by_guard(s.base - 1, &found));
  EXPECT_TRUE(same_span(found, s));
  EXPECT_EQ(found.size_class, s.size_class);
  ASSERT_TRUE(gd::stack_find_by_guard(s.base - s.guard, &found));
  EXPECT_TRUE(same_span(found, s));
  ASSERT_TRUE(gd::stack_find_by_guard(t.base - 4096, &found));
  EXPECT_TRUE(same_span(found, t));
  EXPECT_FALSE(gd::stack_find_by_guard(s.base, &found));
  EXPECT_FALSE(gd::stack_find_by_guard(s.top - 1, &found));
  int local = 0;
  EXPECT_FALSE(gd::stack_find_by_guard(&local, &found));
  EXPECT_FALSE(gd::stack_find_by_guard(nullptr, &found));
  gd::stack_release(nullptr, t);
  gd::stack_release(nullptr, s);
}

// ---- caches and pools -------------------------------------------------------------

TEST(StackCacheTest, ReleaseThenAcquireReusesTheSameStack) {
  gd::stack_trim_pools();  // earlier tests leave untrimmed stacks in the pool
  gd::StackCache cache;
  gd::StackSpan a = gd::stack_acquire(&cache, gd::kDefaultStackLimit);
  touch_down(a.top, 64 * kKiB);
  gd::stack_release(&cache, a);
  EXPECT_EQ(resident_pages(a), 16u) << "a cached stack is not trimmed (no syscall)";
  gd::StackSpan b = gd::stack_acquire(&cache, gd::kDefaultStackLimit);
  EXPECT_TRUE(same_span(a, b));
  // A different limit gets its own bin and never this stack.
  gd::StackSpan c = gd::stack_acquire(&cache, 200 * kKiB);
  EXPECT_NE(c.top, b.top);
  gd::stack_release(&cache, c);
  gd::stack_release(&cache, b);
}

TEST(StackCacheTest, FullBinSpillsItsOldestHalfToThePoolUntrimmed) {
  gd::stack_trim_pools();
  gd::StackCache cache;
  std::vector<gd::StackSpan> v;
  for (int i = 0; i < 33; ++i) {
    v.push_back(gd::stack_acquire(nullptr, gd::kDefaultStackLimit));
    touch_down(v.back().top, 64 * kKiB);
  }
  const goro::stack_stats before = gd::stack_read_stats();
  for (const auto& s : v) gd::stack_release(&cache, s);  // the 33rd finds the bin full
  const goro::stack_stats after = gd::stack_read_stats();
  EXPECT_EQ(after.live_stacks + 33, before.live_stacks);
  EXPECT_EQ(after.pooled_stacks, before.pooled_stacks + 33);
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(resident_pages(v[i]), 16u) << i << " went to the pool, not trimmed (no syscall)";
  gd::stack_trim_pools();  // what free_os_memory does
  for (int i = 0; i < 16; ++i) EXPECT_EQ(resident_pages(v[i]), 0u) << i << " went to the pool, then trimmed";
  for (int i = 16; i < 33; ++i) EXPECT_EQ(resident_pages(v[i]), 16u) << i << " stayed in the cache";
  cache.flush();
  gd::stack_trim_pools();
  for (const auto& s : v) EXPECT_EQ(resident_pages(s), 0u);
  EXPECT_EQ(gd::stack_read_stats().pooled_stacks, before.pooled_stacks) << "cold slots hold no stack";
}

TEST(StackCacheTest, MissRefillsHalfABinFromThePool) {
  std::vector<gd::StackSpan> v;
  for (int i = 0; i < 40; ++i) v.push_back(gd::stack_acquire(nullptr, 180 * kKiB));
  for (const auto& s : v) gd::stack_release(nullptr, s);
  gd::StackCache cache;
  gd::StackSpan s = gd::stack_acquire(&cache, 180 * kKiB);
  EXPECT_EQ(s.limit(), 180 * kKiB);
  // 15 more are in the cache now: releasing them all later must not lose any.
  std::vector<gd::StackSpan> more;
  for (int i = 0; i < 15; ++i) more.push_back(gd::stack_acquire(&cache, 180 * kKiB));
  std::sort(more.begin(), more.end(), [](auto& a, auto& b) { return a.base < b.base; });
  EXPECT_EQ(std::adjacent_find(more.begin(), more.end(), [](auto& a, auto& b) { return a.base == b.base; }),
            more.end());
  for (const auto& m : more) gd::stack_release(&cache, m);
  gd::stack_release(&cache, s);
}

TEST(StackPool, ReleaseKeepsStacksResidentAndReusesTheHottestFirst) {
  gd::stack_trim_pools();
  constexpr std::size_t kStacks = 300;  // far more than a cache bin holds
  constexpr std::size_t kTouched = 16 * kKiB;
  std::vector<gd::StackSpan> v;
  for (std::size_t i = 0; i < kStacks; ++i) {
    v.push_back(gd::stack_acquire(nullptr, gd::kDefaultStackLimit));
    touch_down(v.back().top, kTouched);
  }
  const goro::stack_stats before = gd::stack_read_stats();
  for (const auto& s : v) gd::stack_release(nullptr, s);
  const goro::stack_stats after = gd::stack_read_stats();
  std::size_t left = 0;
  for (const auto& s : v) left += resident_pages(s);
  EXPECT_EQ(left, kStacks * kTouched / kPage) << "the exit path gives nothing back";
  EXPECT_EQ(after.scavenged_bytes, before.scavenged_bytes);
  EXPECT_EQ(after.stack_sys, before.stack_sys);
  for (std::size_t i = kStacks; i-- > kStacks - 10;) {
    gd::StackSpan s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
    EXPECT_TRUE(same_span(s, v[i])) << "the most recently released stack comes back first";
  }
  for (std::size_t i = kStacks - 10; i < kStacks; ++i) gd::stack_release(nullptr, v[i]);
}

TEST(StackPool, TrimGivesEverythingBackAndColdSlotsAreReused) {
  constexpr std::size_t kStacks = 4400;
  constexpr std::size_t kTouched = 16 * kKiB;
  std::vector<gd::StackSpan> v;
  v.reserve(kStacks);
  for (std::size_t i = 0; i < kStacks; ++i) {
    v.push_back(gd::stack_acquire(nullptr, gd::kDefaultStackLimit));
    touch_down(v.back().top, kTouched);
  }
  const goro::stack_stats before = gd::stack_read_stats();
  for (const auto& s : v) gd::stack_release(nullptr, s);
  gd::stack_trim_pools();
  const goro::stack_stats after = gd::stack_read_stats();
  std::size_t left = 0;
  for (const auto& s : v) left += resident_pages(s);
  EXPECT_EQ(left, 0u);
  EXPECT_GE(before.stack_sys - after.stack_sys, kStacks * kTouched);
  EXPECT_GE(after.scavenged_bytes - before.scavenged_bytes, kStacks * kTouched);
  EXPECT_GT(after.scavenger_cpu, before.scavenger_cpu);
  EXPECT_EQ(after.shrinks, before.shrinks) << "scavenging is not counted as shrinking";
  EXPECT_EQ(after.growth_pages, before.growth_pages) << "giving pages back does not uncount their commit";
  // Every slot comes back from the cold list; no new arena.
  for (auto& s : v) s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  EXPECT_EQ(gd::stack_read_stats().stack_reserved, after.stack_reserved);
  for (const auto& s : v) gd::stack_release(nullptr, s);
}

// Whether this kernel frees a page-table page that MADV_DONTNEED leaves
// empty (Linux's CONFIG_PT_RECLAIM): one page touched in a 2 MiB region of
// its own, then given back.
bool kernel_reclaims_page_tables() {
  void* raw = ::mmap(nullptr, 4 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return false;
  auto* region = reinterpret_cast<std::byte*>((reinterpret_cast<std::uintptr_t>(raw) + 2 * kMiB - 1) &
                                              ~std::uintptr_t{2 * kMiB - 1});
  region[0] = std::byte{1};
  const long before = status_kib("VmPTE:");
  ::madvise(region, 2 * kMiB, MADV_DONTNEED);
  const long after = status_kib("VmPTE:");
  ::munmap(raw, 4 * kMiB);
  return after < before;
}

// Slots that all go cold give back their regions' page tables (their guard
// markers are removed for that), and come back with a guard refitted.
void burst_trim_reacquire(std::vector<gd::StackSpan>& again, long* pte_kept, long* pte_burst) {
  constexpr std::size_t kStacks = 2000;
  constexpr std::size_t kLimit = 300 * kKiB;  // a class no other test uses
  std::vector<gd::StackSpan> v(kStacks);
  const long pte0 = status_kib("VmPTE:");
  for (gd::StackSpan& s : v) {
    s = gd::stack_acquire(nullptr, kLimit);
    touch_down(s.top, 8 * kKiB);
  }
  *pte_burst = status_kib("VmPTE:") - pte0;
  for (const auto& s : v) gd::stack_release(nullptr, s);
  gd::stack_trim_pools();  // what free_os_memory does
  *pte_kept = status_kib("VmPTE:") - pte0;
  const std::size_t reserved = gd::stack_read_stats().stack_reserved;
  again.resize(kStacks);
  for (gd::StackSpan& s : again) {
    s = gd::stack_acquire(nullptr, kLimit);
    std::memset(s.base, 1, s.limit());  // usable to its lowest byte
  }
  if (gd::stack_read_stats().stack_reserved != reserved) std::_Exit(21);  // all came from the cold list
}

TEST(StackPoolDeathTest, FullyColdRegionsGiveBackTheirPageTablesAndGuardsAreRefitted) {
  if (!gd::stack_guards_use_madvise()) GTEST_SKIP() << "no MADV_GUARD_INSTALL: guards are mappings";
  use_threadsafe_death_tests();
  std::vector<gd::StackSpan> again;
  long pte_kept = 0, pte_burst = 0;
  burst_trim_reacquire(again, &pte_kept, &pte_burst);
  RecordProperty("page_tables_of_the_burst_kib", std::to_string(pte_burst));
  RecordProperty("page_tables_kept_kib", std::to_string(pte_kept));
#if !defined(GORO_SANITIZER)  // (their shadow memory has page tables of its own)
  if (kernel_reclaims_page_tables()) {
    EXPECT_GT(pte_burst, 200) << "2,000 slots of 320 KiB need over 300 page-table pages";
    EXPECT_LT(pte_kept, pte_burst / 4) << "page tables of the cold regions were kept";
  }
#else
  (void)pte_kept, (void)pte_burst;
#endif
  for (std::size_t i : {std::size_t{0}, again.size() / 2, again.size() - 1}) {
    EXPECT_GT(again[i].guard, 0u);
    EXPECT_EXIT(fault_at(again[i].base - 1), testing::KilledBySignal(SIGSEGV), "") << i;
  }
  for (const auto& s : again) gd::stack_release(nullptr, s);
}

TEST(StackScavenger, BringsPooledStacksDownToTheRetainedTargetInTheBackground) {
  gd::stack_trim_pools();
  constexpr std::size_t kTarget = 1 * kMiB;
  const std::size_t old_target = goro::set_stack_retain_target(kTarget);
  constexpr std::size_t kStacks = 3000;  // 3000 x 2 pages assumed: 23 MiB pooled
  constexpr std::size_t kTouched = 8 * kKiB;
  std::vector<gd::StackSpan> v;
  for (std::size_t i = 0; i < kStacks; ++i) {
    v.push_back(gd::stack_acquire(nullptr, gd::kDefaultStackLimit));
    touch_down(v.back().top, kTouched);
  }
  const goro::stack_stats before = gd::stack_read_stats();
  for (const auto& s : v) gd::stack_release(nullptr, s);
  std::size_t left = kStacks * kTouched / kPage;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (left * kPage > kTarget && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    left = 0;
    for (const auto& s : v) left += resident_pages(s);
  }
  const goro::stack_stats after = gd::stack_read_stats();
  goro::set_stack_retain_target(old_target);
  EXPECT_LE(left * kPage, kTarget) << "the scavenger did not bring the pools down to the target";
  EXPECT_GT(left, 0u) << "the scavenger gave back more than the excess";
  EXPECT_GE(after.scavenged_bytes - before.scavenged_bytes, kStacks * kTouched - kTarget);
  EXPECT_GT(after.scavenger_cpu, before.scavenger_cpu);
  EXPECT_EQ(after.retain_target, kTarget);
  // The oldest went first: the most recently released stacks are the ones left.
  EXPECT_EQ(resident_pages(v.front()), 0u);
  EXPECT_EQ(resident_pages(v.back()), kTouched / kPage);
}

TEST(StackScavenger, RetainTargetComesFromTheEnvironment) {
  use_threadsafe_death_tests();
  ::setenv("GORO_STACK_RETAIN", "512MiB", 1);
  EXPECT_EXIT(std::_Exit(goro::stack_retain_target() == 512 * kMiB ? 0 : 1), testing::ExitedWithCode(0), "");
  ::setenv("GORO_STACK_RETAIN", "3GiB", 1);
  EXPECT_EXIT(std::_Exit(goro::stack_retain_target() == 3 * kGiB ? 0 : 1), testing::ExitedWithCode(0), "");
  ::setenv("GORO_STACK_RETAIN", "12345", 1);
  EXPECT_EXIT(std::_Exit(goro::stack_retain_target() == 12345 ? 0 : 1), testing::ExitedWithCode(0), "");
  ::setenv("GORO_STACK_RETAIN", "lots", 1);
  EXPECT_EXIT(std::_Exit(goro::stack_retain_target() == 64 * kMiB ? 0 : 1), testing::ExitedWithCode(0),
              "malformed GORO_STACK_RETAIN=lots");
  ::unsetenv("GORO_STACK_RETAIN");
}

// ---- shrinking ----------------------------------------------------------------

TEST(StackShrink, DeepRecursionLeavesLessThan16KiBAfterOneShrink) {
  gd::StackSpan s = gd::stack_acquire(nullptr, kGiB);
  touch_down(s.top, 64 * kMiB);
  EXPECT_EQ(resident_pages(s), 64 * kMiB / kPage);
  gd::ShrinkState st;
  std::size_t got = gd::stack_shrink_parked(s, s.top - 512, st, 5000 * kMs);
  EXPECT_GE(got, 64 * kMiB - 16 * kKiB);
  EXPECT_LT(resident_pages(s) * kPage, 16 * kKiB);
  EXPECT_EQ(st.last_shrink_ns, 5000 * kMs);
  gd::stack_release(nullptr, s);
}

TEST(StackShrink, KeepsTheMarginBelowSpAndTheTopPage) {
  gd::StackSpan s = gd::stack_acquire(nullptr, 2 * kMiB);
  touch_down(s.top, s.limit());
  std::byte* sp = s.top - 64 * kKiB - 100;
  gd::ShrinkState st;
  EXPECT_GT(gd::stack_shrink_parked(s, sp, st, 1000 * kMs), 0u);
  std::byte* kept =
      reinterpret_cast<std::byte*>(reinterpret_cast<std::uintptr_t>(sp - 8 * kKiB) & ~(kPage - 1));
  EXPECT_EQ(resident_pages(kept, s.top), static_cast<std::size_t>(s.top - kept) / kPage);
  EXPECT_EQ(resident_pages(s.base, kept), 0u);
  // sp at the very top: the top page (the goroutine record) still stays.
  touch_down(s.top, s.limit());
  gd::ShrinkState st2;
  EXPECT_GT(gd::stack_shrink_parked(s, s.top, st2, 1000 * kMs), 0u);
  EXPECT_GE(resident_pages(s.top - gd::kKeepTopBytes, s.top), gd::kKeepTopBytes / kPage);
  gd::stack_release(nullptr, s);
}

TEST(StackShrink, LeavesSmallExcessAlone) {
  gd::stack_trim_pools();
  gd::StackSpan s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  std::byte* sp = s.top - 16 * kKiB;
  touch_down(s.top, 16 * kKiB + 8 * kKiB + 16 * kKiB);  // exactly 16 KiB below sp - margin
  gd::ShrinkState st;
  EXPECT_EQ(gd::stack_shrink_parked(s, sp, st, 1000 * kMs), 0u);
  EXPECT_EQ(st.last_shrink_ns, 0);
  EXPECT_EQ(resident_pages(s), 10u);
  gd::stack_release(nullptr, s);
}

TEST(StackShrink, HysteresisSkipsRecentlyShrunkGoroutines) {
  gd::StackSpan s = gd::stack_acquire(nullptr, 4 * kMiB);
  std::byte* sp = s.top - 256;
  gd::ShrinkState st;
  const std::int64_t t0 = 7000 * kMs;
  touch_down(s.top, kMiB);
  EXPECT_GT(gd::stack_shrink_parked(s, sp, st, t0), 0u);
  touch_down(s.top, kMiB);  // it recursed again
  EXPECT_EQ(gd::stack_shrink_parked(s, sp, st, t0 + 5 * kMs), 0u);
  EXPECT_EQ(gd::stack_shrink_parked(s, sp, st, t0 + 9 * kMs), 0u);
  EXPECT_EQ(resident_pages(s), kMiB / kPage) << "skipped shrinks touch nothing";
  EXPECT_GT(gd::stack_shrink_parked(s, sp, st, t0 + 11 * kMs), 0u) << "a later park retries";
  // A second shrink within a second doubled the window to 20 ms.
  touch_down(s.top, kMiB);
  EXPECT_EQ(gd::stack_shrink_parked(s, sp, st, t0 + 11 * kMs + 15 * kMs), 0u);
  EXPECT_GT(gd::stack_shrink_parked(s, sp, st, t0 + 11 * kMs + 21 * kMs), 0u);
  // Quiet for over a second: back to 10 ms.
  touch_down(s.top, kMiB);
  const std::int64_t t1 = t0 + 3000 * kMs;
  EXPECT_GT(gd::stack_shrink_parked(s, sp, st, t1), 0u);
  EXPECT_EQ(st.recent_shrinks, 0u);
  touch_down(s.top, kMiB);
  EXPECT_GT(gd::stack_shrink_parked(s, sp, st, t1 + 11 * kMs), 0u);
  gd::stack_release(nullptr, s);
}

TEST(StackShrink, LooksAtMostOncePer10ms) {
  gd::stack_trim_pools();
  gd::StackSpan s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
  std::byte* sp = s.top - 256;
  gd::ShrinkState st;
  const std::int64_t t0 = 9000 * kMs;
  EXPECT_EQ(gd::stack_shrink_parked(s, sp, st, t0), 0u) << "nothing to give back";
  EXPECT_EQ(st.last_check_ns, t0);
  touch_down(s.top, 128 * kKiB);
  EXPECT_EQ(gd::stack_shrink_parked(s, sp, st, t0 + 3 * kMs), 0u) << "looked 3 ms ago";
  EXPECT_GT(gd::stack_shrink_parked(s, sp, st, t0 + 10 * kMs), 0u);
  gd::stack_release(nullptr, s);
}

// ---- commit -----------------------------------------------------------------------

TEST(StackCommit, CommitsTheTopAndKeepsItsContents) {
  gd::StackSpan s = gd::stack_acquire(nullptr, 512 * kKiB);
  ASSERT_EQ(resident_pages(s.base, s.top - 2 * kPage), 0u);
  s.top[-1] = std::byte{42};
  gd::stack_commit(s, 100 * kKiB + 1);
  EXPECT_EQ(resident_pages(s.top - 104 * kKiB, s.top), 26u);
  EXPECT_EQ(resident_pages(s.base, s.top - 104 * kKiB), 0u);
  EXPECT_EQ(s.top[-1], std::byte{42});
  gd::stack_commit(s, 1 * kGiB);  // clamped to the limit
  EXPECT_EQ(resident_pages(s), s.limit() / kPage);
  gd::stack_release(nullptr, s);
}

// ---- statistics ---------------------------------------------------------------

TEST(StackStats, InuseAndSysGrowByThePagesTouched) {
  const goro::stack_stats s0 = gd::stack_read_stats();
  gd::StackSpan s = gd::stack_acquire(nullptr, 200 * kKiB);
  const std::size_t r0 = resident_pages(s);
  const goro::stack_stats s1 = gd::stack_read_stats();
  EXPECT_EQ(s1.live_stacks, s0.live_stacks + 1);
  EXPECT_NEAR(double(s1.stack_inuse), double(s0.stack_inuse + r0 * kPage), double(kPage));
  touch_down(s.top - 3 * kPage, 37 * kPage);
  const std::size_t r1 = resident_pages(s);
  EXPECT_EQ(r1 - r0, 37u);
  const goro::stack_stats s2 = gd::stack_read_stats();
  EXPECT_NEAR(double(s2.stack_inuse - s1.stack_inuse), double(37 * kPage), double(kPage));
  EXPECT_NEAR(double(s2.stack_sys - s1.stack_sys), double(37 * kPage), double(kPage));
  EXPECT_GE(s2.stack_sys, s2.stack_inuse);
  EXPECT_GE(s2.stack_reserved, s2.stack_sys + 256 * kKiB);
  gd::stack_release(nullptr, s);
  const goro::stack_stats s3 = gd::stack_read_stats();
  EXPECT_EQ(s3.live_stacks, s0.live_stacks);
  EXPECT_LE(s3.stack_inuse + 37 * kPage, s2.stack_inuse);
}

TEST(StackStats, GrowthPagesCountsEveryCommitOnce) {
  gd::StackSpan s = gd::stack_acquire(nullptr, 4 * kMiB);
  const goro::stack_stats g0 = gd::stack_read_stats();
  touch_down(s.top, kMiB);
  const goro::stack_stats g1 = gd::stack_read_stats();
  EXPECT_NEAR(double(g1.growth_pages - g0.growth_pages),
              double(kMiB / kPage - resident_pages(s.top - 2 * kPage, s.top)), 2.0);
  gd::ShrinkState st;
  std::size_t got = gd::stack_shrink_parked(s, s.top - 256, st, 1000 * kMs);
  ASSERT_GT(got, 0u);
  const goro::stack_stats g2 = gd::stack_read_stats();
  EXPECT_EQ(g2.growth_pages, g1.growth_pages) << "giving pages back does not uncount their commit";
  EXPECT_EQ(g2.shrinks, g1.shrinks + 1);
  EXPECT_EQ(g2.shrunk_bytes, g1.shrunk_bytes + got);
  touch_down(s.top, kMiB);  // faults them in again: counted again
  const goro::stack_stats g3 = gd::stack_read_stats();
  EXPECT_EQ(g3.growth_pages, g2.growth_pages + got / kPage);
  gd::stack_release(nullptr, s);
}

TEST(StackStats, ForEachLiveSeesExactlyTheLiveStacks) {
  gd::StackCache cache;
  gd::StackSpan a = gd::stack_acquire(&cache, gd::kDefaultStackLimit);
  gd::StackSpan b = gd::stack_acquire(nullptr, 3 * kMiB);
  struct Seen {
    const gd::StackSpan* want[2];
    int hits[2] = {0, 0};
    std::size_t total = 0;
  } seen{{&a, &b}};
  auto visit = [](const gd::StackSpan& s, void* ctx) {
    auto* v = static_cast<Seen*>(ctx);
    ++v->total;
    for (int i = 0; i < 2; ++i)
      v->hits[i] += same_span(s, *v->want[i]) && s.size_class == v->want[i]->size_class;
  };
  gd::stack_for_each_live(visit, &seen);
  EXPECT_EQ(seen.hits[0], 1);
  EXPECT_EQ(seen.hits[1], 1);
  EXPECT_EQ(seen.total, gd::stack_read_stats().live_stacks);
  gd::stack_release(&cache, a);
  gd::stack_release(nullptr, b);
  seen = Seen{{&a, &b}};
  gd::stack_for_each_live(visit, &seen);
  EXPECT_EQ(seen.hits[0] + seen.hits[1], 0);
}

TEST(StackStats, ConcurrentAcquireReleaseAndReaders) {
  std::atomic<bool> stop{false};
  auto worker = [&](unsigned seed) {
    gd::StackCache cache;
    std::mt19937 rng(seed);
    std::vector<gd::StackSpan> held;
    for (int round = 0; round < 300; ++round) {
      std::size_t n = rng() % 48;
      for (std::size_t i = 0; i < n; ++i) {
        std::size_t limit = (rng() % 4 == 0) ? 3 * kMiB : gd::kDefaultStackLimit;
        held.push_back(gd::stack_acquire((rng() % 8) ? &cache : nullptr, limit));
        touch_down(held.back().top, kPage * (1 + rng() % 8));
      }
      while (!held.empty()) {
        gd::stack_release((rng() % 8) ? &cache : nullptr, held.back());
        held.pop_back();
      }
    }
  };
  std::thread reader([&] {
    gd::StackSpan out;
    std::size_t visits = 0;
    while (!stop.load()) {
      goro::stack_stats st = gd::stack_read_stats();
      EXPECT_GE(st.stack_reserved, st.stack_sys);
      gd::stack_for_each_live([](const gd::StackSpan&, void* n) { ++*static_cast<std::size_t*>(n); },
                              &visits);
      gd::stack_find_by_guard(&out, &out);
    }
  });
  std::thread w1(worker, 1), w2(worker, 2);
  w1.join();
  w2.join();
  stop = true;
  reader.join();
}

// ---- mappings -------------------------------------------------------------------

TEST(StackMappings, TwentyThousandStacksCostAHandfulOfMappings) {
  if (!gd::stack_guards_use_madvise()) GTEST_SKIP() << "no MADV_GUARD_INSTALL: 2 mappings per stack";
  constexpr std::size_t kStacks = 20000;
  std::vector<gd::StackSpan> v(kStacks);  // resident before measuring
  const int maps0 = count_maps();
  const long rss0 = status_kib("VmRSS:"), pte0 = status_kib("VmPTE:");
  for (gd::StackSpan& s : v) {
    s = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
    s.top[-1] = std::byte{1};  // an idle goroutine: its top page
  }
  const int maps1 = count_maps();
  const long rss1 = status_kib("VmRSS:"), pte1 = status_kib("VmPTE:");
  EXPECT_LE(count_maps_holding(v), 2) << "guards must not split the arenas, nor other mappings separate them";
#if !defined(GORO_SANITIZER)
  // (Sanitizer runtimes add mappings of their own, for shadow and for
  // this test's allocations.)
  EXPECT_LE(maps1 - maps0, 4);
  // 4 KiB page + 512 B of page table per idle stack (+ 4 B of slot word).
  double per_stack = double(rss1 - rss0 + pte1 - pte0) * 1024 / kStacks;
  EXPECT_LT(per_stack, 4.55 * 1024) << "RSS+PTE per idle stack";
  RecordProperty("bytes_per_idle_stack", std::to_string(per_stack));
#else
  (void)maps0, (void)maps1, (void)rss1, (void)pte1, (void)rss0, (void)pte0;
#endif
  for (const auto& s : v) gd::stack_release(nullptr, s);
}

// In a child: new arenas guarded by mprotect, as on kernels before 6.13.
TEST(StackMprotectDeathTest, FallbackGuardsWork) {
  use_threadsafe_death_tests();
  auto child = [] {
    gd::stack_force_mprotect_guards(true);
    if (gd::stack_guards_use_madvise()) std::_Exit(10);
    std::vector<gd::StackSpan> v;
    v.reserve(64);
    // A class no other test uses, so every slot is carved afresh.
    const std::size_t limit = 400 * kKiB;
    v.push_back(gd::stack_acquire(nullptr, limit));  // maps the arena
    const int maps0 = count_maps();
    for (int i = 0; i < 50; ++i) v.push_back(gd::stack_acquire(nullptr, limit));
    const int added = count_maps() - maps0;
    if (added < 95 || added > 104) std::_Exit(11);  // 2 per stack
    for (const auto& s : v) std::memset(s.base, 1, s.limit());
    gd::StackSpan found;
    if (!gd::stack_find_by_guard(v[7].base - 1, &found) || found.base != v[7].base) std::_Exit(12);
    gd::stack_release(nullptr, v[7]);  // refit to a smaller limit, same class: guard grows
    gd::StackSpan small = gd::stack_acquire(nullptr, 384 * kKiB);
    if (small.top != v[7].top) std::_Exit(13);
    std::memset(small.base, 1, small.limit());
    fault_at(small.base - 1);
  };
  EXPECT_EXIT(child(), testing::KilledBySignal(SIGSEGV), "");
}

TEST(StackMprotectDeathTest, ExhaustingMappingsNamesVmMaxMapCount) {
#if defined(__SANITIZE_THREAD__)
#define GORO_STACK_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_STACK_TEST_TSAN 1
#endif
#endif
#ifdef GORO_STACK_TEST_TSAN
  // TSan's own allocator needs fresh mappings too, and dies first when the
  // process runs out of them.
  GTEST_SKIP() << "TSan cannot run with vm.max_map_count exhausted";
#endif
  use_threadsafe_death_tests();
  auto child = [] {
    gd::stack_force_mprotect_guards(true);
    std::vector<gd::StackSpan> v;
    v.reserve(40000);
    // Once mappings run out, nothing may need a new one, the exception and
    // its message included: let a sanitizer's allocator map those sizes now.
    for (std::size_t len = 200; len < 800; len += 8) {
      try {
        throw std::system_error(ENOMEM, std::generic_category(), std::string(len, 'x'));
      } catch (const std::system_error& e) {
        std::string copy = e.what();
      }
    }
    try {
      for (int i = 0; i < 40000; ++i) v.push_back(gd::stack_acquire(nullptr, gd::kDefaultStackLimit));
    } catch (const std::system_error& e) {
      std::string what = e.what();
      bool ok = what.find("vm.max_map_count") != std::string::npos && v.size() > 1000;
      if (!ok) std::fprintf(stderr, "after %zu stacks: %s\n", v.size(), e.what());
      std::fflush(stderr);
      if (!ok) std::_Exit(1);
    }
    if (v.size() == 40000) std::_Exit(2);  // 80,000 mappings needed: must have failed
    // The slot that could not be guarded is never handed out unguarded...
    try {
      gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
      std::_Exit(3);
    } catch (const std::system_error&) {
    }
    // ...and a released stack is reused without a new mapping.
    gd::StackSpan last = v.back();
    gd::stack_release(nullptr, last);
    gd::StackSpan again = gd::stack_acquire(nullptr, gd::kDefaultStackLimit);
    std::_Exit(again.base == last.base ? 0 : 4);
  };
  EXPECT_EXIT(child(), testing::ExitedWithCode(0), "");
}

TEST(StackMprotectDeathTest, EnvironmentVariableForcesMprotect) {
  use_threadsafe_death_tests();
  // Read once, at the first arena: only a fresh child process sees it.
  ::setenv("GORO_FORCE_MPROTECT_GUARD", "1", 1);
  EXPECT_EXIT(std::_Exit(gd::stack_guards_use_madvise() ? 1 : 0), testing::ExitedWithCode(0), "");
  ::unsetenv("GORO_FORCE_MPROTECT_GUARD");
}

// ---- signal stacks ----------------------------------------------------------------

namespace {
std::atomic<const void*> g_handler_local{nullptr};
void record_stack(int) {
  int local = 0;
  g_handler_local.store(&local);
}
}  // namespace

TEST(SignalStack, PerThreadInstallUseAndRestore) {
  std::thread t([] {
    stack_t before{}, mine{}, again{}, after{};
    ASSERT_EQ(::sigaltstack(nullptr, &before), 0);
    gd::install_signal_stack();
    ASSERT_EQ(::sigaltstack(nullptr, &mine), 0);
    EXPECT_EQ(mine.ss_flags & SS_DISABLE, 0);
    EXPECT_GE(mine.ss_size, std::max<std::size_t>(64 * kKiB, ::sysconf(_SC_SIGSTKSZ)));
    gd::install_signal_stack();  // idempotent
    ASSERT_EQ(::sigaltstack(nullptr, &again), 0);
    EXPECT_EQ(again.ss_sp, mine.ss_sp);

    struct sigaction sa {
    }, old{};
    sa.sa_handler = record_stack;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(::sigaction(SIGUSR2, &sa, &old), 0);
    ::raise(SIGUSR2);
    ::sigaction(SIGUSR2, &old, nullptr);
    auto* p = static_cast<const char*>(g_handler_local.load());
    auto* lo = static_cast<const char*>(mine.ss_sp);
    EXPECT_TRUE(p >= lo && p < lo + mine.ss_size) << "the handler ran on the alternate stack";
    EXPECT_EQ(
        resident_pages(static_cast<std::byte*>(mine.ss_sp) - kPage, static_cast<std::byte*>(mine.ss_sp)), 0u);

    gd::remove_signal_stack();
    ASSERT_EQ(::sigaltstack(nullptr, &after), 0);
    EXPECT_EQ(after.ss_sp, before.ss_sp) << "the previous alternate stack is back";
    EXPECT_EQ(after.ss_flags & SS_DISABLE, before.ss_flags & SS_DISABLE);
    unsigned char v;
    EXPECT_EQ(::mincore(mine.ss_sp, kPage, &v), -1) << "unmapped";
  });
  t.join();
}

TEST(SignalStackDeathTest, GuardPageBelowTheSignalStack) {
  use_threadsafe_death_tests();
  gd::install_signal_stack();
  stack_t mine{};
  ASSERT_EQ(::sigaltstack(nullptr, &mine), 0);
  EXPECT_EXIT(fault_at(static_cast<std::byte*>(mine.ss_sp) - 1), testing::KilledBySignal(SIGSEGV), "");
  gd::remove_signal_stack();
}

namespace {
// Constructed before the signal stack's thread_local in its thread, so
// destroyed after it: looks at what that destructor left behind, before
// anything else can map the freed range again.
struct ExitProbe {
  void* sp = nullptr;
  stack_t before{};
  std::atomic<int>* result = nullptr;  // 1: disabled (or restored) and unmapped
  ~ExitProbe() {
    stack_t now{};
    unsigned char v;
    bool restored = ::sigaltstack(nullptr, &now) == 0 && now.ss_sp == before.ss_sp &&
                    (now.ss_flags & SS_DISABLE) == (before.ss_flags & SS_DISABLE);
    bool unmapped = ::mincore(sp, kPage, &v) == -1 && errno == ENOMEM;
    result->store(restored && unmapped ? 1 : 2);
  }
};
thread_local ExitProbe t_exit_probe;
}  // namespace

TEST(SignalStack, ReleasedAtThreadExit) {
  std::atomic<int> result{0};
  std::thread t([&] {
    t_exit_probe.result = &result;
    ASSERT_EQ(::sigaltstack(nullptr, &t_exit_probe.before), 0);
    gd::install_signal_stack();
    stack_t mine{};
    ::sigaltstack(nullptr, &mine);
    t_exit_probe.sp = mine.ss_sp;
  });
  t.join();
  EXPECT_EQ(result.load(), 1) << "the thread_local destructor disabled and unmapped it";
}
