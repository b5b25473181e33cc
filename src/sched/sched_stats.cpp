// sched/sched_stats.cpp: the sampled recordings of sched_stats.hpp and the
// readers goro::metrics uses. Readers take no lock a hot path takes, except
// each processor's timer lock for an instant and the scheduler lock once.
#include "sched/sched_stats.hpp"

#include "sched/scheduler.hpp"

#include <goro/runtime.hpp>

#include <algorithm>

namespace goro::detail {

std::uint32_t g_stack_peak_sample_mask = 1023;

void set_stack_peak_sampling(std::uint32_t every) noexcept {
  g_stack_peak_sample_mask = std::bit_ceil(std::max<std::uint32_t>(every, 1)) - 1;
}

void record_latency(Worker* w, Goroutine* g) noexcept {
  std::int64_t waited = nanotime() - g->run_start_coarse_ns;
  g->latency_pending = false;
  if (w->p == nullptr) return;
  w->p->stats.latency.add(waited > 0 ? static_cast<std::uint64_t>(waited) : 0);
}

void record_stack_peak(ProcessorStats& s, const Goroutine* g) noexcept {
  if (g->segment_depth != 0) return;
  s.stack_peak.add(stack_resident_depth(g->stack, g->stack.limit()));
}

namespace {

// Goroutines in p's run queue, runnext included. The two indices are read
// one after the other, so a queue emptied meanwhile may look negative.
std::int64_t queued_on(const Processor& p) noexcept {
  std::uint32_t n = p.runq.size_without_next();
  if (n > RunQueue::kSize) n = 0;
  return static_cast<std::int64_t>(n) + (p.runq.has_next() ? 1 : 0);
}

std::int64_t pending_timers(Processor& p) noexcept {
  lock_guard lk(p.timers.lock());
  return static_cast<std::int64_t>(p.timers.size());
}

template <typename H>
void add_counts(const H& h, std::uint64_t* out) noexcept {
  for (int i = 0; i < H::kBuckets; ++i) out[i] += h.counts[i].load(std::memory_order_relaxed);
}

}  // namespace

SchedFigures read_sched_figures() noexcept {
  SchedFigures f;
  if (!g_sched.running.load(std::memory_order_acquire)) return f;
  f.goroutines = goro::num_goroutine();
  // Spinners first: one that stops spinning meanwhile then counts as
  // running, not the other way round.
  f.spinning_threads = g_sched.n_spinning.load(std::memory_order_acquire);
  int held = 0;
  for (Processor* p : all_processors(g_sched)) {
    held += p->held.load(std::memory_order_acquire) ? 1 : 0;
    f.runnable += queued_on(*p);
    f.timers += pending_timers(*p);
  }
  f.runnable += std::max(0, g_sched.runq_size.load(std::memory_order_relaxed));
  f.running = std::max(0, held - f.spinning_threads);
  // A reader on a goroutine is one running, whatever the other workers did
  // while it counted.
  if (current_goroutine() != nullptr) f.running = std::max<std::int64_t>(f.running, 1);
  f.processors = g_sched.nprocs.load(std::memory_order_relaxed);
  f.idle_processors = g_sched.n_idle_p.load(std::memory_order_relaxed);
  f.external_waiters = g_sched.external_waiters.load(std::memory_order_relaxed);
  {
    lock_guard lk(g_sched.lock);
    f.blocking = g_sched.n_blocking;
    f.gomaxprocs = g_sched.gomaxprocs;
    f.spare_processors = g_sched.spare_procs;
    f.threads = static_cast<int>(g_sched.allm.size());
    f.idle_threads = g_sched.n_idle_m;
  }
  // Counted at different instants: keep the parts within the total, the
  // exact count first (blocking, under the lock), the approximate one
  // (running: a worker between goroutines holds its processor too) last.
  f.blocking = std::min(f.blocking, f.goroutines);
  f.runnable = std::min(f.runnable, f.goroutines - f.blocking);
  f.running = std::min(f.running, f.goroutines - f.blocking - f.runnable);
  f.waiting = f.goroutines - f.running - f.runnable - f.blocking;
  return f;
}

void read_sched_histograms(SchedHistograms* out) noexcept {
  *out = SchedHistograms{};
  if (!g_sched.running.load(std::memory_order_acquire)) return;
  for (Processor* p : all_processors(g_sched)) {
    add_counts(p->stats.latency, out->latency);
    add_counts(p->stats.stack_peak, out->stack_peak);
  }
}

}  // namespace goro::detail
