// Tests of the goroutine core through the public API: many parked
// goroutines and what they cost, stacks that grow in place to a large
// ceiling and shrink again once parked, stack pools, stack limits,
// the system stack, blocking calls, and the life cycle of run().
//
// Every TEST calls goro::run itself and says how many processors it wants
// (goro_test::run_on): the binary may run all tests in one process. Counts
// are scaled down in sanitizer builds, and memory and timing figures are
// only asserted in plain builds.
#include "helpers/test_util.hpp"

#include <goro/goro.hpp>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <alloca.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace goro_test;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------
// Deep recursion helpers.

// A frame of at least kFrame bytes (1 KiB). The child receives the parent's
// buffer, so the parent's frame must stay live across the call: no tail
// call, no loop. Returns depth + 1.
template <std::size_t kFrame>
[[gnu::noinline]] std::uint64_t deep_recurse_frames(std::uint32_t depth, volatile char* parent,
                                                    void (*at_bottom)(void*), void* ctx) {
  volatile char buf[kFrame];
  buf[0] = static_cast<char>(depth);
  buf[sizeof buf - 1] = parent != nullptr ? parent[0] : 0;
  if (depth == 0) {
    if (at_bottom != nullptr) at_bottom(ctx);
    return 1 + static_cast<std::uint64_t>(buf[0] - static_cast<char>(depth));
  }
  std::uint64_t r = deep_recurse_frames<kFrame>(depth - 1, buf, at_bottom, ctx);
  // buf[0] still holds depth: adds 0, but the compiler must read it.
  return r + 1 + static_cast<std::uint64_t>(buf[0] - static_cast<char>(depth));
}

// Deep recursions use frames of 1 KiB; under TSan, whose stack depot takes
// at most 65535 frames, frames of 4 KiB. deep_depth(bytes) is the depth
// that uses at least `bytes` of stack; deep_recurse(d) returns d + 1.
constexpr std::size_t kDeepFrame = kTsan ? 4096 : 1024;
constexpr std::uint32_t deep_depth(std::size_t bytes) {
  return static_cast<std::uint32_t>(bytes / kDeepFrame);
}
std::uint64_t deep_recurse(std::uint32_t depth, volatile char* parent, void (*at_bottom)(void*), void* ctx) {
  return deep_recurse_frames<kDeepFrame>(depth, parent, at_bottom, ctx);
}

// A C-style recursion with small frames (a 32-byte buffer), as a deeply
// recursive C library would do. Returns depth + 1; records the deepest
// frame address in *lowest.
[[gnu::noinline]] std::uint64_t c_recurse(std::uint32_t depth, volatile char* parent,
                                          std::uintptr_t* lowest) {
  volatile char buf[32];
  buf[0] = static_cast<char>(depth);
  buf[31] = parent != nullptr ? parent[0] : 0;
  auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  if (frame < *lowest) *lowest = frame;
  if (depth == 0) return 1;
  std::uint64_t r = c_recurse(depth - 1, buf, lowest);
  return r + 1 + static_cast<std::uint64_t>(buf[0] - static_cast<char>(depth));
}

// Frames of c_recurse that comfortably fit the 8 MiB system stack (frames
// are larger with sanitizer redzones) but need far more than a goroutine's
// default 208 KiB.
constexpr std::uint32_t kCDepth = kSanitizer ? 20'000 : 60'000;

// Grows the caller's stack by `kib` KiB: stack-clash protection probes
// every page of the alloca, so each one is touched.
[[gnu::noinline]] void touch_stack_kib(std::size_t kib) {
  auto* p = static_cast<volatile char*>(alloca(kib * 1024));
  p[0] = 1;
}

[[gnu::noinline]] std::size_t remaining_in_deeper_frame() {
  volatile char pad[8192];
  pad[0] = 1;
  pad[sizeof pad - 1] = pad[0];
  asm volatile("" : : "r"(pad) : "memory");  // the whole array lives on the stack
  std::size_t r = goro::stack_remaining();   // not a tail call: pad is used after it
  pad[1] = pad[0];
  return r;
}

std::int64_t diff(std::size_t a, std::size_t b) {
  return static_cast<std::int64_t>(a) - static_cast<std::int64_t>(b);
}

// Restores the process-wide default stack ceiling when a test ends.
struct MaxStackGuard {
  std::size_t saved = goro::max_stack();
  ~MaxStackGuard() { goro::set_max_stack(saved); }
};

// ---------------------------------------------------------------------------
// A million parked goroutines.

struct ParkedFigures {
  std::int64_t n = 0;
  std::int64_t counted = -1;          // num_goroutine() with all of them parked
  std::int64_t after_join = -1;       // num_goroutine() once they have exited
  std::int64_t finished = 0;          // goroutines that got past the gate
  double resident_per_goroutine = 0;  // (VmRSS + VmPTE) delta / n
  double stack_per_goroutine = 0;     // stack_inuse delta / n
  double spawn_ms = 0, release_ms = 0;
};

