// bench/chan/floor.cpp: the scheduler's share of a channel ping-pong. Two
// goroutines hand a token back and forth through spin-locked slots using
// only park() and ready(), the primitives a blocking channel operation is
// built on: two parks, two readies, four lock/unlock pairs and two switches
// per round trip, with no channel code. chan_pingpong minus this is what the
// channel layer costs.
//
//   chan_floor [N]   (default 2,000,000 round trips)
#include "arch/spinlock.hpp"
#include "sched/park.hpp"

#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/wait_group.hpp>

#include "bench_util.hpp"

#include <chrono>

namespace {

using goro::detail::Goroutine;

// One direction of the hand-off: a token or a parked taker.
struct Slot {
  goro::detail::SpinLock lock;
  Goroutine* taker = nullptr;
  bool token = false;
};

bool unlock_slot(Goroutine*, void* lock) {
  static_cast<goro::detail::SpinLock*>(lock)->unlock();
  return true;
}

void give(Slot& s) {
  s.lock.lock();
  Goroutine* g = s.taker;
  s.taker = nullptr;
  if (g == nullptr) s.token = true;
  s.lock.unlock();
  if (g != nullptr) goro::detail::ready(g);
}

void take(Slot& s) {
  s.lock.lock();
  if (s.token) {
    s.token = false;
    s.lock.unlock();
    return;
  }
  s.taker = goro::detail::current_goroutine();
  goro::detail::park(&unlock_slot, &s.lock, goro::detail::WaitReason::kChanRecv);
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 2000000);
  return goro::run([n] {
    Slot ping, pong;
    const long warmup = n / 10 + 1;
    goro::wait_group wg;
    wg.go([&] {
      for (long i = 0; i < warmup + n; ++i) {
        take(ping);
        give(pong);
      }
    });
    auto bounce = [&](long count) {
      for (long i = 0; i < count; ++i) {
        give(ping);
        take(pong);
      }
    };
    bounce(warmup);
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = bench::cpu_seconds();
    bounce(n);
    bench::metric("floor_rt_ns", bench::seconds_since(t0) * 1e9 / static_cast<double>(n));
    bench::metric("floor_rt_cpu_ns", (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(n));
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
    wg.wait();
  });
}
