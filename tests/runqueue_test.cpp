// Unit tests of the scheduler's data structures on their own: a processor's
// run queue (owner pushes and pops, thieves grab halves, runnext), the
// global run queue (FIFO across chunks) and the timer heap (order, removal,
// in-place update). Goroutine records are never dereferenced by these
// structures, so fake addresses stand in for them.
#include "sched/runqueue.hpp"
#include <goro/lock_guard.hpp>
#include "arch/asymmetric_fence.hpp"
#include "sched/timers.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace {

using goro::lock_guard;
using goro::detail::GlobalRunQueue;
using goro::detail::Goroutine;
using goro::detail::RunQueue;
using goro::detail::Timer;
using goro::detail::TimerHeap;

Goroutine* fake(std::uintptr_t i) {
  return reinterpret_cast<Goroutine*>((i + 1) * 64);
}
std::uintptr_t index_of(Goroutine* g) {
  return reinterpret_cast<std::uintptr_t>(g) / 64 - 1;
}

TEST(RunQueue, OwnerPopsInOrderAfterRunnext) {
  RunQueue q;
  EXPECT_TRUE(q.empty());
  for (int i = 0; i < 10; i++) ASSERT_TRUE(q.push_back(fake(i)));
  EXPECT_EQ(q.put_next(fake(100)), nullptr);
  EXPECT_EQ(q.put_next(fake(101)), fake(100)) << "a second put_next displaces the first";
  EXPECT_EQ(q.pop(), fake(101));
  for (int i = 0; i < 10; i++) EXPECT_EQ(q.pop(), fake(i));
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.empty());
}

TEST(RunQueue, FullRingRefusesAndGivesHalfToTheGlobalQueue) {
  RunQueue q;
  for (std::uint32_t i = 0; i < RunQueue::kSize; i++) ASSERT_TRUE(q.push_back(fake(i)));
  EXPECT_FALSE(q.push_back(fake(999)));
  Goroutine* half[RunQueue::kSize / 2];
  ASSERT_EQ(q.take_half_for_global(half), RunQueue::kSize / 2);
  for (std::uint32_t i = 0; i < RunQueue::kSize / 2; i++) EXPECT_EQ(half[i], fake(i)) << "oldest first";
  EXPECT_EQ(q.size_without_next(), RunQueue::kSize / 2);
  EXPECT_TRUE(q.push_back(fake(999)));
}

TEST(RunQueue, ThiefGrabsHalfAndRunnextOnlyWhenAsked) {
  RunQueue q;
  Goroutine* out[RunQueue::kSize / 2];
  for (int i = 0; i < 7; i++) q.push_back(fake(i));
  EXPECT_EQ(q.grab_half(out, false), 4u) << "half, rounded up";
  EXPECT_EQ(out[0], fake(0));
  EXPECT_EQ(q.size_without_next(), 3u);
  while (q.pop_ring() != nullptr) {
  }
  q.put_next(fake(50));
  EXPECT_EQ(q.grab_half(out, false), 0u);
  EXPECT_EQ(q.grab_half(out, true), 1u);
  EXPECT_EQ(out[0], fake(50));
  EXPECT_TRUE(q.empty());
}

// One owner pushing and popping, two thieves grabbing: every goroutine is
// taken exactly once.
TEST(RunQueue, OwnerAndThievesTakeEachGoroutineOnce) {
  constexpr std::uintptr_t kTotal = 200000;
  RunQueue q;
  std::vector<std::atomic<int>> taken(kTotal);
  std::atomic<bool> done{false};
  auto thief = [&] {
    Goroutine* out[RunQueue::kSize / 2];
    while (!done.load(std::memory_order_acquire)) {
      std::uint32_t n = q.grab_half(out, true);
      for (std::uint32_t i = 0; i < n; i++) taken[index_of(out[i])].fetch_add(1);
    }
  };
  std::thread t1(thief);
  std::thread t2(thief);
  std::mt19937 rng(7);
  for (std::uintptr_t i = 0; i < kTotal; i++) {
    if (rng() % 4 == 0) {
      if (Goroutine* d = q.put_next(fake(i))) {
        while (!q.push_back(d)) {
          if (Goroutine* g = q.pop()) taken[index_of(g)].fetch_add(1);
        }
      }
    } else {
      while (!q.push_back(fake(i))) {
        if (Goroutine* g = q.pop()) taken[index_of(g)].fetch_add(1);
      }
    }
    if (rng() % 3 == 0) {
      if (Goroutine* g = q.pop()) taken[index_of(g)].fetch_add(1);
    }
  }
  while (Goroutine* g = q.pop()) taken[index_of(g)].fetch_add(1);
  done.store(true, std::memory_order_release);
  t1.join();
  t2.join();
  while (Goroutine* g = q.pop()) taken[index_of(g)].fetch_add(1);
  int wrong = 0;
  for (auto& n : taken) wrong += n.load() != 1;
  EXPECT_EQ(wrong, 0);
}

