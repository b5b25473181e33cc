// bench/peers/fiber/switch.cpp: bench/switch.cpp for Boost.Fiber (one
// thread, the default round-robin scheduler).
//
//   fiber_switch [N]   (default 10,000,000)
//
//   switch_ns, switch_cpu_ns      two fibers calling this_fiber::yield() N
//                                 times each: time per switch
//   pingpong_ns, pingpong_cpu_ns  N / 10 round trips between two fibers,
//                                 each side waiting on a fibers::condition_variable
//                                 for its turn (goro and Go use two wait_groups;
//                                 Boost.Fiber has none): time per round trip
#include "bench_util.hpp"

#include <boost/fiber/all.hpp>

#include <chrono>
#include <mutex>

namespace {

void measure_yield(long n) {
  boost::fibers::fiber partner([n] {
    for (long i = 0; i < n; i++) boost::this_fiber::yield();
  });
  auto t0 = std::chrono::steady_clock::now();
  double c0 = bench::cpu_seconds();
  for (long i = 0; i < n; i++) boost::this_fiber::yield();
  partner.join();
  const double switches = 2.0 * static_cast<double>(n);
  bench::metric("switch_ns", bench::seconds_since(t0) * 1e9 / switches);
  bench::metric("switch_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / switches);
}

// Whose turn it is, and the condition variable both sides wait on.
struct Turn {
  boost::fibers::mutex mu;
  boost::fibers::condition_variable cv;
  bool pinged = false;

  void hand_over(bool ping) {
    std::unique_lock lock(mu);
    pinged = ping;
    cv.notify_one();
  }
  void wait_for(bool ping) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return pinged == ping; });
  }
};

void measure_pingpong(long trips) {
  Turn turn;
  boost::fibers::fiber partner([&turn, trips] {
    for (long i = 0; i < trips; i++) {
      turn.wait_for(true);
      turn.hand_over(false);
    }
  });
  auto t0 = std::chrono::steady_clock::now();
  double c0 = bench::cpu_seconds();
  for (long i = 0; i < trips; i++) {
    turn.hand_over(true);
    turn.wait_for(false);
  }
  partner.join();
  const double dt = static_cast<double>(trips);
  bench::metric("pingpong_ns", bench::seconds_since(t0) * 1e9 / dt);
  bench::metric("pingpong_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / dt);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 10000000);
  measure_yield(n);
  measure_pingpong(n / 10 > 0 ? n / 10 : 1);
  return 0;
}
