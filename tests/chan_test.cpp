// Tests of goro::chan (src/chan/chan.cpp, include/goro/chan.hpp), pinning
// Go's channel semantics: unbuffered rendezvous, buffered FIFO order and
// blocking when full, close waking every receiver and sender, send/close on
// a closed channel throwing, nil channels blocking forever, move-only
// elements, no element lost or duplicated when a channel is closed under
// contention, range-for, plain-thread callers, and handle semantics.
//
// Every test starts its own runtime. Shared data is often deliberately
// non-atomic: the channel must order the accesses, and the TSan build
// checks that it does.
#include <goro/blocking.hpp>
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using goro_test::run_on;
using goro_test::scaled;

namespace {

int procs() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

// ---------------------------------------------------------------------------
// Unbuffered

TEST(Chan, UnbufferedSendWaitsForTheReceiver) {
  run_on(procs(), [] {
    goro::chan<int> ch;
    std::atomic<bool> sent{false};
    goro::wait_group wg;
    wg.go([&] {
      ch.send(42);
      sent = true;
    });
    goro::sleep_for(20ms);
    EXPECT_FALSE(sent.load()) << "an unbuffered send completed without a receiver";
    EXPECT_EQ(ch.recv(), 42);
    wg.wait();
    EXPECT_TRUE(sent.load());
  });
}

TEST(Chan, UnbufferedRecvWaitsForTheSender) {
  run_on(procs(), [] {
    goro::chan<std::string> ch;
    std::atomic<bool> got{false};
    std::string value;  // written by the receiver, read after wg.wait()
    goro::wait_group wg;
    wg.go([&] {
      value = *ch.recv();
      got = true;
    });
    goro::sleep_for(20ms);
    EXPECT_FALSE(got.load());
    ch.send("hello");
    wg.wait();
    EXPECT_EQ(value, "hello");
  });
}

TEST(Chan, UnbufferedHandoffOrdersMemory) {
  // The sender's plain writes before send are visible after recv.
  run_on(procs(), [] {
    const int kRounds = static_cast<int>(scaled(20000, 2000));
    goro::chan<int*> ch;
    goro::chan<bool> ack;
    goro::go([=] {
      for (int i = 0; i < kRounds; ++i) {
        int* p = new int(i);
        ch.send(p);
        ack.recv();
      }
    });
    for (int i = 0; i < kRounds; ++i) {
      int* p = *ch.recv();
      ASSERT_EQ(*p, i);
      delete p;
      ack.send(true);
    }
  });
}

// ---------------------------------------------------------------------------
// Buffered

// A goroutine sends its result on a channel the receiver owns, and the
// receiver destroys the channel as soon as it has the value: the sender must
// not touch the channel once the value is out of its hands (TSan and ASan
// catch it when it does).
TEST(Chan, ReceiverMayDestroyTheChannelRightAfterTheValueArrives) {
  run_on(2, [] {
    for (int i = 0; i < 3000; ++i) {
      goro::wait_group senders;
      {
        goro::chan<int> result(i % 2);  // unbuffered and buffered
        senders.go([&result, i] { result.send(i); });
        ASSERT_EQ(result.recv(), i);
      }
      senders.wait();
    }
  });
}

TEST(Chan, BufferedKeepsFifoOrderAndReportsLenAndCap) {
  run_on(1, [] {
    goro::chan<int> ch(5);
    EXPECT_EQ(ch.cap(), 5u);
    for (int i = 0; i < 5; ++i) ch.send(i);  // never blocks
    EXPECT_EQ(ch.len(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(ch.recv(), i);
    EXPECT_EQ(ch.len(), 0u);
    // Wrap around the ring several times.
    for (int round = 0; round < 7; ++round) {
      for (int i = 0; i < 3; ++i) ch.send(round * 10 + i);
      for (int i = 0; i < 3; ++i) EXPECT_EQ(ch.recv(), round * 10 + i);
    }
  });
}

TEST(Chan, BufferedSendBlocksWhenFull) {
  run_on(procs(), [] {
    goro::chan<int> ch(2);
    std::atomic<int> sent{0};
    goro::wait_group wg;
    wg.go([&] {
      for (int i = 0; i < 3; ++i) {
        ch.send(i);
        sent++;
      }
    });
    goro::sleep_for(20ms);
    EXPECT_EQ(sent.load(), 2) << "the third send should wait for room";
    EXPECT_EQ(ch.recv(), 0);
    wg.wait();
    EXPECT_EQ(sent.load(), 3);
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.recv(), 2);
  });
}

TEST(Chan, BufferedFifoAcrossBlockedSenders) {
  // A sender parked on a full buffer appends after what is buffered.
  run_on(procs(), [] {
    goro::chan<int> ch(1);
    ch.send(0);
    goro::wait_group wg;
    wg.go([&] { ch.send(1); });
    goro::sleep_for(10ms);
    EXPECT_EQ(ch.recv(), 0);
    EXPECT_EQ(ch.recv(), 1);
    wg.wait();
  });
}

TEST(Chan, ManyProducersAndConsumersLoseNothing) {
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
    run_on(procs(), [cap] {
      const int kProducers = 8;
      const int kConsumers = 8;
      const std::int64_t kPerProducer = scaled(20000, 1000);
      goro::chan<std::int64_t> ch(cap);
      std::atomic<std::int64_t> sum{0};
      std::atomic<std::int64_t> count{0};
      goro::wait_group producers;
      goro::wait_group consumers;
      for (int p = 0; p < kProducers; ++p) {
        producers.go([&, p] {
          for (std::int64_t i = 0; i < kPerProducer; ++i) ch.send(p * kPerProducer + i);
        });
      }
      for (int c = 0; c < kConsumers; ++c) {
        consumers.go([&] {
          for (std::int64_t v : ch) {
            sum += v;
            count++;
          }
        });
      }
      producers.wait();
      ch.close();
      consumers.wait();
      const std::int64_t n = kProducers * kPerProducer;
      EXPECT_EQ(count.load(), n) << "cap " << cap;
      EXPECT_EQ(sum.load(), n * (n - 1) / 2) << "cap " << cap;
    });
  }
}

// ---------------------------------------------------------------------------
// Close

TEST(Chan, CloseWakesEveryBlockedReceiver) {
  run_on(procs(), [] {
    goro::chan<int> ch;
    const int kReceivers = 50;
    std::atomic<int> closed_seen{0};
    goro::wait_group wg;
    for (int i = 0; i < kReceivers; ++i) {
      wg.go([&] {
        if (!ch.recv().has_value()) closed_seen++;
      });
    }
    goro::sleep_for(20ms);
    ch.close();
    wg.wait();
    EXPECT_EQ(closed_seen.load(), kReceivers);
  });
}

TEST(Chan, CloseWakesEveryBlockedSenderWithChannelClosed) {
  for (std::size_t cap : {std::size_t{0}, std::size_t{3}}) {
    run_on(procs(), [cap] {
      goro::chan<int> ch(cap);
      for (std::size_t i = 0; i < cap; ++i) ch.send(-1);  // fill the buffer
      const int kSenders = 50;
      std::atomic<int> threw{0};
      goro::wait_group wg;
      for (int i = 0; i < kSenders; ++i) {
        wg.go([&, i] {
          try {
            ch.send(i);
          } catch (const goro::channel_closed& e) {
            EXPECT_STREQ(e.what(), "send on closed channel");
            threw++;
          }
        });
      }
      goro::sleep_for(20ms);
      ch.close();
      wg.wait();
      EXPECT_EQ(threw.load(), kSenders);
      // The values buffered before the close are still delivered.
      for (std::size_t i = 0; i < cap; ++i) EXPECT_EQ(ch.recv(), -1);
      EXPECT_EQ(ch.recv(), std::nullopt);
    });
  }
}

TEST(Chan, ClosedChannelDrainsThenReportsClosed) {
  run_on(1, [] {
    goro::chan<int> ch(3);
    ch.send(1);
    ch.send(2);
    ch.close();
    EXPECT_EQ(ch.recv(), 1);
    EXPECT_EQ(ch.try_recv(), 2);
    EXPECT_EQ(ch.recv(), std::nullopt);
    EXPECT_EQ(ch.recv(), std::nullopt);  // and stays so
    std::optional<int> out;
    EXPECT_EQ(ch.try_recv(out), goro::chan_status::closed);
  });
}

TEST(Chan, SendOnClosedAndDoubleCloseThrow) {
  run_on(1, [] {
    goro::chan<int> ch(1);
    ch.close();
    EXPECT_THROW(ch.send(1), goro::channel_closed);
    EXPECT_THROW(ch.try_send(1), goro::channel_closed);
    try {
      ch.close();
      ADD_FAILURE() << "second close did not throw";
    } catch (const goro::channel_closed& e) {
      EXPECT_STREQ(e.what(), "close of closed channel");
    }
    EXPECT_THROW(goro::chan<int>::nil().close(), std::logic_error);
  });
}

TEST(Chan, FailedSendLeavesTheValueIntact) {
  run_on(1, [] {
    goro::chan<std::unique_ptr<int>> ch(1);
    auto p = std::make_unique<int>(7);
    ch.send(std::make_unique<int>(1));
    EXPECT_FALSE(ch.try_send(std::move(p)));  // full: not moved from
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 7);
    ch.close();
    EXPECT_THROW(ch.send(std::move(p)), goro::channel_closed);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, 7);
  });
}

