// examples/pool_vs_spawn.cpp: the reference's "avoid spawning goroutines you
// don't need to spawn", measured. Ten million items are processed twice:
//
//   pool    a goro::worker_pool of one worker per processor, fed through its
//           bounded queue: a handful of stacks, and submit() waits whenever
//           the workers fall behind (backpressure);
//   spawn   one goroutine per item (wait_group::go) in a plain loop: every
//           item gets a stack and a trip through the scheduler. goro does
//           not preempt, but go() yields the loop whenever its processor's
//           queue fills (as Go's scheduler would preempt it), so the items
//           run as the loop goes and a few hundred stacks are reused.
//
// Each mode runs in a child process of its own, so each one's peak memory is
// its own: the program prints the wall time, VmHWM (the kernel's peak
// resident set) and the peak of VmRSS + VmPTE sampled every millisecond
// (resident memory including page tables, the figure DESIGN.md uses).
//
//   pool_vs_spawn [N] [pool|spawn]   (N default 10,000,000; without a mode:
//                                    pool, then spawn)
//   GORO_MAXPROCS=2 pool_vs_spawn
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/wait_group.hpp>
#include <goro/worker_pool.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

// The work per item: a short hash, so the cost of scheduling shows.
std::uint64_t process(std::uint64_t item) {
  std::uint64_t x = item * 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 32; ++i) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
  }
  return x;
}

// A field of /proc/self/status in KiB (VmRSS, VmPTE, VmHWM), or 0.
long status_kib(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  long value = 0;
  const std::size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') {
      value = std::strtol(line + n + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return value;
}

// Samples VmRSS + VmPTE every millisecond on a plain thread.
class PeakSampler {
 public:
  PeakSampler() : thread_([this] { loop(); }) {}
  ~PeakSampler() { stop(); }
  long stop() {
    if (thread_.joinable()) {
      done_ = true;
      thread_.join();
    }
    return peak_kib_;
  }

 private:
  void loop() {
    while (!done_) {
      sample();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    sample();
  }
  void sample() {
    long now = status_kib("VmRSS") + status_kib("VmPTE");
    if (now > peak_kib_) peak_kib_ = now;
  }
  std::atomic<bool> done_{false};
  long peak_kib_ = 0;
  std::thread thread_;
};

std::uint64_t run_pool(long n) {
  std::atomic<std::uint64_t> total{0};
  goro::worker_pool pool(static_cast<std::size_t>(goro::maxprocs()), 256);
  for (long i = 0; i < n; ++i) {
    pool.submit(
        [i, &total] { total.fetch_add(process(static_cast<std::uint64_t>(i)), std::memory_order_relaxed); });
  }
  pool.wait();
  return total.load();
}

std::uint64_t run_spawn(long n) {
  std::atomic<std::uint64_t> total{0};
  goro::wait_group wg;
  for (long i = 0; i < n; ++i) {
    wg.go(
        [i, &total] { total.fetch_add(process(static_cast<std::uint64_t>(i)), std::memory_order_relaxed); });
  }
  wg.wait();
  return total.load();
}

// One mode, in this process: prints its figures as one line.
int run_mode(const std::string& mode, long n) {
  PeakSampler sampler;
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t checksum = 0;
  goro::run([&] {
    if (mode == "pool") {
      checksum = run_pool(n);
    } else {
      checksum = run_spawn(n);
    }
  });
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long peak = sampler.stop();
  std::printf(
      "%-6s %10ld items  %8.3f s  %8.1f ns/item  VmHWM %9.1f MiB  peak VmRSS+VmPTE %9.1f MiB  (checksum "
      "%016llx)\n",
      mode.c_str(), n, secs, secs * 1e9 / static_cast<double>(n), status_kib("VmHWM") / 1024.0, peak / 1024.0,
      static_cast<unsigned long long>(checksum));
  std::fflush(stdout);
  return 0;
}

// Runs a mode in a child process, so that the peak figures are its own.
int run_child(const char* self, const std::string& mode, long n) {
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    std::string count = std::to_string(n);
    execl(self, self, count.c_str(), mode.c_str(), static_cast<char*>(nullptr));
    std::perror("execl");
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::printf("%-6s failed (%s %d)\n", mode.c_str(), WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 10000000;
  if (n < 1) {
    std::fprintf(stderr, "usage: %s [N >= 1] [pool|spawn]\n", argv[0]);
    return 2;
  }
  if (argc > 2) {
    const std::string mode = argv[2];
    if (mode != "pool" && mode != "spawn") {
      std::fprintf(stderr, "%s: unknown mode %s (pool or spawn)\n", argv[0], argv[2]);
      return 2;
    }
    return run_mode(mode, n);
  }
  std::printf("processing %ld items on %d processors\n", n, goro::maxprocs());
  std::fflush(stdout);
  int rc = run_child("/proc/self/exe", "pool", n);
  rc |= run_child("/proc/self/exe", "spawn", n);
  return rc;
}
