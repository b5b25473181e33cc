// bench/bench_util.hpp: what the whole-program benchmarks share (goro and
// its C++ peers): reading the process's memory, a clock, and printing
// `metric=value` lines that bench/run-core.sh collects.
#pragma once

#include <sys/resource.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench {

// The sum of the named /proc/self/status fields ("VmRSS", "VmPTE"), in bytes.
inline long status_bytes(bool rss, bool pte) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  long total = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    long kb = 0;
    if ((rss && std::sscanf(line, "VmRSS: %ld kB", &kb) == 1) ||
        (pte && std::sscanf(line, "VmPTE: %ld kB", &kb) == 1)) {
      total += kb * 1024;
    }
  }
  std::fclose(f);
  return total;
}

// VmRSS + VmPTE of this process, in bytes: resident memory plus the page
// tables that map it (DESIGN.md: page tables are part of a goroutine's cost).
inline long resident_with_page_tables() {
  return status_bytes(true, true);
}

// CPU time of the whole process (all threads, user + system), in seconds.
// On a machine shared with other work this is the robust figure: wall time
// includes waiting for a CPU, CPU time does not.
inline double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline void metric(const char* name, double value) {
  std::printf("%s=%.6g\n", name, value);
}
inline void metric(const char* name, long value) {
  std::printf("%s=%ld\n", name, value);
}

// The size argument: argv[1] if given (accepts 1e6, 64k, 2M), else `fallback`.
inline long size_arg(int argc, char** argv, long fallback) {
  if (argc < 2) return fallback;
  char* end = nullptr;
  double v = std::strtod(argv[1], &end);
  if (end != nullptr && (*end == 'k' || *end == 'K')) v *= 1e3;
  if (end != nullptr && (*end == 'm' || *end == 'M')) v *= 1e6;
  if (v < 1) {
    std::fprintf(stderr, "usage: %s [size >= 1]\n", argv[0]);
    std::exit(2);
  }
  return static_cast<long>(v);
}

}  // namespace bench
