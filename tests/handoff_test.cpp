// Tests of the direct handoff between goroutines (src/sched/switch.cpp:
// ready, settle_handoff; src/sched/queues.cpp: runq_get): a goroutine that
// readies a partner and then parks switches straight to it, and after a few
// such handoffs in a row ready() stops waking idle workers for the partner.
//
// What must still hold: no value or wakeup is lost with many goroutines on
// channels, select, mutexes and wait_groups, with one and several
// processors; a pair handing one processor back and forth does not starve a
// third goroutine queued on it (counted in switches, not time); and a
// goroutine that readied a partner and then computes without ever entering
// the runtime does not keep that partner from running (the system monitor
// wakes another processor's worker for it, or brings in a spare processor
// when there is no other, as for any goroutine stuck in a loop).
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/mutex.hpp>
#include <goro/runtime.hpp>
#include <goro/select.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"
#include "sched/scheduler.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;
using goro_test::scaled;
using goro_test::scaled3;

namespace {

// A token goes round a ring of goroutines linked by unbuffered channels,
// `laps` times; every hop is a handoff to a parked receiver. Several tokens
// circulate at once so that stealing and handoffs interleave.
void ring_of_goroutines(int procs, int n, int laps, int tokens) {
  run_on(procs, [n, laps, tokens] {
    std::vector<goro::chan<long>> links;
    for (int i = 0; i < n; ++i) links.emplace_back();
    goro::wait_group wg;
    std::atomic<long> hops{0};
    for (int i = 0; i < n; ++i) {
      wg.add(1);
      goro::go([&, i] {
        const goro::chan<long>& in = links[i];
        const goro::chan<long>& out = links[(i + 1) % n];
        for (int k = 0; k < laps * tokens; ++k) {
          std::optional<long> v = in.recv();
          ASSERT_TRUE(v.has_value());
          hops.fetch_add(1, std::memory_order_relaxed);
          // The token's last hop goes back to the test, not round again.
          if (i == n - 1 && *v + 1 >= static_cast<long>(n) * laps) {
            wg.done();
            continue;
          }
          out.send(*v + 1);
        }
        if (i != n - 1) wg.done();
      });
    }
    // Goroutine n-1 counts one done() per token; the others one each.
    wg.add(tokens - 1);
    for (int t = 0; t < tokens; ++t) links[0].send(0);
    wg.wait();
    EXPECT_EQ(hops.load(), static_cast<long>(n) * laps * tokens);
  });
}

}  // namespace

TEST(Handoff, RingOfChannelsOneProcessor) {
  ring_of_goroutines(1, scaled3(1000, 200, 100), scaled(20, 5), 3);
}

TEST(Handoff, RingOfChannelsTwoProcessors) {
  ring_of_goroutines(2, scaled3(1000, 200, 100), scaled(20, 5), 3);
}

TEST(Handoff, RingOfChannelsFourProcessors) {
  ring_of_goroutines(4, scaled3(1000, 200, 100), scaled(20, 5), 5);
}

// Pairs ping-pong through select (a receive and a send case that never
// becomes ready besides), each pair a fixed number of round trips.
TEST(Handoff, SelectPingPongPairs) {
  for (int procs : {1, 2}) {
    run_on(procs, [] {
      const int pairs = static_cast<int>(scaled3(200, 50, 20));
      const long rounds = scaled(2000, 200);
      goro::wait_group wg;
      std::atomic<long> total{0};
      for (int p = 0; p < pairs; ++p) {
        goro::chan<long> ping, pong, never;
        wg.add(2);
        goro::go([&, ping, pong, never] {
          long sum = 0;
          for (long i = 0; i < rounds; ++i) {
            ping.send(i);
            goro::select(goro::on_recv(pong, [&](std::optional<long> v) { sum += v.value(); }),
                         goro::on_recv(never, [](std::optional<long>) { ADD_FAILURE(); }));
          }
          total.fetch_add(sum);
          wg.done();
        });
        goro::go([&, ping, pong, never] {
          for (long i = 0; i < rounds; ++i) {
            std::optional<long> v;
            goro::select(goro::on_recv(ping, [&](std::optional<long> x) { v = x; }),
                         goro::on_send(never, 0L, [] { ADD_FAILURE(); }));
            pong.send(v.value() + 1);
          }
          wg.done();
        });
      }
      wg.wait();
      // Each pair returns i + 1 for i in [0, rounds).
      EXPECT_EQ(total.load(), static_cast<long>(pairs) * rounds * (rounds + 1) / 2);
    });
  }
}

