// bench/chan/buffered.cpp: buffered channel throughput (capacity 128): one
// producer and one consumer, then four and four; time per element. Go's
// peer: go/buffered.go.
//
//   chan_buffered [N]   (default 10,000,000 elements)
#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/wait_group.hpp>

#include "bench_util.hpp"

#include <chrono>

namespace {

// `producers` goroutines send n elements in total to `consumers`; returns
// when all are received.
void transfer(long n, int producers, int consumers) {
  goro::chan<long> ch(128);
  goro::wait_group sent;
  goro::wait_group received;
  for (int p = 0; p < producers; ++p) {
    sent.go([ch, count = n / producers] {
      for (long i = 0; i < count; ++i) ch.send(i);
    });
  }
  for (int c = 0; c < consumers; ++c) {
    received.go([ch] {
      long sum = 0;
      for (long v : ch) sum += v;
      asm volatile("" : : "r"(sum));
    });
  }
  sent.wait();
  ch.close();
  received.wait();
}

void measure(const char* name, const char* cpu_name, long n, int producers, int consumers) {
  transfer(n / 10, producers, consumers);  // warm up
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = bench::cpu_seconds();
  transfer(n, producers, consumers);
  bench::metric(name, bench::seconds_since(t0) * 1e9 / static_cast<double>(n));
  bench::metric(cpu_name, (bench::cpu_seconds() - c0) * 1e9 / static_cast<double>(n));
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 10000000);
  return goro::run([n] {
    measure("buffered_1x1_ns", "buffered_1x1_cpu_ns", n, 1, 1);
    measure("buffered_4x4_ns", "buffered_4x4_cpu_ns", n, 4, 4);
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
  });
}
