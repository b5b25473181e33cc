// Tests of the scheduler through the public API: work stealing across
// processors, yield fairness, timers and sleeping, idleness, goroutine ids
// and counts, one processor, deadlock detection, and a stress test of many
// goroutines meeting on wait_groups and mutexes over repeated runs.
//
// Every TEST calls goro::run itself and sets its processor count
// (goro_test::run_on). Timing bounds hold only in plain builds; sanitizer
// builds check the same behaviour with smaller counts.
#include "helpers/test_util.hpp"

#include <goro/goro.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

// These tests misuse locks on purpose (unlocking an unlocked one, a lock
// never released, an unlock from another goroutine, try_lock() results
// read through EXPECT macros), which clang's thread-safety analysis rejects
// by design; tests/thread_annotations checks the analysis itself.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace {

using namespace goro_test;
using namespace std::chrono_literals;

void use_threadsafe_death_tests() {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
}

// ---------------------------------------------------------------------------
// Work stealing.

// Iterations of spin_work taking about `ms` milliseconds on this thread.
std::uint64_t calibrate_iterations(double ms) {
  std::uint64_t iters = 1 << 16;
  for (;;) {
    double t0 = thread_cpu_ms();
    spin_work(iters);
    double took = thread_cpu_ms() - t0;
    if (took >= 20.0) return static_cast<std::uint64_t>(static_cast<double>(iters) * ms / took);
    iters *= 2;
  }
}

// Counts goroutines inside a section at once, and the most ever seen.
struct Concurrency {
  std::atomic<int> now{0}, max{0};
  void enter() {
    int n = now.fetch_add(1) + 1;
    int m = max.load();
    while (n > m && !max.compare_exchange_weak(m, n)) {
    }
  }
  void leave() { now.fetch_sub(1); }
};

struct BusyRecord {
  long tid = 0;
  Clock::time_point start, end;
  double cpu_ms = 0;  // thread CPU time the goroutine used
  double wall_ms() const { return std::chrono::duration<double, std::milli>(end - start).count(); }
};

TEST(Sched, WorkStealingRunsCpuBoundGoroutinesInParallel) {
  const std::uint64_t iters = calibrate_iterations(100.0);
  double single_ms = 0, pair_ms = 0;
  BusyRecord one, a, b;
  bool overlapped = false, contended = false;
  auto busy = [iters](BusyRecord* r) {
    r->tid = thread_id();
    r->start = Clock::now();
    double c0 = thread_cpu_ms();
    spin_work(iters);  // CPU-bound, never yields
    r->cpu_ms = thread_cpu_ms() - c0;
    r->end = Clock::now();
  };
  // Timing on a shared machine can be disturbed: up to three attempts, each
  // of which must run the two goroutines on different threads at once.
  for (int attempt = 0; attempt < 3 && !overlapped; ++attempt) {
    run_on(2, [&] {
      goro::wait_group wg;
      auto t0 = Clock::now();
      wg.go([&] { busy(&one); });
      wg.wait();
      single_ms = ms_since(t0);
      // Both are spawned by one goroutine onto its own processor; the other
      // processor's worker has to steal one.
      t0 = Clock::now();
      wg.go([&] { busy(&a); });
      wg.go([&] { busy(&b); });
      wg.wait();
      pair_ms = ms_since(t0);
    });
    EXPECT_NE(a.tid, b.tid) << "both CPU-bound goroutines ran on one thread: no stealing";
    EXPECT_NE(a.tid, 0);
    EXPECT_NE(b.tid, 0);
    EXPECT_TRUE(a.start < b.end && b.start < a.end) << "the two goroutines did not run at the same time";
    overlapped = pair_ms < 1.6 * single_ms;
    // A goroutine whose thread got much less than a CPU: other processes
    // compete for the CPUs, and wall-time ratios say nothing about goro.
    contended = false;
    for (const BusyRecord* r : {&one, &a, &b}) contended |= r->wall_ms() > 1.3 * r->cpu_ms;
    std::printf(
        "attempt %d: single %.1f ms (%.1f CPU), pair %.1f ms (%.1f and %.1f CPU in %.1f and %.1f ms)%s\n",
        attempt, single_ms, one.cpu_ms, pair_ms, a.cpu_ms, b.cpu_ms, a.wall_ms(), b.wall_ms(),
        contended ? ", CPUs contended" : "");
  }
  if (timing_checks() && !overlapped) {
    if (contended) {
      std::printf("machine oversubscribed: wall-time ratio not checked\n");
    } else {
      ADD_FAILURE() << "two goroutines took " << pair_ms << " ms, one took " << single_ms << " ms";
    }
  }
}

