// bench/peers/fiber/spawn.cpp: bench/spawn.cpp for Boost.Fiber (one thread,
// default scheduler and stack allocator).
//
//   fiber_spawn [N]    (default 1,000,000)
//
// Same metrics as bench_spawn: spawn_join_one_ns, spawn_join_batch_ns
// (batches of 64), spawn_join_all_ns (all N, capped at 50,000 alive at once
// because each stack is its own mapping), per fiber.
#include "bench_util.hpp"

#include <boost/fiber/all.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 1000000);
  const double dn = static_cast<double>(n);
  long sink = 0;
  {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = bench::cpu_seconds();
    for (long i = 0; i < n; i++) {
      boost::fibers::fiber f([&] { sink++; });
      f.join();
    }
    bench::metric("spawn_join_one_ns", bench::seconds_since(t0) * 1e9 / dn);
    bench::metric("spawn_join_one_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / dn);
  }
  {
    constexpr long kBatch = 64;
    long batches = (n + kBatch - 1) / kBatch;
    std::vector<boost::fibers::fiber> fs;
    fs.reserve(kBatch);
    auto t0 = std::chrono::steady_clock::now();
    double c0 = bench::cpu_seconds();
    for (long b = 0; b < batches; b++) {
      for (long i = 0; i < kBatch; i++) fs.emplace_back([&] { sink++; });
      for (auto& f : fs) f.join();
      fs.clear();
    }
    bench::metric("spawn_join_batch_ns",
                  bench::seconds_since(t0) * 1e9 / static_cast<double>(batches * kBatch));
    bench::metric("spawn_join_batch_cpu_ns",
                  (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(batches * kBatch));
  }
  {
    const long all = std::min(n, 50000L);
    std::vector<boost::fibers::fiber> fs;
    fs.reserve(static_cast<std::size_t>(all));
    auto t0 = std::chrono::steady_clock::now();
    double c0 = bench::cpu_seconds();
    for (long i = 0; i < all; i++) fs.emplace_back([&] { sink++; });
    for (auto& f : fs) f.join();
    bench::metric("spawn_join_all_ns", bench::seconds_since(t0) * 1e9 / static_cast<double>(all));
    bench::metric("spawn_join_all_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(all));
  }
  return sink > 0 ? 0 : 1;
}
