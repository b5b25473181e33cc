// Tests of goro::context (src/time/context.cpp, include/goro/context.hpp),
// pinning Go's context semantics: background is never done; cancel closes
// done() and sets err() (canceled), idempotently; cancelling a parent
// cancels the whole subtree and nothing above it; a child of a cancelled
// context starts cancelled; deadlines and timeouts cancel with
// deadline_exceeded, an earlier parent deadline wins, a past one cancels at
// once; values are found up the chain; the error category; dropped
// contexts unlink themselves (ASan checks for leaks); and concurrent
// creation and cancellation (TSan checks the races).
#include <goro/chan.hpp>
#include <goro/context.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;
using goro_test::scaled;

namespace {

int procs() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

const goro::context_key<std::string> kUser;
const goro::context_key<int> kAttempt;
const goro::context_key<int> kOther;

bool is_done(const goro::context& ctx) {
  std::optional<std::monostate> v;
  return ctx.done().try_recv(v) == goro::chan_status::closed;
}

TEST(Context, BackgroundIsNeverDone) {
  goro::context bg = goro::context::background();
  EXPECT_TRUE(bg.done().is_nil());
  EXPECT_FALSE(bg.err());
  EXPECT_FALSE(bg.deadline().has_value());
  EXPECT_TRUE(goro::context::todo() == bg);
  EXPECT_TRUE(goro::context() == bg);
}

TEST(Context, CancelClosesDoneAndSetsErr) {
  run_on(procs(), [] {
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    EXPECT_FALSE(ctx.done().is_nil());
    EXPECT_FALSE(is_done(ctx));
    EXPECT_FALSE(ctx.err());
    goro::wait_group wg;
    std::atomic<int> woke{0};
    for (int i = 0; i < 10; ++i) {
      wg.go([&, ctx = ctx] {
        ctx.done().recv();
        EXPECT_EQ(ctx.err(), goro::context_errc::canceled) << "err() set once done() is closed";
        woke++;
      });
    }
    goro::sleep_for(10ms);
    cancel();
    wg.wait();
    EXPECT_EQ(woke.load(), 10);
    EXPECT_TRUE(is_done(ctx));
    cancel();  // idempotent
    EXPECT_EQ(ctx.err(), goro::context_errc::canceled);
  });
}

TEST(Context, CancellingAParentCancelsTheSubtreeOnly) {
  run_on(procs(), [] {
    auto [root, cancel_root] = goro::with_cancel(goro::context::background());
    auto [a, cancel_a] = goro::with_cancel(root);
    auto [b, cancel_b] = goro::with_cancel(root);
    auto a_val = goro::with_value(a, kOther, 1);  // a value node in between
    auto [a1, cancel_a1] = goro::with_cancel(a_val);
    auto [a2, cancel_a2] = goro::with_timeout(a, 1h);
    auto [b1, cancel_b1] = goro::with_cancel(b);

    cancel_a();
    for (auto* c : {&a, &a_val, &a1, &a2}) {
      EXPECT_TRUE(is_done(*c));
      EXPECT_EQ(c->err(), goro::context_errc::canceled);
    }
    for (auto* c : {&root, &b, &b1}) EXPECT_FALSE(is_done(*c));

    cancel_root();
    for (auto* c : {&root, &b, &b1}) EXPECT_EQ(c->err(), goro::context_errc::canceled);
    (void)cancel_b;
    (void)cancel_a1;
    (void)cancel_a2;
    (void)cancel_b1;
  });
}

TEST(Context, DeepTreeIsCancelledFromTheRoot) {
  run_on(procs(), [] {
    auto [root, cancel] = goro::with_cancel(goro::context::background());
    std::vector<goro::context> all{root};
    std::vector<goro::cancel_func> cancels;
    for (std::size_t i = 0; all.size() < 1000; ++i) {
      auto [c, f] = goro::with_cancel(all[i / 3]);
      all.push_back(c);
      cancels.push_back(f);
    }
    goro::wait_group wg;
    std::atomic<int> done{0};
    for (auto& c : all) {
      wg.go([&done, c] {
        c.done().recv();
        done++;
      });
    }
    cancel();
    wg.wait();
    EXPECT_EQ(done.load(), 1000);
  });
}

TEST(Context, ChildOfACancelledContextStartsCancelled) {
  run_on(1, [] {
    auto [parent, cancel] = goro::with_cancel(goro::context::background());
    cancel();
    auto [child, cancel_child] = goro::with_cancel(parent);
    EXPECT_TRUE(is_done(child));
    EXPECT_EQ(child.err(), goro::context_errc::canceled);
    auto [timed, cancel_timed] = goro::with_timeout(parent, 1h);
    EXPECT_EQ(timed.err(), goro::context_errc::canceled);
    cancel_child();
    cancel_timed();
  });
}

TEST(Context, TimeoutCancelsWithDeadlineExceeded) {
  run_on(procs(), [] {
    auto t0 = goro::clock::now();
    auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 20ms);
    ASSERT_TRUE(ctx.deadline().has_value());
    EXPECT_GE(*ctx.deadline(), t0 + 20ms);
    auto [child, cancel_child] = goro::with_cancel(ctx);
    EXPECT_EQ(child.deadline(), ctx.deadline()) << "inherited";
    child.done().recv();
    EXPECT_GE(goro::clock::now() - t0, 20ms);
    EXPECT_EQ(ctx.err(), goro::context_errc::deadline_exceeded);
    EXPECT_EQ(child.err(), goro::context_errc::deadline_exceeded);
    EXPECT_EQ(ctx.err(), std::errc::timed_out) << "Go: DeadlineExceeded is a timeout";
    cancel();
    EXPECT_EQ(ctx.err(), goro::context_errc::deadline_exceeded) << "the first error stays";
    cancel_child();
  });
}

