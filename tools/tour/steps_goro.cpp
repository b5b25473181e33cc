// tools/tour/steps_goro.cpp: the goroutine measurements, run in a child.
//
// Each function is one step of the tour and one goro::run() in a fresh
// process (see child_io.hpp for why). They print what they measured and
// nothing else; the parent decides how to show it.
//
//   spawn N          spawn one goroutine and join it, N times
//   park N JOIN      N goroutines parked on a wait_group: bytes each
//                    (VmRSS + VmPTE) and the time to start them. A million
//                    parked goroutines take seconds to wake and join, which
//                    the tour does not report, so with JOIN=0 the child
//                    exits right after printing (its stacks go with it).
//   park-compact N JOIN
//                    the same with spawn_options::compact_after = 1 ms, the
//                    bytes measured once every stack has been compacted
//   deep MB          one goroutine recursing MB deep and back: growth time
//                    and resident stacks before, at the deepest point and
//                    after it parked for 0.1 s (the shrink)
//   overflow         a goroutine recursing without end: the runtime's report
//                    (stderr) and exit status 2 are what the parent shows
//   pool N, per-task N
//                    the reference's trade-off on N items: a worker pool
//                    against a goroutine per item
#include "child_io.hpp"
#include "steps.hpp"

#include <goro/goro.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <system_error>

// The recursion of the overflow step, with external linkage so that the
// report's traceback shows its name (the tour links with -rdynamic).
volatile bool tour_stop_recursion = false;

[[gnu::noinline]] int tour_recurse_without_end(int depth) {
  if (tour_stop_recursion) return 0;
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  return tour_recurse_without_end(depth + 1) + frame[0];
}

