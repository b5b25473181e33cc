// bench/chan/pingpong.cpp: two goroutines bouncing a value over two
// unbuffered channels; the time of one round trip (two sends, two receives,
// two parks and two wakeups). Go's peer: go/pingpong.go.
//
//   chan_pingpong [N]   (default 2,000,000 round trips)
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>

#include "bench_util.hpp"

#include <chrono>

namespace {

// Round trips between the caller and a partner goroutine; returns after the
// partner has finished.
void bounce(const goro::chan<long>& ping, const goro::chan<long>& pong, long n) {
  for (long i = 0; i < n; ++i) {
    ping.send(i);
    pong.recv();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 2000000);
  return goro::run([n] {
    goro::chan<long> ping;
    goro::chan<long> pong;
    const long warmup = n / 10 + 1;
    goro::go([ping, pong, total = warmup + n] {
      for (long i = 0; i < total; ++i) pong.send(*ping.recv());
    });
    bounce(ping, pong, warmup);
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = bench::cpu_seconds();
    bounce(ping, pong, n);
    const double wall = bench::seconds_since(t0);
    const double cpu = bench::cpu_seconds() - c0;
    bench::metric("pingpong_rt_ns", wall * 1e9 / static_cast<double>(n));
    bench::metric("pingpong_rt_cpu_ns", cpu * 1e9 / static_cast<double>(n));
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
    // The partner may not have exited yet (it still holds channel handles);
    // goro::run does not wait for it, so wait here for a clean exit.
    while (goro::num_goroutine() > 1) goro::yield();
  });
}