// Senders race a close: every value whose send returned normally is received
// exactly once, every value whose send threw is not received at all, and no
// unique_ptr leaks (ASan checks).
TEST(Chan, NoElementLostOrDuplicatedWhenClosedUnderContention) {
  for (std::size_t cap : {std::size_t{0}, std::size_t{4}, std::size_t{256}}) {
    run_on(procs(), [cap] {
      const int kSenders = 8;
      const int kReceivers = 4;
      goro::chan<std::unique_ptr<int>> ch(cap);
      std::vector<std::vector<int>> sent(kSenders);
      std::vector<std::vector<int>> received(kReceivers);
      goro::wait_group senders;
      goro::wait_group receivers;
      for (int s = 0; s < kSenders; ++s) {
        senders.go([&, s] {
          for (int i = 0;; ++i) {
            const int id = s * 1000000 + i;
            try {
              ch.send(std::make_unique<int>(id));
            } catch (const goro::channel_closed&) {
              return;
            }
            sent[s].push_back(id);
          }
        });
      }
      for (int r = 0; r < kReceivers; ++r) {
        receivers.go([&, r] {
          while (auto v = ch.recv()) {
            received[r].push_back(**v);
            if (received[r].size() % 64 == 0) goro::yield();
          }
        });
      }
      goro::sleep_for(std::chrono::milliseconds(scaled(30, 60)));
      ch.close();
      senders.wait();
      receivers.wait();
      std::vector<int> all_sent, all_received;
      for (auto& v : sent) all_sent.insert(all_sent.end(), v.begin(), v.end());
      for (auto& v : received) all_received.insert(all_received.end(), v.begin(), v.end());
      std::sort(all_sent.begin(), all_sent.end());
      std::sort(all_received.begin(), all_received.end());
      EXPECT_GT(all_sent.size(), 0u);
      EXPECT_EQ(all_sent, all_received) << "cap " << cap;
      EXPECT_TRUE(std::adjacent_find(all_received.begin(), all_received.end()) == all_received.end());
    });
  }
}