namespace tour {
namespace {

constexpr std::size_t kPage = 4096;
constexpr std::size_t kMiB = std::size_t{1} << 20;

double ns_per(double seconds, long count) {
  return seconds * 1e9 / static_cast<double>(count);
}

// ---- spawn ------------------------------------------------------------------

int spawn_join(long n) {
  return goro::run([n] {
    const ProgressTicker ticker(n);
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 1; i <= n; ++i) {
      goro::wait_group wg;
      wg.add(1);
      goro::go([&wg] { wg.done(); });
      wg.wait();
      ticker.at(i);
    }
    emit("spawn_join_count", n);
    emit("spawn_join_ns", ns_per(seconds_since(t0), n));
    return 0;
  });
}

// ---- park -------------------------------------------------------------------

// Starts up to n goroutines that park on `gate`; returns how many started.
// A failed stack reservation (memory, mappings) ends the loop early: the
// error names its cause, and the tour shows it with the count reached.
long start_parked(long n, const goro::spawn_options& opts, goro::wait_group& started, goro::wait_group& gate,
                  goro::wait_group& finished) {
  const ProgressTicker ticker(n);
  long spawned = 0;
  try {
    for (; spawned < n; ++spawned) {
      started.add(1);
      finished.add(1);
      goro::go(opts, [&] {
        started.done();
        gate.wait();
        finished.done();
      });
      ticker.at(spawned + 1);
    }
  } catch (const std::system_error& e) {
    started.add(-1);
    finished.add(-1);
    emit_text("stopped_by", e.what());
  }
  return spawned;
}

// Waits (at most 60 s) until `n` stacks are compacted; returns the seconds
// it took after the last goroutine parked.
double wait_compacted(long n) {
  const auto t0 = std::chrono::steady_clock::now();
  while (goro::read_compact_stats().compacted < static_cast<std::uint64_t>(n) && seconds_since(t0) < 60) {
    goro::sleep_for(std::chrono::milliseconds(10));
  }
  return seconds_since(t0);
}

int park(long n, bool join, bool compact) {
  return goro::run([n, join, compact] {
    goro::wait_group started, gate, finished;
    gate.add(1);
    goro::spawn_options opts;
    if (compact) opts.compact_after = std::chrono::milliseconds(1);
    const long before = resident_with_page_tables();
    const auto t0 = std::chrono::steady_clock::now();
    const long spawned = start_parked(n, opts, started, gate, finished);
    started.wait();
    const double start_s = seconds_since(t0);
    if (compact) {
      emit("compact_wait_s", wait_compacted(spawned));
      emit("compacted", static_cast<long>(goro::read_compact_stats().compacted));
    }
    const long after = resident_with_page_tables();
    const goro::stack_stats stats = goro::read_stack_stats();
    emit("goroutines", spawned);
    emit("start_s", start_s);
    emit("start_ns_per_goroutine", ns_per(start_s, std::max(spawned, 1L)));
    emit("bytes_per_goroutine",
         static_cast<double>(after - before) / static_cast<double>(std::max(spawned, 1L)));
    emit("resident_bytes", after - before);
    emit("stack_inuse_bytes", static_cast<long>(stats.stack_inuse));
    emit("stack_reserved_bytes", static_cast<long>(stats.stack_reserved));
    emit("maxprocs", static_cast<long>(goro::maxprocs()));
    if (!join) std::_Exit(0);  // everything is printed and flushed
    gate.done();
    finished.wait();
    return 0;
  });
}

// ---- deep -------------------------------------------------------------------

struct DeepRun {
  const char* top = nullptr;       // the goroutine's first frame
  std::size_t depth = 0;           // bytes of stack to use below it
  bool read_peak = false;          // read the stack stats at the bottom
  goro::stack_stats at_peak = {};  // what it read
};

// Recurses with frames of about 1 KiB until `run->depth` bytes below the top
// are in use, then returns all the way. Both ends of each frame are written,
// so every page of the range is touched.
[[gnu::noinline]] std::uint64_t descend(DeepRun* run) {
  volatile char frame[1024];
  frame[0] = 1;
  frame[sizeof frame - 1] = 2;
  const char* sp = static_cast<const char*>(__builtin_frame_address(0));
  if (static_cast<std::size_t>(run->top - sp) >= run->depth) {
    if (run->read_peak) run->at_peak = goro::read_stack_stats();
    return frame[0];
  }
  return descend(run) + frame[sizeof frame - 1];
}

double timed_descent(DeepRun* run) {
  const auto t0 = std::chrono::steady_clock::now();
  volatile std::uint64_t sink = descend(run);
  (void)sink;
  return seconds_since(t0);
}

void deep_goroutine(long mb) {
  DeepRun run;
  run.top = static_cast<const char*>(__builtin_frame_address(0));
  run.depth = static_cast<std::size_t>(mb) * kMiB;
  const goro::stack_stats before = goro::read_stack_stats();
  const double first_s = timed_descent(&run);  // every page faults in: growth
  progress(0.4);
  const double second_s = timed_descent(&run);  // the pages are resident
  progress(0.7);
  run.read_peak = true;
  timed_descent(&run);  // untimed: reads the residency at the bottom
  progress(0.9);
  // Parks long enough for the shrink, which the runtime does once a
  // goroutine has stayed parked 20 ms after a long run.
  goro::sleep_for(std::chrono::milliseconds(100));
  const goro::stack_stats after = goro::read_stack_stats();
  const double dmb = static_cast<double>(mb);
  emit("depth_mb", mb);
  emit("first_ms_per_mb", first_s * 1e3 / dmb);
  emit("second_ms_per_mb", second_s * 1e3 / dmb);
  emit("growth_ms_per_mb", (first_s - second_s) * 1e3 / dmb);
  emit("growth_ns_per_page", (first_s - second_s) * 1e9 / static_cast<double>(run.depth / kPage));
  emit("resident_before_bytes", static_cast<long>(before.stack_inuse));
  emit("resident_peak_bytes", static_cast<long>(run.at_peak.stack_inuse));
  emit("resident_after_park_bytes", static_cast<long>(after.stack_inuse));
  emit("shrinks", static_cast<long>(after.shrinks - before.shrinks));
  emit("max_stack_bytes", static_cast<long>(goro::max_stack()));
}

int deep(long mb) {
  return goro::run([mb] {
    goro::spawn_options opts;
    // Room below the deepest frame for read_stack_stats and the traceback
    // machinery, so the measurement itself can never overflow.
    opts.max_stack = static_cast<std::size_t>(mb) * kMiB + 16 * kMiB;
    opts.name = "tour-deep";
    goro::wait_group wg;
    wg.add(1);
    goro::go(opts, [mb, &wg] {
      deep_goroutine(mb);
      wg.done();
    });
    wg.wait();
    return 0;
  });
}

// ---- overflow ---------------------------------------------------------------

int overflow() {
  return goro::run([] {
    goro::spawn_options opts;
    opts.max_stack = 256 * 1024;
    opts.name = "tour-overflow";
    goro::go(opts, [] { tour_recurse_without_end(0); });
    // The overflow ends the process with status 2 long before this returns.
    goro::sleep_for(std::chrono::seconds(60));
    return 0;
  });
}

// ---- pool against per-task --------------------------------------------------

// The work per item: a short hash, so that what each approach costs around
// the work shows.
std::uint64_t process(std::uint64_t item) {
  std::uint64_t x = item * 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 32; ++i) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
  }
  return x;
}

