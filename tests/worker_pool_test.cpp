// Tests of goro::worker_pool (src/sync/worker_pool.cpp,
// include/goro/worker_pool.hpp): every task runs, at most `workers` at a
// time; submit blocks while the queue is full (backpressure) and try_submit
// fails; close then wait drains; the first task exception is rethrown by
// wait() (every time) and the other tasks still run; an exception nobody
// collected is fatal; submit after close throws; move-only and large tasks;
// plain-thread submitters.
#include <goro/blocking.hpp>
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>
#include <goro/worker_pool.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using goro_test::run_on;
using goro_test::scaled;

namespace {

int procs() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

TEST(WorkerPool, RunsEveryTaskWithBoundedConcurrency) {
  run_on(procs(), [] {
    const int kTasks = static_cast<int>(scaled(100000, 5000));
    std::atomic<std::int64_t> sum{0};
    std::atomic<int> running{0};
    std::atomic<int> max_running{0};
    goro::worker_pool pool(4, 16);
    EXPECT_EQ(pool.workers(), 4u);
    for (int i = 0; i < kTasks; ++i) {
      pool.submit([&, i] {
        int now = ++running;
        int seen = max_running.load();
        while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
        }
        if (i % 100 == 0) goro::yield();
        sum += i;
        --running;
      });
    }
    pool.wait();
    EXPECT_EQ(sum.load(), static_cast<std::int64_t>(kTasks) * (kTasks - 1) / 2);
    EXPECT_LE(max_running.load(), 4);
  });
}

TEST(WorkerPool, SubmitBlocksWhenTheQueueIsFull) {
  run_on(procs(), [] {
    goro::chan<std::monostate> gate;
    goro::worker_pool pool(1, 2);
    pool.submit([gate] { gate.recv(); });  // the worker takes it and blocks
    goro::sleep_for(10ms);
    pool.submit([] {});
    pool.submit([] {});  // queue full now
    EXPECT_EQ(pool.pending(), 2u);
    EXPECT_FALSE(pool.try_submit([] {}));
    std::atomic<bool> fourth_in{false};
    goro::wait_group wg;
    wg.go([&] {
      pool.submit([] {});
      fourth_in = true;
    });
    goro::sleep_for(20ms);
    EXPECT_FALSE(fourth_in.load()) << "submit did not wait for room";
    gate.close();  // let the worker go
    wg.wait();
    EXPECT_TRUE(fourth_in.load());
    pool.wait();
    EXPECT_EQ(pool.pending(), 0u);
  });
}

TEST(WorkerPool, FirstExceptionIsRethrownByWaitAndOtherTasksStillRun) {
  run_on(procs(), [] {
    std::atomic<int> ran{0};
    goro::worker_pool pool(3);
    for (int i = 0; i < 100; ++i) {
      pool.submit([&, i] {
        ++ran;
        if (i == 10) throw std::runtime_error("boom");
      });
    }
    try {
      pool.wait();
      ADD_FAILURE() << "wait() did not rethrow";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_EQ(ran.load(), 100);
    EXPECT_THROW(pool.wait(), std::runtime_error) << "every wait() reports it";
  });
}

TEST(WorkerPool, OnlyOneOfManyExceptionsIsKept) {
  run_on(procs(), [] {
    goro::worker_pool pool(4);
    for (int i = 0; i < 50; ++i) pool.submit([i] { throw std::runtime_error("task " + std::to_string(i)); });
    EXPECT_THROW(pool.wait(), std::runtime_error);
  });
}

TEST(WorkerPool, SubmitAfterCloseThrows) {
  run_on(procs(), [] {
    goro::worker_pool pool(2);
    pool.close();
    pool.close();  // idempotent
    EXPECT_THROW(pool.submit([] {}), goro::channel_closed);
    EXPECT_THROW(pool.try_submit([] {}), goro::channel_closed);
    pool.wait();
  });
}

TEST(WorkerPool, MoveOnlyAndLargeTasks) {
  run_on(procs(), [] {
    std::atomic<int> sum{0};
    {
      goro::worker_pool pool(2);
      auto p = std::make_unique<int>(5);
      pool.submit([&sum, p = std::move(p)] { sum += *p; });
      std::array<int, 64> big{};  // 256 bytes: stored on the heap
      big[63] = 7;
      pool.submit([&sum, big] { sum += big[63]; });
      pool.wait();
    }
    EXPECT_EQ(sum.load(), 12);
  });
}

TEST(WorkerPool, DestructorDrainsTheQueue) {
  run_on(procs(), [] {
    std::atomic<int> ran{0};
    {
      goro::worker_pool pool(2, 100);
      for (int i = 0; i < 100; ++i) pool.submit([&] { ++ran; });
    }
    EXPECT_EQ(ran.load(), 100);
  });
}

TEST(WorkerPool, PlainThreadsSubmit) {
  run_on(procs(), [] {
    std::atomic<int> ran{0};
    goro::worker_pool pool(2, 4);
    std::thread t([&] {
      for (int i = 0; i < 1000; ++i) pool.submit([&] { ++ran; });
    });
    goro::blocking([&] { t.join(); });
    pool.wait();
    EXPECT_EQ(ran.load(), 1000);
  });
}

TEST(WorkerPool, ZeroWorkersIsAnError) {
  run_on(1, [] { EXPECT_THROW(goro::worker_pool(0), std::invalid_argument); });
}

TEST(WorkerPool, UncollectedExceptionIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_on(2,
                     [] {
                       goro::worker_pool pool(1);
                       pool.submit([] { throw std::runtime_error("lost?"); });
                       // no wait(): the destructor finds the exception
                     }),
              testing::ExitedWithCode(2), "never collected by wait\\(\\): lost\\?");
}

}  // namespace