TEST(Chan, DestroyingABufferedChannelDestroysItsElements) {
  auto alive = std::make_shared<int>(0);
  {
    goro::chan<std::shared_ptr<int>> ch(4);
    ch.try_send(alive);
    ch.try_send(alive);
    EXPECT_EQ(alive.use_count(), 3);
  }
  EXPECT_EQ(alive.use_count(), 1);
}

// ---------------------------------------------------------------------------
// Non-blocking operations

TEST(Chan, TrySendAndTryRecv) {
  run_on(1, [] {
    goro::chan<int> unbuffered;
    EXPECT_FALSE(unbuffered.try_send(1)) << "no receiver waits";
    EXPECT_EQ(unbuffered.try_recv(), std::nullopt);
    std::optional<int> out;
    EXPECT_EQ(unbuffered.try_recv(out), goro::chan_status::would_block);

    goro::chan<int> buffered(1);
    EXPECT_TRUE(buffered.try_send(1));
    EXPECT_FALSE(buffered.try_send(2));
    EXPECT_EQ(buffered.try_recv(out), goro::chan_status::ok);
    EXPECT_EQ(out, 1);
    EXPECT_EQ(buffered.try_recv(), std::nullopt);
  });
}

TEST(Chan, TrySendSucceedsWithAWaitingReceiver) {
  run_on(procs(), [] {
    goro::chan<int> ch;
    goro::wait_group wg;
    std::optional<int> got;
    wg.go([&] { got = ch.recv(); });
    // Wait until the receiver is parked on the channel.
    while (!ch.try_send(5)) goro::sleep_for(1ms);
    wg.wait();
    EXPECT_EQ(got, 5);
  });
}

