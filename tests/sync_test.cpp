// Tests of the sync layer (src/sync; include/goro/mutex.hpp, wait_group.hpp,
// once.hpp, cond.hpp): mutual exclusion under contention, parking instead of
// blocking the thread, starvation mode, try_lock and the std lock
// algorithms, wait groups with many waiters and reuse, once under contention
// and with a throwing function, cond ordering and lost wakeups, safe
// destruction, plain-thread callers, and the fatal errors.
//
// Every test starts its own runtime with goro::run. Shared data is often a
// plain (non-atomic) variable on purpose: the primitive under test must
// order the accesses, and the TSan build checks that it does.
#include "helpers/test_util.hpp"
#include "sched/park.hpp"

#include <goro/blocking.hpp>
#include <goro/cond.hpp>
#include <goro/goroutine.hpp>
#include <goro/mutex.hpp>
#include <goro/once.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

// These tests misuse locks on purpose (unlocking an unlocked one, a lock
// never released, an unlock from another goroutine, try_lock() results
// read through EXPECT macros), which clang's thread-safety analysis rejects
// by design; tests/thread_annotations checks the analysis itself.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

using namespace std::chrono_literals;

namespace {

// Sanitized builds run several times slower: fewer iterations, looser time
// bounds.
#if defined(GORO_SANITIZER)
constexpr int kSlowdown = 10;
#else
constexpr int kSlowdown = 1;
#endif

int procs_at_least(int n) {
  return std::max(n, static_cast<int>(std::thread::hardware_concurrency()));
}

void use_threadsafe_death_tests() {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
}

// Burns CPU for `d` without parking.
void spin_for(std::chrono::nanoseconds d) {
  const auto end = goro::clock::now() + d;
  while (goro::clock::now() < end) {
  }
}

// Yields until pred() holds (for waiting on other goroutines' progress
// without relying on the primitive under test).
template <typename Pred>
void yield_until(Pred pred) {
  while (!pred()) goro::yield();
}

// ---------------------------------------------------------------------------
// mutex

TEST(Mutex, MutualExclusionManyGoroutines) {
  goro::set_maxprocs(procs_at_least(2));
  const int kGoroutines = 1000 / kSlowdown;
  const int kIncrements = 1000 / kSlowdown;
  std::int64_t counter = 0;  // guarded by mu; deliberately not atomic
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  goro::run([&] {
    EXPECT_GE(goro::maxprocs(), 2);
    goro::mutex mu;
    goro::wait_group wg;
    for (int g = 0; g < kGoroutines; ++g) {
      wg.go([&] {
        for (int i = 0; i < kIncrements; ++i) {
          std::lock_guard lock(mu);
          if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlaps.fetch_add(1);
          ++counter;
          // Now and then hold the lock across a switch, so that waiters
          // really park and unlock() really hands over.
          if (i % 128 == 0) goro::yield();
          inside.fetch_sub(1, std::memory_order_relaxed);
        }
      });
    }
    wg.wait();
  });
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, std::int64_t{kGoroutines} * kIncrements);
}

TEST(Mutex, ParksTheGoroutineNotTheThread) {
  // One processor: if lock() blocked the thread, nothing else could run.
  goro::set_maxprocs(1);
  goro::run([] {
    goro::mutex mu;
    goro::wait_group wg;
    std::atomic<bool> held{false};
    std::atomic<bool> released{false};
    std::atomic<int> lockers_done{0};
    std::atomic<int> ran_while_held{0};
    wg.go([&] {
      std::lock_guard lock(mu);
      held = true;
      goro::sleep_for(30ms);  // parks with the mutex held
      released = true;
    });
    yield_until([&] { return held.load(); });
    constexpr int kLockers = 10;
    for (int i = 0; i < kLockers; ++i) {
      wg.go([&] {
        std::lock_guard lock(mu);
        EXPECT_TRUE(released.load());
        lockers_done.fetch_add(1);
      });
    }
    // These start after the lockers, so they run only if the lockers parked.
    constexpr int kBystanders = 10;
    for (int i = 0; i < kBystanders; ++i) {
      wg.go([&] {
        if (held && !released) ran_while_held.fetch_add(1);
      });
    }
    wg.wait();
    EXPECT_EQ(ran_while_held.load(), kBystanders);
    EXPECT_EQ(lockers_done.load(), kLockers);
  });
}

