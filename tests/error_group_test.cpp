// tests/error_group_test.cpp: goro::error_group (Go's errgroup): waiting for
// all, the first error cancelling the siblings' context, exceptions, the
// concurrency limit and try_go.
#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/error_group.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/time.hpp>
#include <goro/timer.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <system_error>

using namespace std::chrono_literals;
using goro_test::run_on;

TEST(ErrorGroup, WaitsForAllAndReturnsEmptyWithoutErrors) {
  run_on(2, [] {
    goro::error_group g;
    std::atomic<int> done{0};
    for (int i = 0; i < 100; ++i) {
      g.go([&done, i]() -> std::error_code {
        if (i % 10 == 0) goro::sleep_for(1ms);
        done.fetch_add(1);
        return {};
      });
      g.go([&done] { done.fetch_add(1); });  // void tasks too
    }
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(done.load(), 200);
    EXPECT_FALSE(g.wait());  // again: still nothing
  });
}

TEST(ErrorGroup, FirstErrorCancelsTheSiblingsAndIsReturned) {
  run_on(2, [] {
    goro::error_group g(goro::context::background());
    goro::context ctx = g.ctx();
    constexpr int kSiblings = 20;
    std::atomic<int> saw_cancel{0};
    std::atomic<int> started{0};
    for (int i = 0; i < kSiblings; ++i) {
      g.go([ctx, &saw_cancel, &started]() -> std::error_code {
        started.fetch_add(1);
        // Work that ends when the context says so (or, if cancellation
        // were broken, after a long time).
        bool cancelled = false;
        goro::select(goro::on_recv(ctx.done(), [&] { cancelled = true; }), goro::on_recv(goro::after(60s)));
        if (cancelled && ctx.err() == goro::context_errc::canceled) saw_cancel.fetch_add(1);
        return cancelled ? std::make_error_code(std::errc::operation_canceled) : std::error_code();
      });
    }
    g.go([&started]() -> std::error_code {
      while (started.load() < kSiblings) goro::yield();
      return std::make_error_code(std::errc::connection_refused);  // the first failure
    });
    auto t0 = goro::clock::now();
    std::error_code err = g.wait();
    EXPECT_EQ(err, std::errc::connection_refused) << err.message();
    EXPECT_EQ(saw_cancel.load(), kSiblings);
    EXPECT_LT(goro::clock::now() - t0, 30s);
  });
}

TEST(ErrorGroup, ContextIsCancelledWhenWaitReturnsAndFollowsTheParent) {
  run_on(1, [] {
    {
      goro::error_group g(goro::context::background());
      g.go([]() -> std::error_code { return {}; });
      EXPECT_FALSE(g.ctx().err());
      EXPECT_FALSE(g.wait());
      EXPECT_EQ(g.ctx().err(), goro::context_errc::canceled);  // as Go's WithContext
    }
    auto [parent, cancel_parent] = goro::with_cancel(goro::context::background());
    goro::error_group g(parent);
    goro::context ctx = g.ctx();
    g.go([ctx]() -> std::error_code {
      ctx.done().recv();
      return ctx.err();
    });
    cancel_parent();
    EXPECT_EQ(g.wait(), goro::context_errc::canceled);
  });
}

TEST(ErrorGroup, AnExceptionIsTheGroupsErrorAndWaitRethrowsIt) {
  run_on(2, [] {
    goro::error_group g(goro::context::background());
    goro::context ctx = g.ctx();
    g.go([]() -> std::error_code { throw std::runtime_error("disk on fire"); });
    g.go([ctx]() -> std::error_code {
      ctx.done().recv();  // cancelled by the exception
      return std::make_error_code(std::errc::io_error);
    });
    try {
      g.wait();
      ADD_FAILURE() << "wait() did not rethrow";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "disk on fire");
    }
  });
}

TEST(ErrorGroup, LimitBoundsConcurrencyAndTryGoRespectsIt) {
  run_on(2, [] {
    goro::error_group g;
    constexpr int kLimit = 3;
    g.set_limit(kLimit);
    std::atomic<int> running{0};
    std::atomic<int> most{0};
    std::atomic<int> finished{0};
    goro::chan<int> gate;  // unbuffered: each task waits for a token from here
    auto task = [&]() -> std::error_code {
      int now = running.fetch_add(1) + 1;
      int m = most.load();
      while (now > m && !most.compare_exchange_weak(m, now)) {
      }
      gate.recv();
      running.fetch_sub(1);
      finished.fetch_add(1);
      return {};
    };
    for (int i = 0; i < kLimit; ++i) EXPECT_TRUE(g.try_go(task));
    EXPECT_FALSE(g.try_go(task)) << "a fourth task started beyond the limit";
    EXPECT_THROW(g.set_limit(10), std::logic_error);  // tasks are running, as Go panics
    while (running.load() < kLimit) goro::yield();    // all three are inside
    // A blocking go() waits for a slot: feed the gate from another goroutine.
    constexpr int kMore = 20;
    goro::go([gate] {
      for (int i = 0; i < kLimit + kMore; ++i) gate.send(i);
    });
    for (int i = 0; i < kMore; ++i) g.go(task);
    EXPECT_FALSE(g.wait());
    EXPECT_EQ(finished.load(), kLimit + kMore);
    EXPECT_EQ(most.load(), kLimit);
    g.set_limit(-1);  // no limit now that nothing runs
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(g.try_go([] {}));
    EXPECT_FALSE(g.wait());
  });
}

TEST(ErrorGroup, DestructorWaitsForTheTasks) {
  run_on(2, [] {
    std::atomic<bool> finished{false};
    {
      goro::error_group g;
      g.go([&finished] {
        goro::sleep_for(20ms);
        finished = true;
      });
    }
    EXPECT_TRUE(finished.load());
  });
}