// Starts n goroutines that each park on one wait_group gate, measures what
// they cost while parked, then releases and joins them.
ParkedFigures park_many(std::int64_t n) {
  ParkedFigures f;
  f.n = n;
  std::atomic<std::int64_t> arrived{0}, finished{0};
  run_on(2, [&] {
    goro::wait_group gate, done;
    gate.add(1);
    done.add(n);
    const std::int64_t baseline = resident_bytes();
    const goro::stack_stats stats0 = goro::read_stack_stats();
    auto t0 = Clock::now();
    for (std::int64_t i = 0; i < n; ++i) {
      goro::go([&] {
        arrived.fetch_add(1, std::memory_order_relaxed);
        gate.wait();
        finished.fetch_add(1, std::memory_order_relaxed);
        done.done();
      });
    }
    // Wait until every goroutine has reached the gate, then give the last
    // ones time to finish parking.
    while (arrived.load() < n) goro::sleep_for(1ms);
    f.spawn_ms = ms_since(t0);
    goro::sleep_for(20ms);
    f.counted = goro::num_goroutine();
    const std::int64_t parked = resident_bytes();
    const goro::stack_stats stats1 = goro::read_stack_stats();
    f.resident_per_goroutine = static_cast<double>(parked - baseline) / static_cast<double>(n);
    f.stack_per_goroutine =
        static_cast<double>(diff(stats1.stack_inuse, stats0.stack_inuse)) / static_cast<double>(n);
    t0 = Clock::now();
    gate.done();
    done.wait();
    // The last goroutines exit just after done(); num_goroutine drops to 1
    // once they are off their stacks.
    for (int i = 0; i < 1000 && goro::num_goroutine() != 1; ++i) goro::sleep_for(1ms);
    f.release_ms = ms_since(t0);
    f.after_join = goro::num_goroutine();
  });
  f.finished = finished.load();
  std::printf(
      "%lld parked goroutines: spawn %.0f ms, release+join %.0f ms; per goroutine: "
      "VmRSS+VmPTE %.0f bytes, stack_inuse %.0f bytes\n",
      static_cast<long long>(n), f.spawn_ms, f.release_ms, f.resident_per_goroutine, f.stack_per_goroutine);
  return f;
}

constexpr std::int64_t kMillion = scaled3(1'000'000, 20'000, 2'000);
static_assert(!kTsan || kMillion <= kTsanMaxLive);

TEST(Core, MillionParkedGoroutines) {
  const ParkedFigures f = park_many(kMillion);
  EXPECT_EQ(f.counted, kMillion + 1);
  EXPECT_EQ(f.finished, kMillion);
  EXPECT_EQ(f.after_join, 1);
  EXPECT_GT(f.resident_per_goroutine, 0.0);
  if (!kSanitizer) {
    // One resident stack page per parked goroutine.
    EXPECT_LE(f.stack_per_goroutine, 4096.0 + 64);
    EXPECT_GE(f.stack_per_goroutine, 4096.0 - 64);
    // The budget for an idle goroutine: 4.5 KiB including page tables.
    EXPECT_LE(f.resident_per_goroutine, 4608.0) << "VmRSS+VmPTE per parked goroutine over the 4.5 KiB budget";
  }
}

// ---------------------------------------------------------------------------
// Stacks grow in place up to a large ceiling.

struct DeepProbe {
  std::size_t remaining_at_bottom = 0;
  goro::stack_stats at_bottom;
};

TEST(Stack, DeepRecursionTo64MiBWithGiBCeiling) {
  constexpr std::uint32_t kDepth = deep_depth(64 * kMiB);  // frames of >= 1 KiB: >= 64 MiB
  std::uint64_t result = 0;
  std::size_t remaining_at_start = 0;
  DeepProbe probe;
  goro::stack_stats before, after_exit;
  run_on(1, [&] {
    goro::wait_group wg;
    before = goro::read_stack_stats();
    wg.add(1);
    goro::go(goro::spawn_options{.max_stack = kGiB, .name = "deep"}, [&] {
      remaining_at_start = goro::stack_remaining();
      result = deep_recurse(
          kDepth, nullptr,
          [](void* p) {
            auto* pr = static_cast<DeepProbe*>(p);
            pr->remaining_at_bottom = goro::stack_remaining();
            pr->at_bottom = goro::read_stack_stats();
          },
          &probe);
      wg.done();
    });
    wg.wait();
    // The goroutine exits right after wg.done(), but on a loaded machine its
    // thread may be held up: its processor's queue can be taken by another
    // processor meanwhile (sysmon), so this goroutine may run before it has
    // gone. Wait for the release rather than for a fixed time.
    auto deadline = goro::clock::now() + 10s;
    do {
      goro::sleep_for(1ms);
      after_exit = goro::read_stack_stats();
    } while (goro::clock::now() < deadline &&
             (diff(after_exit.stack_sys, before.stack_sys) >= static_cast<std::int64_t>(1 * kMiB) ||
              diff(after_exit.stack_inuse, before.stack_inuse) >= static_cast<std::int64_t>(64 * kKiB)));
  });
  EXPECT_EQ(result, kDepth + 1);
  EXPECT_LE(remaining_at_start, kGiB);
  EXPECT_GT(remaining_at_start, kGiB - 64 * kKiB);
  ASSERT_LT(probe.remaining_at_bottom, remaining_at_start);
  const std::size_t used = remaining_at_start - probe.remaining_at_bottom;
  EXPECT_GE(used, 64 * kMiB);
  // Resident stack followed the recursion, and growth_pages counted it.
  EXPECT_GE(diff(probe.at_bottom.stack_inuse, before.stack_inuse), static_cast<std::int64_t>(63 * kMiB));
  EXPECT_GE(probe.at_bottom.growth_pages - before.growth_pages, (63 * kMiB) / 4096);
  EXPECT_GE(probe.at_bottom.stack_reserved, kGiB);
  // Once the goroutine is gone its 64 MiB do not stay resident in a pool.
  EXPECT_LT(diff(after_exit.stack_sys, before.stack_sys), static_cast<std::int64_t>(1 * kMiB))
      << "an exited goroutine's 64 MiB stack stayed resident";
  EXPECT_LT(diff(after_exit.stack_inuse, before.stack_inuse), static_cast<std::int64_t>(64 * kKiB));
}

