// Tests of goro::select (src/chan/select.cpp, include/goro/select.hpp),
// pinning Go's select rules: a ready case is taken, default only when none
// is, blocking until one becomes ready, a uniform random choice among ready
// cases (fairness over many rounds, for 2, 4 and 8 cases), nil channels
// never ready, closed channels (receive ready, send throws), the same
// channel in several cases, move-only values not lost when their case is not
// chosen, timeouts with goro::after, and a stress test of the claim protocol
// (many selects racing over shared channels, nothing lost or duplicated).
#include <goro/blocking.hpp>
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
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;
using goro_test::scaled;

namespace {

int procs() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

TEST(Select, TakesTheReadyCase) {
  run_on(1, [] {
    goro::chan<int> a(1), b(1);
    b.send(7);
    int got = 0;
    std::size_t k = goro::select(goro::on_recv(a, [&](std::optional<int>) { got = -1; }),
                                 goro::on_recv(b, [&](std::optional<int> v) { got = *v; }));
    EXPECT_EQ(k, 1u);
    EXPECT_EQ(got, 7);
  });
}

TEST(Select, DefaultRunsOnlyWhenNothingIsReady) {
  run_on(1, [] {
    goro::chan<int> a, b(1);
    bool dflt = false;
    std::size_t k = goro::select(goro::on_recv(a), goro::on_default([&] { dflt = true; }), goro::on_recv(b));
    EXPECT_EQ(k, 1u) << "the default's own argument position";
    EXPECT_TRUE(dflt);
    b.send(1);
    dflt = false;
    k = goro::select(goro::on_recv(a), goro::on_default([&] { dflt = true; }), goro::on_recv(b));
    EXPECT_EQ(k, 2u);
    EXPECT_FALSE(dflt);
    // A send case with room is ready.
    k = goro::select(goro::on_send(b, 5), goro::on_default());
    EXPECT_EQ(k, 0u);
    EXPECT_EQ(b.recv(), 5);
  });
}

TEST(Select, DefaultAlone) {
  run_on(1, [] {
    int n = 0;
    EXPECT_EQ(goro::select(goro::on_default([&] { ++n; })), 0u);
    EXPECT_EQ(n, 1);
  });
}

TEST(Select, BlocksUntilAReceiveIsReady) {
  run_on(procs(), [] {
    goro::chan<int> a, b;
    goro::go([b] {
      goro::sleep_for(10ms);
      b.send(3);
    });
    int got = 0;
    std::size_t k = goro::select(goro::on_recv(a, [&](std::optional<int>) { got = -1; }),
                                 goro::on_recv(b, [&](std::optional<int> v) { got = *v; }));
    EXPECT_EQ(k, 1u);
    EXPECT_EQ(got, 3);
  });
}

TEST(Select, BlocksUntilASendIsTaken) {
  run_on(procs(), [] {
    goro::chan<int> a, b;
    std::optional<int> got;
    goro::wait_group wg;
    wg.go([&] {
      goro::sleep_for(10ms);
      got = a.recv();
    });
    bool sent = false;
    std::size_t k = goro::select(goro::on_send(a, 11, [&] { sent = true; }), goro::on_recv(b));
    wg.wait();
    EXPECT_EQ(k, 0u);
    EXPECT_TRUE(sent);
    EXPECT_EQ(got, 11);
  });
}

TEST(Select, SingleCaseFormsBehaveLikeTheOperation) {
  run_on(procs(), [] {
    goro::chan<int> ch(1);
    goro::select(goro::on_send(ch, 1));
    std::optional<int> got;
    goro::select(goro::on_recv(ch, [&](std::optional<int> v) { got = v; }));
    EXPECT_EQ(got, 1);
    ch.close();
    EXPECT_THROW(goro::select(goro::on_send(ch, 2)), goro::channel_closed);
    EXPECT_THROW(goro::select(goro::on_send(ch, 2), goro::on_default()), goro::channel_closed);
    got = 5;
    EXPECT_EQ(goro::select(goro::on_recv(ch, [&](std::optional<int> v) { got = v; }), goro::on_default()),
              0u);
    EXPECT_EQ(got, std::nullopt);
  });
}

// Each of n always-ready cases must be chosen about 1/n of the time.
void check_fairness(int n) {
  run_on(1, [n] {
    const int kRounds = static_cast<int>(scaled(120000, 12000));
    std::vector<goro::chan<int>> chans;
    for (int i = 0; i < n; ++i) chans.emplace_back(1);
    for (auto& c : chans) c.send(0);
    std::vector<int> hits(n, 0);
    auto refill = [&](int i) {
      hits[i]++;
      chans[i].send(0);
    };
    for (int r = 0; r < kRounds; ++r) {
      switch (n) {
        case 2:
          goro::select(goro::on_recv(chans[0], [&] { refill(0); }),
                       goro::on_recv(chans[1], [&] { refill(1); }));
          break;
        case 4:
          goro::select(
              goro::on_recv(chans[0], [&] { refill(0); }), goro::on_recv(chans[1], [&] { refill(1); }),
              goro::on_recv(chans[2], [&] { refill(2); }), goro::on_recv(chans[3], [&] { refill(3); }));
          break;
        case 8:
          goro::select(
              goro::on_recv(chans[0], [&] { refill(0); }), goro::on_recv(chans[1], [&] { refill(1); }),
              goro::on_recv(chans[2], [&] { refill(2); }), goro::on_recv(chans[3], [&] { refill(3); }),
              goro::on_recv(chans[4], [&] { refill(4); }), goro::on_recv(chans[5], [&] { refill(5); }),
              goro::on_recv(chans[6], [&] { refill(6); }), goro::on_recv(chans[7], [&] { refill(7); }));
          break;
      }
    }
    // Chi-square against the uniform distribution, at the 0.9999 quantile
    // for n-1 degrees of freedom: a fair select fails this ~never.
    const double expect = static_cast<double>(kRounds) / n;
    double chi2 = 0;
    for (int h : hits) chi2 += (h - expect) * (h - expect) / expect;
    const double limit = n == 2 ? 15.1 : n == 4 ? 21.1 : 29.9;
    EXPECT_LT(chi2, limit) << "n=" << n;
    // And each case within 5 standard deviations of its share.
    const double sigma = std::sqrt(kRounds * (1.0 / n) * (1.0 - 1.0 / n));
    for (int i = 0; i < n; ++i) EXPECT_NEAR(hits[i], expect, 5 * sigma) << "case " << i << " of " << n;
  });
}

TEST(Select, FairAmongTwoReadyCases) {
  check_fairness(2);
}
TEST(Select, FairAmongFourReadyCases) {
  check_fairness(4);
}
TEST(Select, FairAmongEightReadyCases) {
  check_fairness(8);
}

TEST(Select, FairnessIsIndependentOfArgumentOrderAndAddresses) {
  // A ready send and a ready receive on different channels: 50/50.
  run_on(1, [] {
    const int kRounds = static_cast<int>(scaled(40000, 4000));
    goro::chan<int> in(1), out(1);
    int sends = 0, recvs = 0;
    for (int r = 0; r < kRounds; ++r) {
      if (in.len() == 0) in.send(0);
      if (out.len() == 1) out.recv();
      goro::select(goro::on_send(out, 1, [&] { ++sends; }), goro::on_recv(in, [&] { ++recvs; }));
    }
    const double sigma = std::sqrt(kRounds * 0.25);
    EXPECT_NEAR(sends, kRounds / 2, 5 * sigma);
    EXPECT_NEAR(recvs, kRounds / 2, 5 * sigma);
  });
}

TEST(Select, NilChannelCasesAreNeverReady) {
  run_on(procs(), [] {
    auto nil = goro::chan<int>::nil();
    bool dflt = false;
    goro::select(goro::on_recv(nil), goro::on_send(nil, 1), goro::on_default([&] { dflt = true; }));
    EXPECT_TRUE(dflt);
    // With a nil case and a case that becomes ready later, the latter wins.
    goro::chan<int> real;
    goro::go([real] {
      goro::sleep_for(5ms);
      real.send(9);
    });
    std::optional<int> got;
    std::size_t k =
        goro::select(goro::on_recv(nil), goro::on_recv(real, [&](std::optional<int> v) { got = v; }),
                     goro::on_send(nil, 3));
    EXPECT_EQ(k, 1u);
    EXPECT_EQ(got, 9);
    // Only nil cases: blocks forever (the goroutine is abandoned at exit).
    std::atomic<bool> returned{false};
    goro::go([nil, &returned] {
      goro::select(goro::on_recv(nil), goro::on_send(nil, 1));
      returned = true;
    });
    goro::go([&returned] {
      goro::select();  // Go's select {}
      returned = true;
    });
    goro::sleep_for(20ms);
    EXPECT_FALSE(returned.load());
  });
}

TEST(Select, ClosedChannelReceiveIsReadyAndSendThrows) {
  run_on(procs(), [] {
    goro::chan<int> closed;
    closed.close();
    goro::chan<int> never;
    bool saw_close = false;
    goro::select(goro::on_recv(never), goro::on_recv(closed, [&](std::optional<int> v) { saw_close = !v; }));
    EXPECT_TRUE(saw_close);
    EXPECT_THROW(goro::select(goro::on_recv(never), goro::on_send(closed, 1)), goro::channel_closed);
  });
}

TEST(Select, CloseWakesABlockedSelect) {
  run_on(procs(), [] {
    goro::chan<int> a, b;
    goro::go([a] {
      goro::sleep_for(10ms);
      a.close();
    });
    bool closed = false;
    goro::select(goro::on_recv(a, [&](std::optional<int> v) { closed = !v; }), goro::on_recv(b));
    EXPECT_TRUE(closed);
    // A blocked send case woken by close throws.
    goro::chan<int> c, d;
    goro::go([c] {
      goro::sleep_for(10ms);
      c.close();
    });
    EXPECT_THROW(goro::select(goro::on_send(c, 1), goro::on_recv(d)), goro::channel_closed);
  });
}

TEST(Select, SameChannelInSeveralCases) {
  run_on(procs(), [] {
    goro::chan<int> ch;
    int first = 0, second = 0;
    goro::go([ch] {
      for (int i = 0; i < 100; ++i) ch.send(i);
    });
    for (int i = 0; i < 100; ++i) {
      goro::select(goro::on_recv(ch, [&] { ++first; }), goro::on_recv(ch, [&] { ++second; }));
    }
    EXPECT_EQ(first + second, 100);
    // Send and receive on one unbuffered channel: a select cannot meet itself.
    goro::chan<int> self;
    bool dflt = false;
    goro::select(goro::on_send(self, 1), goro::on_recv(self), goro::on_default([&] { dflt = true; }));
    EXPECT_TRUE(dflt);
  });
}

TEST(Select, MoveOnlyValueOfACaseNotChosenIsKept) {
  run_on(1, [] {
    goro::chan<std::unique_ptr<int>> full(1);
    full.send(std::make_unique<int>(0));
    goro::chan<int> ready(1);
    ready.send(1);
    auto p = std::make_unique<int>(42);
    std::size_t k = goro::select(goro::on_send(full, std::move(p)), goro::on_recv(ready));
    EXPECT_EQ(k, 1u);
    ASSERT_NE(p, nullptr) << "the value of a send case that was not chosen was moved from";
    EXPECT_EQ(*p, 42);
    // Chosen: moved into the channel.
    goro::chan<std::unique_ptr<int>> room(1);
    goro::select(goro::on_send(room, std::move(p)), goro::on_send(full, std::make_unique<int>(1)));
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(**room.recv(), 42);
  });
}

TEST(Select, TimeoutWithAfter) {
  run_on(procs(), [] {
    goro::chan<int> never;
    auto t0 = goro::clock::now();
    bool timed_out = false;
    goro::select(goro::on_recv(never), goro::on_recv(goro::after(20ms), [&] { timed_out = true; }));
    EXPECT_TRUE(timed_out);
    EXPECT_GE(goro::clock::now() - t0, 20ms);
  });
}

TEST(Select, PlainThreadSelects) {
  run_on(procs(), [] {
    // The deadlock detector knows only goroutines: if the send below waits
    // for the thread, this one proves the process is alive.
    std::atomic<bool> finished{false};
    goro::go([&] {
      while (!finished) goro::sleep_for(1ms);
    });
    goro::chan<int> a, b;
    std::optional<int> got;
    std::thread t(
        [&] { goro::select(goro::on_recv(a, [&](std::optional<int> v) { got = v; }), goro::on_recv(b)); });
    goro::sleep_for(10ms);
    a.send(4);
    goro::blocking([&] { t.join(); });
    finished = true;
    EXPECT_EQ(got, 4);
  });
}

// Many goroutines select over shared channels, mixing sends and receives.
// Every value sent is received exactly once: each blocked select is claimed
// by exactly one channel, and records that lost are never used.
TEST(Select, StressNothingLostOrDuplicated) {
  run_on(procs(), [] {
    const int kSenders = 8;
    const int kReceivers = 8;
    const int kPerSender = static_cast<int>(scaled(20000, 1000));
    goro::chan<int> a, b, c(2);
    std::vector<std::vector<int>> got(kReceivers);
    goro::wait_group senders, receivers;
    for (int s = 0; s < kSenders; ++s) {
      senders.go([&, s] {
        for (int i = 0; i < kPerSender; ++i) {
          int v = s * kPerSender + i;
          goro::select(goro::on_send(a, v), goro::on_send(b, v), goro::on_send(c, v));
        }
      });
    }
    goro::chan<std::monostate> stop;
    for (int r = 0; r < kReceivers; ++r) {
      receivers.go([&, r] {
        for (bool done = false; !done;) {
          auto take = [&](std::optional<int> v) { got[r].push_back(*v); };
          goro::select(goro::on_recv(a, take), goro::on_recv(b, take), goro::on_recv(c, take),
                       goro::on_recv(stop, [&] { done = true; }));
        }
      });
    }
    senders.wait();
    // Every send has completed: a and b are unbuffered, so their values are
    // received; wait for c's buffer to empty, then stop the receivers.
    const std::size_t total = static_cast<std::size_t>(kSenders) * kPerSender;
    while (c.len() != 0) goro::sleep_for(1ms);
    stop.close();
    receivers.wait();
    std::vector<int> all;
    for (auto& v : got) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    ASSERT_EQ(all.size(), total);
    for (std::size_t i = 0; i < total; ++i) ASSERT_EQ(all[i], static_cast<int>(i));
  });
}

TEST(Select, ManySelectorsOnOneChannelAreEachWokenOnce) {
  run_on(procs(), [] {
    const int kSelectors = 200;
    goro::chan<int> ch;
    goro::chan<int> other;
    std::atomic<int> woken{0};
    goro::wait_group wg;
    for (int i = 0; i < kSelectors; ++i) {
      wg.go([&] { goro::select(goro::on_recv(ch, [&] { woken++; }), goro::on_recv(other)); });
    }
    goro::sleep_for(10ms);
    for (int i = 0; i < kSelectors; ++i) ch.send(i);
    wg.wait();
    EXPECT_EQ(woken.load(), kSelectors);
  });
}

}  // namespace
