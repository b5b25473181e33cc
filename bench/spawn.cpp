// bench/spawn.cpp: spawn+join throughput.
//
//   bench_spawn [N]    (default 1,000,000)
//
// Prints:
//   spawn_join_one_ns    spawn one goroutine and wait for it, N times: ns per goroutine
//   spawn_join_batch_ns  spawn batches of 64 goroutines, then wait for the batch: ns per goroutine
//   spawn_join_all_ns    spawn all N, then wait for all: ns per goroutine
//   *_cpu_ns             the same in process CPU time (all threads)
//   maxprocs
// Each goroutine does nothing but signal its wait_group. The Go and thread
// peers (bench/peers/) print the same lines.
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <chrono>

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 1000000);
  return goro::run([n] {
    const double dn = static_cast<double>(n);
    {
      auto t0 = std::chrono::steady_clock::now();
      double c0 = bench::cpu_seconds();
      for (long i = 0; i < n; i++) {
        goro::wait_group wg;
        wg.add(1);
        goro::go([&wg] { wg.done(); });
        wg.wait();
      }
      bench::metric("spawn_join_one_ns", bench::seconds_since(t0) * 1e9 / dn);
      bench::metric("spawn_join_one_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / dn);
    }
    {
      constexpr long kBatch = 64;
      long batches = (n + kBatch - 1) / kBatch;
      goro::wait_group wg;
      auto t0 = std::chrono::steady_clock::now();
      double c0 = bench::cpu_seconds();
      for (long b = 0; b < batches; b++) {
        wg.add(kBatch);
        for (long i = 0; i < kBatch; i++) goro::go([&wg] { wg.done(); });
        wg.wait();
      }
      bench::metric("spawn_join_batch_ns",
                    bench::seconds_since(t0) * 1e9 / static_cast<double>(batches * kBatch));
      bench::metric("spawn_join_batch_cpu_ns",
                    (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(batches * kBatch));
    }
    {
      goro::wait_group wg;
      auto t0 = std::chrono::steady_clock::now();
      double c0 = bench::cpu_seconds();
      wg.add(n);
      for (long i = 0; i < n; i++) goro::go([&wg] { wg.done(); });
      wg.wait();
      bench::metric("spawn_join_all_ns", bench::seconds_since(t0) * 1e9 / dn);
      bench::metric("spawn_join_all_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / dn);
    }
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
    return 0;
  });
}