TEST(Stack, GrowthPagesIncreaseAfterRecursion) {
  goro::stack_stats before, after;
  std::uint64_t result = 0;
  run_on(1, [&] {
    goro::wait_group wg;
    before = goro::read_stack_stats();
    wg.add(1);
    goro::go(goro::spawn_options{.max_stack = 16 * kMiB}, [&] {
      result = deep_recurse(deep_depth(4 * kMiB), nullptr, nullptr, nullptr);
      after = goro::read_stack_stats();
      wg.done();
    });
    wg.wait();
  });
  EXPECT_EQ(result, deep_depth(4 * kMiB) + 1u);
  EXPECT_GE(after.growth_pages - before.growth_pages, (4 * kMiB - 64 * kKiB) / 4096);
  EXPECT_GE(diff(after.stack_inuse, before.stack_inuse), static_cast<std::int64_t>(4 * kMiB - 64 * kKiB));
}

struct ShrinkProbe {
  goro::stack_stats at_bottom;
};

TEST(Stack, ShrinksAfterDeepRecursionOnceParkedLongEnough) {
  constexpr std::uint32_t kDepth = deep_depth(64 * kMiB);
  std::uint64_t result = 0;
  ShrinkProbe probe;
  goro::stack_stats before, after;
  std::int64_t live_before = 0, live_after = 0;
  run_on(1, [&] {
    goro::wait_group recursed, gate, exited;
    gate.add(1);
    recursed.add(1);
    exited.add(1);
    before = goro::read_stack_stats();
    live_before = goro::num_goroutine();
    goro::go(goro::spawn_options{.max_stack = kGiB, .name = "shrinker"}, [&] {
      result = deep_recurse(
          kDepth, nullptr,
          [](void* p) { static_cast<ShrinkProbe*>(p)->at_bottom = goro::read_stack_stats(); }, &probe);
      goro::sleep_for(1ms);  // parks once, too briefly to be shrunk
      recursed.done();
      gate.wait();  // stays alive, parked, while main measures
      exited.done();
    });
    recursed.wait();
    live_after = goro::num_goroutine();
    // The shrink is done by the scavenger thread once the goroutine has
    // been parked for 20 ms (kDeferredShrinkNs).
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    do {
      goro::sleep_for(10ms);
      after = goro::read_stack_stats();
    } while (after.shrinks == before.shrinks && std::chrono::steady_clock::now() < deadline);
    gate.done();
    exited.wait();
  });
  EXPECT_EQ(result, kDepth + 1);
  EXPECT_EQ(live_before, 1);
  EXPECT_EQ(live_after, 2);  // only main and the shrinker
  EXPECT_GE(diff(probe.at_bottom.stack_inuse, before.stack_inuse), static_cast<std::int64_t>(63 * kMiB));
  const std::int64_t attributable = diff(after.stack_inuse, before.stack_inuse);
  std::printf("resident stack of the shrinker after parking: %lld bytes (peak %lld)\n",
              static_cast<long long>(attributable),
              static_cast<long long>(diff(probe.at_bottom.stack_inuse, before.stack_inuse)));
  EXPECT_LT(attributable, static_cast<std::int64_t>(kSanitizer ? 64 * kKiB : 16 * kKiB));
  EXPECT_GT(after.shrinks, before.shrinks);
  EXPECT_GE(after.shrunk_bytes - before.shrunk_bytes, 60 * kMiB);
}

TEST(Stack, ABriefParkKeepsTheGrownStackALongOneShrinksIt) {
  constexpr std::uint32_t kDepth = deep_depth(32 * kMiB);
  goro::stack_stats before{}, brief{}, later{};
  double brief_ms = 0;
  run_on(1, [&] {
    goro::wait_group done;
    done.add(1);
    goro::go(goro::spawn_options{.max_stack = kGiB}, [&] {
      before = goro::read_stack_stats();
      deep_recurse(kDepth, nullptr, nullptr, nullptr);  // runs well over 8 ms
      const auto t0 = std::chrono::steady_clock::now();
      goro::sleep_for(1ms);
      brief_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      brief = goro::read_stack_stats();
      const auto deadline = std::chrono::steady_clock::now() + 5s;
      do {
        goro::sleep_for(50ms);
        later = goro::read_stack_stats();
      } while (later.shrinks == brief.shrinks && std::chrono::steady_clock::now() < deadline);
      done.done();
    });
    done.wait();
  });
  if (brief_ms < 15) {  // a loaded machine may have kept it parked past the 20 ms
    EXPECT_EQ(brief.shrinks, before.shrinks) << "a 1 ms park shrank the stack";
    EXPECT_GE(diff(brief.stack_inuse, before.stack_inuse), static_cast<std::int64_t>(31 * kMiB));
  }
  // On a loaded machine the "brief" park may itself have lasted past 20 ms
  // and shrunk the stack; then there is nothing left to shrink later.
  EXPECT_GT(later.shrinks, brief_ms < 15 ? brief.shrinks : before.shrinks)
      << "parked 50 ms, the stack was not shrunk";
  EXPECT_LT(diff(later.stack_inuse, before.stack_inuse),
            static_cast<std::int64_t>(kSanitizer ? 64 * kKiB : 16 * kKiB));
}

// ---------------------------------------------------------------------------
// Pools.

