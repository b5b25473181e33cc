// bench/scavenge.cpp: what a burst of goroutines leaves resident once it has
// ended, and how fast the background scavenger brings it down.
//
//   bench_scavenge [N] [SECONDS]     (default 1,000,000 and 120)
//
// Starts N goroutines that park on a gate (as bench_park does), releases
// them, waits for all to exit, then samples VmRSS every 100 ms until it has
// not fallen for two seconds (the scavenger is done) or SECONDS pass. Then
// one read_stack_stats tells how much free stack memory is left, which is
// what the retained target bounds. Page tables and the pools' own arrays
// are counted apart: the guard of every slot ever used pins its share of a
// page-table page (about 450 bytes for a default stack), and each slot ever
// carved has an entry in its pool's arrays; the scavenger gives neither
// back. Prints:
//   goroutines                 N
//   peak_mib                   resident memory (VmRSS) the burst added, at its peak
//   after_exit_mib             the same right after the last goroutine exited
//   settled_mib                the same once the scavenger is done
//   free_stacks_mib            resident bytes of free stacks then (stack_sys - stack_inuse)
//   retain_target_mib          goro::stack_retain_target()
//   page_tables_mib            VmPTE the burst added, at the end
//   seconds_to_settle          time from the last exit until VmRSS stopped falling
//                              (-1 if SECONDS passed first)
//   scavenged_mib              bytes the scavenger gave back meanwhile
//   scavenger_cpu_ms           CPU time it spent
//   scavenger_cpu_share        that CPU time / seconds_to_settle, in % of one CPU
//   free_os_memory_ms          then: free_os_memory() on what is left, wall time
//   page_tables_after_free_mib VmPTE the burst added, after free_os_memory
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <chrono>
#include <thread>

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 1000000);
  const double limit_s = argc > 2 ? std::atof(argv[2]) : 120.0;
  constexpr double kMiB = 1024.0 * 1024.0;
  return goro::run([&] {
    const long before = bench::status_bytes(true, false);
    const long pte_before = bench::status_bytes(false, true);
    goro::wait_group started, gate, finished;
    gate.add(1);
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
    const long peak = bench::status_bytes(true, false) - before;
    gate.done();
    finished.wait();
    const goro::stack_stats s0 = goro::read_stack_stats();
    const long after_exit = bench::status_bytes(true, false) - before;
    const double target = static_cast<double>(goro::stack_retain_target());
    const auto t0 = std::chrono::steady_clock::now();
    long lowest = after_exit;
    double lowest_at = 0, settled = -1;
    while (bench::seconds_since(t0) < limit_s) {
      goro::sleep_for(std::chrono::milliseconds(100));
      const long now = bench::status_bytes(true, false) - before;
      const double t = bench::seconds_since(t0);
      if (now < lowest - (1 << 20)) {
        lowest = now;
        lowest_at = t;
      } else if (t - lowest_at >= 2.0) {
        settled = lowest_at;
        break;
      }
    }
    const goro::stack_stats s1 = goro::read_stack_stats();
    const long pte = bench::status_bytes(false, true) - pte_before;
    const double cpu_ms = static_cast<double>((s1.scavenger_cpu - s0.scavenger_cpu).count()) / 1e6;
    const auto f0 = std::chrono::steady_clock::now();
    goro::free_os_memory();
    const double free_ms = bench::seconds_since(f0) * 1e3;
    const long pte_after_free = bench::status_bytes(false, true) - pte_before;
    bench::metric("goroutines", n);
    bench::metric("peak_mib", static_cast<double>(peak) / kMiB);
    bench::metric("after_exit_mib", static_cast<double>(after_exit) / kMiB);
    bench::metric("settled_mib", static_cast<double>(lowest) / kMiB);
    bench::metric("free_stacks_mib", static_cast<double>(s1.stack_sys - s1.stack_inuse) / kMiB);
    bench::metric("retain_target_mib", target / kMiB);
    bench::metric("page_tables_mib", static_cast<double>(pte) / kMiB);
    bench::metric("seconds_to_settle", settled);
    bench::metric("scavenged_mib", static_cast<double>(s1.scavenged_bytes - s0.scavenged_bytes) / kMiB);
    bench::metric("scavenger_cpu_ms", cpu_ms);
    bench::metric("scavenger_cpu_share", settled > 0 ? cpu_ms / 10.0 / settled : 0.0);
    bench::metric("free_os_memory_ms", free_ms);
    bench::metric("page_tables_after_free_mib", static_cast<double>(pte_after_free) / kMiB);
    return 0;
  });
}
