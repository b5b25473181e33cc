// Tests of goro::lock_os_thread (Go's runtime.LockOSThread): a locked
// goroutine keeps its thread across parks, its thread runs nothing else,
// the others keep running, and exiting while locked ends the thread.
#include "helpers/test_util.hpp"

#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using goro_test::thread_id;

namespace {

bool thread_alive(long tid) {
  struct stat st {};
  return ::stat(("/proc/self/task/" + std::to_string(tid)).c_str(), &st) == 0;
}

void keeps_its_thread(int procs) {
  const int parks = static_cast<int>(goro_test::scaled(10000, 2000));
  std::atomic<long> locked_tid{0};
  std::atomic<int> moved{0};
  std::atomic<std::int64_t> others_ran{0};
  goro_test::run_on(procs, [&] {
    goro::chan<int> ping;
    goro::chan<int> pong;
    goro::wait_group wg;
    wg.add(2);
    goro::go([&] {
      goro::lock_os_thread();
      EXPECT_TRUE(goro::locked_os_thread());
      locked_tid = thread_id();
      for (int i = 0; i < parks; i++) {
        ping.send(i);
        (void)pong.recv();
        if (thread_id() != locked_tid) moved++;
      }
      goro::unlock_os_thread();
      EXPECT_FALSE(goro::locked_os_thread());
      wg.done();
    });
    goro::go([&] {
      for (int i = 0; i < parks; i++) pong.send(*ping.recv());
      wg.done();
    });
    // Others run meanwhile, never on the locked thread.
    goro::wait_group others;
    others.add(100);
    for (int i = 0; i < 100; i++) {
      goro::go([&] {
        for (int j = 0; j < 50; j++) {
          others_ran++;
          goro::yield();
        }
        others.done();
      });
    }
    others.wait();
    wg.wait();
    return 0;
  });
  EXPECT_EQ(moved.load(), 0) << "the locked goroutine ran on another thread";
  EXPECT_EQ(others_ran.load(), 100 * 50);
}

}  // namespace

TEST(LockOsThread, KeepsItsThreadAcrossParksOneProcessor) {
  keeps_its_thread(1);
}

TEST(LockOsThread, KeepsItsThreadAcrossParksTwoProcessors) {
  keeps_its_thread(2);
}

// While a goroutine is locked (and parked most of the time), no other
// goroutine runs on its thread.
TEST(LockOsThread, ItsThreadRunsNothingElse) {
  std::atomic<long> locked_tid{0};
  std::atomic<int> intruders{0};
  std::atomic<bool> locked_phase{false};
  goro_test::run_on(2, [&] {
    goro::chan<int> go_on;
    goro::wait_group locked_done;
    locked_done.add(1);
    goro::go([&] {
      goro::lock_os_thread();
      locked_tid = thread_id();
      locked_phase = true;
      for (int i = 0; i < 20; i++) goro::sleep_for(1ms);
      locked_phase = false;
      (void)go_on.recv();
      goro::unlock_os_thread();
      locked_done.done();
    });
    while (!locked_phase) goro::sleep_for(100us);
    goro::wait_group wg;
    wg.add(200);
    for (int i = 0; i < 200; i++) {
      goro::go([&] {
        for (int j = 0; j < 20; j++) {
          if (locked_phase && thread_id() == locked_tid) intruders++;
          goro::yield();
        }
        wg.done();
      });
    }
    wg.wait();
    go_on.send(1);
    locked_done.wait();
    return 0;
  });
  EXPECT_EQ(intruders.load(), 0);
}

namespace {

// go() yields a goroutine whose spawns fill its processor's queue; a locked
// one must come back on its own thread, and its children run elsewhere.
void spawn_loop_keeps_its_thread(int procs) {
  const int children = static_cast<int>(goro_test::scaled(5000, 1000));
  std::atomic<long> locked_tid{0};
  std::atomic<int> moved{0};
  std::atomic<int> intruders{0};
  std::atomic<int> ran{0};
  goro_test::run_on(procs, [&] {
    goro::wait_group spawner_done;
    goro::wait_group wg;
    wg.add(children);
    spawner_done.go([&] {
      goro::lock_os_thread();
      locked_tid = thread_id();
      for (int i = 0; i < children; i++) {
        goro::go([&] {
          if (thread_id() == locked_tid) intruders++;
          ran++;
          wg.done();
        });
        if (thread_id() != locked_tid) moved++;
      }
      wg.wait();
      goro::unlock_os_thread();
    });
    spawner_done.wait();
    return 0;
  });
  EXPECT_EQ(moved.load(), 0) << "the locked spawner ran on another thread";
  EXPECT_EQ(intruders.load(), 0) << "a child ran on the locked thread";
  EXPECT_EQ(ran.load(), children);
}

}  // namespace

TEST(LockOsThread, SpawnLoopKeepsItsThreadOneProcessor) {
  spawn_loop_keeps_its_thread(1);
}

TEST(LockOsThread, SpawnLoopKeepsItsThreadTwoProcessors) {
  spawn_loop_keeps_its_thread(2);
}

TEST(LockOsThread, CallsNest) {
  EXPECT_FALSE(goro::locked_os_thread()) << "outside a goroutine";
  goro_test::run_on(1, [] {
    EXPECT_FALSE(goro::locked_os_thread());
    goro::lock_os_thread();
    goro::lock_os_thread();
    goro::unlock_os_thread();
    EXPECT_TRUE(goro::locked_os_thread()) << "two locks, one unlock";
    goro::unlock_os_thread();
    EXPECT_FALSE(goro::locked_os_thread());
    goro::unlock_os_thread();  // one too many: ignored
    EXPECT_FALSE(goro::locked_os_thread());
    return 0;
  });
}

// A goroutine that exits locked takes its thread with it. The thread that
// called run() cannot end (run() returns on it); it sleeps instead, so at
// most one of three such goroutines lands there and the others' threads end.
TEST(LockOsThread, ExitWhileLockedEndsTheThread) {
  std::vector<long> ended_threads;
  std::vector<long> alive_threads;
  goro_test::run_on(2, [&] {
    for (int k = 0; k < 3; k++) {
      std::atomic<long> tid{0};
      goro::wait_group wg;
      wg.add(1);
      goro::go([&] {
        goro::lock_os_thread();
        tid = thread_id();
        wg.done();
      });
      wg.wait();
      if (tid == ::getpid()) continue;
      bool ended = false;
      for (int i = 0; i < 5000 && !ended; i++) {
        ended = !thread_alive(tid);
        goro::sleep_for(1ms);
      }
      (ended ? ended_threads : alive_threads).push_back(tid);
    }
    // The runtime goes on without them.
    goro::wait_group more;
    more.add(10);
    for (int i = 0; i < 10; i++) goro::go([&] { more.done(); });
    more.wait();
    return 0;
  });
  EXPECT_GE(ended_threads.size(), 2u);
  EXPECT_TRUE(alive_threads.empty()) << "thread " << alive_threads.front() << " still exists";
}

// The main goroutine may lock too, and exit locked: run() still returns.
TEST(LockOsThread, MainGoroutineLocked) {
  long first = 0;
  int moved = 0;
  int code = goro_test::run_on(2, [&] {
    goro::lock_os_thread();
    first = thread_id();
    for (int i = 0; i < 100; i++) {
      goro::sleep_for(100us);
      if (thread_id() != first) moved++;
    }
    return 7;
  });
  EXPECT_EQ(code, 7);
  EXPECT_EQ(moved, 0);
}
