// bench/chan/timer.cpp: timer churn; time per operation.
//   timer_start_stop   create a timer an hour out and stop it (Go's
//                      time.NewTimer(time.Hour).Stop())
//   timer_reset        reset one pending timer, again and again
//   timer_fire         100 goroutines each wait for N/100 timers of 20 us
//                      (goro::after / time.After) in turn: arm, fire, wake;
//                      CPU time per timer is the figure to compare (the
//                      wall time is mostly the 20 us waits)
// Go's peer: go/timer.go.
//
//   chan_timer [N]   (default 2,000,000; timer_fire uses N/20)
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/timer.hpp>
#include <goro/wait_group.hpp>

#include "bench_util.hpp"

#include <chrono>
#include <string>

using namespace std::chrono_literals;

namespace {

void start_stop(long n) {
  for (long i = 0; i < n; ++i) goro::timer(1h).stop();
}

void reset(long n) {
  goro::timer t(1h);
  for (long i = 0; i < n; ++i) t.reset(1h);
  t.stop();
}

void fire(long n) {
  const int kGoroutines = 100;
  goro::wait_group wg;
  for (int g = 0; g < kGoroutines; ++g) {
    wg.go([count = n / kGoroutines] {
      for (long i = 0; i < count; ++i) goro::after(20us).recv();
    });
  }
  wg.wait();
}

template <typename F>
void measure(const std::string& name, long n, F f) {
  f(n / 10);  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = bench::cpu_seconds();
  f(n);
  bench::metric((name + "_ns").c_str(), bench::seconds_since(t0) * 1e9 / static_cast<double>(n));
  bench::metric((name + "_cpu_ns").c_str(), (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(n));
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 2000000);
  return goro::run([n] {
    measure("timer_start_stop", n, start_stop);
    measure("timer_reset", n, reset);
    measure("timer_fire", n / 20, fire);
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
  });
}
