// tools/tour/steps_thread.cpp: the same park and spawn measurements for
// std::thread, run in a child.
//
// `parked` threads check in and block on a condition variable (the thread
// version of goroutines parked on a wait_group): bytes per thread (VmRSS +
// VmPTE) and the time to start them. Then `spawned` threads are started and
// joined one at a time. Each thread gets the default stack (glibc takes its
// size from RLIMIT_STACK: 8 MiB reserved, fixed for the thread's life), which
// the child reports as the threads' maximum stack.
#include "child_io.hpp"
#include "steps.hpp"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace tour {
namespace {

// The stack size a thread gets when nobody asks for one.
long default_thread_stack() {
  pthread_attr_t attr;
  std::size_t size = 0;
  if (pthread_getattr_default_np(&attr) == 0) {
    pthread_attr_getstacksize(&attr, &size);
    pthread_attr_destroy(&attr);
  }
  return static_cast<long>(size);
}

class Gate {
 public:
  void check_in() {
    std::unique_lock lock(mu_);
    ++arrived_;
    arrived_cv_.notify_one();
    open_cv_.wait(lock, [this] { return open_; });
  }
  void wait_for(long n) {
    std::unique_lock lock(mu_);
    arrived_cv_.wait(lock, [&] { return arrived_ >= n; });
  }
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    open_cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable arrived_cv_, open_cv_;
  long arrived_ = 0;
  bool open_ = false;
};

void park_threads(long n) {
  Gate gate;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  const ProgressTicker ticker(n);
  const long before = resident_with_page_tables();
  const auto t0 = std::chrono::steady_clock::now();
  try {
    while (static_cast<long>(threads.size()) < n) {
      threads.emplace_back([&gate] { gate.check_in(); });
      ticker.at(static_cast<long>(threads.size()));
    }
  } catch (const std::system_error& e) {
    emit_text("stopped_by", e.what());
  }
  const long started = static_cast<long>(threads.size());
  gate.wait_for(started);
  const double start_s = seconds_since(t0);
  const long after = resident_with_page_tables();
  gate.open();
  for (auto& t : threads) t.join();
  const long count = std::max(started, 1L);
  emit("threads", started);
  emit("start_s", start_s);
  emit("start_ns_per_thread", start_s * 1e9 / static_cast<double>(count));
  emit("bytes_per_thread", static_cast<double>(after - before) / static_cast<double>(count));
  emit("stack_bytes", default_thread_stack());
}

void spawn_join_threads(long n) {
  std::atomic<long> ran{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    std::thread t([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    t.join();
  }
  emit("spawn_join_count", ran.load());
  emit("spawn_join_ns", seconds_since(t0) * 1e9 / static_cast<double>(std::max(n, 1L)));
}

}  // namespace

int thread_step(long parked, long spawned) {
  park_threads(parked);
  spawn_join_threads(spawned);
  return 0;
}

}  // namespace tour