TEST(Sched, IdleProcessorStealsFromBusyQueue) {
  // One goroutine fills its processor's queue with many CPU-bound tasks;
  // the other processor must take some, and never more than two run at once.
  const int n = 64;
  std::mutex mu;
  std::set<long> tids;
  std::atomic<int> done{0};
  Concurrency running;
  run_on(2, [&] {
    goro::wait_group wg;
    wg.go([&] {
      for (int i = 0; i < n; ++i) {
        wg.go([&] {
          running.enter();
          spin_work(1'000'000);
          {
            std::lock_guard lk(mu);
            tids.insert(thread_id());
          }
          running.leave();
          done.fetch_add(1);
        });
      }
    });
    wg.wait();
  });
  EXPECT_EQ(done.load(), n);
  // A processor may move between worker threads, so more than two threads
  // may show up, but at least two must.
  EXPECT_GE(tids.size(), 2u);
  EXPECT_EQ(running.max.load(), 2) << "two processors, yet not two goroutines at once (or more)";
}

// ---------------------------------------------------------------------------
// Yield.

void check_yield_fairness(int procs) {
  constexpr int kGoroutines = 8;
  std::vector<std::atomic<std::int64_t>> counts(kGoroutines);
  std::atomic<bool> stop{false};
  run_on(procs, [&] {
    goro::wait_group wg;
    for (int i = 0; i < kGoroutines; ++i) {
      wg.go([&, i] {
        while (!stop.load(std::memory_order_relaxed)) {
          counts[i].fetch_add(1, std::memory_order_relaxed);
          goro::yield();
        }
      });
    }
    goro::sleep_for(100ms);
    stop = true;
    wg.wait();
  });
  std::int64_t lo = INT64_MAX, hi = 0;
  for (auto& c : counts) {
    lo = std::min<std::int64_t>(lo, c.load());
    hi = std::max<std::int64_t>(hi, c.load());
  }
  std::printf("procs %d: yields per goroutine min %lld max %lld\n", procs, static_cast<long long>(lo),
              static_cast<long long>(hi));
  EXPECT_GE(lo, scaled(1000, 50)) << "a yielding goroutine starved";
  if (procs == 1) {
    // One run queue: yield is round robin.
    EXPECT_GE(lo * 3, hi) << "yield is unfair";
  } else if (!kSanitizer) {
    // yield() requeues on the caller's own processor, so 8 goroutines may
    // split 1:7 over two processors (runtime.hpp says the global queue;
    // see the report); no goroutine may fall further behind than that.
    EXPECT_GE(lo * 10, hi) << "yield is unfair";
  }
}

TEST(Sched, YieldFairnessOneProcessor) {
  check_yield_fairness(1);
}
TEST(Sched, YieldFairnessTwoProcessors) {
  check_yield_fairness(2);
}

TEST(Sched, YieldOutsideGoroutineIsHarmless) {
  goro::yield();
  SUCCEED();
}

// ---------------------------------------------------------------------------
// Sleeping and timers.
//
// Lateness bounds are the brief's "+50 ms under load". One preemption of a
// worker thread on a shared machine can exceed that, so each timing test
// makes up to kTimingAttempts measurements and fails only if none is within
// bounds; correctness (never early, every tick fires) is checked every time.

constexpr int kTimingAttempts = 3;