// Many goroutines contend for a few mutexes; a plain counter per mutex
// checks mutual exclusion and that no unlock's wakeup was lost.
TEST(Handoff, MutexContention) {
  for (int procs : {1, 2, 4}) {
    run_on(procs, [] {
      constexpr int kLocks = 4;
      const int workers = static_cast<int>(scaled3(400, 100, 40));
      const int iters = static_cast<int>(scaled(500, 100));
      goro::mutex mu[kLocks];
      long counts[kLocks] = {};
      goro::wait_group wg;
      for (int i = 0; i < workers; ++i) {
        wg.add(1);
        goro::go([&, i] {
          for (int k = 0; k < iters; ++k) {
            int m = (i + k) % kLocks;
            mu[m].lock();
            long v = counts[m];
            if (k % 8 == 0) goro::yield();  // hold it across a switch now and then
            counts[m] = v + 1;
            mu[m].unlock();
          }
          wg.done();
        });
      }
      wg.wait();
      long sum = 0;
      for (long c : counts) sum += c;
      EXPECT_EQ(sum, static_cast<long>(workers) * iters);
    });
  }
}

// Pairs ping-pong over wait_groups (each side parks, the other wakes it),
// the pattern of bench/switch's ping-pong, many pairs at once.
TEST(Handoff, WaitGroupPingPongPairs) {
  for (int procs : {1, 2}) {
    run_on(procs, [] {
      const int pairs = static_cast<int>(scaled3(100, 40, 20));
      const int rounds = static_cast<int>(scaled(2000, 200));
      goro::wait_group all;
      std::atomic<long> rounds_done{0};
      for (int p = 0; p < pairs; ++p) {
        all.add(1);
        goro::go([&] {
          goro::wait_group done;
          for (int i = 0; i < rounds; ++i) {
            goro::wait_group ping, pong;
            ping.add(1);
            pong.add(1);
            done.add(1);
            goro::go([&] {
              ping.wait();
              pong.done();
              done.done();
            });
            ping.done();
            pong.wait();
            rounds_done.fetch_add(1, std::memory_order_relaxed);
          }
          done.wait();
          all.done();
        });
      }
      all.wait();
      EXPECT_EQ(rounds_done.load(), static_cast<long>(pairs) * rounds);
    });
  }
}

// Fairness: a pair bouncing a value over unbuffered channels on one
// processor hands it back and forth forever unless something bounds it.
// The main goroutine yields in a loop meanwhile (each yield queues it
// behind the pair's runnext); it must get its turns while the pair still
// bounces. Counted in switches: the pair stops when main has run
// kMainTurns times, and must not have used up its whole allowance.
TEST(Handoff, PingPongPairDoesNotStarveItsProcessor) {
  run_on(1, [] {
    constexpr int kMainTurns = 200;
    const long allowance = 10000000;  // round trips: seconds, were main starved
    std::atomic<bool> stop{false};
    std::atomic<long> rounds{0};
    goro::chan<long> ping, pong;
    goro::wait_group wg;
    wg.add(2);
    goro::go([&, ping, pong] {
      for (long i = 0; i < allowance && !stop.load(std::memory_order_relaxed); ++i) {
        ping.send(i);
        (void)pong.recv();
        rounds.fetch_add(1, std::memory_order_relaxed);
      }
      ping.close();
      wg.done();
    });
    goro::go([&, ping, pong] {
      while (std::optional<long> v = ping.recv()) pong.send(*v);
      wg.done();
    });
    // Let the pair start and settle into handing off.
    while (rounds.load(std::memory_order_relaxed) < 100) goro::yield();
    const long at_start = rounds.load();
    for (int turn = 0; turn < kMainTurns; ++turn) goro::yield();
    const long during = rounds.load() - at_start;
    stop.store(true);
    wg.wait();
    EXPECT_LT(rounds.load(), allowance);
    // Main ran kMainTurns times while the pair made progress too.
    EXPECT_GT(during, 0);
    std::printf("pair round trips while main took %d turns: %ld\n", kMainTurns, during);
  });
}