TEST(Stack, PoolReusesStacksOfExitedGoroutines) {
  constexpr int kWarmup = 100;
  const int kRounds = static_cast<int>(scaled(3000, 500));
  goro::stack_stats warm, end;
  std::set<std::uintptr_t> slots_after_warmup;
  run_on(1, [&] {
    auto spawn_join = [](std::uintptr_t* where) {
      goro::wait_group wg;
      wg.add(1);
      goro::go([&wg, where] {
        volatile char probe = 0;
        *where = reinterpret_cast<std::uintptr_t>(&probe);
        wg.done();
      });
      wg.wait();
    };
    std::uintptr_t addr = 0;
    for (int i = 0; i < kWarmup; ++i) spawn_join(&addr);
    warm = goro::read_stack_stats();
    for (int i = 0; i < kRounds; ++i) {
      spawn_join(&addr);
      slots_after_warmup.insert(addr >> 16);  // one 64 KiB bucket per stack top
    }
    end = goro::read_stack_stats();
  });
  EXPECT_GT(warm.pooled_stacks, 0u);
  EXPECT_GT(end.pooled_stacks, 0u);
  EXPECT_EQ(end.stack_reserved, warm.stack_reserved) << "sequential spawn+join reserved new stack memory";
  EXPECT_LE(slots_after_warmup.size(), 64u) << "stacks were not reused";
  EXPECT_LE(diff(end.stack_sys, warm.stack_sys), static_cast<std::int64_t>(256 * kKiB));
}

TEST(Stack, PoolReuseAcrossBurstsOnTwoProcessors) {
  // Every round has exactly kBurst goroutines alive at once. Stacks left in
  // the other processor's cache (at most a few bins' worth) may cost one more
  // arena early on; after that, rounds must reuse stacks, not reserve more.
  constexpr int kRounds = 8;
  const int kBurst = static_cast<int>(scaled3(5000, 1000, 300));
  std::vector<goro::stack_stats> after_round;
  run_on(2, [&] {
    for (int round = 0; round < kRounds; ++round) {
      goro::wait_group wg, gate;
      gate.add(1);
      std::atomic<int> ran{0};
      for (int i = 0; i < kBurst; ++i) {
        wg.go([&] {
          gate.wait();
          ran.fetch_add(1);
          goro::yield();
        });
      }
      gate.done();
      wg.wait();
      EXPECT_EQ(ran.load(), kBurst);
      goro::sleep_for(2ms);
      after_round.push_back(goro::read_stack_stats());
    }
  });
  ASSERT_EQ(after_round.size(), static_cast<std::size_t>(kRounds));
  for (int i = 0; i < kRounds; ++i) {
    std::printf("round %d: reserved %zu MiB, pooled %zu, live %zu\n", i, after_round[i].stack_reserved >> 20,
                after_round[i].pooled_stacks, after_round[i].live_stacks);
    EXPECT_GT(after_round[i].pooled_stacks, 0u);
    EXPECT_LE(after_round[i].live_stacks, 2u) << "round " << i;
  }
  for (int i = 4; i < kRounds; ++i) {
    EXPECT_EQ(after_round[i].stack_reserved, after_round[3].stack_reserved) << "round " << i;
  }
  // Far less than another burst's worth of slots (kBurst x 224 KiB or more).
  EXPECT_LT(after_round.back().stack_reserved - after_round[0].stack_reserved,
            static_cast<std::size_t>(kBurst) * 224 * kKiB / 2);
}

TEST(Stack, ExitedGoroutinesStacksStayResidentUntilFreeOsMemory) {
  constexpr int kBurst = 2000;
  goro::stack_stats ended{}, freed{};
  run_on(2, [&] {
    goro::wait_group wg, gate;
    gate.add(1);
    for (int i = 0; i < kBurst; ++i) {
      wg.go([&] {
        touch_stack_kib(16);
        gate.wait();
      });
    }
    goro::sleep_for(5ms);
    gate.done();
    wg.wait();
    ended = goro::read_stack_stats();
    goro::free_os_memory();
    freed = goro::read_stack_stats();
  });
  EXPECT_GE(ended.stack_sys - ended.stack_inuse, kBurst / 2 * 16 * kKiB) << "exits gave their stacks back";
  EXPECT_GE(freed.scavenged_bytes - ended.scavenged_bytes, kBurst / 2 * 16 * kKiB);
  EXPECT_LT(freed.stack_sys, ended.stack_sys);
}

// Fraction of the top `kib` KiB of the caller's stack that is resident.
double resident_fraction_above_caller(std::size_t kib) {
  char here;
  auto top = (reinterpret_cast<std::uintptr_t>(&here) + 4096) & ~std::uintptr_t{4095};
  std::vector<unsigned char> vec(kib / 4);
  if (::mincore(reinterpret_cast<void*>(top - kib * kKiB), kib * kKiB, vec.data()) != 0) return -1;
  double n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n / static_cast<double>(vec.size());
}

// A burst of goroutines from one `go` site (noinline: the site is the call's
// return address, and an inlined copy would be a second site) that each need
// 32 KiB, recording how much of that was committed when each started.
[[gnu::noinline]] void spawn_site_burst(std::vector<double>& seen) {
  goro::wait_group wg, gate;
  gate.add(1);
  for (std::size_t i = 0; i < seen.size(); ++i) {
    wg.go([&seen, &gate, i] {
      seen[i] = resident_fraction_above_caller(32);
      touch_stack_kib(32);
      gate.wait();
    });
  }
  goro::yield();
  gate.done();
  wg.wait();
}

