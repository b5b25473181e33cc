// bench/peers/thread/pingpong.cpp: bench/chan/pingpong.cpp for std::thread:
// two threads bouncing a value over two unbuffered channels made of a mutex
// and a condition variable (the standard library has no channel). A send
// waits until the receiver has taken the value, as an unbuffered channel
// does; one round trip is two sends, two receives and the kernel wakeups in
// between.
//
//   thread_pingpong [N]   (default 200,000 round trips)
//
// Prints pingpong_rt_ns and pingpong_rt_cpu_ns, like chan_pingpong.
#include "bench_util.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace {

// An unbuffered channel of long for two threads: one slot, and a sender that
// waits until its value has been taken.
class Rendezvous {
 public:
  void send(long v) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !slot_; });
    slot_ = v;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !slot_; });
  }
  long recv() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return slot_.has_value(); });
    long v = *slot_;
    slot_.reset();
    cv_.notify_all();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<long> slot_;
};

void bounce(Rendezvous& ping, Rendezvous& pong, long n) {
  for (long i = 0; i < n; ++i) {
    ping.send(i);
    pong.recv();
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 200000);
  Rendezvous ping, pong;
  const long warmup = n / 10 + 1;
  std::thread partner([&, total = warmup + n] {
    for (long i = 0; i < total; ++i) pong.send(ping.recv());
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
