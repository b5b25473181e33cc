// tests/rw_mutex_test.cpp: goro::rw_mutex (Go's sync.RWMutex): the standard
// lock types, readers sharing it, writer preference, parking rather than
// blocking the worker, misuse, destruction by the last owner, and a stress
// run (meant for TSan too).
#include <goro/blocking.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/rw_mutex.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include "helpers/test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
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
using goro_test::run_on;
using goro_test::scaled3;

namespace {

template <typename Pred>
void yield_until(Pred pred) {
  while (!pred()) goro::yield();
}

}  // namespace

TEST(RwMutex, WorksWithStandardLockTypes) {
  run_on(1, [] {
    goro::rw_mutex mu;
    {
      std::shared_lock r1(mu);
      std::shared_lock r2(mu);  // readers share it
      EXPECT_TRUE(r1.owns_lock() && r2.owns_lock());
      EXPECT_FALSE(mu.try_lock());
      std::unique_lock w(mu, std::try_to_lock);
      EXPECT_FALSE(w.owns_lock());
    }
    {
      std::unique_lock w(mu);
      EXPECT_FALSE(mu.try_lock_shared());
      EXPECT_FALSE(mu.try_lock());
      std::shared_lock r(mu, std::try_to_lock);
      EXPECT_FALSE(r.owns_lock());
    }
    { std::lock_guard g(mu); }
    { std::scoped_lock s(mu); }
    EXPECT_TRUE(mu.try_lock());
    mu.unlock();
    EXPECT_TRUE(mu.try_rlock());
    mu.runlock();
    mu.rlock();
    mu.runlock();
  });
}

TEST(RwMutex, TryLockOnAFreshMutexThenAWaitingReader) {
  // The first writer may come through try_lock(): a reader that then has to
  // wait must find somewhere to wait.
  run_on(1, [] {
    goro::rw_mutex mu;
    ASSERT_TRUE(mu.try_lock());
    std::atomic<bool> read{false};
    goro::wait_group wg;
    wg.go([&] {
      std::shared_lock r(mu);
      read = true;
    });
    goro::sleep_for(5ms);
    EXPECT_FALSE(read.load());
    mu.unlock();
    wg.wait();
    EXPECT_TRUE(read.load());
  });
}

TEST(RwMutex, ReadersHoldItTogether) {
  // Every reader holds the lock at once: each waits, while holding it, until
  // all have arrived. With an exclusive lock this would never finish.
  run_on(2, [] {
    goro::rw_mutex mu;
    constexpr int kReaders = 50;
    std::atomic<int> inside{0};
    std::atomic<int> most{0};
    goro::wait_group wg;
    for (int i = 0; i < kReaders; ++i) {
      wg.go([&] {
        std::shared_lock lock(mu);
        int now = inside.fetch_add(1) + 1;
        int m = most.load();
        while (now > m && !most.compare_exchange_weak(m, now)) {
        }
        yield_until([&] { return inside.load() >= kReaders || most.load() >= kReaders; });
        inside.fetch_sub(1);
      });
    }
    wg.wait();
    EXPECT_EQ(most.load(), kReaders);
  });
}

TEST(RwMutex, ParksTheGoroutineNotTheThread) {
  // One processor: if a waiting writer or reader blocked the thread, the
  // holder could never run to release.
  run_on(1, [] {
    goro::rw_mutex mu;
    std::atomic<int> done{0};
    goro::wait_group wg;
    mu.rlock();
    wg.go([&] {
      std::unique_lock w(mu);  // waits for the reader
      done.fetch_add(1);
    });
    wg.go([&] {
      goro::sleep_for(5ms);
      std::shared_lock r(mu);  // waits behind the writer
      done.fetch_add(1);
    });
    goro::sleep_for(20ms);
    EXPECT_EQ(done.load(), 0);
    mu.runlock();
    wg.wait();
    EXPECT_EQ(done.load(), 2);
  });
}

TEST(RwMutex, AWaitingWriterStopsNewReaders) {
  // Go's writer preference: once a writer waits, a reader arriving later
  // waits too, even though the lock is only read-held; it gets in after the
  // writer. Order is observed through a log, not timing.
  run_on(2, [] {
    goro::rw_mutex mu;
    std::vector<int> order;  // guarded by log_mu
    goro::mutex log_mu;
    auto log = [&](int who) {
      std::lock_guard l(log_mu);
      order.push_back(who);
    };
    std::atomic<bool> writer_waiting{false};
    goro::wait_group wg;
    mu.rlock();  // the first reader
    wg.go([&] {
      writer_waiting = true;
      mu.lock();
      log(1);
      mu.unlock();
    });
    // The writer is waiting once it has biased the reader count: a
    // try_rlock fails from then on although only a reader holds the lock.
    yield_until([&] {
      if (mu.try_rlock()) {
        mu.runlock();
        return false;
      }
      return writer_waiting.load();
    });
    wg.go([&] {
      mu.rlock();
      log(2);
      mu.runlock();
    });
    goro::sleep_for(10ms);  // the late reader would be in by now if it could
    {
      std::lock_guard l(log_mu);
      EXPECT_TRUE(order.empty());
    }
    log(0);
    mu.runlock();  // the first reader leaves: the writer, then the late reader
    wg.wait();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  });
}