TEST(Stack, SpawnSiteLearnsHowDeepItsGoroutinesGrow) {
  // Once the site is learned, a goroutine starting on an empty stack finds
  // its pages committed.
  constexpr int kBurst = 600;
  std::vector<double> first(kBurst), later(kBurst);
  run_on(1, [&] {
    goro::free_os_memory();  // every burst starts on empty stacks
    spawn_site_burst(first);
    goro::free_os_memory();
    spawn_site_burst(later);
  });
  auto committed = [](const std::vector<double>& v) {
    return std::count_if(v.begin(), v.end(), [](double f) { return f >= 0.99; });
  };
  std::printf("fully committed at start: first burst %ld, second %ld of %d\n",
              static_cast<long>(committed(first)), static_cast<long>(committed(later)), kBurst);
  EXPECT_LT(committed(first), kBurst / 4) << "nothing was learned yet";
  EXPECT_GT(committed(later), kBurst * 3 / 4) << "the site's depth was not learned";
}

// ---------------------------------------------------------------------------
// Stack limits.

TEST(Stack, StackRemainingInGoroutine) {
  std::size_t limit = 0, top = 0, deeper = 0;
  run_on(1, [&] {
    limit = goro::max_stack();
    goro::wait_group wg;
    wg.go([&] {
      top = goro::stack_remaining();
      deeper = remaining_in_deeper_frame();
    });
    wg.wait();
  });
  EXPECT_LE(top, limit);
  EXPECT_GT(top, limit - 16 * kKiB) << "more than 16 KiB used before the goroutine's first frame";
  EXPECT_LT(deeper, top);
  EXPECT_GE(top - deeper, 8 * kKiB);
  // Outside goroutines it reports the thread's own stack.
  EXPECT_GT(goro::stack_remaining(), 64 * kKiB);
}

TEST(Stack, PerSpawnMaxStackIsReflected) {
  std::size_t one_mib = 0, gib = 0, tiny = 0;
  run_on(2, [&] {
    goro::wait_group wg;
    wg.add(3);
    goro::go(goro::spawn_options{.max_stack = kMiB}, [&] {
      one_mib = goro::stack_remaining();
      wg.done();
    });
    goro::go(goro::spawn_options{.max_stack = kGiB}, [&] {
      gib = goro::stack_remaining();
      wg.done();
    });
    goro::go(goro::spawn_options{.max_stack = 1}, [&] {  // raised to 16 KiB
      tiny = goro::stack_remaining();
      wg.done();
    });
    wg.wait();
  });
  EXPECT_LE(one_mib, kMiB);
  EXPECT_GT(one_mib, kMiB - 16 * kKiB);
  EXPECT_LE(gib, kGiB);
  EXPECT_GT(gib, kGiB - 16 * kKiB);
  EXPECT_LE(tiny, 16 * kKiB);
  EXPECT_GT(tiny, 4 * kKiB);
}

TEST(Stack, SetMaxStackReturnsPreviousAndAppliesToNewGoroutines) {
  MaxStackGuard guard;
  const std::size_t original = goro::max_stack();
  EXPECT_EQ(original, 208 * kKiB) << "the documented default ceiling (goro/stack.hpp)";
  std::size_t before_change = 0, after_change = 0, prev = 0, prev2 = 0;
  run_on(2, [&] {
    goro::wait_group wg;
    wg.go([&] { before_change = goro::stack_remaining(); });
    wg.wait();
    prev = goro::set_max_stack(2 * kMiB);
    wg.go([&] { after_change = goro::stack_remaining(); });
    wg.wait();
    prev2 = goro::set_max_stack(original);
  });
  EXPECT_EQ(prev, original);
  EXPECT_EQ(prev2, 2 * kMiB);
  EXPECT_LE(before_change, original);
  EXPECT_GT(after_change, original);
  EXPECT_LE(after_change, 2 * kMiB);
  EXPECT_GT(after_change, 2 * kMiB - 16 * kKiB);
  // Rounding and clamping.
  goro::set_max_stack(1);
  EXPECT_EQ(goro::max_stack(), 16 * kKiB);
  goro::set_max_stack(100 * kKiB + 1);
  EXPECT_EQ(goro::max_stack(), 100 * kKiB + 4096);
  goro::set_max_stack(original);
  EXPECT_EQ(goro::max_stack(), original);
}

TEST(Stack, SetMaxStackKeepsRunningGoroutinesCeiling) {
  MaxStackGuard guard;
  const std::size_t limit = goro::max_stack();
  std::size_t before = 0, after = 0;
  run_on(2, [&] {
    goro::wait_group changed, wg;
    changed.add(1);
    wg.go([&] {
      before = goro::stack_remaining();
      changed.wait();
      after = goro::stack_remaining();
    });
    goro::sleep_for(1ms);
    goro::set_max_stack(4 * kMiB);
    changed.done();
    wg.wait();
  });
  EXPECT_LE(before, limit);
  EXPECT_LE(after, limit);
  EXPECT_LE(before - after, 4 * kKiB);
}

TEST(Stack, InitialCommitIsResidentBeforeTheGoroutineRecurses) {
  constexpr std::size_t kCommit = 2 * kMiB;
  goro::stack_stats before, after_spawn, in_goroutine, after_recursion;
  std::uint64_t result = 0;
  run_on(1, [&] {
    goro::wait_group wg;
    before = goro::read_stack_stats();
    wg.add(1);
    goro::go(goro::spawn_options{.max_stack = 8 * kMiB, .initial_commit = kCommit}, [&] {
      in_goroutine = goro::read_stack_stats();
      result = deep_recurse(deep_depth(kMiB), nullptr, nullptr, nullptr);  // ~1 MiB, inside the commit
      after_recursion = goro::read_stack_stats();
      wg.done();
    });
    after_spawn = goro::read_stack_stats();  // the goroutine has not run yet
    wg.wait();
  });
  EXPECT_EQ(result, deep_depth(kMiB) + 1u);
  EXPECT_GE(diff(after_spawn.stack_inuse, before.stack_inuse),
            static_cast<std::int64_t>(kCommit - 64 * kKiB));
  EXPECT_GE(diff(in_goroutine.stack_inuse, before.stack_inuse),
            static_cast<std::int64_t>(kCommit - 64 * kKiB));
  // The recursion stayed within committed pages: hardly any new growth.
  EXPECT_LT(after_recursion.growth_pages - in_goroutine.growth_pages, 64u);
}

