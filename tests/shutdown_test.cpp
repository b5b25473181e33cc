// Tests of the runtime's end: run() leaves no thread behind, including a
// worker inside goro::blocking when main returns, and may be called a
// thousand times in a row with a stable thread count and stable memory.
#include "helpers/test_util.hpp"

#include <goro/blocking.hpp>
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

using namespace std::chrono_literals;

namespace {

// A /proc/self/status field in its unit (kB for memory), -1 if absent.
long status_field(const char* name) {
  std::ifstream f("/proc/self/status");
  std::string key;
  long value = -1;
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(name, 0) == 0 && line[std::strlen(name)] == ':') {
      value = std::stol(line.substr(std::strlen(name) + 1));
      break;
    }
  }
  return value;
}

// Threads of the process other than goro's process-wide helpers (the
// stack scavenger and the compactor, which start on first need and stay).
long threads_now() {
  long n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name != "goro-scavenge" && name != "goro-compactor") n++;
  }
  return n;
}

// threads_now(), once threads that were joined have left /proc: the kernel
// wakes pthread_join() before it removes the exiting thread's task entry,
// so a count taken right after run() returns may still see one (a CI run
// counted 2 threads where 1 was left; 55 runs after it counted 1). A thread
// left behind stays, so it still shows after the wait.
long threads_after_exits(long expected) {
  long n = threads_now();
  for (int i = 0; i < 1000 && n != expected; i++) {
    std::this_thread::sleep_for(1ms);
    n = threads_now();
  }
  return n;
}

// One run with a little of everything: goroutines on both processors, a
// timer, a channel, a call in goro::blocking.
void one_run() {
  goro_test::run_on(2, [] {
    goro::wait_group wg;
    goro::chan<int> ch(1);
    wg.add(3);
    goro::go([&] {
      ch.send(1);
      wg.done();
    });
    goro::go([&] {
      (void)ch.recv();
      wg.done();
    });
    goro::go([&] {
      goro::blocking([] { std::this_thread::sleep_for(50us); });
      wg.done();
    });
    goro::sleep_for(10us);
    wg.wait();
    return 0;
  });
}

}  // namespace

// A goroutine still inside goro::blocking when main returns: run() waits for
// its call and ends its thread.
TEST(Shutdown, WorkerInsideBlockingIsJoined) {
  one_run();  // starts the process-wide helper threads, if any
  const long before = threads_now();
  std::atomic<bool> call_finished{false};
  goro_test::run_on(2, [&] {
    std::atomic<bool> started{false};
    goro::go([&] {
      goro::blocking([&] {
        started = true;
        std::this_thread::sleep_for(100ms);
        call_finished = true;
      });
      ADD_FAILURE() << "an abandoned goroutine ran again";
    });
    while (!started) goro::sleep_for(100us);
    return 0;
  });
  EXPECT_TRUE(call_finished.load()) << "run() returned before the blocking call ended";
  EXPECT_EQ(threads_after_exits(before), before) << "a worker thread was left behind";
}

TEST(Shutdown, AThousandRunsKeepThreadsAndMemoryStable) {
  const int runs = static_cast<int>(goro_test::scaled(1000, 200));
  for (int i = 0; i < 10; i++) one_run();
  const long threads = threads_now();
  const long rss_kb = status_field("VmRSS");
  for (int i = 0; i < runs; i++) one_run();
  EXPECT_EQ(threads_after_exits(threads), threads);
  const long grown_kb = status_field("VmRSS") - rss_kb;
  // Caches may settle (stack pools, allocator arenas) but nothing may grow
  // per run: 1,000 runs leaking even 8 KiB each would show as 8 MiB. The
  // sanitizers keep per-thread history and quarantines of their own.
  if (!goro_test::kSanitizer) {
    EXPECT_LT(grown_kb, 4096) << "VmRSS grew by " << grown_kb << " kB over " << runs << " runs";
  }
}
