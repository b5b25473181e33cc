// bench/peers/thread/park.cpp: bench/park.cpp for std::thread.
//
//   thread_park [N]    (default 10,000)
//
// N threads (default stacks: 8 MiB reserved each, the glibc default) check
// in and block on a condition variable until a gate opens. Same metrics as
// bench_park: goroutines (= threads), bytes_per_goroutine (VmRSS + VmPTE
// delta / N), spawn_ns_per_goroutine, wake_join_ns_per_goroutine.
// The thread count a machine allows is bounded by memory, kernel.threads-max,
// vm.max_map_count (two mappings per thread stack) and ulimit -u.
#include "bench_util.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 10000);
  std::mutex mu;
  std::condition_variable started_cv, gate_cv;
  long started = 0;
  bool open = false;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));

  long before = bench::resident_with_page_tables();
  auto t0 = std::chrono::steady_clock::now();
  double c0 = bench::cpu_seconds();
  for (long i = 0; i < n; i++) {
    threads.emplace_back([&] {
      std::unique_lock lock(mu);
      if (++started == n) started_cv.notify_one();
      gate_cv.wait(lock, [&] { return open; });
    });
  }
  {
    std::unique_lock lock(mu);
    started_cv.wait(lock, [&] { return started == n; });
  }
  double spawn_s = bench::seconds_since(t0);
  double spawn_cpu = bench::cpu_seconds() - c0;
  long after = bench::resident_with_page_tables();
  auto t1 = std::chrono::steady_clock::now();
  double c1 = bench::cpu_seconds();
  {
    std::lock_guard lock(mu);
    open = true;
  }
  gate_cv.notify_all();
  for (auto& t : threads) t.join();
  double wake_s = bench::seconds_since(t1);
  double wake_cpu = bench::cpu_seconds() - c1;
  const double dn = static_cast<double>(n);
  bench::metric("goroutines", n);
  bench::metric("bytes_per_goroutine", static_cast<double>(after - before) / dn);
  bench::metric("spawn_ns_per_goroutine", spawn_s * 1e9 / dn);
  bench::metric("wake_join_ns_per_goroutine", wake_s * 1e9 / dn);
  bench::metric("spawn_cpu_ns_per_goroutine", spawn_cpu * 1e9 / dn);
  bench::metric("wake_join_cpu_ns_per_goroutine", wake_cpu * 1e9 / dn);
  return 0;
}