// ---------------------------------------------------------------------------
// The system stack.

TEST(SystemStack, DeepCRecursionFromSmallGoroutineStack) {
  std::uint64_t result = 0, small_result = 0;
  std::uintptr_t start = 0, lowest = UINTPTR_MAX;
  std::size_t remaining_on_system = 0, goroutine_limit = 0;
  bool in_goroutine_on_system = true;
  std::uint64_t id_before = 0, id_after = 0;
  run_on(2, [&] {
    goro::wait_group wg;
    wg.go([&] {  // default ceiling (208 KiB)
      goroutine_limit = goro::stack_remaining();
      id_before = goro::this_goroutine::id();
      result = goro::on_system_stack([&] {
        in_goroutine_on_system = goro::in_goroutine();
        remaining_on_system = goro::stack_remaining();
        start = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
        return c_recurse(kCDepth, nullptr, &lowest);
      });
      id_after = goro::this_goroutine::id();
    });
    // The smallest ceiling there is.
    wg.add(1);
    goro::go(goro::spawn_options{.max_stack = 16 * kKiB}, [&] {
      std::uintptr_t low = UINTPTR_MAX;
      small_result = goro::on_system_stack([&] { return c_recurse(kCDepth, nullptr, &low); });
      wg.done();
    });
    wg.wait();
  });
  EXPECT_EQ(result, kCDepth + 1u);
  EXPECT_EQ(small_result, kCDepth + 1u);
  EXPECT_FALSE(in_goroutine_on_system);
  EXPECT_EQ(id_before, id_after);
  EXPECT_GT(remaining_on_system, 4 * kMiB);
  ASSERT_LT(lowest, start);
  const std::size_t used = start - lowest;
  std::printf("system stack used by %u C frames: %zu KiB (goroutine ceiling %zu KiB)\n", kCDepth, used / kKiB,
              goroutine_limit / kKiB);
  EXPECT_GT(used, 4 * goroutine_limit) << "the recursion should need far more than the goroutine's stack";
}

TEST(SystemStack, PropagatesResultsAndExceptions) {
  run_on(1, [] {
    goro::wait_group wg;
    wg.go([] {
      EXPECT_EQ(goro::on_system_stack([] { return 42; }), 42);
      EXPECT_EQ(goro::on_system_stack([] { return std::string(1000, 'x'); }), std::string(1000, 'x'));
      auto p = goro::on_system_stack([] { return std::make_unique<int>(7); });  // move-only
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(*p, 7);
      int target = 1;
      int& ref = goro::on_system_stack([&]() -> int& { return target; });
      EXPECT_EQ(&ref, &target);
      ref = 5;
      EXPECT_EQ(target, 5);
      const int& cref = goro::on_system_stack([&]() -> const int& { return target; });
      EXPECT_EQ(&cref, &target);
      int side = 0;
      goro::on_system_stack([&] { side = 3; });
      EXPECT_EQ(side, 3);
      static_assert(std::is_void_v<decltype(goro::on_system_stack([] {}))>);
      EXPECT_THROW(goro::on_system_stack([]() -> int { throw std::runtime_error("boom"); }),
                   std::runtime_error);
      try {
        goro::on_system_stack([] { throw std::out_of_range("detail 17"); });
        ADD_FAILURE() << "no exception";
      } catch (const std::out_of_range& e) {
        EXPECT_STREQ(e.what(), "detail 17");
      }
      // Still a working goroutine afterwards.
      goro::yield();
      goro::sleep_for(1ms);
      EXPECT_TRUE(goro::in_goroutine());
    });
    wg.wait();
  });
  // Outside a goroutine it just calls f.
  EXPECT_EQ(goro::on_system_stack([] { return 9; }), 9);
  EXPECT_THROW(goro::on_system_stack([] { throw std::logic_error("x"); }), std::logic_error);
}

// ---------------------------------------------------------------------------
// Exception state follows the goroutine (goroutine.hpp, EhState).

// Many goroutines park inside their catch blocks, on two processors, so
// they resume on other workers and interleave; each must still see its own
// exception, and the caught-exception stack must unwind cleanly.
TEST(Exceptions, CurrentExceptionSurvivesParkingInsideCatch) {
  constexpr int kGoroutines = 2000;
  std::atomic<int> matched{0};
  run_on(2, [&] {
    goro::wait_group wg;
    for (int i = 0; i < kGoroutines; ++i) {
      wg.add(1);
      goro::go([&, i] {
        try {
          throw std::runtime_error(std::to_string(i));
        } catch (const std::runtime_error&) {
          goro::sleep_for(1ms);
          goro::yield();
          try {
            std::rethrow_exception(std::current_exception());
          } catch (const std::runtime_error& again) {
            if (again.what() == std::to_string(i)) matched.fetch_add(1);
          }
        }
        EXPECT_EQ(std::current_exception(), nullptr);
        wg.done();
      });
    }
    wg.wait();
    EXPECT_EQ(std::current_exception(), nullptr);
  });
  EXPECT_EQ(matched.load(), kGoroutines);
}

