// Tests of opt-in compact parked stacks (goro/compact.hpp): a parked
// goroutine that opted in is compacted and restored intact, on whichever
// worker resumes it; one that did not opt in never is; a stray access to a
// compacted stack is reported fatally (death-test children), by a goroutine
// or by a plain thread, and a system call gets EFAULT; overflow is still
// reported after a restore.
//
// Every test waits for compaction through goro::read_compact_stats, with
// compact_after = 1 ms, so each takes a few milliseconds.
#include <goro/compact.hpp>
#include <goro/debug.hpp>
#include <goro/goroutine.hpp>
#include <goro/mutex.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>

using namespace std::chrono_literals;

// Never set: it only tells the compiler that the recursion could end.
volatile bool compact_test_stop_recursion = false;

[[gnu::noinline]] int compact_test_recurse(int depth) {
  if (compact_test_stop_recursion) return 0;
  volatile char pad[64];
  pad[0] = static_cast<char>(depth);
  return compact_test_recurse(depth + 1) + pad[0];
}

namespace {

void use_threadsafe_death_tests() {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
}

goro::spawn_options compact_soon() {
  goro::spawn_options o;
  o.compact_after = 1ms;
  return o;
}

long thread_id() {
  return static_cast<long>(::syscall(SYS_gettid));
}

// Waits, in a goroutine, until `n` more stacks than `base` are compacted.
bool wait_compacted(std::uint64_t base, std::uint64_t n = 1) {
  for (int i = 0; i < 5000; ++i) {
    if (goro::read_compact_stats().compacted >= base + n) return true;
    goro::sleep_for(1ms);
  }
  return false;
}

// A stack buffer with a pattern that a restore must bring back intact.
struct Pattern {
  static constexpr int kWords = 512;  // 4 KiB: the copy spans two pages
  std::uint64_t words[kWords];
  void fill(std::uint64_t seed) {
    for (int i = 0; i < kWords; ++i) words[i] = seed * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(i);
  }
  bool intact(std::uint64_t seed) const {
    for (int i = 0; i < kWords; ++i) {
      if (words[i] != seed * 0x9e3779b97f4a7c15ull + static_cast<std::uint64_t>(i)) return false;
    }
    return true;
  }
};

// A goroutine that opted in parks on `gate` with a published pointer to a
// buffer on its stack.
struct ParkedWithBuffer {
  goro::wait_group parked, gate, done;
  std::atomic<char*> buffer{nullptr};
  std::atomic<bool> intact{false};

  void start() {
    parked.add(1);
    gate.add(1);
    done.add(1);
    goro::go(compact_soon(), [this] {
      char local[256];
      std::memset(local, 'x', sizeof local);
      buffer.store(local);
      parked.done();
      gate.wait();
      bool ok = true;
      for (char c : local) ok = ok && c == 'x';
      intact.store(ok);
      done.done();
    });
    parked.wait();
  }
  void finish() {
    gate.done();
    done.wait();
  }
};

}  // namespace

TEST(Compact, SupportedOnThisKernel) {
  // Kernel 6.18 here: MADV_GUARD_INSTALL and process_madvise exist.
  EXPECT_TRUE(goro::compaction_supported());
}

TEST(Compact, ParkedGoroutineIsCompactedAndRestoredIntact) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  goro::run([] {
    goro::compact_stats before = goro::read_compact_stats();
    goro::wait_group parked, gate, done;
    std::atomic<bool> intact{false};
    parked.add(1);
    gate.add(1);
    done.add(1);
    goro::go(compact_soon(), [&] {
      Pattern p;
      p.fill(7);
      parked.done();
      gate.wait();
      intact.store(p.intact(7));
      done.done();
    });
    parked.wait();
    EXPECT_TRUE(wait_compacted(before.compacted));
    goro::compact_stats during = goro::read_compact_stats();
    EXPECT_GE(during.saved_bytes, sizeof(Pattern));
    EXPECT_LT(during.saved_bytes, sizeof(Pattern) + 2048) << "only the used part is saved";
    gate.done();
    done.wait();
    EXPECT_TRUE(intact.load());
    goro::compact_stats after = goro::read_compact_stats();
    EXPECT_GT(after.restores, before.restores);
    EXPECT_EQ(after.compacted, before.compacted);
    return 0;
  });
}

TEST(Compact, GoroutinesThatDidNotOptInAreNeverCompacted) {
  goro::run([] {
    goro::compact_stats before = goro::read_compact_stats();
    goro::wait_group parked, gate;
    parked.add(20);
    gate.add(1);
    for (int i = 0; i < 20; ++i) {
      goro::go([&] {
        parked.done();
        gate.wait();
      });
    }
    parked.wait();
    goro::sleep_for(50ms);
    EXPECT_EQ(goro::read_compact_stats().compactions, before.compactions);
    gate.done();
    return 0;
  });
}

