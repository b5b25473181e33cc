// Tests of goro::timer, ticker, after, tick and after_func
// (src/time/timer.cpp, include/goro/timer.hpp), pinning Go 1.23's timer
// semantics: timers fire no earlier than asked; stop() and reset() return
// whether the timer was pending (a fired but unreceived value counts) and
// leave no stale value behind, also when they race with the fire; timer
// channels report len and cap 0; tickers tick, drop ticks for slow
// receivers, stop and reset; after_func runs in its own goroutine and is
// prevented by stop(); dropped timers are stopped (ASan checks nothing
// leaks); and a million pending timers do not slow unrelated scheduling.
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;
using goro_test::scaled;

namespace {

int procs() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

TEST(Timer, AfterFiresOnceNoEarlierThanAsked) {
  run_on(procs(), [] {
    auto t0 = goro::clock::now();
    auto ch = goro::after(15ms);
    auto v = ch.recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(goro::clock::now() - t0, 15ms);
    EXPECT_GE(*v - t0, 15ms) << "the value is the time it fired";
    EXPECT_EQ(ch.try_recv(), std::nullopt) << "fires once";
  });
}

TEST(Timer, ZeroOrNegativeDurationFiresAtOnce) {
  run_on(1, [] {
    EXPECT_TRUE(goro::after(0ms).recv().has_value());
    goro::timer t(-5s);
    EXPECT_TRUE(t.c().recv().has_value());
  });
}

TEST(Timer, ChannelReportsLenAndCapZero) {
  run_on(1, [] {
    goro::timer t(1ms);
    goro::sleep_for(5ms);
    EXPECT_EQ(t.c().len(), 0u);
    EXPECT_EQ(t.c().cap(), 0u);
    EXPECT_TRUE(t.c().try_recv().has_value()) << "yet the fired value is there";
  });
}

TEST(Timer, StopBeforeFirePreventsIt) {
  run_on(procs(), [] {
    goro::timer t(20ms);
    EXPECT_TRUE(t.stop());
    EXPECT_FALSE(t.stop()) << "stopping twice";
    goro::sleep_for(40ms);
    EXPECT_EQ(t.c().try_recv(), std::nullopt);
  });
}

TEST(Timer, StopAfterFireButBeforeReceiveDiscardsTheValue) {
  // Go 1.23: the timer channel is synchronous, so an unreceived value is
  // still "pending" and Stop both returns true and discards it.
  run_on(procs(), [] {
    goro::timer t(1ms);
    goro::sleep_for(10ms);
    EXPECT_TRUE(t.stop());
    EXPECT_EQ(t.c().try_recv(), std::nullopt) << "stale value after stop";
  });
}

TEST(Timer, StopAfterReceiveReturnsFalse) {
  run_on(procs(), [] {
    goro::timer t(1ms);
    t.c().recv();
    EXPECT_FALSE(t.stop());
  });
}

TEST(Timer, ResetDiscardsAStaleValueAndRearms) {
  run_on(procs(), [] {
    goro::timer t(1ms);
    goro::sleep_for(10ms);  // fired, not received
    auto t0 = goro::clock::now();
    EXPECT_TRUE(t.reset(30ms));
    EXPECT_EQ(t.c().try_recv(), std::nullopt) << "stale value after reset";
    auto v = t.c().recv();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(goro::clock::now() - t0, 30ms);
    // Reset of an expired, received timer returns false and fires again.
    EXPECT_FALSE(t.reset(1ms));
    EXPECT_TRUE(t.c().recv().has_value());
  });
}

TEST(Timer, ResetOfAPendingTimerMovesIt) {
  run_on(procs(), [] {
    goro::timer t(10s);
    auto t0 = goro::clock::now();
    EXPECT_TRUE(t.reset(10ms));
    t.c().recv();
    auto waited = goro::clock::now() - t0;
    EXPECT_GE(waited, 10ms);
    EXPECT_LT(waited, 5s);
  });
}

// Pending timers reset in place (sched's modify_timer) among many others,
// earlier and later, on one processor: they fire in the order of their new
// times, each once.
TEST(Timer, ResetsInAPopulatedHeapKeepTheOrder) {
  run_on(1, [] {
    constexpr int kTimers = 64;
    std::vector<goro::timer> timers;
    for (int i = 0; i < kTimers; ++i) timers.emplace_back(std::chrono::seconds(10 + i));
    // New order: timer i fires at (kTimers - i) * 2 ms, reversing the heap.
    for (int i = 0; i < kTimers; ++i)
      EXPECT_TRUE(timers[i].reset(std::chrono::milliseconds(2 * (kTimers - i))));
    // And one moved later than all of them.
    EXPECT_TRUE(timers[kTimers - 1].reset(std::chrono::milliseconds(2 * kTimers + 50)));
    std::vector<int> order;
    goro::chan<int> fired(kTimers);
    goro::wait_group wg;
    for (int i = 0; i < kTimers; ++i) {
      wg.go([&, i] {
        timers[i].c().recv();
        fired.send(i);
      });
    }
    wg.wait();
    for (int i = 0; i < kTimers; ++i) order.push_back(*fired.recv());
    EXPECT_EQ(order.back(), kTimers - 1) << "moved later than all the others";
    // Mostly reversed (timers due together may be readied in either order).
    int late = 0;
    for (int k = 0; k + 1 < kTimers - 1; ++k) late += order[k] < order[k + 1] ? 1 : 0;
    // A loaded machine (or a sanitizer) may ready timers due close together late.
    EXPECT_LE(late, timing_checks() ? kTimers / 4 : kTimers / 2);
    std::sort(order.begin(), order.end());
    for (int i = 0; i < kTimers; ++i) EXPECT_EQ(order[i], i) << "each fires exactly once";
    EXPECT_FALSE(fired.try_recv().has_value());
  });
}

// Stop and reset racing with the fire, many times: after stop() returns no
// value is ever received, and after reset() only the new arm's value is.
TEST(Timer, StopAndResetRacingTheFireLeaveNoStaleValue) {
  run_on(procs(), [] {
    const int kGoroutines = 8;
    const int kRounds = static_cast<int>(scaled(3000, 300));
    std::atomic<int> stale{0};
    std::atomic<int> early{0};
    goro::wait_group wg;
    for (int g = 0; g < kGoroutines; ++g) {
      wg.go([&, g] {
        for (int i = 0; i < kRounds; ++i) {
          goro::timer t(std::chrono::microseconds((i + g) % 50));
          // Let the fire race with us: sometimes before, sometimes after.
          for (int k = 0; k < (i % 7); ++k) goro::yield();
          if (i % 2 == 0) {
            t.stop();
            if (t.c().try_recv()) stale++;
          } else {
            auto before = goro::clock::now();
            t.reset(200us);
            auto v = t.c().recv();
            if (*v < before + 200us) early++;
          }
        }
      });
    }
    wg.wait();
    EXPECT_EQ(stale.load(), 0) << "a value from before stop() was received";
    EXPECT_EQ(early.load(), 0) << "a value from before reset() was received";
  });
}

TEST(Timer, SelectWithATimer) {
  run_on(procs(), [] {
    goro::chan<int> work;
    goro::timer t(10ms);
    bool fired = false;
    goro::select(goro::on_recv(work), goro::on_recv(t.c(), [&] { fired = true; }));
    EXPECT_TRUE(fired);
    EXPECT_FALSE(t.stop());
  });
}

TEST(Timer, DroppedTimersAreStoppedAndFreed) {
  // ASan's leak check verifies that nothing survives; the runtime must not
  // crash when the heap holds timers whose owners are gone.
  run_on(procs(), [] {
    for (int i = 0; i < 1000; ++i) {
      goro::timer t(std::chrono::milliseconds(1 + i % 5));
      (void)goro::after(std::chrono::microseconds(i % 3));
    }
    goro::sleep_for(20ms);
  });
}

TEST(Timer, MovedHandleKeepsTheTimer) {
  run_on(1, [] {
    goro::timer a(1ms);
    goro::timer b = std::move(a);
    EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
    EXPECT_FALSE(a.stop());
    EXPECT_TRUE(b.c().recv().has_value());
    goro::timer empty;
    EXPECT_TRUE(empty.c().is_nil());
    EXPECT_THROW(empty.reset(1ms), std::logic_error);
  });
}

TEST(Timer, OutsideARuntimeThrows) {
  EXPECT_THROW(goro::timer(1ms), std::logic_error);
}

// ---------------------------------------------------------------------------
// Tickers

TEST(Ticker, TicksPeriodically) {
  run_on(procs(), [] {
    auto t0 = goro::clock::now();
    goro::ticker tk(5ms);
    for (int i = 1; i <= 4; ++i) {
      auto v = tk.c().recv();
      ASSERT_TRUE(v.has_value());
      EXPECT_GE(*v - t0, i * 5ms);
    }
    tk.stop();
    goro::sleep_for(15ms);
    EXPECT_EQ(tk.c().try_recv(), std::nullopt) << "tick after stop";
  });
}

TEST(Ticker, DropsTicksForASlowReceiver) {
  run_on(procs(), [] {
    goro::ticker tk(2ms);
    goro::sleep_for(30ms);  // ~15 periods
    EXPECT_TRUE(tk.c().try_recv().has_value());
    EXPECT_EQ(tk.c().try_recv(), std::nullopt) << "at most one tick waits";
  });
}

TEST(Ticker, ResetChangesThePeriod) {
  run_on(procs(), [] {
    goro::ticker tk(1h);
    auto t0 = goro::clock::now();
    tk.reset(5ms);
    tk.c().recv();
    tk.c().recv();
    auto waited = goro::clock::now() - t0;
    EXPECT_GE(waited, 10ms);
    EXPECT_LT(waited, 10s);
  });
}

TEST(Ticker, NonPositivePeriodThrows) {
  run_on(1, [] {
    EXPECT_THROW(goro::ticker(0ms), std::invalid_argument);
    EXPECT_THROW(goro::tick(-1ms), std::invalid_argument);
  });
}

TEST(Ticker, TickChannelTicksWhileReferenced) {
  run_on(procs(), [] {
    auto c = goro::tick(2ms);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(c.recv().has_value());
    // Dropping c stops the ticker (ASan: nothing leaks).
  });
}

// ---------------------------------------------------------------------------
// after_func

TEST(AfterFunc, RunsInItsOwnGoroutine) {
  run_on(procs(), [] {
    goro::chan<std::uint64_t> ran(1);
    auto t0 = goro::clock::now();
    goro::timer t = goro::after_func(10ms, [ran] { ran.send(goro::this_goroutine::id()); });
    EXPECT_TRUE(t.c().is_nil());
    auto id = ran.recv();
    EXPECT_GE(goro::clock::now() - t0, 10ms);
    EXPECT_NE(*id, goro::this_goroutine::id());
    EXPECT_FALSE(t.stop()) << "already ran";
  });
}

TEST(AfterFunc, StopPreventsIt) {
  run_on(procs(), [] {
    std::atomic<int> runs{0};
    goro::timer t = goro::after_func(10ms, [&] { runs++; });
    EXPECT_TRUE(t.stop());
    goro::sleep_for(30ms);
    EXPECT_EQ(runs.load(), 0);
  });
}

TEST(AfterFunc, ResetRunsItAgain) {
  run_on(procs(), [] {
    goro::chan<int> ran(4);
    goro::timer t = goro::after_func(1ms, [ran] { ran.send(1); });
    ran.recv();
    EXPECT_FALSE(t.reset(1ms));
    ran.recv();
  });
}

TEST(AfterFunc, DroppedHandleStillRuns) {
  run_on(procs(), [] {
    goro::chan<int> ran(1);
    {
      goro::after_func(1ms, [ran] { ran.send(7); });
    }
    EXPECT_EQ(ran.recv(), 7);
  });
}

TEST(AfterFunc, StopRacingTheFireRunsItAtMostWhenStopSaysSo) {
  run_on(procs(), [] {
    const int kRounds = static_cast<int>(scaled(5000, 500));
    std::atomic<int> runs{0};
    int stopped = 0;
    for (int i = 0; i < kRounds; ++i) {
      goro::timer t = goro::after_func(std::chrono::microseconds(i % 20), [&] { runs++; });
      for (int k = 0; k < i % 5; ++k) goro::yield();
      if (t.stop()) ++stopped;
    }
    goro::sleep_for(20ms);  // let started callbacks finish
    EXPECT_EQ(runs.load() + stopped, kRounds);
  });
}

// ---------------------------------------------------------------------------
// Scale

TEST(Timer, MillionPendingTimersDoNotSlowScheduling) {
  run_on(1, [] {
    const int kTimers = static_cast<int>(scaled(1000000, 100000));
    const int kRounds = static_cast<int>(scaled(200000, 20000));
    // Ping-pong through channels: the scheduler's hot path.
    auto pingpong_cpu_ms = [&] {
      goro::chan<int> a, b;
      goro::wait_group wg;
      wg.go([&] {
        for (int i = 0; i < kRounds; ++i) b.send(*a.recv());
      });
      double t0 = goro_test::thread_cpu_ms();
      for (int i = 0; i < kRounds; ++i) {
        a.send(i);
        b.recv();
      }
      double ms = goro_test::thread_cpu_ms() - t0;
      wg.wait();
      return ms;
    };
    double base = pingpong_cpu_ms();
    std::vector<goro::timer> timers;
    timers.reserve(kTimers);
    for (int i = 0; i < kTimers; ++i)
      timers.emplace_back(std::chrono::hours(1) + std::chrono::microseconds(i));
    double loaded = pingpong_cpu_ms();
    // The heap's minimum is far away: nothing per switch scales with n.
    if (!goro_test::kSanitizer) {
      EXPECT_LT(loaded, 2.0 * base + 20) << "base " << base << " ms";
    }
    for (auto& t : timers) EXPECT_TRUE(t.stop());
  });
}

}  // namespace