// The owner's plain take of runnext against thieves that take it under the
// asymmetric fence (runqueue.hpp): the owner readies one goroutine at a
// time into runnext and takes it back after a pause of random length, so
// thieves find it there often, sometimes in the middle of the owner's take.
// Each is taken exactly once, and thieves do win some.
TEST(RunQueue, RunnextTakenOnceUnderTheAsymmetricFence) {
  if (!goro::detail::asymmetric_fence_init()) GTEST_SKIP() << "no membarrier here";
  constexpr std::uintptr_t kTotal = 20000;
  RunQueue q;
  std::vector<std::atomic<int>> taken(kTotal);
  std::atomic<bool> done{false};
  std::atomic<long> stolen{0};
  auto thief = [&] {
    Goroutine* out[RunQueue::kSize / 2];
    while (!done.load(std::memory_order_acquire)) {
      std::uint32_t n = q.grab_half(out, true);
      for (std::uint32_t i = 0; i < n; i++) taken[index_of(out[i])].fetch_add(1);
      stolen.fetch_add(n, std::memory_order_relaxed);
    }
  };
  std::thread t1(thief);
  std::thread t2(thief);
  std::mt19937 rng(11);
  for (std::uintptr_t i = 0; i < kTotal; i++) {
    EXPECT_EQ(q.put_next(fake(i)), nullptr) << "runnext was taken before";
    for (std::uint32_t spin = rng() % 4096; spin > 0; spin--) goro::detail::light_fence();
    if (Goroutine* g = q.pop_next()) taken[index_of(g)].fetch_add(1);
  }
  done.store(true, std::memory_order_release);
  t1.join();
  t2.join();
  int wrong = 0;
  for (auto& n : taken) wrong += n.load() != 1;
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(stolen.load(), 0) << "no thief ever won: the test did not race";
}

TEST(GlobalRunQueue, FifoAcrossChunks) {
  GlobalRunQueue q;
  EXPECT_TRUE(q.empty());
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2000; i++) ASSERT_TRUE(q.push(fake(i)));
    for (int i = 0; i < 2000; i++) ASSERT_EQ(q.pop(), fake(i));
    EXPECT_TRUE(q.empty());
  }
  // Interleaved: the queue keeps its order while chunks come and go.
  std::uintptr_t next_in = 0;
  std::uintptr_t next_out = 0;
  for (int step = 0; step < 5000; step++) {
    for (int k = 0; k < 3; k++) q.push(fake(next_in++));
    for (int k = 0; k < 2; k++) ASSERT_EQ(q.pop(), fake(next_out++));
  }
  while (!q.empty()) ASSERT_EQ(q.pop(), fake(next_out++));
  EXPECT_EQ(next_in, next_out);
}

TEST(TimerHeap, PopsInDeadlineOrderAndTracksTheEarliest) {
  TimerHeap h;
  goro::lock_guard lk(h.lock());  // the heap's operations require it (clang checks)
  EXPECT_TRUE(h.empty());
  std::vector<Timer> timers(500);
  std::mt19937 rng(3);
  auto* self = reinterpret_cast<goro::detail::Processor*>(0x1000);
  for (Timer& t : timers) {
    t.when = 1 + static_cast<std::int64_t>(rng() % 100000);
    h.push(&t, self);
    EXPECT_EQ(t.owner.load(), self);
  }
  std::int64_t min = std::min_element(timers.begin(), timers.end(), [](const Timer& a, const Timer& b) {
                       return a.when < b.when;
                     })->when;
  EXPECT_EQ(h.earliest(), min);
  EXPECT_EQ(h.pop_due(min - 1), nullptr) << "nothing is due before the earliest";
  std::int64_t last = 0;
  std::size_t popped = 0;
  while (Timer* t = h.pop_due(INT64_MAX)) {
    EXPECT_GE(t->when, last);
    EXPECT_EQ(t->owner.load(), nullptr);
    last = t->when;
    popped++;
  }
  EXPECT_EQ(popped, timers.size());
  EXPECT_EQ(h.earliest(), 0);
}

TEST(TimerHeap, RemoveAndUpdateKeepTheHeapOrdered) {
  TimerHeap h;
  goro::lock_guard lk(h.lock());
  std::vector<Timer> timers(300);
  auto* self = reinterpret_cast<goro::detail::Processor*>(0x1000);
  for (std::size_t i = 0; i < timers.size(); i++) {
    timers[i].when = static_cast<std::int64_t>(1000 + i * 10);
    h.push(&timers[i], self);
  }
  std::set<const Timer*> removed;
  for (std::size_t i = 0; i < timers.size(); i += 3) {
    EXPECT_TRUE(h.remove(&timers[i]));
    removed.insert(&timers[i]);
  }
  EXPECT_FALSE(h.remove(&timers[0])) << "a timer is removed once";
  for (std::size_t i = 1; i < timers.size(); i += 3) {
    EXPECT_TRUE(h.update(&timers[i], static_cast<std::int64_t>(5000 - i)));
  }
  EXPECT_FALSE(h.update(&timers[0], 1)) << "not in the heap";
  std::int64_t last = 0;
  std::size_t popped = 0;
  while (Timer* t = h.pop_due(INT64_MAX)) {
    EXPECT_EQ(removed.count(t), 0u);
    EXPECT_GE(t->when, last);
    last = t->when;
    popped++;
  }
  EXPECT_EQ(popped, timers.size() - removed.size());
}

}  // namespace
