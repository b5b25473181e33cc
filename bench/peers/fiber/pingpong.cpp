// bench/peers/fiber/pingpong.cpp: bench/chan/pingpong.cpp for Boost.Fiber:
// two fibers on one thread bouncing a value over two
// boost::fibers::unbuffered_channel; the time of one round trip.
//
//   fiber_pingpong [N]   (default 2,000,000 round trips)
//
// Prints pingpong_rt_ns and pingpong_rt_cpu_ns, like chan_pingpong.
#include "bench_util.hpp"

#include <boost/fiber/all.hpp>

#include <chrono>

namespace {

using Channel = boost::fibers::unbuffered_channel<long>;

void bounce(Channel& ping, Channel& pong, long n) {
  for (long i = 0; i < n; ++i) {
    ping.push(i);
    pong.value_pop();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 2000000);
  Channel ping, pong;
  const long warmup = n / 10 + 1;
  boost::fibers::fiber partner([&, total = warmup + n] {
    for (long i = 0; i < total; ++i) pong.push(ping.value_pop());
  });
  bounce(ping, pong, warmup);
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = bench::cpu_seconds();
  bounce(ping, pong, n);
  const double wall = bench::seconds_since(t0);
  const double cpu = bench::cpu_seconds() - c0;
  partner.join();
  bench::metric("pingpong_rt_ns", wall * 1e9 / static_cast<double>(n));
  bench::metric("pingpong_rt_cpu_ns", cpu * 1e9 / static_cast<double>(n));
  return 0;
}
