// tests/select_cases_test.cpp: goro::select_cases, the select over a number
// of cases known only at run time (Go's reflect.Select): 1,000 channels,
// uniform choice, default, closed and nil channels, send cases.
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;

TEST(SelectCases, ThousandChannelsEachDeliversToTheRightIndex) {
  // The receiver blocks on 1,000 channels at once every round; a sender
  // picks the channels in a shuffled order.
  run_on(2, [] {
    constexpr int kChans = 1000;
    std::vector<goro::chan<int>> chans(kChans);
    std::vector<int> order(kChans);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(42));
    goro::go([chans, order] {
      for (int i : order) chans[static_cast<std::size_t>(i)].send(i * 7);
    });
    std::vector<goro::select_case<int>> cases;
    for (auto& c : chans) cases.push_back(goro::select_case<int>::recv(c));
    std::vector<int> got;
    for (int round = 0; round < kChans; ++round) {
      goro::select_result<int> r = goro::select_cases(cases);
      ASSERT_LT(r.index, static_cast<std::size_t>(kChans));
      ASSERT_TRUE(r.value.has_value());
      EXPECT_EQ(*r.value, static_cast<int>(r.index) * 7);
      got.push_back(static_cast<int>(r.index));
    }
    EXPECT_EQ(got, order);
  });
}

TEST(SelectCases, ThousandReadyChannelsAreChosenUniformly) {
  run_on(1, [] {
    constexpr int kChans = 1000;
    constexpr int kRounds = 20;  // values per channel
    std::vector<goro::chan<int>> chans;
    std::vector<goro::select_case<int>> cases;
    for (int i = 0; i < kChans; ++i) {
      chans.emplace_back(kRounds);
      for (int v = 0; v < kRounds; ++v) chans.back().send(i);
      cases.push_back(goro::select_case<int>::recv(chans.back()));
    }
    // Each pick is uniform over the ready cases: in 10,000 picks each
    // channel is chosen 10 times on average. The bounds below are many
    // standard deviations wide: a biased or starving choice fails them,
    // chance does not.
    std::vector<int> count(kChans);
    for (int i = 0; i < 10 * kChans; ++i) {
      goro::select_result<int> r = goro::select_cases(cases);
      ASSERT_TRUE(r.value.has_value());
      ASSERT_EQ(*r.value, static_cast<int>(r.index));
      count[r.index]++;
    }
    // A channel never chosen: expected 0.05 of them.
    EXPECT_LE(std::count(count.begin(), count.end(), 0), 5);
    // Halves of the index range get about half the picks each.
    int low = std::accumulate(count.begin(), count.begin() + kChans / 2, 0);
    EXPECT_GT(low, 10 * kChans / 2 - 500);
    EXPECT_LT(low, 10 * kChans / 2 + 500);
  });
}

TEST(SelectCases, DefaultRunsWhenNothingIsReadyAndIndicesSkipNothing) {
  run_on(1, [] {
    goro::chan<int> a(1), b(1);
    std::vector<goro::select_case<int>> cases{goro::select_case<int>::recv(a),
                                              goro::select_case<int>::default_case(),
                                              goro::select_case<int>::recv(b)};
    EXPECT_EQ(goro::select_cases(cases).index, 1u);
    b.send(5);
    goro::select_result<int> r = goro::select_cases(cases);
    EXPECT_EQ(r.index, 2u);
    EXPECT_EQ(r.value, 5);
    a.send(4);
    r = goro::select_cases(cases);
    EXPECT_EQ(r.index, 0u);
    EXPECT_EQ(r.value, 4);
    // Only a default: it runs.
    std::vector<goro::select_case<int>> only{goro::select_case<int>::default_case()};
    EXPECT_EQ(goro::select_cases(only).index, 0u);
    // Two defaults: refused, as Go panics.
    only.push_back(goro::select_case<int>::default_case());
    EXPECT_THROW(goro::select_cases(only), std::invalid_argument);
  });
}