struct Lateness {
  std::vector<double> ms;
  double worst() const { return ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()); }
  double avg() const {
    double sum = 0;
    for (double l : ms) sum += l;
    return ms.empty() ? 0 : sum / static_cast<double>(ms.size());
  }
};

// Sleeps of 1, 5 and 20 ms on two processors, alone or among goroutines that
// compute briefly and yield.
Lateness measure_sleep_accuracy(bool loaded) {
  Lateness late;
  std::atomic<bool> stop{false};
  run_on(2, [&] {
    goro::wait_group load;
    if (loaded) {
      for (int i = 0; i < 4; ++i) {
        load.go([&] {
          while (!stop.load(std::memory_order_relaxed)) {
            spin_work(20'000);
            goro::yield();
          }
        });
      }
    }
    for (auto d : {1ms, 5ms, 20ms}) {
      for (int rep = 0; rep < 5; ++rep) {
        auto t0 = Clock::now();
        goro::sleep_for(d);
        auto took = Clock::now() - t0;
        EXPECT_GE(took, d) << "woke early";
        late.ms.push_back(std::chrono::duration<double, std::milli>(took - d).count());
      }
    }
    // sleep_until with another clock, and deadlines already passed.
    auto t0 = Clock::now();
    goro::sleep_until(std::chrono::system_clock::now() + 3ms);
    EXPECT_GE(Clock::now() - t0, 2ms);
    t0 = Clock::now();
    goro::sleep_for(0ms);
    goro::sleep_for(-5ms);
    goro::sleep_until(Clock::now() - 1s);
    if (timing_checks()) {
      EXPECT_LT(Clock::now() - t0, 50ms);
    }
    stop = true;
    load.wait();
  });
  std::printf("%s: worst lateness %.2f ms\n", loaded ? "loaded" : "idle", late.worst());
  return late;
}

void check_sleep_accuracy(bool loaded) {
  Lateness late;
  for (int attempt = 0; attempt < kTimingAttempts; ++attempt) {
    late = measure_sleep_accuracy(loaded);
    if (late.worst() < 50.0) break;
  }
  if (timing_checks()) {
    EXPECT_LT(late.worst(), 50.0);
  }
}

TEST(Sleep, AccuracyIdle) {
  check_sleep_accuracy(false);
}
TEST(Sleep, AccuracyUnderYieldingLoad) {
  check_sleep_accuracy(true);
}

TEST(Sleep, TenThousandConcurrentSleepers) {
  const int n = static_cast<int>(scaled(10'000, 2'000));
  std::atomic<int> done{0}, early{0};
  double wall = 0;
  run_on(2, [&] {
    goro::wait_group wg;
    auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      wg.go([&, i] {
        auto d = std::chrono::milliseconds(1 + i % 20);
        auto s = Clock::now();
        goro::sleep_for(d);
        if (Clock::now() - s < d) early.fetch_add(1);
        done.fetch_add(1);
      });
    }
    wg.wait();
    wall = ms_since(t0);
  });
  EXPECT_EQ(done.load(), n);
  EXPECT_EQ(early.load(), 0);
  std::printf("%d sleepers: %.1f ms\n", n, wall);
  if (timing_checks()) {
    EXPECT_LT(wall, 2000.0);
  }
}

