// bench/compact.cpp: what a compacted parked goroutine costs (goro/compact.hpp).
//
//   bench_compact [N] [SLEEP_S] [parked|sleepers]   (defaults 1,000,000, 10, both)
//
// Two shapes, each in a process of its own (forked), measured as VmRSS +
// VmPTE against the figure before its first spawn, so heap blocks, records
// and page tables are all counted:
//   parked    N goroutines opt in (compact_after 1 ms), check in on a
//             wait_group and park on a gate, as bench_park does; once every
//             one is compacted the bytes are read, then the gate opens and
//             all are joined (each restored first).
//   sleepers  N goroutines opt in and each sleeps SLEEP_S seconds (Tokio's
//             "1M tasks" shape). A sampling thread records the peak of
//             VmRSS + VmPTE from the first spawn to the last wakeup.
// Prints:
//   goroutines                         N
//   compaction_supported               1, or 0 (then nothing is compacted)
//   parked_bytes_per_goroutine         all N parked and compacted
//   parked_resident_bytes_per_goroutine  all N parked, before compaction
//   saved_stack_bytes_per_goroutine    used stack bytes copied to the heap, each
//   compact_ns_per_goroutine           wall time from all parked to all compacted, / N
//   wake_join_ns_per_goroutine         gate opened to all joined (restores included), / N
//   sleepers_bytes_per_goroutine       all N asleep and compacted
//   sleepers_peak_bytes_per_goroutine  the sampled peak, spawn burst included
//   sleepers_compacted                 how many sleepers were compacted
//   sleepers_spawn_ns_per_goroutine    time to spawn them all, / N
//   sleepers_compacted_when_spawned    how many were compacted when the last was spawned
//   maxprocs
// BENCH_COMPACT_AFTER_MS=0 in the environment runs the same shapes without
// opting in (then only the *_bytes_* figures mean anything).
#include "bench_util.hpp"

#include <goro/goro.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

namespace {

using namespace std::chrono_literals;

// compact_after 1 ms, or BENCH_COMPACT_AFTER_MS from the environment (0:
// do not opt in, for comparison).
goro::spawn_options opted_in() {
  goro::spawn_options o;
  o.compact_after = 1ms;
  if (const char* v = std::getenv("BENCH_COMPACT_AFTER_MS"))
    o.compact_after = std::chrono::milliseconds(std::atol(v));
  return o;
}

// Waits (sleeping in the calling goroutine) until `target` stacks are
// compacted or `limit` passes; true if reached.
bool wait_compacted(std::uint64_t target, std::chrono::seconds limit) {
  auto t0 = std::chrono::steady_clock::now();
  while (goro::read_compact_stats().compacted < target) {
    if (std::chrono::steady_clock::now() - t0 > limit) return false;
    goro::sleep_for(2ms);
  }
  return true;
}

// Samples VmRSS + VmPTE until stopped; keeps the maximum.
class PeakSampler {
 public:
  PeakSampler() : thread_([this] { run(); }) {}
  ~PeakSampler() { stop(); }
  long stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return peak_.load();
  }

 private:
  void run() {
    while (!stop_.load()) {
      long now = bench::resident_with_page_tables();
      peak_.store(std::max(peak_.load(), now));
      std::this_thread::sleep_for(5ms);
    }
  }
  std::atomic<bool> stop_{false};
  std::atomic<long> peak_{0};
  std::thread thread_;
};

void parked_shape(long n) {
  goro::spawn_options opts = opted_in();
  goro::wait_group started, gate, finished;
  gate.add(1);
  std::uint64_t compacted_before = goro::read_compact_stats().compacted;
  long before = bench::resident_with_page_tables();
  started.add(n);
  finished.add(n);
  for (long i = 0; i < n; i++) {
    goro::go(opts, [&] {
      started.done();
      gate.wait();
      finished.done();
    });
  }
  started.wait();
  long resident = bench::resident_with_page_tables();
  auto t0 = std::chrono::steady_clock::now();
  bool all = wait_compacted(compacted_before + static_cast<std::uint64_t>(n), 300s);
  double compact_s = bench::seconds_since(t0);
  long after = bench::resident_with_page_tables();
  goro::compact_stats cs = goro::read_compact_stats();
  auto t1 = std::chrono::steady_clock::now();
  gate.done();
  finished.wait();
  double wake_s = bench::seconds_since(t1);
  auto dn = static_cast<double>(n);
  bench::metric("parked_all_compacted", static_cast<long>(all));
  bench::metric("parked_bytes_per_goroutine", static_cast<double>(after - before) / dn);
  bench::metric("parked_resident_bytes_per_goroutine", static_cast<double>(resident - before) / dn);
  bench::metric(
      "saved_stack_bytes_per_goroutine",
      static_cast<double>(cs.saved_bytes) / static_cast<double>(std::max<std::uint64_t>(1, cs.compacted)));
  bench::metric("compact_ns_per_goroutine", compact_s * 1e9 / dn);
  bench::metric("wake_join_ns_per_goroutine", wake_s * 1e9 / dn);
}

void sleepers_shape(long n, long sleep_s) {
  goro::spawn_options opts = opted_in();
  goro::wait_group finished;
  std::uint64_t compacted_before = goro::read_compact_stats().compacted;
  long before = bench::resident_with_page_tables();
  PeakSampler sampler;
  finished.add(n);
  auto nap = std::chrono::seconds(sleep_s);
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; i++) {
    goro::go(opts, [&finished, nap] {
      goro::sleep_for(nap);
      finished.done();
    });
  }
  double spawn_s = bench::seconds_since(t0);
  std::uint64_t compacted_at_spawn_end = goro::read_compact_stats().compacted - compacted_before;
  // Read the figure once all are compacted, or just before they wake.
  auto wait = std::max<std::chrono::seconds>(1s, nap - 1s);
  wait_compacted(compacted_before + static_cast<std::uint64_t>(n), wait);
  long asleep = bench::resident_with_page_tables();
  std::uint64_t compacted = goro::read_compact_stats().compacted - compacted_before;
  finished.wait();
  long peak = sampler.stop();
  auto dn = static_cast<double>(n);
  bench::metric("sleepers_bytes_per_goroutine", static_cast<double>(asleep - before) / dn);
  bench::metric("sleepers_peak_bytes_per_goroutine", static_cast<double>(peak - before) / dn);
  bench::metric("sleepers_compacted", static_cast<long>(compacted));
  bench::metric("sleepers_spawn_ns_per_goroutine", spawn_s * 1e9 / dn);
  bench::metric("sleepers_compacted_when_spawned", static_cast<long>(compacted_at_spawn_end));
}

// Runs `shape` in a child process, so that neither shape sees the other's
// freed memory; returns the child's exit status.
template <typename F>
int in_child(F shape) {
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    int rc = goro::run(shape);
    std::fflush(stdout);
    std::_Exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = bench::size_arg(argc, argv, 1000000);
  const long sleep_s = argc > 2 ? std::max(1L, std::atol(argv[2])) : 10;
  const std::string_view only = argc > 3 ? argv[3] : "";
  bench::metric("goroutines", n);
  bench::metric("compaction_supported", static_cast<long>(goro::compaction_supported()));
  int rc = 0;
  if (only.empty() || only == "parked") rc |= in_child([n] { parked_shape(n); });
  if (only.empty() || only == "sleepers") rc |= in_child([n, sleep_s] { sleepers_shape(n, sleep_s); });
  bench::metric("maxprocs", static_cast<long>(goro::maxprocs()));
  return rc;
}