// A hog relocks the mutex in a tight loop, holding it nearly all the time
// (by sleeping, i.e. parked, or by spinning); a victim locks it kRounds
// times. Returns the victim's worst wait.
std::chrono::nanoseconds starved_victim_worst_wait(int procs, bool hog_sleeps) {
  goro::set_maxprocs(procs);
  constexpr int kRounds = 20;
  // Without starvation mode the hog wins nearly every race; it gives up
  // after this long, so that a broken mutex fails the test instead of
  // hanging it.
  constexpr auto kHogLimit = 5s;
  std::chrono::nanoseconds worst{0};
  goro::run([&] {
    goro::mutex mu;
    goro::wait_group wg;
    std::atomic<bool> stop{false};
    std::int64_t hog_rounds = 0;  // guarded by mu
    wg.go([&] {
      const auto give_up = goro::clock::now() + kHogLimit;
      while (!stop.load(std::memory_order_relaxed) && goro::clock::now() < give_up) {
        mu.lock();
        ++hog_rounds;
        if (hog_sleeps) {
          goro::sleep_for(100us);
        } else {
          spin_for(10us);
        }
        mu.unlock();
      }
    });
    wg.go([&] {
      for (int i = 0; i < kRounds; ++i) {
        const auto t0 = goro::clock::now();
        mu.lock();
        worst = std::max<std::chrono::nanoseconds>(worst, goro::clock::now() - t0);
        mu.unlock();
        goro::sleep_for(200us);
      }
      stop = true;
    });
    wg.wait();
    EXPECT_GT(hog_rounds, kRounds);
  });
  return worst;
}

TEST(Mutex, StarvationModeBoundsTheWait) {
  // A waiter that waited over 1 ms gets the mutex handed over; allow for a
  // loaded CI machine and sanitizers, yet stay far below the hog's limit.
  const auto kMaxWait = 100ms * (kSlowdown == 1 ? 1 : 4);
  struct Case {
    int procs;
    bool hog_sleeps;
  };
  for (Case c : {Case{1, true}, Case{2, true}, Case{2, false}}) {
    const auto worst = starved_victim_worst_wait(c.procs, c.hog_sleeps);
    EXPECT_LT(worst, kMaxWait) << "procs=" << c.procs << (c.hog_sleeps ? " sleeping" : " spinning")
                               << " hog: worst wait "
                               << std::chrono::duration<double, std::milli>(worst).count() << " ms";
  }
}

// A goroutine that takes and releases a mutex in a tight loop never parks
// while it wins; the main goroutine it wakes lands in that processor's
// runnext, and only the other worker can run it. A missed wakeup between
// that ready() and a spinning worker going to sleep (a StoreLoad race, see
// wake_worker_if_needed) left the main goroutine there forever, about one
// run in five. A watchdog turns a hang into a failure.
TEST(Mutex, ContendedLoopOnTwoProcessorsNeverStrandsTheWaiter) {
  std::atomic<bool> finished{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 600 && !finished.load(); ++i) std::this_thread::sleep_for(100ms);
    if (!finished.load()) {
      std::fprintf(stderr, "Mutex.ContendedLoop...: hung for 60 s (a goroutine stranded in runnext)\n");
      std::_Exit(1);
    }
  });
  const int kRounds = 20 / kSlowdown + 2;
  for (int round = 0; round < kRounds; ++round) {
    goro::set_maxprocs(2);
    goro::run([] {
      goro::mutex mu;
      goro::wait_group done;
      std::atomic<bool> stop{false};
      long shared = 0;
      done.go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          std::lock_guard lock(mu);
          ++shared;
        }
      });
      const auto until = goro::clock::now() + 100ms;
      for (int i = 0; i < 20000 || goro::clock::now() < until; ++i) {
        std::lock_guard lock(mu);
        ++shared;
      }
      stop.store(true, std::memory_order_relaxed);
      done.wait();
      EXPECT_GE(shared, 20000);
    });
  }
  finished.store(true);
  watchdog.join();
}