TEST(RwMutex, WritersAreExclusiveAndReadersSeeWholeUpdates) {
  // Stress (run under TSan too): writers update two fields together;
  // readers must never see them differ, and no reader is inside while a
  // writer is.
  run_on(goro_test::kSanitizer ? 2 : 4, [] {
    goro::rw_mutex mu;
    std::int64_t a = 0, b = 0;  // guarded by mu
    std::atomic<int> readers_inside{0};
    std::atomic<int> writers_inside{0};
    std::atomic<int> torn{0};
    const int kRounds = static_cast<int>(scaled3(20000, 2000, 1000));
    constexpr int kReaders = 16;
    constexpr int kWriters = 4;
    goro::wait_group wg;
    for (int i = 0; i < kWriters; ++i) {
      wg.go([&] {
        for (int k = 0; k < kRounds; ++k) {
          std::unique_lock w(mu);
          if (writers_inside.fetch_add(1) != 0 || readers_inside.load() != 0) torn.fetch_add(1);
          ++a;
          if (k % 64 == 0) goro::yield();
          ++b;
          writers_inside.fetch_sub(1);
        }
      });
    }
    for (int i = 0; i < kReaders; ++i) {
      wg.go([&] {
        for (int k = 0; k < kRounds; ++k) {
          if (k % 2 == 0) {
            std::shared_lock r(mu);
            readers_inside.fetch_add(1);
            if (a != b || writers_inside.load() != 0) torn.fetch_add(1);
            readers_inside.fetch_sub(1);
          } else if (mu.try_lock_shared()) {
            if (a != b) torn.fetch_add(1);
            mu.unlock_shared();
          }
          if (k % 16 == 0) goro::yield();
        }
      });
    }
    wg.wait();
    EXPECT_EQ(torn.load(), 0);
    std::shared_lock r(mu);
    EXPECT_EQ(a, std::int64_t{kWriters} * kRounds);
    EXPECT_EQ(b, a);
  });
}

TEST(RwMutex, PlainThreadsAndGoroutinesShareIt) {
  goro::set_maxprocs(2);
  goro::rw_mutex mu;
  std::int64_t counter = 0;  // guarded by mu
  const int kIncrements = static_cast<int>(scaled3(2000, 500, 300));
  goro::run([&] {
    // The deadlock detector knows only goroutines: while every goroutine
    // waits for a lock a plain thread holds, this ticker shows the process
    // is alive (see the plain-thread note in mutex.hpp).
    std::atomic<bool> finished{false};
    goro::go([&] {
      while (!finished) goro::sleep_for(1ms);
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        for (int k = 0; k < kIncrements; ++k) {
          if (k % 4 == 0) {
            std::unique_lock w(mu);
            ++counter;
          } else {
            std::shared_lock r(mu);
            EXPECT_GE(counter, 0);
          }
        }
      });
    }
    goro::wait_group wg;
    for (int g = 0; g < 4; ++g) {
      wg.go([&] {
        for (int k = 0; k < kIncrements; ++k) {
          if (k % 4 == 0) {
            std::unique_lock w(mu);
            ++counter;
          } else {
            std::shared_lock r(mu);
            EXPECT_GE(counter, 0);
          }
          if (k % 32 == 0) goro::yield();
        }
      });
    }
    wg.wait();
    goro::blocking([&] {
      for (auto& t : threads) t.join();
    });
    finished = true;
  });
  EXPECT_EQ(counter, 6 * ((kIncrements + 3) / 4));
}

TEST(RwMutex, LastOwnerMayDestroyIt) {
  // Whoever drops the last reference deletes the object, while the writer
  // or reader before it may still be returning from unlock. ASan reports a
  // use after free if an unlock touches it too late.
  goro::set_maxprocs(2);
  struct Shared {
    goro::rw_mutex mu;
    std::atomic<int> refs;
  };
  const int kObjects = static_cast<int>(scaled3(2000, 300, 200));
  constexpr int kOwners = 4;
  std::atomic<int> deleted{0};
  goro::run([&] {
    goro::wait_group wg;
    for (int o = 0; o < kObjects; ++o) {
      auto* s = new Shared{{}, kOwners};
      for (int k = 0; k < kOwners; ++k) {
        wg.go([s, k, &deleted] {
          bool last;
          if (k % 2 == 0) {
            s->mu.lock();
            last = s->refs.fetch_sub(1) == 1;
            s->mu.unlock();
          } else {
            s->mu.rlock();
            last = s->refs.fetch_sub(1) == 1;
            s->mu.runlock();
          }
          if (last) {
            // Take and drop the write lock: every earlier holder is out.
            s->mu.lock();
            s->mu.unlock();
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

TEST(RwMutexDeathTest, UnlockingAnUnlockedOneIsFatalAsInGo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(goro::run([] {
                goro::rw_mutex mu;
                mu.unlock();
              }),
              testing::ExitedWithCode(2), "fatal error: sync: Unlock of unlocked RWMutex");
  EXPECT_EXIT(goro::run([] {
                goro::rw_mutex mu;
                mu.runlock();
              }),
              testing::ExitedWithCode(2), "fatal error: sync: RUnlock of unlocked RWMutex");
}