TEST(Context, EarlierParentDeadlineWins) {
  run_on(procs(), [] {
    auto [parent, cancel_parent] = goro::with_timeout(goro::context::background(), 10ms);
    auto [child, cancel_child] = goro::with_timeout(parent, 1h);
    EXPECT_EQ(child.deadline(), parent.deadline());
    child.done().recv();
    EXPECT_EQ(child.err(), goro::context_errc::deadline_exceeded);
    // A later child deadline, an earlier grandchild one.
    auto [p2, c2] = goro::with_timeout(goro::context::background(), 1h);
    auto [g2, cg2] = goro::with_timeout(p2, 5ms);
    EXPECT_LT(*g2.deadline(), *p2.deadline());
    g2.done().recv();
    EXPECT_FALSE(p2.err());
    c2();
    cg2();
    cancel_parent();
    cancel_child();
  });
}

TEST(Context, PastDeadlineCancelsAtOnce) {
  run_on(1, [] {
    auto [ctx, cancel] = goro::with_deadline(goro::context::background(), goro::clock::now() - 1s);
    EXPECT_TRUE(is_done(ctx));
    EXPECT_EQ(ctx.err(), goro::context_errc::deadline_exceeded);
    cancel();
  });
}

TEST(Context, ValuesAreFoundUpTheChain) {
  run_on(1, [] {
    auto base = goro::with_value(goro::context::background(), kUser, std::string("gopher"));
    auto [mid, cancel] = goro::with_cancel(base);
    auto top = goro::with_value(mid, kAttempt, 3);
    ASSERT_NE(top.value(kUser), nullptr);
    EXPECT_EQ(*top.value(kUser), "gopher");
    EXPECT_EQ(*top.value(kAttempt), 3);
    EXPECT_EQ(top.value(kOther), nullptr) << "same type, different key";
    EXPECT_EQ(base.value(kAttempt), nullptr) << "values do not flow up";
    auto shadow = goro::with_value(top, kAttempt, 4);
    EXPECT_EQ(*shadow.value(kAttempt), 4);
    EXPECT_EQ(*top.value(kAttempt), 3);
    // Value nodes share their ancestor's cancellation.
    cancel();
    EXPECT_TRUE(is_done(top));
    EXPECT_EQ(top.err(), goro::context_errc::canceled);
  });
}

TEST(Context, ErrorCategory) {
  std::error_code c = goro::context_errc::canceled;
  std::error_code d = goro::context_errc::deadline_exceeded;
  EXPECT_STREQ(c.category().name(), "goro.context");
  EXPECT_EQ(c.message(), "context canceled");
  EXPECT_EQ(d.message(), "context deadline exceeded");
  EXPECT_EQ(c, std::errc::operation_canceled);
  EXPECT_EQ(d, std::errc::timed_out);
  EXPECT_NE(c, d);
}

TEST(Context, SelectOnDone) {
  run_on(procs(), [] {
    auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 10ms);
    goro::chan<int> results;
    bool gave_up = false;
    goro::select(goro::on_recv(results), goro::on_recv(ctx.done(), [&] { gave_up = true; }));
    EXPECT_TRUE(gave_up);
    EXPECT_EQ(ctx.err(), goro::context_errc::deadline_exceeded);
    cancel();
  });
}