// A destructor that parks while an exception unwinds through it: the
// unwinding goroutine counts one uncaught exception, the others none, on
// whichever worker they resume.
TEST(Exceptions, UncaughtExceptionsIsPerGoroutine) {
  struct ParksDuringUnwind {
    int* seen;
    ~ParksDuringUnwind() {
      goro::sleep_for(2ms);
      *seen = std::uncaught_exceptions();
    }
  };
  constexpr int kPairs = 200;
  std::vector<int> unwinding(kPairs, -1);
  std::vector<int> calm(kPairs, -1);
  run_on(2, [&] {
    goro::wait_group wg;
    for (int i = 0; i < kPairs; ++i) {
      wg.add(2);
      goro::go([&, i] {
        try {
          ParksDuringUnwind guard{&unwinding[i]};
          throw std::logic_error("unwind");
        } catch (const std::logic_error&) {
        }
        wg.done();
      });
      goro::go([&, i] {
        goro::sleep_for(1ms);
        calm[i] = std::uncaught_exceptions();
        wg.done();
      });
    }
    wg.wait();
  });
  EXPECT_EQ(std::count(unwinding.begin(), unwinding.end(), 1), kPairs);
  EXPECT_EQ(std::count(calm.begin(), calm.end(), 0), kPairs);
}

// ---------------------------------------------------------------------------
// blocking().

TEST(Blocking, OtherGoroutinesKeepRunningOnOneProcessor) {
  std::atomic<std::int64_t> counter{0};
  std::atomic<bool> stop{false};
  std::int64_t during = -1;
  double blocked_ms = 0;
  long blocker_tid = 0;
  std::atomic<long> counter_tid_during{0};
  int result = 0;
  run_on(1, [&] {
    goro::wait_group wg;
    std::atomic<bool> blocking_now{false};
    wg.go([&] {
      while (!stop.load()) {
        counter.fetch_add(1);
        if (blocking_now.load()) counter_tid_during = thread_id();
        goro::yield();
      }
    });
    wg.go([&] {
      goro::sleep_for(5ms);  // let the counter get going
      auto t0 = Clock::now();
      result = goro::blocking([&] {
        blocker_tid = thread_id();
        blocking_now = true;
        const std::int64_t c0 = counter.load();
        ::usleep(200'000);
        during = counter.load() - c0;  // progress while this thread was blocked
        blocking_now = false;
        return 17;
      });
      blocked_ms = ms_since(t0);
      stop = true;
    });
    wg.wait();
  });
  EXPECT_EQ(result, 17);
  EXPECT_GE(blocked_ms, 199.0);
  EXPECT_GT(during, scaled(10'000, 100)) << "the other goroutine stalled while one was in blocking()";
  EXPECT_NE(counter_tid_during.load(), 0);
  EXPECT_NE(counter_tid_during.load(), blocker_tid);
}

TEST(Blocking, ReturnsValuesAndPropagatesExceptions) {
  run_on(1, [] {
    goro::wait_group wg;
    wg.go([] {
      EXPECT_EQ(goro::blocking([] { return 5; }), 5);
      EXPECT_EQ(goro::blocking([] { return std::string("abc"); }), "abc");
      int target = 0;
      int& ref = goro::blocking([&]() -> int& { return target; });
      EXPECT_EQ(&ref, &target);
      goro::blocking([] { ::usleep(1000); });
      EXPECT_THROW(goro::blocking([]() -> int { throw std::runtime_error("io failed"); }),
                   std::runtime_error);
      // The goroutine got its processor back and still works.
      goro::yield();
      goro::sleep_for(1ms);
      EXPECT_EQ(goro::blocking([] { return 6; }), 6);
    });
    wg.wait();
  });
  EXPECT_EQ(goro::blocking([] { return 8; }), 8);  // outside a goroutine: just calls f
}

TEST(Blocking, ManyConcurrentBlockingCalls) {
  const int n = static_cast<int>(scaled(64, 16));
  std::atomic<int> done{0};
  double wall = 0;
  run_on(2, [&] {
    goro::wait_group wg;
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      wg.go([&] {
        goro::blocking([] { ::usleep(50'000); });
        done.fetch_add(1);
      });
    }
    wg.wait();
    wall = ms_since(t0);
  });
  EXPECT_EQ(done.load(), n);
  // Each call holds a thread, not a processor: they overlap.
  if (!kSanitizer) {
    EXPECT_LT(wall, 50.0 * n / 4);
  }
}

// ---------------------------------------------------------------------------
// run() and go().

TEST(Run, ReturnsMainsInt) {
  EXPECT_EQ(run_on(2, [] { return 42; }), 42);
  EXPECT_EQ(run_on(1, [] { return -3; }), -3);
  EXPECT_EQ(run_on(2, [] {}), 0);
  EXPECT_EQ(run_on(2,
                   [] {
                     goro::wait_group wg;
                     std::atomic<int> sum{0};
                     for (int i = 1; i <= 10; ++i) wg.go([&sum, i] { sum += i; });
                     wg.wait();
                     return sum.load();
                   }),
            55);
}

TEST(Run, CanBeCalledRepeatedly) {
  for (int i = 0; i < 20; ++i) {
    int procs = 1 + i % 3;
    EXPECT_EQ(run_on(procs,
                     [i] {
                       EXPECT_TRUE(goro::in_goroutine());
                       EXPECT_EQ(goro::num_goroutine(), 1);
                       goro::wait_group wg;
                       wg.go([] { goro::sleep_for(1ms); });
                       wg.wait();
                       return i;
                     }),
              i);
    EXPECT_FALSE(goro::in_goroutine());
    EXPECT_EQ(goro::num_goroutine(), 0);
  }
}

TEST(Run, ReturnsWhileOtherGoroutinesAreStillParked) {
  // Goroutines alive when main returns are abandoned, as in Go.
  static goro::wait_group never;  // outlives the abandoned goroutines
  never.add(1);
  EXPECT_EQ(run_on(2,
                   [] {
                     for (int i = 0; i < 100; ++i) goro::go([] { never.wait(); });
                     goro::go([] {
                       for (;;) goro::sleep_for(1ms);
                     });
                     goro::sleep_for(5ms);
                     return 3;
                   }),
            3);
  // A fresh runtime starts clean afterwards.
  EXPECT_EQ(run_on(2, [] { return static_cast<int>(goro::num_goroutine()); }), 1);
}

// Regression: run() used to record the main goroutine's id only after go()
// returned; a main goroutine stolen by another worker could exit before
// that, the runtime never shut down and reported a false deadlock (about
// one run in a few hundred on 2 processors). Many short runs, in a child.
TEST(RunDeathTest, MainThatReturnsAtOnceIsNotADeadlock) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        for (int i = 0; i < 3000; ++i) run_on(2 + i % 2, [] { return 0; });
        std::_Exit(0);
      },
      testing::ExitedWithCode(0), "");
}

TEST(Run, GoOutsideRunThrows) {
  EXPECT_THROW(goro::go([] {}), std::logic_error);
  EXPECT_THROW(goro::go(goro::spawn_options{.max_stack = kMiB}, [] {}), std::logic_error);
  EXPECT_FALSE(goro::in_goroutine());
  EXPECT_EQ(goro::this_goroutine::id(), 0u);
  EXPECT_EQ(goro::num_goroutine(), 0);
}

TEST(Run, RunInsideRunThrows) {
  bool threw = false, still_fine = false;
  run_on(2, [&] {
    try {
      goro::run([] {});
    } catch (const std::logic_error&) {
      threw = true;
    }
    goro::wait_group wg;
    wg.go([&] { still_fine = true; });
    wg.wait();
  });
  EXPECT_TRUE(threw);
  EXPECT_TRUE(still_fine);
}

TEST(Run, RunFromAnotherThreadWhileRunningThrows) {
  bool threw = false;
  run_on(2, [&] {
    goro::blocking([&] {
      std::thread t([&] {
        try {
          goro::run([] {});
        } catch (const std::logic_error&) {
          threw = true;
        }
      });
      t.join();
    });
  });
  EXPECT_TRUE(threw);
}

TEST(Run, SpawnFromForeignThread) {
  constexpr int kForeign = 100;
  std::atomic<int> ran{0};
  std::atomic<bool> all_in_goroutine{true};
  std::atomic<int> returned_ids_count{0};
  std::vector<std::uint64_t> returned_ids, seen_ids(kForeign, 0);
  std::int64_t during = 0;
  run_on(2, [&] {
    std::thread t([&] {
      for (int i = 0; i < kForeign; ++i) {
        returned_ids_count.fetch_add(1);
        returned_ids.push_back(goro::go([&, i] {
          if (!goro::in_goroutine()) all_in_goroutine = false;
          seen_ids[i] = goro::this_goroutine::id();
          goro::sleep_for(20ms);
          ran.fetch_add(1);
        }));
      }
    });
    // Poll with sleeps: a plain thread is invisible to the deadlock detector.
    while (returned_ids_count.load() < kForeign) goro::sleep_for(1ms);
    during = goro::num_goroutine();  // the foreign spawns are still asleep
    for (int i = 0; i < 5000 && ran.load() < kForeign; ++i) goro::sleep_for(1ms);
    goro::blocking([&] { t.join(); });
  });
  EXPECT_EQ(ran.load(), kForeign);
  EXPECT_TRUE(all_in_goroutine.load());
  ASSERT_EQ(returned_ids.size(), static_cast<std::size_t>(kForeign));
  for (int i = 0; i < kForeign; ++i) {
    EXPECT_EQ(returned_ids[i], seen_ids[i]);
    EXPECT_GT(seen_ids[i], 1u);
  }
  std::set<std::uint64_t> unique(seen_ids.begin(), seen_ids.end());
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kForeign));
  EXPECT_GE(during, 2);
  EXPECT_LE(during, kForeign + 1);
}