TEST(Mutex, TryLock) {
  goro::set_maxprocs(2);
  goro::run([] {
    goro::mutex mu;
    ASSERT_TRUE(mu.try_lock());
    goro::wait_group wg;
    wg.go([&] { EXPECT_FALSE(mu.try_lock()); });  // held by another goroutine
    wg.wait();
    // Not tied to a goroutine: another one may unlock it, as in Go.
    wg.go([&] { mu.unlock(); });
    wg.wait();
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
    std::unique_lock lock(mu, std::try_to_lock);
    EXPECT_TRUE(lock.owns_lock());
  });
}

TEST(Mutex, WorksWithStdLockAlgorithms) {
  // std::scoped_lock of two mutexes uses lock() and try_lock() to avoid
  // deadlock; goroutines taking them in opposite orders must all finish.
  goro::set_maxprocs(procs_at_least(2));
  const int kGoroutines = 100 / (kSlowdown == 1 ? 1 : 4);
  const int kRounds = 200 / (kSlowdown == 1 ? 1 : 4);
  std::int64_t a_count = 0, b_count = 0;
  goro::run([&] {
    goro::mutex a, b;
    goro::wait_group wg;
    for (int g = 0; g < kGoroutines; ++g) {
      wg.go([&, g] {
        for (int i = 0; i < kRounds; ++i) {
          if (g % 2 == 0) {
            std::scoped_lock lock(a, b);
            ++a_count;
            ++b_count;
          } else {
            std::scoped_lock lock(b, a);
            ++a_count;
            ++b_count;
          }
          if (i % 16 == 0) goro::yield();
        }
      });
    }
    wg.wait();
  });
  EXPECT_EQ(a_count, std::int64_t{kGoroutines} * kRounds);
  EXPECT_EQ(b_count, a_count);
}

TEST(Mutex, LastOwnerMayDestroyIt) {
  // The usual refcount pattern: whoever drops the last reference (under the
  // lock) deletes the object, while the previous owner may still be inside
  // unlock(). ASan reports a use after free if unlock touches it too late.
  goro::set_maxprocs(procs_at_least(2));
  struct Shared {
    goro::mutex mu;
    int refs;
  };
  const int kObjects = 2000 / kSlowdown;
  constexpr int kOwners = 4;
  std::atomic<int> deleted{0};
  goro::run([&] {
    goro::wait_group wg;
    for (int o = 0; o < kObjects; ++o) {
      auto* s = new Shared{{}, kOwners};
      for (int k = 0; k < kOwners; ++k) {
        wg.go([s, &deleted] {
          s->mu.lock();
          const bool last = --s->refs == 0;
          s->mu.unlock();
          if (last) {
            delete s;
            deleted.fetch_add(1);
          }
        });
      }
    }
    wg.wait();
  });
  EXPECT_EQ(deleted.load(), kObjects);
}

TEST(Mutex, PlainThreadsAndGoroutinesShareIt) {
  // Threads that are not goroutines sleep on a futex instead of parking.
  goro::set_maxprocs(2);
  constexpr int kThreads = 3;
  const int kGoroutines = 20;
  const int kIncrements = 2000 / kSlowdown;
  std::int64_t counter = 0;  // guarded by mu
  goro::mutex mu;
  goro::run([&] {
    // The deadlock detector knows only goroutines: while every goroutine
    // waits for a mutex a thread holds, this ticker proves the process is
    // alive (see the plain-thread note in mutex.hpp).
    std::atomic<bool> finished{false};
    goro::go([&] {
      while (!finished) goro::sleep_for(1ms);
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        EXPECT_FALSE(goro::in_goroutine());
        for (int i = 0; i < kIncrements; ++i) {
          std::lock_guard lock(mu);
          ++counter;
        }
      });
    }
    goro::wait_group wg;
    for (int g = 0; g < kGoroutines; ++g) {
      wg.go([&] {
        for (int i = 0; i < kIncrements; ++i) {
          std::lock_guard lock(mu);
          ++counter;
          if (i % 64 == 0) goro::yield();
        }
      });
    }
    wg.wait();
    goro::blocking([&] {
      for (auto& t : threads) t.join();
    });
    finished = true;
  });
  EXPECT_EQ(counter, std::int64_t{kThreads + kGoroutines} * kIncrements);
}

