// sched/sched_stats.hpp: what the scheduler records for goro::metrics, at a
// cost the hot paths do not notice.
//
//   * Scheduling latency (Go's /sched/latencies:seconds), the time from
//     runnable to running, is sampled the way Go samples it, one runnable
//     transition in N per goroutine, but with N = 256 where Go takes 8: a
//     clock read costs 25-80 ns on the VMs goro is measured on, and a first
//     version sampling one in 8 (whose switch-in the compiler had stopped
//     inlining, since fixed) made a 180 ns channel round trip 20 ns slower
//     (bench/ab.py). Each transition bumps the goroutine's 8-bit
//     sequence, which starts at the goroutine's id so that short-lived
//     goroutines are sampled too (one in 256 at its spawn); the sampled
//     transition stamps the clock. The switch-in that follows finds the
//     stamp, records the difference in its processor's histogram and
//     clears it. A yield is sampled by its processor's switch count instead
//     (one switch in 256), which the switch path has at hand. An unsampled
//     transition costs a few instructions, a switch-in a test.
//   * Stack high-water marks are sampled at goroutine exit, one exit in
//     1024 per processor (one mincore each, a few microseconds; the first
//     version, at one in 256, made a 250 ns spawn and join 17 ns slower).
//
// Histograms are per processor, written only by the worker holding it
// (a relaxed load and store, no locked instruction, no shared cache line),
// and summed by readers, which may see a sample late but never a torn count.
// Buckets double: bucket 0 holds values below 2^first_log2, bucket i
// [2^(first_log2+i-1), 2^(first_log2+i)), the last one everything above.
#pragma once

#include "sched/goroutine.hpp"

#include <atomic>
#include <bit>
#include <cstdint>

namespace goro::detail {

inline constexpr unsigned kLatencySampleEvery = 256;  // divides 256: sched_seq wraps
// One exit in this many is measured; tests lower it (a power of two).
extern std::uint32_t g_stack_peak_sample_mask;  // every - 1

template <int N, int FirstLog2>
struct Log2Histogram {
  static constexpr int kBuckets = N;
  static constexpr int kFirstLog2 = FirstLog2;
  std::atomic<std::uint64_t> counts[N] = {};

  static int bucket_of(std::uint64_t v) noexcept {
    int i = static_cast<int>(std::bit_width(v)) - FirstLog2;
    return i < 0 ? 0 : (i >= N ? N - 1 : i);
  }
  // Holder of the owning processor only.
  void add(std::uint64_t v) noexcept {
    std::atomic<std::uint64_t>& c = counts[bucket_of(v)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

// Nanoseconds: [0, 128 ns), [128 ns, 256 ns), ..., [2^37 ns (137 s), inf).
using LatencyHistogram = Log2Histogram<32, 7>;
// Bytes: [0, 4 KiB), [4 KiB, 8 KiB), ..., [64 GiB, inf).
using StackPeakHistogram = Log2Histogram<26, 12>;

// A processor's share (Processor::stats).
struct ProcessorStats {
  LatencyHistogram latency;
  StackPeakHistogram stack_peak;
  std::uint32_t exits = 0;  // holder only: picks the sampled exits
};

std::int64_t nanotime() noexcept;

struct Worker;

// Out of line, for the sampled transitions only. record_latency drops the
// sample of a goroutine switched in on a worker without a processor (back
// from the system stack inside goro::blocking).
void record_latency(Worker* w, Goroutine* g) noexcept;
// Measures nothing for a goroutine that exits on a stack segment.
void record_stack_peak(ProcessorStats& s, const Goroutine* g) noexcept;

// g becomes runnable (ready, spawn, yield, poller, end of a blocking call).
// Between a sampled transition and the switch-in, the goroutine's
// run_start_coarse_ns holds the precise time it became runnable: nothing
// reads that field while a goroutine is runnable (it is the switch-in
// time while it runs and the park time while it is parked).
inline void stamp_runnable(Goroutine* g) noexcept {
  g->run_start_coarse_ns = nanotime();
  g->latency_pending = true;
}
inline void note_runnable(Goroutine* g) noexcept {
  if (++g->sched_seq % kLatencySampleEvery == 0) [[unlikely]]
    stamp_runnable(g);
}

// A new goroutine, its id set, becomes runnable for the first time.
inline void note_spawned(Goroutine* g) noexcept {
  g->sched_seq = static_cast<std::uint8_t>(g->id);
  note_runnable(g);
}

// g yields, the processor's switch count being `schedtick`. A yield is
// sampled by that count rather than by g's sequence, which the yield path
// would otherwise have to write.
inline void note_requeued(std::uint32_t schedtick, Goroutine* g) noexcept {
  if (schedtick % kLatencySampleEvery == 0) [[unlikely]]
    stamp_runnable(g);
}

// g is switched in on w, before run_start_coarse_ns is set to the
// switch-in time.
inline void note_switch_in(Worker* w, Goroutine* g) noexcept {
  if (g->latency_pending) [[unlikely]]
    record_latency(w, g);
}

// g exits on that processor, its stack still in place.
inline void note_exit(ProcessorStats& s, const Goroutine* g) noexcept {
  if ((++s.exits & g_stack_peak_sample_mask) == 0) [[unlikely]]
    record_stack_peak(s, g);
}

// Measures one exit in `every` (a power of two, 1024 by default) from now
// on. For tests; call it outside a run.
void set_stack_peak_sampling(std::uint32_t every) noexcept;

// The scheduler's figures for goro::metrics, read without stopping anything:
// counts come from atomics, the run queues' indices and, for workers, one
// pass under the scheduler lock. Goroutines by state are derived as Go
// derives them: running from the processors held by a worker that is not
// looking for work, runnable from the run queues, in blocking calls from the
// workers inside goro::blocking without a processor, and waiting is what
// remains of the total. Each is approximate while goroutines change state.
struct SchedFigures {
  std::int64_t goroutines = 0;
  std::int64_t running = 0;
  std::int64_t runnable = 0;
  std::int64_t blocking = 0;
  std::int64_t waiting = 0;
  int gomaxprocs = 0;
  int processors = 0;  // in service, spares included
  int spare_processors = 0;
  int idle_processors = 0;
  int threads = 0;  // worker threads
  int idle_threads = 0;
  int spinning_threads = 0;
  std::int64_t timers = 0;  // pending in the processors' heaps
  std::int64_t external_waiters = 0;
};
SchedFigures read_sched_figures() noexcept;

// Sums of every processor's histograms (zeros outside a run).
struct SchedHistograms {
  std::uint64_t latency[LatencyHistogram::kBuckets] = {};
  std::uint64_t stack_peak[StackPeakHistogram::kBuckets] = {};
};
void read_sched_histograms(SchedHistograms* out) noexcept;

}  // namespace goro::detail
