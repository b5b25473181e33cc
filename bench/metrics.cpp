// bench/metrics.cpp: what reading goro::metrics costs, with N goroutines
// parked.
//
//   bench_metrics [N] [ROUNDS]     (defaults 1,000,000 and 20)
//
// Parks N goroutines on a wait_group (as bench_park does), then times
// ROUNDS reads of each set below and prints the median of each, as
// `metric=value` lines:
//   goroutines                 N
//   read_all_us                read_all(): every metric, the stack walk included
//   read_sched_us              the scheduler's gauges and both histograms (no walk)
//   read_one_us                /sched/goroutines:goroutines alone
//   read_walk_us               /goro/stacks/inuse:bytes alone (the stack walk)
//   dump_ms                    dump_goroutines(), once (with N <= 100,000; it is
//                              hundreds of bytes per goroutine)
//   stacks_reserved_gib        /goro/stacks/reserved:bytes, what the walk covers
//   maxprocs
// The hot-path side (switch, spawn, ping-pong with and without the sampling
// the metrics add) is measured by bench/ab.py on two builds.
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <vector>

namespace {

template <typename F>
double median_us(int rounds, F&& f) {
  std::vector<double> us;
  for (int i = 0; i < rounds; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    us.push_back(bench::seconds_since(t0) * 1e6);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 1000000);
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  return goro::run([n, rounds] {
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

    std::vector<goro::metrics::sample> sched;
    for (const auto& d : goro::metrics::all()) {
      if (!d.walks_stacks && (d.name.starts_with("/sched/") || d.name.starts_with("/goro/sched/")))
        sched.push_back({d.name, {}});
    }
    std::array<goro::metrics::sample, 1> one{{{"/sched/goroutines:goroutines", {}}}};
    double all_us = median_us(rounds, [] { (void)goro::metrics::read_all(); });
    double sched_us = median_us(rounds, [&] { goro::metrics::read(sched); });
    double one_us = median_us(rounds, [&] { goro::metrics::read(one); });
    std::array<goro::metrics::sample, 1> walk{{{"/goro/stacks/inuse:bytes", {}}}};
    double walk_us = median_us(rounds, [&] { goro::metrics::read(walk); });
    std::array<goro::metrics::sample, 1> reserved{{{"/goro/stacks/reserved:bytes", {}}}};
    goro::metrics::read(reserved);
    bench::metric("goroutines", n);
    bench::metric("read_all_us", all_us);
    bench::metric("read_sched_us", sched_us);
    bench::metric("read_one_us", one_us);
    bench::metric("read_walk_us", walk_us);
    if (n <= 100000) {
      double dump_ms = median_us(1, [] { (void)goro::dump_goroutines(); }) / 1e3;
      bench::metric("dump_ms", dump_ms);
    }
    bench::metric("stacks_reserved_gib",
                  static_cast<double>(std::get<std::uint64_t>(reserved[0].value)) / (1 << 30));
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
    gate.done();
    finished.wait();
    return 0;
  });
}