TEST(Mutex, UnlockOfUnlockedIsFatal) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::mutex mu;
                mu.unlock();
              }),
              testing::ExitedWithCode(2), "fatal error: sync: unlock of unlocked mutex");
  // Also after a lock/unlock pair, with waiters around.
  EXPECT_EXIT(goro::run([] {
                goro::mutex mu;
                mu.lock();
                mu.unlock();
                mu.unlock();
              }),
              testing::ExitedWithCode(2), "fatal error: sync: unlock of unlocked mutex");
}

TEST(Mutex, GlobalIsConstantInitialized) {
  static constinit goro::mutex global_mu;
  goro::run([] {
    std::lock_guard lock(global_mu);
    EXPECT_FALSE(global_mu.try_lock());
  });
  EXPECT_TRUE(global_mu.try_lock());
  global_mu.unlock();
}

// ---------------------------------------------------------------------------
// wait_group

TEST(WaitGroup, WaitOnZeroReturnsAtOnce) {
  goro::run([] {
    goro::wait_group wg;
    wg.wait();
    wg.add(3);
    wg.add(-3);
    wg.wait();
  });
}

TEST(WaitGroup, ManyWaitersAreReleasedTogetherAndItIsReusable) {
  goro::set_maxprocs(procs_at_least(2));
  const int kWaiters = 100 / (kSlowdown == 1 ? 1 : 4);
  const int kWorkers = 50 / (kSlowdown == 1 ? 1 : 4);
  constexpr int kRounds = 5;
  goro::run([&] {
    goro::wait_group work;
    for (int round = 0; round < kRounds; ++round) {
      // Each worker writes its own slot (plain ints): wait() must make all
      // writes visible to every waiter.
      std::vector<int> results(kWorkers, 0);
      std::atomic<int> released{0};
      goro::wait_group waiters;
      work.add(kWorkers);
      for (int w = 0; w < kWaiters; ++w) {
        waiters.go([&] {
          work.wait();
          for (int i = 0; i < kWorkers; ++i) EXPECT_EQ(results[i], round + 1) << "worker " << i;
          released.fetch_add(1);
        });
      }
      goro::sleep_for(2ms);  // let the waiters block
      EXPECT_EQ(released.load(), 0);
      for (int i = 0; i < kWorkers; ++i) {
        goro::go([&, i] {
          goro::sleep_for(1ms);
          results[i] = round + 1;
          work.done();
        });
      }
      waiters.wait();
      EXPECT_EQ(released.load(), kWaiters);
    }
  });
}

TEST(WaitGroup, NextRoundWaiterIsNotReleasedByThePreviousRound) {
  // Go panics when a WaitGroup is reused while waiters of the previous round
  // are still returning; goro defines it: each round releases its own.
  goro::set_maxprocs(procs_at_least(2));
  goro::run([] {
    goro::wait_group wg;
    goro::wait_group all_done;
    std::atomic<int> first_round_released{0};
    std::atomic<bool> second_round_released{false};
    std::atomic<bool> second_round_over{false};
    wg.add(1);
    for (int i = 0; i < 20; ++i) {
      all_done.go([&] {
        wg.wait();
        first_round_released.fetch_add(1);
      });
    }
    goro::sleep_for(2ms);
    wg.done();  // releases round one ...
    wg.add(1);  // ... and at once starts round two
    all_done.go([&] {
      wg.wait();
      EXPECT_TRUE(second_round_over.load());
      second_round_released = true;
    });
    goro::sleep_for(10ms);
    // All 20 are in round one only if they all parked within the 2 ms above.
    if (::timing_checks()) {
      EXPECT_EQ(first_round_released.load(), 20);
    }
    EXPECT_FALSE(second_round_released.load());
    second_round_over = true;
    wg.done();
    all_done.wait();
    EXPECT_TRUE(second_round_released.load());
  });
}