// The same with a third goroutine that is runnable but never yields to the
// pair by itself: it only counts how often it ran, and it must run while the
// pair bounces.
TEST(Handoff, PingPongPairLetsAQueuedGoroutineRun) {
  run_on(1, [] {
    const long allowance = 10000000;  // round trips: seconds, were the third starved
    std::atomic<bool> stop{false};
    std::atomic<long> third_turns{0};
    std::atomic<long> rounds{0};
    goro::chan<long> ping, pong;
    goro::wait_group wg;
    wg.add(3);
    goro::go([&, ping, pong] {
      for (long i = 0; i < allowance && !stop.load(std::memory_order_relaxed); ++i) {
        ping.send(1);
        (void)pong.recv();
        rounds.fetch_add(1, std::memory_order_relaxed);
      }
      ping.close();
      wg.done();
    });
    goro::go([&, ping, pong] {
      while (std::optional<long> v = ping.recv()) pong.send(*v);
      wg.done();
    });
    goro::go([&] {
      while (third_turns.load() < 1000) {
        third_turns.fetch_add(1);
        goro::yield();
      }
      stop.store(true);
      wg.done();
    });
    wg.wait();
    EXPECT_EQ(third_turns.load(), 1000);
    EXPECT_GT(rounds.load(), 0);
    EXPECT_LT(rounds.load(), allowance);
  });
}

// A goroutine that has handed off many times readies its partner once more
// and then computes without entering the runtime. ready() skipped waking an
// idle worker for the partner; the partner must run anyway while the
// goroutine still computes: with two processors the system monitor wakes a
// worker for it at its next tick; with one, it runs on the spare processor
// the monitor brings in for a processor stuck in a loop. That spare is not
// brought in while the machine is oversubscribed (the loop is then not
// known to be stuck), so with one processor the bound is checked only under
// timing_checks(). The readier waits, spinning, for the partner's sign, up
// to a generous bound that only a lost wakeup reaches.
TEST(Handoff, PartnerRunsWhileReadierComputes) {
  for (int procs : {1, 2}) {
    run_on(procs, [procs] {
      goro::chan<long> ping, pong;
      std::atomic<bool> partner_ran{false};
      // The partner has not run yet when main first sends, so main parks in
      // send and the partner in its send of the reply: from then on, main's
      // receive of a reply readies the partner, and main's send parks.
      goro::go([&, ping, pong] {
        for (int i = 0; i < 1000; ++i) pong.send(*ping.recv());
        partner_ran.store(true);
      });
      for (int i = 0; i < 1000; ++i) {
        ping.send(i);
        (void)pong.recv();  // the last one readies the partner, then no park
      }
      const bool deferred = goro::detail::current_worker()->wakep_owed;
      if (procs == 1) {
        EXPECT_TRUE(deferred) << "the handoff path was not exercised";
      }
      const auto t0 = goro_test::Clock::now();
      while (!partner_ran.load() && goro_test::ms_since(t0) < 30000) goro_test::spin_work(1000);
      const double waited_ms = goro_test::ms_since(t0);
      const bool ran_meanwhile = partner_ran.load();
      if (procs == 2 || timing_checks()) {
        EXPECT_TRUE(ran_meanwhile);
      }
      std::printf("%d processor(s), wakeup %s: partner %s after %.1f ms of the readier's loop\n", procs,
                  deferred ? "deferred" : "made", ran_meanwhile ? "ran" : "had not run", waited_ms);
      while (!partner_ran.load()) goro::yield();  // it uses this frame's variables
    });
  }
}