TEST(Compact, ProcessDefaultAppliesToGoroutinesWithoutTheirOwnButNotMain) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  auto prev = goro::set_compact_after(1ms);
  EXPECT_EQ(goro::compact_after(), 1ms);
  goro::run([] {
    goro::compact_stats before = goro::read_compact_stats();
    goro::wait_group parked, gate;
    parked.add(1);
    gate.add(1);
    goro::go([&] {
      parked.done();
      gate.wait();
    });
    parked.wait();
    EXPECT_TRUE(wait_compacted(before.compacted));
    goro::sleep_for(30ms);  // main sleeps, and is never compacted
    EXPECT_EQ(goro::read_compact_stats().compactions, before.compactions + 1);
    gate.done();
    return 0;
  });
  goro::set_compact_after(prev);
}

TEST(Compact, CompactedSleeperWakesIntact) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  goro::run([] {
    // Each sleeper sleeps 20 ms at a time, checking its stack after every
    // wakeup, until main has seen as many restores as there are sleepers
    // (on a loaded machine some naps end before the compactor came by).
    std::atomic<int> broken{0};
    std::atomic<bool> release{false};
    goro::wait_group done;
    constexpr int kSleepers = 50;
    std::uint64_t restores0 = goro::read_compact_stats().restores;
    done.add(kSleepers);
    for (int i = 0; i < kSleepers; ++i) {
      goro::go(compact_soon(), [&, i] {
        Pattern p;
        p.fill(static_cast<std::uint64_t>(i));
        while (!release.load()) {
          goro::sleep_for(20ms);
          if (!p.intact(static_cast<std::uint64_t>(i))) broken.fetch_add(1);
        }
        done.done();
      });
    }
    for (int t = 0; t < 1000 && goro::read_compact_stats().restores < restores0 + kSleepers; ++t) {
      goro::sleep_for(10ms);
    }
    release.store(true);
    done.wait();
    EXPECT_EQ(broken.load(), 0);
    EXPECT_GE(goro::read_compact_stats().restores, restores0 + kSleepers);
    return 0;
  });
}

TEST(Compact, CompactedGoroutineResumesOnAnotherWorker) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  int prev = goro::set_maxprocs(2);
  goro::run([] {
    bool moved = false;
    for (int round = 0; round < 20 && !moved; ++round) {
      goro::compact_stats before = goro::read_compact_stats();
      goro::wait_group parked, gate, done;
      std::atomic<long> ran_on{0};
      std::atomic<bool> intact{false};
      parked.add(1);
      gate.add(1);
      done.add(1);
      goro::go(compact_soon(), [&] {
        Pattern p;
        p.fill(11);
        parked.done();
        gate.wait();
        ran_on.store(thread_id());
        intact.store(p.intact(11));
        done.done();
      });
      parked.wait();
      EXPECT_TRUE(wait_compacted(before.compacted));
      // Ready it onto this worker's processor, then keep this worker busy:
      // an idle worker steals it and restores it there.
      long here = thread_id();
      gate.done();
      auto t0 = std::chrono::steady_clock::now();
      while (ran_on.load() == 0 && std::chrono::steady_clock::now() - t0 < 200ms) {
      }
      done.wait();
      EXPECT_TRUE(intact.load());
      moved = ran_on.load() != here;
    }
    EXPECT_TRUE(moved) << "never resumed on another worker in 20 rounds";
    return 0;
  });
  goro::set_maxprocs(prev);
}

TEST(Compact, SystemCallOnACompactedStackGetsEfault) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  goro::run([] {
    goro::compact_stats before = goro::read_compact_stats();
    ParkedWithBuffer g;
    g.start();
    EXPECT_TRUE(wait_compacted(before.compacted));
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    errno = 0;
    EXPECT_EQ(::write(fds[1], g.buffer.load(), 16), -1);
    EXPECT_EQ(errno, EFAULT);
    ::close(fds[0]);
    ::close(fds[1]);
    g.finish();
    EXPECT_TRUE(g.intact.load());
    return 0;
  });
}

TEST(Compact, DumpShowsACompactedGoroutineWithoutFrames) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  goro::run([] {
    goro::compact_stats before = goro::read_compact_stats();
    ParkedWithBuffer g;
    g.start();
    EXPECT_TRUE(wait_compacted(before.compacted));
    std::string dump = goro::dump_goroutines();
    EXPECT_NE(dump.find("[sync.WaitGroup.Wait]:\n\tstack compacted; frames unavailable\n"), std::string::npos)
        << dump;
    g.finish();
    EXPECT_TRUE(g.intact.load());
    return 0;
  });
}

// ---- stray accesses: fatal reports in a child ------------------------------------