TEST(WaitGroup, GoCountsTheGoroutine) {
  goro::set_maxprocs(procs_at_least(2));
  goro::run([] {
    goro::wait_group wg;
    std::vector<int> done(64, 0);
    for (int i = 0; i < 64; ++i) {
      wg.go([&done, i] {
        goro::yield();
        done[i] = 1;
      });
    }
    wg.wait();
    EXPECT_EQ(std::count(done.begin(), done.end(), 1), 64);
  });
}

TEST(WaitGroup, PlainThreadWaitsForGoroutines) {
  goro::set_maxprocs(2);
  goro::run([] {
    goro::wait_group wg;
    constexpr int kWorkers = 8;
    std::vector<int> results(kWorkers, 0);
    wg.add(kWorkers);
    std::atomic<bool> thread_saw_all{false};
    std::thread waiter([&] {
      wg.wait();  // sleeps on a futex
      thread_saw_all = std::count(results.begin(), results.end(), 1) == kWorkers;
    });
    for (int i = 0; i < kWorkers; ++i) {
      goro::go([&, i] {
        goro::sleep_for(2ms);
        results[i] = 1;
        wg.done();
      });
    }
    goro::blocking([&] { waiter.join(); });
    EXPECT_TRUE(thread_saw_all.load());
  });
}

TEST(WaitGroup, NegativeCounterIsFatal) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::wait_group wg;
                wg.add(1);
                wg.done();
                wg.done();
              }),
              testing::ExitedWithCode(2), "fatal error: sync: negative WaitGroup counter");
  EXPECT_EXIT(goro::run([] {
                goro::wait_group wg;
                wg.add(-1);
              }),
              testing::ExitedWithCode(2), "fatal error: sync: negative WaitGroup counter");
}

// ---------------------------------------------------------------------------
// once

TEST(Once, RunsExactlyOnceUnderContention) {
  goro::set_maxprocs(procs_at_least(2));
  const int kCallers = 1000 / kSlowdown;
  std::atomic<int> runs{0};
  goro::run([&] {
    goro::once once;
    int value = 0;  // written by f only; plain on purpose
    std::atomic<int> saw_value{0};
    EXPECT_FALSE(once.done());
    goro::wait_group wg;
    for (int i = 0; i < kCallers; ++i) {
      wg.go([&] {
        once.call([&] {
          runs.fetch_add(1);
          goro::sleep_for(5ms);  // everyone else arrives meanwhile and parks
          value = 42;
        });
        if (value == 42) saw_value.fetch_add(1);
      });
    }
    wg.wait();
    EXPECT_TRUE(once.done());
    EXPECT_EQ(saw_value.load(), kCallers);
  });
  EXPECT_EQ(runs.load(), 1);
}

TEST(Once, ThrowingFunctionLeavesItNotDone) {
  goro::run([] {
    goro::once once;
    EXPECT_THROW(once.call([] { throw std::runtime_error("first try fails"); }), std::runtime_error);
    EXPECT_FALSE(once.done());
    int runs = 0;
    once.call([&] { ++runs; });
    EXPECT_EQ(runs, 1);
    EXPECT_TRUE(once.done());
    once.call([&] { ++runs; });
    EXPECT_EQ(runs, 1);
  });
}

TEST(Once, ParkedCallerRunsItsFunctionAfterAThrow) {
  goro::set_maxprocs(procs_at_least(2));
  goro::run([] {
    goro::once once;
    std::atomic<int> throws{0};
    std::atomic<int> successes{0};
    std::atomic<bool> first_started{false};
    goro::wait_group wg;
    wg.go([&] {
      try {
        once.call([&] {
          first_started = true;
          goro::sleep_for(5ms);
          throw std::runtime_error("fails");
        });
      } catch (const std::runtime_error&) {
        throws.fetch_add(1);
      }
    });
    yield_until([&] { return first_started.load(); });
    for (int i = 0; i < 10; ++i) {
      wg.go([&] { once.call([&] { successes.fetch_add(1); }); });
    }
    wg.wait();
    EXPECT_EQ(throws.load(), 1);
    EXPECT_EQ(successes.load(), 1);
    EXPECT_TRUE(once.done());
  });
}

// ---------------------------------------------------------------------------
// cond

