// bench/peers/thread/skynet.cpp: bench/skynet.cpp for std::thread. Same tree,
// one OS thread per node (default 8 MiB stacks); a parent joins its children
// and adds up the results they left in its array (a thread has no channel;
// join is how std::thread hands back a result).
//
//   thread_skynet [SIZE]   (default 10,000; a power of 10)
//
// A million threads do not fit in a machine (memory, kernel.threads-max,
// vm.max_map_count: two mappings per thread stack), so compare runs this at
// 10,000 leaves (11,111 threads) and the per-goroutine figures are the ones
// to compare. Same metrics as bench_skynet.
#include "bench_util.hpp"
#include "skynet_size.hpp"

#include <array>
#include <chrono>
#include <thread>
#include <vector>

namespace {

long skynet(long num, long size) {
  if (size == 1) return num;
  std::array<long, bench::kSkynetDiv> results{};
  std::vector<std::thread> children;
  children.reserve(bench::kSkynetDiv);
  const long child_size = size / bench::kSkynetDiv;
  for (long i = 0; i < bench::kSkynetDiv; ++i) {
    children.emplace_back([&results, i, child = num + i * child_size, child_size] {
      results[static_cast<std::size_t>(i)] = skynet(child, child_size);
    });
  }
  for (auto& t : children) t.join();
  long sum = 0;
  for (long r : results) sum += r;
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const long size = bench::skynet_size(argc, argv, 10000);
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = bench::cpu_seconds();
  long sum = 0;
  std::thread root([&] { sum = skynet(0, size); });
  root.join();
  bench::print_skynet(size, sum, bench::seconds_since(t0), bench::cpu_seconds() - c0);
  return bench::skynet_sum(size) == sum ? 0 : 1;
}
