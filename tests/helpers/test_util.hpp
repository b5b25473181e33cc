// tests/helpers/test_util.hpp: small helpers shared by the runtime's tests
// (core_test.cpp, sched_test.cpp): build flavour, process figures from /proc
// and getrusage, thread ids, a run() that pins the processor count, and
// finding and running external programs.
#pragma once

#include <unistd.h>
#include <cstdio>

#include <goro/runtime.hpp>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>

namespace goro_test {

// Sanitizer builds define GORO_SANITIZER (set by the goro::goro target).
#if defined(GORO_SANITIZER)
inline constexpr bool kSanitizer = true;
#else
inline constexpr bool kSanitizer = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#else
inline constexpr bool kTsan = false;
#endif

// `normal` in a plain build, `sanitized` under ASan or TSan.
constexpr std::int64_t scaled(std::int64_t normal, std::int64_t sanitized) {
  return kSanitizer ? sanitized : normal;
}

// TSan treats every goroutine (fiber) as a thread: it dies past 8128 live
// ones ("Thread limit exceeded"), and creating fibers is slow. Tests keep
// at most this many goroutines alive under TSan.
inline constexpr std::int64_t kTsanMaxLive = 5000;

// As scaled(), with a separate figure for TSan.
constexpr std::int64_t scaled3(std::int64_t normal, std::int64_t asan, std::int64_t tsan) {
  return kTsan ? tsan : kSanitizer ? asan : normal;
}

inline constexpr std::size_t kKiB = 1024;
inline constexpr std::size_t kMiB = 1024 * kKiB;
inline constexpr std::size_t kGiB = 1024 * kMiB;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A field of /proc/self/status in KiB ("VmRSS", "VmPTE"); -1 if absent.
inline long status_kib(const char* key) {
  std::ifstream f("/proc/self/status");
  const std::size_t n = std::strlen(key);
  for (std::string line; std::getline(f, line);) {
    if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':')
      return std::stol(line.substr(n + 1));
  }
  return -1;
}

// Resident memory including page tables, in bytes (VmRSS + VmPTE).
inline std::int64_t resident_bytes() {
  return (static_cast<std::int64_t>(status_kib("VmRSS")) + status_kib("VmPTE")) * 1024;
}

// The kernel's id of the calling thread.
inline long thread_id() {
  return static_cast<long>(::syscall(SYS_gettid));
}

// User + system CPU time of the whole process, in milliseconds.
inline double process_cpu_ms() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const timeval& tv) { return tv.tv_sec * 1000.0 + tv.tv_usec / 1000.0; };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

// Thread CPU time of the calling thread, in milliseconds.
inline double thread_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

// goro::run with a fixed processor count. Tests share a process when the
// binary is run directly, so every test says how many processors it wants.
template <typename F>
int run_on(int procs, F&& f) {
  goro::set_maxprocs(procs);
  return goro::run(std::forward<F>(f));
}

// Burns CPU without touching memory or yielding; returns a value the
// compiler cannot drop.
[[gnu::noinline]] inline std::uint64_t spin_work(std::uint64_t iterations) {
  std::uint64_t x = 0x9e3779b97f4a7c15ull;
  for (std::uint64_t i = 0; i < iterations; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    asm volatile("" : "+r"(x));
  }
  return x;
}

// Spins (no yield, no park) until `d` of wall time has passed.
inline void spin_for(std::chrono::nanoseconds d) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end) spin_work(200);
}

// The first of `candidates` that is an executable: an absolute path as
// given, a bare name in /usr/bin, /usr/local/bin or /bin; empty if none
// is (tests that need the tool then skip).
inline std::string find_program(std::initializer_list<const char*> candidates) {
  for (const char* c : candidates) {
    if (c[0] == '/') {
      if (::access(c, X_OK) == 0) return c;
      continue;
    }
    for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
      std::string p = std::string(dir) + "/" + c;
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
  }
  return {};
}

// Runs a shell command; returns its standard output and error, and its
// wait status in *status.
inline std::string run_command(const std::string& cmd, int* status = nullptr) {
  std::string out;
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int st = ::pclose(p);
  if (status != nullptr) *status = st;
  return out;
}

}  // namespace goro_test

// Whether wall-clock bounds can be asserted: not under sanitizers, and not
// while the machine is oversubscribed (1-minute load average above the CPU
// count), where the kernel alone can delay a thread by tens of
// milliseconds. The behaviour is still exercised and printed either way.
inline bool timing_checks() {
  if (goro_test::kSanitizer) return false;
  double load = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = 0;
    std::fclose(f);
  }
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  bool quiet = load <= static_cast<double>(cpus > 0 ? cpus : 1);
  if (!quiet) std::printf("machine oversubscribed (load %.1f): wall-clock bounds not asserted\n", load);
  return quiet;
}