// ---------------------------------------------------------------------------
// Nil channels

TEST(Chan, NilChannelBlocksForeverAndNeverIsReady) {
  run_on(procs(), [] {
    auto nil = goro::chan<int>::nil();
    EXPECT_TRUE(nil.is_nil());
    EXPECT_EQ(nil.len(), 0u);
    EXPECT_EQ(nil.cap(), 0u);
    EXPECT_FALSE(nil.try_send(1));
    EXPECT_EQ(nil.try_recv(), std::nullopt);
    std::optional<int> out;
    EXPECT_EQ(nil.try_recv(out), goro::chan_status::would_block);
    std::atomic<bool> returned{false};
    // Both goroutines are abandoned when run() returns.
    goro::go([nil, &returned] {
      nil.send(1);
      returned = true;
    });
    goro::go([nil, &returned] {
      nil.recv();
      returned = true;
    });
    goro::sleep_for(30ms);
    EXPECT_FALSE(returned.load());
  });
}

// ---------------------------------------------------------------------------
// Element types

TEST(Chan, MoveOnlyElements) {
  run_on(procs(), [] {
    goro::chan<std::unique_ptr<std::string>> unbuffered;
    goro::chan<std::unique_ptr<std::string>> buffered(2);
    goro::go([=] {
      unbuffered.send(std::make_unique<std::string>("direct"));
      buffered.send(std::make_unique<std::string>("one"));
      buffered.send(std::make_unique<std::string>("two"));
      buffered.close();
    });
    EXPECT_EQ(**unbuffered.recv(), "direct");
    std::vector<std::string> got;
    for (auto& p : buffered) got.push_back(std::move(*p));
    EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
  });
}

struct alignas(64) Wide {
  char bytes[200];
  int id;
};

TEST(Chan, LargeAndOverAlignedElements) {
  run_on(procs(), [] {
    goro::chan<Wide> ch(3);
    goro::go([=] {
      for (int i = 0; i < 10; ++i) {
        Wide w{};
        w.id = i;
        w.bytes[199] = static_cast<char>(i);
        ch.send(w);
      }
      ch.close();
    });
    int expect = 0;
    for (Wide& w : ch) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(&w) % 64, 0u);
      EXPECT_EQ(w.id, expect);
      EXPECT_EQ(w.bytes[199], static_cast<char>(expect));
      ++expect;
    }
    EXPECT_EQ(expect, 10);
  });
}