TEST(CompactDeathTest, GoroutineTouchingACompactedStackIsReported) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::compact_stats before = goro::read_compact_stats();
                ParkedWithBuffer g;
                g.start();
                wait_compacted(before.compacted);
                volatile char* p = g.buffer.load();
                p[3] = 'y';  // the main goroutine (1) writes into the parked one's stack
                return 0;
              }),
              testing::ExitedWithCode(2),
              "runtime: goroutine 1 accessed 0x[0-9a-f]+ in the compacted stack of goroutine [0-9]+ "
              "\\[sync.WaitGroup.Wait\\]\n"
              "runtime: compacted range=\\[0x[0-9a-f]+, 0x[0-9a-f]+\\) pc=0x[0-9a-f]+\n"
              "fatal error: fault in a compacted goroutine stack.*\n\n"
              "goroutine 1 \\[running\\]:\n");
}

TEST(CompactDeathTest, ThreadTouchingACompactedStackIsReported) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::compact_stats before = goro::read_compact_stats();
                ParkedWithBuffer g;
                g.start();
                wait_compacted(before.compacted);
                char* p = g.buffer.load();
                std::thread reader([p] {
                  volatile char c = *static_cast<volatile char*>(p);
                  (void)c;
                });
                reader.join();
                return 0;
              }),
              testing::ExitedWithCode(2),
              "runtime: thread [0-9]+ \\(not a goroutine\\) accessed 0x[0-9a-f]+ in the compacted stack "
              "of goroutine [0-9]+ \\[sync.WaitGroup.Wait\\]\n.*"
              "fatal error: fault in a compacted goroutine stack");
}

TEST(CompactDeathTest, OverflowIsStillReportedAfterARestore) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::compact_stats before = goro::read_compact_stats();
                goro::wait_group parked, gate;
                parked.add(1);
                gate.add(1);
                goro::spawn_options o = compact_soon();
                o.max_stack = 64 * 1024;
                goro::go(o, [&] {
                  parked.done();
                  gate.wait();
                  compact_test_recurse(0);
                });
                parked.wait();
                wait_compacted(before.compacted);
                if (goro::read_compact_stats().compacted == before.compacted) return 3;
                gate.done();
                goro::sleep_for(60s);
                return 0;
              }),
              testing::ExitedWithCode(2),
              "runtime: goroutine [0-9]+ stack exceeds 65536-byte limit\n.*"
              "fatal error: stack overflow\n\n.*compact_test_recurse");
}

TEST(CompactDeathTest, DisabledWithMprotectGuards) {
  use_threadsafe_death_tests();
  auto child = [] {
    ::setenv("GORO_FORCE_MPROTECT_GUARD", "1", 1);
    std::_Exit(goro::compaction_supported() ? 1 : 0);
  };
  EXPECT_EXIT(child(), testing::ExitedWithCode(0), "");
}

TEST(Compact, AllowCompactionForbidsAndAllows) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  goro::run([] {
    EXPECT_FALSE(goro::this_goroutine::allow_compaction(false)) << "main did not opt in";
    goro::compact_stats before = goro::read_compact_stats();
    goro::wait_group parked, gate, reparked, gate2, done;
    parked.add(1);
    gate.add(1);
    reparked.add(1);
    gate2.add(1);
    done.add(1);
    goro::go(compact_soon(), [&] {
      EXPECT_TRUE(goro::this_goroutine::allow_compaction(false));
      parked.done();
      gate.wait();  // forbidden: stays resident
      EXPECT_FALSE(goro::this_goroutine::allow_compaction(true));
      reparked.done();
      gate2.wait();  // allowed again
      done.done();
    });
    parked.wait();
    goro::sleep_for(30ms);
    EXPECT_EQ(goro::read_compact_stats().compactions, before.compactions);
    gate.done();
    reparked.wait();
    EXPECT_TRUE(wait_compacted(before.compacted));
    gate2.done();
    done.wait();
    return 0;
  });
}

// The scan period follows the shortest compact_after registered: a goroutine
// that asks for 1 ms while the compactor sleeps out a 250 ms period (set by
// one that asked for 2 s) wakes it, and the period is cut at once, not after
// the long one ends.
TEST(Compact, ShorterCompactAfterShortensTheCurrentPeriod) {
  if (!goro::compaction_supported()) GTEST_SKIP() << "no MADV_GUARD_INSTALL";
  goro::run([] {
    goro::wait_group slow_parked, gate, done;
    slow_parked.add(1);
    gate.add(1);
    done.add(2);
    goro::spawn_options slow;
    slow.compact_after = 2s;
    goro::go(slow, [&] {
      slow_parked.done();
      gate.wait();
      done.done();
    });
    slow_parked.wait();
    goro::sleep_for(20ms);  // the compactor is asleep for its 250 ms period now
    goro::compact_stats before = goro::read_compact_stats();
    auto t0 = std::chrono::steady_clock::now();
    goro::go(compact_soon(), [&] {
      gate.wait();
      done.done();
    });
    EXPECT_TRUE(wait_compacted(before.compacted));
    auto took = std::chrono::steady_clock::now() - t0;
    if (timing_checks()) {
      EXPECT_LT(took, 150ms) << "the compactor slept out the 250 ms period of the 2 s goroutine";
    }
    gate.done();
    done.wait();
    return 0;
  });
}