// One worker per processor, fed through a bounded queue (the reference's
// "worker pool"): submit() parks while the workers are behind.
int pool(long n) {
  return goro::run([n] {
    std::atomic<std::uint64_t> total{0};
    const ProgressTicker ticker(n);
    const auto t0 = std::chrono::steady_clock::now();
    goro::worker_pool workers(static_cast<std::size_t>(goro::maxprocs()), 256);
    for (long i = 0; i < n; ++i) {
      workers.submit([i, &total] {
        total.fetch_add(process(static_cast<std::uint64_t>(i)), std::memory_order_relaxed);
      });
      ticker.at(i + 1);
    }
    workers.wait();
    const double s = seconds_since(t0);
    emit("items", n);
    emit("seconds", s);
    emit("ns_per_item", ns_per(s, n));
    emit("workers", static_cast<long>(goro::maxprocs()));
    emit("checksum", static_cast<long>(total.load() >> 1));
    return 0;
  });
}

// A plain loop of go() calls: goro cannot preempt it, but go() yields the
// loop whenever its processor's queue fills (goroutine.hpp), as Go's
// scheduler preempts such a loop, so the goroutines it starts run and exit
// as it goes and peak_alive stays in the hundreds.
int per_task(long n) {
  return goro::run([n] {
    std::atomic<std::uint64_t> total{0};
    std::atomic<long> alive{0};
    long peak_alive = 0;
    const ProgressTicker ticker(n);
    const auto t0 = std::chrono::steady_clock::now();
    goro::wait_group wg;
    for (long i = 0; i < n; ++i) {
      peak_alive = std::max(peak_alive, alive.fetch_add(1, std::memory_order_relaxed) + 1);
      wg.go([i, &total, &alive] {
        total.fetch_add(process(static_cast<std::uint64_t>(i)), std::memory_order_relaxed);
        alive.fetch_sub(1, std::memory_order_relaxed);
      });
      ticker.at(i + 1);
    }
    wg.wait();
    const double s = seconds_since(t0);
    emit("items", n);
    emit("seconds", s);
    emit("ns_per_item", ns_per(s, n));
    emit("peak_alive", peak_alive);
    emit("checksum", static_cast<long>(total.load() >> 1));
    return 0;
  });
}

}  // namespace

int goroutine_step(const std::string& step, long n, long flag) {
  if (step == "spawn") return spawn_join(n);
  if (step == "park") return park(n, flag != 0, false);
  if (step == "park-compact") return park(n, flag != 0, true);
  if (step == "deep") return deep(n);
  if (step == "overflow") return overflow();
  if (step == "pool") return pool(n);
  if (step == "per-task") return per_task(n);
  return -1;
}

}  // namespace tour