TEST(Chan, CopyableValueSendCopies) {
  run_on(1, [] {
    goro::chan<std::vector<int>> ch(1);
    std::vector<int> v{1, 2, 3};
    ch.send(v);
    EXPECT_EQ(v.size(), 3u) << "an lvalue is copied, not moved";
    EXPECT_EQ(ch.recv(), v);
  });
}

// ---------------------------------------------------------------------------
// Range-for

TEST(Chan, RangeForEndsWhenClosedAndDrained) {
  run_on(procs(), [] {
    goro::chan<int> ch(4);
    goro::go([ch] {
      for (int i = 1; i <= 100; ++i) ch.send(i);
      ch.close();
    });
    int sum = 0;
    int n = 0;
    for (int v : ch) {
      sum += v;
      ++n;
    }
    EXPECT_EQ(n, 100);
    EXPECT_EQ(sum, 5050);
  });
}

// ---------------------------------------------------------------------------
// Handles

TEST(Chan, HandlesShareOneChannel) {
  run_on(1, [] {
    goro::chan<int> a(2);
    goro::chan<int> b = a;
    EXPECT_TRUE(a == b);
    EXPECT_FALSE(a == goro::chan<int>(2));
    a.send(1);
    EXPECT_EQ(b.len(), 1u);
    EXPECT_EQ(b.recv(), 1);
    goro::chan<int> c;
    c = b;
    EXPECT_TRUE(c == a);
    goro::chan<int> d = std::move(c);
    EXPECT_TRUE(c.is_nil());  // NOLINT(bugprone-use-after-move): moved-from is nil
    EXPECT_TRUE(d == a);
    EXPECT_TRUE(goro::chan<int>::nil() == goro::chan<int>::nil());
  });
}

TEST(Chan, LastHandleMayBeDroppedByTheReceiver) {
  // The sender's handle goes first; the receiver, woken, drops the last one.
  run_on(procs(), [] {
    const int kRounds = static_cast<int>(scaled(2000, 200));
    for (int i = 0; i < kRounds; ++i) {
      auto* ch = new goro::chan<int>();
      goro::wait_group wg;
      wg.go([ch] {
        ch->recv();
        delete ch;
      });
      goro::chan<int> mine = *ch;
      mine.send(i);
      wg.wait();
    }
  });
}

// ---------------------------------------------------------------------------
// Plain threads

TEST(Chan, PlainThreadsAndGoroutinesTalk) {
  run_on(procs(), [] {
    // The deadlock detector knows only goroutines: while the main goroutine
    // waits for the thread, this one proves the process is alive.
    std::atomic<bool> finished{false};
    goro::go([&] {
      while (!finished) goro::sleep_for(1ms);
    });
    goro::chan<int> to_thread;
    goro::chan<int> to_goroutine(2);
    const int kRounds = static_cast<int>(scaled(2000, 200));
    std::thread t([=] {
      for (int i = 0; i < kRounds; ++i) {
        auto v = to_thread.recv();
        to_goroutine.send(*v + 1);
      }
      to_goroutine.close();
    });
    std::int64_t sum = 0;
    for (int i = 0; i < kRounds; ++i) {
      to_thread.send(i);
      sum += *to_goroutine.recv();
    }
    EXPECT_EQ(to_goroutine.recv(), std::nullopt);
    goro::blocking([&] { t.join(); });
    finished = true;
    EXPECT_EQ(sum, static_cast<std::int64_t>(kRounds) * (kRounds + 1) / 2);
  });
}

TEST(Chan, WorksWithoutARuntime) {
  // Two plain threads, no goro::run at all.
  goro::chan<int> ch;
  std::thread t([ch] {
    for (int i = 0; i < 100; ++i) ch.send(i);
    ch.close();
  });
  int n = 0;
  for (int v : ch) EXPECT_EQ(v, n++);
  t.join();
  EXPECT_EQ(n, 100);
}

}  // namespace
