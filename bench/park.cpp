// bench/park.cpp: N parked goroutines, and what each one costs.
//
//   bench_park [N]     (default 1,000,000)
//
// Starts N goroutines that each check in on a wait_group and park on a gate
// (Go's sync.WaitGroup pattern), then measures the process's resident memory
// plus page tables (VmRSS + VmPTE) against the figure before the first spawn.
// Prints:
//   goroutines                  N
//   bytes_per_goroutine         (VmRSS+VmPTE delta) / N, while all are parked
//   spawn_ns_per_goroutine      time until every goroutine has started and parked, / N
//   wake_join_ns_per_goroutine  time to release the gate and join them all, / N
//   spawn_cpu_ns_per_goroutine, wake_join_cpu_ns_per_goroutine
//                               the same phases in process CPU time (all threads)
//   maxprocs
// The Go and thread peers (bench/peers/) print the same lines.
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <chrono>

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 1000000);
  return goro::run([n] {
    goro::wait_group started, gate, finished;
    gate.add(1);
    long before = bench::resident_with_page_tables();
    auto t0 = std::chrono::steady_clock::now();
    double c0 = bench::cpu_seconds();
    started.add(n);
    finished.add(n);
    for (long i = 0; i < n; i++) {
      goro::go([&] {
        started.done();
        gate.wait();
        finished.done();
      });
    }
    started.wait();
    double spawn_s = bench::seconds_since(t0);
    double spawn_cpu = bench::cpu_seconds() - c0;
    long after = bench::resident_with_page_tables();
    auto t1 = std::chrono::steady_clock::now();
    double c1 = bench::cpu_seconds();
    gate.done();
    finished.wait();
    double wake_s = bench::seconds_since(t1);
    double wake_cpu = bench::cpu_seconds() - c1;
    bench::metric("goroutines", n);
    bench::metric("bytes_per_goroutine", static_cast<double>(after - before) / static_cast<double>(n));
    bench::metric("spawn_ns_per_goroutine", spawn_s * 1e9 / static_cast<double>(n));
    bench::metric("wake_join_ns_per_goroutine", wake_s * 1e9 / static_cast<double>(n));
    bench::metric("spawn_cpu_ns_per_goroutine", spawn_cpu * 1e9 / static_cast<double>(n));
    bench::metric("wake_join_cpu_ns_per_goroutine", wake_cpu * 1e9 / static_cast<double>(n));
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
    return 0;
  });
}