TEST(Sleep, TimersFireWhileOtherGoroutinesAreCpuBusy) {
  // One goroutine hogs a processor without yielding; a ticker's timers must
  // still fire (on the other processor) meanwhile.
  constexpr int kTicks = 20;
  const auto busy_for = kSanitizer ? 1500ms : 600ms;
  int ticks_before_busy_ended = -1;
  Lateness late;
  for (int attempt = 0; attempt < kTimingAttempts; ++attempt) {
    ticks_before_busy_ended = -1;
    late = {};
    double ticker_ms = 0;
    std::atomic<int> ticks{0};
    std::atomic<bool> busy_started{false};
    run_on(2, [&] {
      goro::wait_group wg;
      wg.go([&] {
        busy_started = true;
        spin_for(busy_for);
        ticks_before_busy_ended = ticks.load();
      });
      wg.go([&] {
        while (!busy_started.load()) goro::sleep_for(100us);
        auto t0 = Clock::now();
        for (int i = 0; i < kTicks; ++i) {
          auto s = Clock::now();
          goro::sleep_for(5ms);
          late.ms.push_back(ms_since(s) - 5.0);
          ticks.fetch_add(1);
        }
        ticker_ms = ms_since(t0);
      });
      wg.wait();
    });
    EXPECT_EQ(ticks.load(), kTicks);
    std::printf(
        "ticker: %.1f ms for %d ticks of 5 ms, worst lateness %.2f ms, %d ticks during the busy loop\n",
        ticker_ms, kTicks, late.worst(), ticks_before_busy_ended);
    if (ticks_before_busy_ended == kTicks && late.worst() < 50.0) break;
  }
  if (timing_checks()) {
    EXPECT_EQ(ticks_before_busy_ended, kTicks) << "timers stalled behind a CPU-bound goroutine";
    EXPECT_LT(late.worst(), 50.0);
  } else {
    EXPECT_GE(ticks_before_busy_ended, 1);
  }
}

// A ticker sleeps 20 x 5 ms on `procs` processors while two goroutines
// compute for `slice_ms` of CPU and yield, forever. Also reports the wall
// time a slice really took meanwhile (longer when other processes compete
// for the CPUs), per processor.
struct TickerFigures {
  Lateness late;
  double wall_slice_ms = 0;
};

TickerFigures ticker_among_yielders(int procs, double slice_ms) {
  const std::uint64_t slice = calibrate_iterations(slice_ms);
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> slices{0};
  TickerFigures f;
  run_on(procs, [&] {
    goro::wait_group busy, ticker;
    for (int i = 0; i < 2; ++i) {
      busy.go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          spin_work(slice);
          slices.fetch_add(1, std::memory_order_relaxed);
          goro::yield();
        }
      });
    }
    ticker.go([&] {
      const std::int64_t s0 = slices.load();
      const auto start = Clock::now();
      for (int i = 0; i < 20; ++i) {
        auto t0 = Clock::now();
        goro::sleep_for(5ms);
        f.late.ms.push_back(ms_since(t0) - 5.0);
      }
      const std::int64_t n = std::max<std::int64_t>(1, slices.load() - s0);
      f.wall_slice_ms = ms_since(start) * std::min(procs, 2) / static_cast<double>(n);
    });
    ticker.wait();
    stop = true;
    busy.wait();
  });
  EXPECT_EQ(f.late.ms.size(), 20u);
  EXPECT_GE(*std::min_element(f.late.ms.begin(), f.late.ms.end()), 0.0) << "a sleep ended early";
  std::printf("%d processor(s), %.1f ms CPU slices (%.2f ms wall): lateness avg %.2f ms, worst %.2f ms\n",
              procs, slice_ms, f.wall_slice_ms, f.late.avg(), f.late.worst());
  return f;
}

TEST(Sleep, TimersFireWhileBothProcessorsYieldBusily) {
  TickerFigures f;
  for (int attempt = 0; attempt < kTimingAttempts; ++attempt) {
    f = ticker_among_yielders(2, 0.1);
    if (f.late.worst() < 50.0) break;
  }
  if (timing_checks()) {
    EXPECT_LT(f.late.worst(), 50.0);
  }
}

// On one processor, goroutines that compute ~0.3 ms between yields must not
// delay a sleeper by much: timers of a busy processor are checked on every
// switch once they may be due, so a sleeper waits for about one slice plus
// the coarse clock's 4 ms tick. (They used to be checked on every 61st
// switch only: about 30 slices late on average.) Bounds are in wall-time
// slices, which grow when other processes compete for the CPUs.
TEST(Sleep, TimersOnOneProcessorAmongYieldingGoroutines) {
  TickerFigures f;
  auto avg_bound = [&] { return 4.0 + 10 * f.wall_slice_ms; };
  auto worst_bound = [&] { return 50.0 + 20 * f.wall_slice_ms; };
  for (int attempt = 0; attempt < kTimingAttempts; ++attempt) {
    f = ticker_among_yielders(1, 0.3);
    if (f.late.worst() < worst_bound() && f.late.avg() < avg_bound()) break;
  }
  if (timing_checks()) {
    EXPECT_LT(f.late.worst(), worst_bound());
    EXPECT_LT(f.late.avg(), avg_bound()) << "a sleeper waits for dozens of time slices";
  }
}

