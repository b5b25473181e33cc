// bench/skynet.cpp: the "skynet" benchmark for goro. A tree of goroutines:
// the root has `size` leaves below it; every inner goroutine starts `div`
// (10) children, each responsible for a tenth of its range, and adds up the
// numbers they send back over one unbuffered channel; a leaf sends its own
// number. With size 1,000,000 that is 1,111,111 goroutines and the sum
// 499,999,500,000. It measures spawn, channel handoff and exit in bulk.
//
//   bench_skynet [SIZE]   (default 1,000,000; a power of 10)
//
// Prints:
//   leaves, goroutines    SIZE, and every goroutine of the tree
//   skynet_ms             wall time from the first spawn to the root's sum
//   skynet_cpu_ms         the same in process CPU time (all threads)
//   ns_per_goroutine, cpu_ns_per_goroutine   the same divided by goroutines
//   peak_rss_kb           the process's peak resident set (VmHWM)
//   maxprocs
// Exits with status 1 if the sum is wrong. Peers: bench/peers/go/skynet.go,
// bench/peers/fiber/skynet.cpp, bench/peers/thread/skynet.cpp.
#include "bench_util.hpp"
#include "skynet_size.hpp"

#include <goro/chan.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>

#include <chrono>
#include <cstdio>

namespace {

// Sends the sum of num .. num + size - 1 on `out`, computed by a subtree of
// goroutines. Children share their parent's channel, as in the original.
void skynet(const goro::chan<long>& out, long num, long size, long div) {
  if (size == 1) {
    out.send(num);
    return;
  }
  goro::chan<long> results;  // unbuffered
  const long child_size = size / div;
  for (long i = 0; i < div; ++i) {
    goro::go([results, child = num + i * child_size, child_size, div] {
      skynet(results, child, child_size, div);
    });
  }
  long sum = 0;
  for (long i = 0; i < div; ++i) sum += *results.recv();
  out.send(sum);
}

}  // namespace

int main(int argc, char** argv) {
  const long size = bench::skynet_size(argc, argv);
  return goro::run([size] {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = bench::cpu_seconds();
    goro::chan<long> root;
    goro::go([root, size] { skynet(root, 0, size, bench::kSkynetDiv); });
    const long sum = *root.recv();
    const double wall = bench::seconds_since(t0);
    const double cpu = bench::cpu_seconds() - c0;
    bench::print_skynet(size, sum, wall, cpu);
    // A goroutine that has sent its sum still has to exit and drop its
    // channel handles; goro::run does not wait for that (Go's main does not
    // either), so wait here, untimed, or LeakSanitizer sees the channels.
    while (goro::num_goroutine() > 1) goro::yield();
    bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
    return bench::skynet_sum(size) == sum ? 0 : 1;
  });
}