// Starts a goroutine that waits on cv (under mu) and, once woken, appends
// `id` to *woken. Returns when it is inside wait(): it counted itself in
// *waiting under mu before waiting, and wait() takes its ticket before it
// releases mu.
void start_waiter(goro::mutex& mu, goro::cond& cv, int& waiting, std::vector<int>& woken, int id,
                  goro::wait_group& wg) {
  const int before = [&] {
    std::lock_guard lock(mu);
    return waiting;
  }();
  wg.go([&mu, &cv, &waiting, &woken, id] {
    std::unique_lock lock(mu);
    ++waiting;
    cv.wait(lock);
    woken.push_back(id);
  });
  yield_until([&] {
    std::lock_guard lock(mu);
    return waiting > before;
  });
}

std::size_t woken_count(goro::mutex& mu, const std::vector<int>& woken) {
  std::lock_guard lock(mu);
  return woken.size();
}

TEST(Cond, SignalWakesWaitersInTheOrderTheyBeganToWait) {
  goro::set_maxprocs(procs_at_least(2));
  goro::run([] {
    goro::mutex mu;
    goro::cond cv;
    int waiting = 0;         // guarded by mu
    std::vector<int> woken;  // guarded by mu
    goro::wait_group wg;
    constexpr int kWaiters = 20;
    for (int i = 0; i < kWaiters; ++i) start_waiter(mu, cv, waiting, woken, i, wg);
    for (int i = 0; i < kWaiters; ++i) {
      cv.signal();
      yield_until([&] { return woken_count(mu, woken) == static_cast<std::size_t>(i + 1); });
    }
    wg.wait();
    std::vector<int> expected(kWaiters);
    for (int i = 0; i < kWaiters; ++i) expected[i] = i;
    EXPECT_EQ(woken, expected);
  });
}

TEST(Cond, SignalNeverWakesALaterWaiter) {
  goro::set_maxprocs(procs_at_least(2));
  goro::run([] {
    goro::mutex mu;
    goro::cond cv;
    int waiting = 0;
    std::vector<int> woken;
    goro::wait_group wg;
    // Signals with nobody waiting are not saved for later waiters.
    cv.signal();
    cv.broadcast();
    start_waiter(mu, cv, waiting, woken, 1, wg);
    goro::sleep_for(10ms);
    EXPECT_EQ(woken_count(mu, woken), 0u);

    // Waiter 1 waits; a signal is sent while waiter 2 is about to wait (it
    // is blocked on the mutex we hold): only 1 may wake.
    {
      std::unique_lock lock(mu);
      cv.signal();
      wg.go([&] {
        std::unique_lock inner(mu);
        ++waiting;
        cv.wait(inner);
        woken.push_back(2);
      });
    }
    yield_until([&] {
      std::lock_guard lock(mu);
      return waiting == 2 && woken.size() == 1;
    });
    goro::sleep_for(10ms);
    {
      std::lock_guard lock(mu);
      EXPECT_EQ(woken, std::vector<int>{1});
    }
    cv.signal();
    wg.wait();
    EXPECT_EQ(woken, (std::vector<int>{1, 2}));
  });
}

TEST(Cond, BroadcastWakesEveryCurrentWaiterOnly) {
  goro::set_maxprocs(procs_at_least(2));
  goro::run([] {
    goro::mutex mu;
    goro::cond cv;
    int waiting = 0;
    std::vector<int> woken;
    goro::wait_group wg;
    constexpr int kWaiters = 50;
    for (int i = 0; i < kWaiters; ++i) start_waiter(mu, cv, waiting, woken, i, wg);
    cv.broadcast();
    yield_until([&] { return woken_count(mu, woken) == kWaiters; });
    // A waiter that begins after the broadcast is not woken by it.
    start_waiter(mu, cv, waiting, woken, kWaiters, wg);
    goro::sleep_for(10ms);
    EXPECT_EQ(woken_count(mu, woken), static_cast<std::size_t>(kWaiters));
    cv.notify_all();
    wg.wait();
    EXPECT_EQ(woken.size(), static_cast<std::size_t>(kWaiters + 1));
  });
}

