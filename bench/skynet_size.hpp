// bench/skynet_size.hpp: what the C++ skynet programs (goro, Boost.Fiber,
// std::thread) share: the size argument, the expected sum and the metric
// lines, so that every runtime reports the same figures the same way.
#pragma once

#include "bench_util.hpp"

#include <cstdio>
#include <cstdlib>

namespace bench {

// Children per inner node of the tree.
inline constexpr long kSkynetDiv = 10;

// argv[1] (default 1,000,000), which must be a power of kSkynetDiv so that
// every subtree splits evenly.
inline long skynet_size(int argc, char** argv, long fallback = 1000000) {
  const long size = size_arg(argc, argv, fallback);
  long s = size;
  while (s % kSkynetDiv == 0) s /= kSkynetDiv;
  if (s != 1) {
    std::fprintf(stderr, "%s: size %ld is not a power of %ld\n", argv[0], size, kSkynetDiv);
    std::exit(2);
  }
  return size;
}

// Every task of the tree: size leaves plus the inner nodes above them.
inline long skynet_tasks(long size) {
  long tasks = 0;
  for (long level = size; level >= 1; level /= kSkynetDiv) tasks += level;
  return tasks;
}

// 0 + 1 + ... + size - 1.
inline long skynet_sum(long size) {
  return size * (size - 1) / 2;
}

// The process's peak resident set (VmHWM), in KiB. Not getrusage's
// ru_maxrss: that one survives execve, so a child reports its parent's peak
// when the parent was larger (a Python driver, say).
inline long peak_rss_kb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  long kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr && std::sscanf(line, "VmHWM: %ld kB", &kb) != 1) {
  }
  std::fclose(f);
  return kb;
}

inline void print_skynet(long size, long sum, double wall_s, double cpu_s) {
  const double tasks = static_cast<double>(skynet_tasks(size));
  metric("leaves", size);
  metric("goroutines", skynet_tasks(size));
  metric("sum", sum);
  metric("skynet_ms", wall_s * 1e3);
  metric("skynet_cpu_ms", cpu_s * 1e3);
  metric("ns_per_goroutine", wall_s * 1e9 / tasks);
  metric("cpu_ns_per_goroutine", cpu_s * 1e9 / tasks);
  metric("peak_rss_kb", peak_rss_kb());
  if (sum != skynet_sum(size))
    std::fprintf(stderr, "skynet: wrong sum %ld, expected %ld\n", sum, skynet_sum(size));
}

}  // namespace bench