// Spawns `n` goroutines from a plain thread and waits until they have run
// and exited; returns num_goroutine() at the start and at the end of the run.
std::pair<std::int64_t, std::int64_t> foreign_spawn_run(int n) {
  std::int64_t at_start = -1, at_end = -1;
  run_on(2, [&] {
    at_start = goro::num_goroutine();
    std::atomic<int> ran{0};
    std::thread t([&] {
      for (int i = 0; i < n; ++i) goro::go([&] { ran.fetch_add(1); });
    });
    goro::blocking([&] { t.join(); });
    for (int i = 0; i < 2000 && (ran.load() < n || goro::num_goroutine() != at_start); ++i)
      goro::sleep_for(1ms);
    at_end = goro::num_goroutine();
    EXPECT_EQ(ran.load(), n);
  });
  return {at_start, at_end};
}

TEST(Run, NumGoroutineAfterForeignSpawns) {
  auto [at_start, at_end] = foreign_spawn_run(50);
  EXPECT_EQ(at_end, at_start) << "goroutines spawned from a plain thread are still counted after they exited";
}

// Regression: the count of goroutines spawned from plain threads used to
// survive run(), so num_goroutine() in a later run was off by that many.
TEST(Run, NumGoroutineIsOneAfterAnEarlierRunsForeignSpawns) {
  foreign_spawn_run(50);
  auto [at_start, at_end] = foreign_spawn_run(10);
  EXPECT_EQ(at_start, 1);
  EXPECT_EQ(at_end, 1);
}

}  // namespace
