// bench/peers/thread/spawn.cpp: bench/spawn.cpp for std::thread.
//
//   thread_spawn [N]   (default 100,000)
//
// Same metrics as bench_spawn: spawn_join_one_ns (start a thread and join
// it, N times), spawn_join_batch_ns (batches of 64), spawn_join_all_ns (all
// N, then join all; capped at 10,000 threads alive at once), per thread.
#include "bench_util.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 100000);
  const double dn = static_cast<double>(n);
  std::atomic<long> sink{0};
  {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = bench::cpu_seconds();
    for (long i = 0; i < n; i++) {
      std::thread t([&] { sink.fetch_add(1, std::memory_order_relaxed); });
      t.join();
    }
    bench::metric("spawn_join_one_ns", bench::seconds_since(t0) * 1e9 / dn);
    bench::metric("spawn_join_one_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / dn);
  }
  {
    constexpr long kBatch = 64;
    long batches = (n + kBatch - 1) / kBatch;
    std::vector<std::thread> ts;
    ts.reserve(kBatch);
    auto t0 = std::chrono::steady_clock::now();
    double c0 = bench::cpu_seconds();
    for (long b = 0; b < batches; b++) {
      for (long i = 0; i < kBatch; i++)
        ts.emplace_back([&] { sink.fetch_add(1, std::memory_order_relaxed); });
      for (auto& t : ts) t.join();
      ts.clear();
    }
    bench::metric("spawn_join_batch_ns",
                  bench::seconds_since(t0) * 1e9 / static_cast<double>(batches * kBatch));
    bench::metric("spawn_join_batch_cpu_ns",
                  (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(batches * kBatch));
  }
  {
    const long all = std::min(n, 10000L);
    std::vector<std::thread> ts;
    ts.reserve(static_cast<std::size_t>(all));
    auto t0 = std::chrono::steady_clock::now();
    double c0 = bench::cpu_seconds();
    for (long i = 0; i < all; i++) ts.emplace_back([&] { sink.fetch_add(1, std::memory_order_relaxed); });
    for (auto& t : ts) t.join();
    bench::metric("spawn_join_all_ns", bench::seconds_since(t0) * 1e9 / static_cast<double>(all));
    bench::metric("spawn_join_all_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(all));
  }
  return sink.load() > 0 ? 0 : 1;
}