TEST(Cond, NoLostWakeupsProducersConsumers) {
  // A lost wakeup leaves a consumer asleep forever: the runtime then reports
  // a deadlock and the test fails.
  goro::set_maxprocs(procs_at_least(2));
  constexpr int kProducers = 8;
  constexpr int kConsumers = 8;
  const int kItemsEach = 2000 / kSlowdown;
  goro::run([&] {
    goro::mutex mu;
    goro::cond cv;
    int available = 0;  // guarded by mu
    int consumed = 0;   // guarded by mu
    goro::wait_group wg;
    for (int p = 0; p < kProducers; ++p) {
      wg.go([&] {
        for (int i = 0; i < kItemsEach; ++i) {
          {
            std::lock_guard lock(mu);
            ++available;
          }
          cv.signal();  // outside the lock: the racy order on purpose
          if (i % 32 == 0) goro::yield();
        }
      });
    }
    for (int c = 0; c < kConsumers; ++c) {
      wg.go([&] {
        for (int i = 0; i < kItemsEach * kProducers / kConsumers; ++i) {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return available > 0; });
          --available;
          ++consumed;
        }
      });
    }
    wg.wait();
    EXPECT_EQ(consumed, kItemsEach * kProducers);
    EXPECT_EQ(available, 0);
  });
}

TEST(Cond, PingPongTakesTurns) {
  goro::set_maxprocs(procs_at_least(2));
  const int kRounds = 5000 / kSlowdown;
  goro::run([&] {
    goro::mutex mu;
    goro::cond cv;
    int turn = 0;  // guarded by mu
    int total = 0;
    goro::wait_group wg;
    for (int me = 0; me < 2; ++me) {
      wg.go([&, me] {
        for (int r = 0; r < kRounds; ++r) {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return turn == me; });
          ++total;
          turn = 1 - me;
          cv.notify_one();
        }
      });
    }
    wg.wait();
    EXPECT_EQ(total, 2 * kRounds);
  });
}

TEST(Cond, WaitWithoutTheLockThrows) {
  goro::run([] {
    goro::mutex mu;
    goro::cond cv;
    std::unique_lock lock(mu, std::defer_lock);
    EXPECT_THROW(cv.wait(lock), std::system_error);
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
  });
}

TEST(Cond, MayBeDestroyedOnceEveryWaiterIsNotified) {
  // std::condition_variable's rule: destroying it right after notify_all
  // is fine even though the waiters have not returned yet.
  goro::set_maxprocs(procs_at_least(2));
  const int kTrials = 200 / kSlowdown;
  goro::run([&] {
    goro::mutex mu;
    for (int t = 0; t < kTrials; ++t) {
      auto cv = std::make_unique<goro::cond>();
      bool ready = false;  // guarded by mu
      int waiting = 0;     // guarded by mu
      goro::wait_group wg;
      for (int i = 0; i < 4; ++i) {
        wg.go([&, c = cv.get()] {
          std::unique_lock lock(mu);
          ++waiting;
          c->wait(lock, [&] { return ready; });
        });
      }
      yield_until([&] {
        std::lock_guard lock(mu);
        return waiting == 4;
      });
      {
        std::lock_guard lock(mu);
        ready = true;
      }
      cv->notify_all();
      cv.reset();
      wg.wait();
    }
  });
}

TEST(Cond, PlainThreadWaitsForAGoroutine) {
  goro::set_maxprocs(2);
  goro::run([] {
    goro::mutex mu;
    goro::cond cv;
    bool ready = false;  // guarded by mu
    int payload = 0;     // written before ready
    int seen = -1;
    std::atomic<bool> checked{false};
    std::thread waiter([&] {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] {
        checked.store(true);
        return ready;
      });
      seen = payload;
    });
    while (!checked.load()) goro::sleep_for(1ms);
    {
      // The plain thread may still hold mu on its way into the wait, and
      // only it can ready this goroutine then: without saying so, a worker
      // that finds nothing to run takes that for a deadlock (the detector
      // cannot see who holds a goro::mutex).
      goro::detail::external_wait_begin();
      std::lock_guard lock(mu);
      goro::detail::external_wait_end();
      payload = 7;
      ready = true;
    }
    cv.signal();
    goro::blocking([&] { waiter.join(); });
    EXPECT_EQ(seen, 7);
  });
}

}  // namespace