TEST(Context, DroppedChildrenUnlinkThemselves) {
  // Children dropped without cancel, and children whose deadline timers are
  // still pending: nothing leaks (ASan) and the parent's later cancel does
  // not touch freed children.
  run_on(procs(), [] {
    auto [root, cancel] = goro::with_cancel(goro::context::background());
    for (int i = 0; i < 1000; ++i) {
      auto [c, f] = goro::with_cancel(root);
      auto [t, g] = goro::with_timeout(c, 1h);
      (void)f;
      (void)g;
    }
    cancel();
    goro::sleep_for(1ms);
  });
}

TEST(Context, ConcurrentCreateAndCancel) {
  run_on(procs(), [] {
    const int kRounds = static_cast<int>(scaled(300, 40));
    for (int r = 0; r < kRounds; ++r) {
      auto [root, cancel] = goro::with_cancel(goro::context::background());
      goro::wait_group wg;
      for (int g = 0; g < 4; ++g) {
        wg.go([root = root] {
          for (int i = 0; i < 20; ++i) {
            auto [c, f] = goro::with_cancel(root);
            auto [t, tf] = goro::with_timeout(c, std::chrono::microseconds(i * 10));
            if (i % 2 == 0) f();
            if (i % 3 == 0) tf();
          }
        });
      }
      wg.go([cancel = cancel] { cancel(); });
      wg.wait();
      EXPECT_EQ(root.err(), goro::context_errc::canceled);
    }
  });
}

// Deadlines a few hundred nanoseconds away fire on another worker while
// with_timeout is still storing its timer: every one must end in
// deadline_exceeded, and (under TSan) the timer's callback must not touch
// the half-stored timer.
TEST(Context, TinyTimeoutsFireDuringCreation) {
  run_on(2, [] {
    const int kContexts = static_cast<int>(scaled(4000, 500));
    goro::wait_group wg;
    std::atomic<int> exceeded{0};
    for (int g = 0; g < 4; ++g) {
      wg.go([&, g] {
        for (int i = 0; i < kContexts / 4; ++i) {
          auto [c, f] = goro::with_timeout(goro::context::background(),
                                           std::chrono::nanoseconds(100 * ((i + g) % 8 + 1)));
          c.done().recv();
          if (c.err() == goro::context_errc::deadline_exceeded) exceeded.fetch_add(1);
        }
      });
    }
    wg.wait();
    EXPECT_EQ(exceeded.load(), kContexts / 4 * 4);
  });
}

// The result of with_cancel / with_timeout works whole, by its named
// members, as a structured binding and with std::tie; a lambda captures the
// named member (the form clang 14 accepts; it rejects capturing a binding).
TEST(Context, ResultHasNamedMembersAndWorksWithTie) {
  run_on(1, [] {
    goro::context_and_cancel op = goro::with_timeout(goro::context::background(), 1h);
    goro::chan<bool> seen(1);
    goro::go([ctx = op.ctx, seen] {
      ctx.done().recv();
      seen.send(ctx.err() == goro::context_errc::canceled);
    });
    op.cancel();
    EXPECT_EQ(seen.recv(), true);

    goro::context ctx;
    goro::cancel_func cancel;
    std::tie(ctx, cancel) = goro::with_cancel(goro::context::background());
    EXPECT_FALSE(ctx.err());
    cancel();
    EXPECT_EQ(ctx.err(), goro::context_errc::canceled);

    auto [c2, cancel2] = goro::with_cancel(ctx);
    EXPECT_EQ(c2.err(), goro::context_errc::canceled);  // child of a cancelled one
    cancel2();
  });
}

// Durations too long to add to now() mean no deadline in practice; they
// must not overflow into the past (which would cancel at once).
TEST(Context, HugeTimeoutsSaturateInsteadOfOverflowing) {
  run_on(1, [] {
    auto [ctx, cancel] = goro::with_timeout(goro::context::background(), std::chrono::hours::max());
    EXPECT_FALSE(ctx.err());
    ASSERT_TRUE(ctx.deadline().has_value());
    EXPECT_EQ(*ctx.deadline(), goro::clock::time_point::max());
    cancel();
    auto [past, cancel_past] = goro::with_timeout(goro::context::background(), std::chrono::hours::min());
    EXPECT_EQ(past.err(), goro::context_errc::deadline_exceeded);
    cancel_past();
    auto [ns, cancel_ns] = goro::with_timeout(goro::context::background(), std::chrono::nanoseconds::max());
    EXPECT_FALSE(ns.err());
    cancel_ns();
    goro::sleep_for(std::chrono::hours::min());  // returns at once
    EXPECT_GT(goro::detail::time_after(std::chrono::seconds::max()), goro::clock::now());
    const goro::clock::time_point just_before = goro::detail::time_after(-1ns);
    EXPECT_LE(just_before, goro::clock::now());
  });
}

}  // namespace