TEST(Sleep, IdleProcessUsesNoCpu) {
  double cpu_ms = -1, wall_ms = 0;
  run_on(2, [&] {
    // Get workers going first, so idle ones exist and must really sleep.
    goro::wait_group wg;
    for (int i = 0; i < 200; ++i)
      wg.go([] {
        spin_work(10'000);
        goro::yield();
      });
    wg.wait();
    goro::sleep_for(10ms);
    double c0 = process_cpu_ms();
    auto t0 = Clock::now();
    goro::sleep_for(300ms);
    wall_ms = ms_since(t0);
    cpu_ms = process_cpu_ms() - c0;
  });
  std::printf("CPU during a 300 ms sleep: %.2f ms\n", cpu_ms);
  EXPECT_GE(wall_ms, 300.0);
  if (timing_checks()) {
    EXPECT_LT(cpu_ms, 30.0) << "an idle runtime burned CPU";
  }
}

TEST(Sleep, ManyIdleSleepersUseLittleCpu) {
  double cpu_ms = -1;
  run_on(2, [&] {
    goro::wait_group wg;
    for (int i = 0; i < 100; ++i) {
      wg.go([] {
        for (int k = 0; k < 3; ++k) goro::sleep_for(100ms);
      });
    }
    goro::sleep_for(5ms);
    double c0 = process_cpu_ms();
    wg.wait();
    cpu_ms = process_cpu_ms() - c0;
  });
  std::printf("CPU for 100 goroutines sleeping 3 x 100 ms: %.2f ms\n", cpu_ms);
  if (timing_checks()) {
    EXPECT_LT(cpu_ms, 50.0);
  }
}

// ---------------------------------------------------------------------------
// Ids and counts.

TEST(Sched, GoroutineIdsAreUniqueAndMainsIsSmallest) {
  const int n = static_cast<int>(scaled(2000, 500));
  std::vector<std::uint64_t> ids(n);
  std::uint64_t main_id = 0;
  std::vector<std::uint64_t> returned(n);
  run_on(2, [&] {
    main_id = goro::this_goroutine::id();
    goro::wait_group wg;
    for (int i = 0; i < n; ++i) {
      wg.add(1);
      returned[i] = goro::go([&, i] {
        ids[i] = goro::this_goroutine::id();
        wg.done();
      });
    }
    wg.wait();
  });
  std::set<std::uint64_t> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(unique.count(main_id), 0u);
  EXPECT_EQ(unique.count(0), 0u);
  for (int i = 0; i < n; ++i) EXPECT_EQ(ids[i], returned[i]);
  EXPECT_LT(main_id, *unique.begin());
}

// Regression: goroutine ids used to keep counting across run() calls, so
// only the first run's main goroutine got id 1.
TEST(Sched, MainGoroutineIdIsOneInEveryRun) {
  for (int i = 0; i < 3; ++i) {
    std::uint64_t id = 0;
    run_on(2, [&] {
      goro::wait_group wg;
      for (int k = 0; k < 40; ++k) wg.go([] {});
      wg.wait();
      id = goro::this_goroutine::id();
    });
    EXPECT_EQ(id, 1u) << "run " << i;
  }
}

TEST(Sched, NumGoroutineCounts) {
  std::int64_t alone = 0, with_parked = 0, after = 0, inside_child = 0;
  const int n = 500;
  run_on(2, [&] {
    alone = goro::num_goroutine();
    goro::wait_group gate, started, done;
    gate.add(1);
    started.add(n);
    for (int i = 0; i < n; ++i) {
      done.go([&] {
        started.done();
        gate.wait();
      });
    }
    started.wait();
    with_parked = goro::num_goroutine();
    done.go([&] { inside_child = goro::num_goroutine(); });
    gate.done();
    done.wait();
    for (int i = 0; i < 1000 && goro::num_goroutine() != 1; ++i) goro::sleep_for(1ms);
    after = goro::num_goroutine();
  });
  EXPECT_EQ(alone, 1);
  EXPECT_EQ(with_parked, n + 1);
  EXPECT_GE(inside_child, 2);
  EXPECT_LE(inside_child, n + 2);
  EXPECT_EQ(after, 1);
  EXPECT_EQ(goro::num_goroutine(), 0);  // outside run
}

// ---------------------------------------------------------------------------
// One processor.

void spawn_tree(int depth, goro::wait_group& wg, std::atomic<int>& count, Concurrency& running) {
  running.enter();
  count.fetch_add(1);
  spin_work(1000);
  running.leave();
  if (depth == 0) return;
  for (int i = 0; i < 2; ++i) {
    wg.go([depth, &wg, &count, &running] { spawn_tree(depth - 1, wg, count, running); });
  }
  goro::yield();
}

TEST(Sched, OneProcessorWithNestedSpawns) {
  constexpr int kTreeDepth = kSanitizer ? 8 : 11;
  std::atomic<int> count{0};
  Concurrency running;
  int procs_inside = 0;
  std::int64_t sum = 0;
  run_on(1, [&] {
    procs_inside = goro::maxprocs();
    goro::wait_group wg;
    wg.go([&] { spawn_tree(kTreeDepth, wg, count, running); });
    wg.wait();
    // Sleeping and ping-pong still work with one processor.
    goro::wait_group ping, pong;
    std::int64_t local = 0;
    for (int i = 0; i < 100; ++i) {
      ping.add(1);
      pong.add(1);
      goro::go([&] {
        ping.wait();
        local += 1;
        pong.done();
      });
      goro::sleep_for(std::chrono::microseconds(50));
      ping.done();
      pong.wait();
    }
    sum = local;
  });
  EXPECT_EQ(procs_inside, 1);
  EXPECT_EQ(count.load(), (1 << (kTreeDepth + 1)) - 1);
  EXPECT_EQ(running.max.load(), 1) << "one processor, yet goroutines ran at the same time";
  EXPECT_EQ(sum, 100);
}

// A goroutine that spawns in a loop and never blocks cannot be preempted, so
// go() yields it once its processor's queue fills: the children made so far
// run before it makes more, and they never pile up by the thousand. go()
// on the system stack fills the queue too, and must carry on there (a
// switch from the system stack would resume the goroutine on the wrong
// stack).
TEST(Sched, SpawnLoopYieldsWhenItsQueueFills) {
  constexpr int kChildren = 20000;
  // Atomic: a spare processor (sysmon.cpp) may run children beside the loop.
  std::atomic<int> started{0};
  int started_during_loop = 0;
  int max_pending = 0;
  std::thread::id system_stack_thread_before, system_stack_thread_after;
  run_on(1, [&] {
    goro::wait_group wg;
    wg.add(kChildren);
    for (int i = 1; i <= kChildren; ++i) {
      goro::go([&] {
        started++;
        wg.done();
      });
      max_pending = std::max(max_pending, i - started.load());
    }
    started_during_loop = started.load();
    wg.wait();
    started.store(0);
    wg.add(1000);
    goro::on_system_stack([&] {
      system_stack_thread_before = std::this_thread::get_id();
      for (int i = 0; i < 1000; ++i)
        goro::go([&] {
          started++;
          wg.done();
        });
      system_stack_thread_after = std::this_thread::get_id();
    });
    wg.wait();
  });
  EXPECT_GT(started_during_loop, kChildren / 2);
  // The local queue (256 and runnext) plus one batch sent to the global queue.
  EXPECT_LE(max_pending, 600);
  EXPECT_EQ(system_stack_thread_before, system_stack_thread_after);
  EXPECT_EQ(started.load(), 1000);
}

TEST(Sched, GoroMaxprocsEnvironmentVariable) {
  // A fresh process where set_maxprocs was never called reads the variable.
  use_threadsafe_death_tests();
  EXPECT_EXIT(
      {
        auto main_fn = [] { return goro::maxprocs(); };
        ::setenv("GORO_MAXPROCS", "1", 1);
        int procs = goro::run(main_fn);
        ::setenv("GORO_MAXPROCS", "3", 1);
        int procs3 = goro::run(main_fn);
        std::_Exit(procs == 1 && procs3 == 3 ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

TEST(Sched, SetMaxprocsReturnsPrevious) {
  int old = goro::set_maxprocs(3);
  EXPECT_GE(old, 1);
  EXPECT_EQ(goro::set_maxprocs(0), 3);  // query only
  EXPECT_EQ(goro::maxprocs(), 3);
  auto main_fn = [] { return goro::maxprocs(); };
  EXPECT_EQ(goro::run(main_fn), 3);
  EXPECT_EQ(goro::set_maxprocs(2), 3);
  EXPECT_EQ(goro::run(main_fn), 2);
}

// ---------------------------------------------------------------------------
// Deadlock detection.

TEST(SchedDeathTest, DeadlockMainWaitsForever) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(run_on(2,
                     [] {
                       goro::wait_group wg;
                       wg.add(1);
                       wg.wait();
                     }),
              testing::ExitedWithCode(2), "fatal error: all goroutines are asleep - deadlock!");
}

TEST(SchedDeathTest, DeadlockEveryoneParked) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(run_on(2,
                     [] {
                       goro::mutex mu;
                       goro::wait_group wg;
                       wg.add(1);
                       mu.lock();
                       for (int i = 0; i < 10; ++i) {
                         goro::go([&] {
                           mu.lock();  // never unlocked
                           mu.unlock();
                         });
                       }
                       goro::sleep_for(5ms);  // a timer pending is no deadlock yet
                       wg.wait();
                     }),
              testing::ExitedWithCode(2), "all goroutines are asleep - deadlock!");
}

TEST(SchedDeathTest, DeadlockOnOneProcessor) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(run_on(1,
                     [] {
                       goro::wait_group wg;
                       wg.add(1);
                       wg.wait();
                     }),
              testing::ExitedWithCode(2), "all goroutines are asleep - deadlock!");
}

TEST(Sched, SleepersAndBlockingAreNoDeadlock) {
  // Main waits while the only other goroutine sleeps, then blocks in a
  // system call: neither is a deadlock.
  bool finished = false;
  run_on(2, [&] {
    goro::wait_group wg;
    wg.go([] {
      goro::sleep_for(50ms);
      goro::blocking([] { ::usleep(50'000); });
    });
    wg.wait();
    finished = true;
  });
  EXPECT_TRUE(finished);
}

// ---------------------------------------------------------------------------
// Stress.

struct StressResult {
  std::int64_t counter = 0;
  std::int64_t relayed = 0;
  std::int64_t expected_counter = 0;
};

StressResult stress_round(int n, int relay_len) {
  StressResult r;
  constexpr int kLocks = 3;
  goro::mutex mu;
  std::int64_t counter = 0;  // guarded by mu
  goro::wait_group gate, all;
  gate.add(1);
  for (int i = 0; i < n; ++i) {
    all.go([&] {
      gate.wait();
      for (int k = 0; k < kLocks; ++k) {
        mu.lock();
        ++counter;
        mu.unlock();
        if (k == 0) goro::yield();
      }
    });
  }
  // A relay: goroutine i waits for step[i] and opens step[i + 1].
  auto steps = std::make_unique<goro::wait_group[]>(relay_len + 1);
  for (int i = 0; i <= relay_len; ++i) steps[i].add(1);
  std::atomic<std::int64_t> relayed{0};
  for (int i = 0; i < relay_len; ++i) {
    all.go([&, i] {
      steps[i].wait();
      relayed.fetch_add(1, std::memory_order_relaxed);
      steps[i + 1].done();
    });
  }
  gate.done();
  steps[0].done();
  steps[relay_len].wait();
  all.wait();
  r.counter = counter;
  r.relayed = relayed.load();
  r.expected_counter = static_cast<std::int64_t>(n) * kLocks;
  return r;
}

TEST(Stress, HundredThousandGoroutinesPingOnTwoProcessors) {
  const int n = static_cast<int>(scaled3(100'000, 10'000, 2'000));
  const int relay = static_cast<int>(scaled3(10'000, 1'000, 300));
  ASSERT_TRUE(!kTsan || n + relay <= kTsanMaxLive);
  StressResult r;
  double wall = 0;
  run_on(2, [&] {
    auto t0 = Clock::now();
    r = stress_round(n, relay);
    wall = ms_since(t0);
  });
  std::printf("stress: %d goroutines, relay %d: %.0f ms\n", n, relay, wall);
  EXPECT_EQ(r.counter, r.expected_counter);
  EXPECT_EQ(r.relayed, relay);
}

TEST(Stress, RepeatedRunsDoNotLeak) {
  const int n = static_cast<int>(scaled3(20'000, 2'000, 500));
  const int relay = static_cast<int>(scaled3(1'000, 200, 100));
  std::vector<goro::stack_stats> after;
  std::vector<std::int64_t> rss;
  for (int run = 0; run < 10; ++run) {
    StressResult r;
    run_on(2, [&] { r = stress_round(n, relay); });
    EXPECT_EQ(r.counter, r.expected_counter) << "run " << run;
    EXPECT_EQ(r.relayed, relay) << "run " << run;
    EXPECT_EQ(goro::num_goroutine(), 0);
    after.push_back(goro::read_stack_stats());
    rss.push_back(resident_bytes());
  }
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].live_stacks, 0u) << "run " << i << " left live stacks behind";
    EXPECT_EQ(after[i].stack_inuse, 0u) << "run " << i;
    if (i >= 1) {
      EXPECT_EQ(after[i].stack_reserved, after[0].stack_reserved) << "run " << i;
    }
  }
  std::printf("resident after run 1: %lld KiB, after run 10: %lld KiB\n",
              static_cast<long long>(rss[0] / 1024), static_cast<long long>(rss.back() / 1024));
  if (!kSanitizer) {
    EXPECT_LT(rss.back() - rss[1], static_cast<std::int64_t>(16 * kMiB)) << "memory grows run after run";
  }
}

}  // namespace

// A goroutine's record lives at the top of its stack, and a spawn on a
// recycled stack writes only the record's hot lines: what an earlier
// goroutine left in the cold ones (its name, its sleep timer, its own wait
// record) must not show through.
TEST(Sched, RecycledStackShowsNothingOfItsPreviousGoroutine) {
  run_on(1, [] {
    std::uintptr_t named_frame = 0;
    goro::wait_group wg;
    wg.add(1);
    goro::go(goro::spawn_options{.name = "first-owner"}, [&] {
      int local = 0;
      named_frame = reinterpret_cast<std::uintptr_t>(&local);
      goro::sleep_for(std::chrono::milliseconds(1));  // builds its sleep timer
      wg.done();
    });
    wg.wait();
    bool reused = false;
    for (int i = 0; i < 64; i++) {
      std::string name = "unset";
      std::string dump;
      std::uintptr_t frame = 0;
      goro::wait_group one;
      one.add(1);
      goro::go([&] {
        int local = 0;
        frame = reinterpret_cast<std::uintptr_t>(&local);
        name = std::string(goro::this_goroutine::name());
        dump = goro::dump_goroutines();
        goro::sleep_for(std::chrono::microseconds(100));  // sleeps on a fresh timer
        one.done();
      });
      one.wait();
      EXPECT_EQ(name, "");
      EXPECT_EQ(dump.find("first-owner"), std::string::npos) << dump;
      std::uintptr_t distance = frame > named_frame ? frame - named_frame : named_frame - frame;
      reused = reused || distance < 4096;
    }
    // The test means something only if some spawn did take the stack back.
    EXPECT_TRUE(reused);
  });
}