TEST(SelectCases, ClosedChannelReceivesNulloptAndNilNeverReady) {
  run_on(1, [] {
    goro::chan<int> closed;
    closed.close();
    std::vector<goro::select_case<int>> cases{goro::select_case<int>::recv(goro::chan<int>::nil()),
                                              goro::select_case<int>::recv(closed)};
    for (int i = 0; i < 20; ++i) {
      goro::select_result<int> r = goro::select_cases(cases);
      EXPECT_EQ(r.index, 1u);
      EXPECT_FALSE(r.value.has_value());
    }
    std::vector<goro::select_case<int>> nil_and_default{goro::select_case<int>::recv(goro::chan<int>::nil()),
                                                        goro::select_case<int>::default_case()};
    EXPECT_EQ(goro::select_cases(nil_and_default).index, 1u);
  });
}

TEST(SelectCases, SendCasesMoveOnlyTheChosenValue) {
  run_on(2, [] {
    goro::chan<std::unique_ptr<int>> taker;   // unbuffered: a receiver waits
    goro::chan<std::unique_ptr<int>> nobody;  // never received from
    goro::chan<std::unique_ptr<int>> closed_send(1);
    std::vector<goro::select_case<std::unique_ptr<int>>> cases;
    cases.push_back(goro::select_case<std::unique_ptr<int>>::send(nobody, std::make_unique<int>(1)));
    cases.push_back(goro::select_case<std::unique_ptr<int>>::send(taker, std::make_unique<int>(2)));
    goro::chan<int> got(1);
    goro::go([taker, got] { got.send(**taker.recv()); });
    goro::select_result<std::unique_ptr<int>> r = goro::select_cases(cases);
    EXPECT_EQ(r.index, 1u);
    EXPECT_FALSE(r.value.has_value());
    EXPECT_EQ(got.recv(), 2);
    ASSERT_NE(cases[0].send_value(), nullptr);
    EXPECT_NE(*cases[0].send_value(), nullptr) << "an unchosen send case kept its value";
    EXPECT_EQ(**cases[0].send_value(), 1);
    EXPECT_EQ(*cases[1].send_value(), nullptr) << "the chosen send case's value was moved";
    // A chosen send on a closed channel throws, as Go panics.
    closed_send.close();
    std::vector<goro::select_case<std::unique_ptr<int>>> bad;
    bad.push_back(goro::select_case<std::unique_ptr<int>>::send(closed_send, std::make_unique<int>(3)));
    bad.push_back(goro::select_case<std::unique_ptr<int>>::recv(goro::chan<std::unique_ptr<int>>::nil()));
    EXPECT_THROW(goro::select_cases(bad), goro::channel_closed);
  });
}

TEST(SelectCases, ManySelectorsAndSendersStress) {
  // Several goroutines each select over all channels while senders feed
  // them; every value sent is received exactly once.
  run_on(goro_test::kSanitizer ? 2 : 4, [] {
    constexpr int kChans = 200;
    constexpr int kSelectors = 4;
    constexpr int kPerSender = static_cast<int>(goro_test::scaled3(500, 100, 50));
    std::vector<goro::chan<int>> chans(kChans);
    goro::wait_group senders;
    for (int s = 0; s < kChans; ++s) {
      senders.go([c = chans[static_cast<std::size_t>(s)]] {
        for (int v = 0; v < kPerSender; ++v) c.send(1);
      });
    }
    goro::chan<long> totals(kSelectors);
    goro::chan<int> stop;
    for (int i = 0; i < kSelectors; ++i) {
      goro::go([chans, totals, stop] {
        std::vector<goro::select_case<int>> cases;
        for (auto& c : chans) cases.push_back(goro::select_case<int>::recv(c));
        cases.push_back(goro::select_case<int>::recv(stop));
        long sum = 0;
        for (;;) {
          goro::select_result<int> r = goro::select_cases(cases);
          if (r.index == cases.size() - 1) break;  // stop closed
          sum += *r.value;
        }
        totals.send(sum);
      });
    }
    senders.wait();
    // Every send has completed (unbuffered: received), so all are counted.
    stop.close();
    long total = 0;
    for (int i = 0; i < kSelectors; ++i) total += *totals.recv();
    EXPECT_EQ(total, static_cast<long>(kChans) * kPerSender);
  });
}
