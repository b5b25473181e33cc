// debug/metrics.cpp: goro::metrics, the table of named metrics and the read
// that fills samples from it (Go's runtime/metrics).
//
// Each metric names the source it is computed from. A read first finds the
// sources its samples need, reads each of them once (the scheduler's
// figures, the stack layer's counters, the stack walk, ...), then fills
// every sample from those: a source nobody asked for costs nothing, and the
// one expensive source, the walk over every stack slot, runs only for the
// metrics that say so in their help.
//
// all() lists the table sorted by name, and a name is found by binary
// search in that order.
#include "netpoll/netpoll.hpp"
#include "sched/sched_stats.hpp"
#include "stack/stack.hpp"

#include <goro/compact.hpp>
#include <goro/metrics.hpp>
#include <goro/stack.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>

namespace goro::metrics {
namespace {

using Value = decltype(sample::value);

enum class Source : std::uint8_t {
  kSched,          // read_sched_figures: processors, queues, one lock
  kHistograms,     // the processors' histograms
  kStackCounters,  // stack layer counters, no walk
  kStackWalk,      // read_stack_stats: mincore over every arena
  kCompact,        // compaction counters
  kNetpoll,        // netpoll waiters
  kCount,
};

// What one read computed, each source at most once.
struct Snapshot {
  std::array<bool, static_cast<std::size_t>(Source::kCount)> have{};
  detail::SchedFigures sched;
  detail::SchedHistograms hist;
  goro::stack_stats stacks;  // counters only, or the full walk
  goro::compact_stats compact;
  std::int64_t netpoll_waiters = 0;

  void load(Source s) {
    auto& done = have[static_cast<std::size_t>(s)];
    if (done) return;
    done = true;
    switch (s) {
      case Source::kSched:
        sched = detail::read_sched_figures();
        break;
      case Source::kHistograms:
        detail::read_sched_histograms(&hist);
        break;
      case Source::kStackCounters:
        if (!have[static_cast<std::size_t>(Source::kStackWalk)]) stacks = detail::stack_read_counters();
        break;
      case Source::kStackWalk:
        stacks = detail::stack_read_stats();  // includes the counters
        have[static_cast<std::size_t>(Source::kStackCounters)] = true;
        break;
      case Source::kCompact:
        compact = goro::read_compact_stats();
        break;
      case Source::kNetpoll:
        netpoll_waiters = detail::netpoll_waiter_count();
        break;
      case Source::kCount:
        break;
    }
  }
};

struct Entry {
  description d;
  Source source;
  Value (*get)(const Snapshot&);
};

Value count(std::int64_t v) {
  return static_cast<std::uint64_t>(v > 0 ? v : 0);
}

// Boundaries of a doubling histogram (sched_stats.hpp) in the metric's unit:
// 0, then 2^first_log2 * scale doubling, then +inf.
template <typename H>
histogram doubling(const std::uint64_t* counts, double scale) {
  histogram h;
  h.buckets.reserve(H::kBuckets + 1);
  h.buckets.push_back(0.0);
  for (int i = 1; i < H::kBuckets; ++i) h.buckets.push_back(std::ldexp(1.0, H::kFirstLog2 + i - 1) * scale);
  h.buckets.push_back(std::numeric_limits<double>::infinity());
  h.counts.assign(counts, counts + H::kBuckets);
  return h;
}

constexpr kind kGauge = kind::gauge;
constexpr kind kCounter = kind::counter;
constexpr kind kHistogram = kind::histogram;

// The description of a metric whose unit is the part of `name` after its
// colon.
constexpr description describe(std::string_view name, kind k, std::string_view help) {
  return description{name, name.substr(name.rfind(':') + 1), k, help, k != kind::gauge, false};
}

const Entry kTable[] = {
    {describe("/goro/compact/compactions:stacks", kCounter,
              "Stacks of parked goroutines compacted to the heap since the process started "
              "(goro/compact.hpp)."),
     Source::kCompact, [](const Snapshot& s) -> Value { return s.compact.compactions; }},
    {describe("/goro/compact/restores:stacks", kCounter,
              "Compacted stacks copied back because their goroutine ran again, since the process "
              "started."),
     Source::kCompact, [](const Snapshot& s) -> Value { return s.compact.restores; }},
    {describe("/goro/compact/saved:bytes", kGauge,
              "Heap bytes holding the used parts of the stacks compacted now."),
     Source::kCompact, [](const Snapshot& s) -> Value { return s.compact.saved_bytes; }},
    {describe("/goro/netpoll/waiters:goroutines", kGauge,
              "Goroutines parked on a network descriptor (a read or write that would block)."),
     Source::kNetpoll, [](const Snapshot& s) -> Value { return count(s.netpoll_waiters); }},
    {describe("/goro/sched/goroutines/compacted:goroutines", kGauge,
              "Parked goroutines whose stack is compacted to the heap now; they are among the "
              "waiting ones."),
     Source::kCompact, [](const Snapshot& s) -> Value { return s.compact.compacted; }},
    {describe("/goro/sched/processors:processors", kGauge,
              "Processors in service: GOMAXPROCS plus the spares lent to workers stuck on one "
              "goroutine."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.processors); }},
    {describe("/goro/sched/processors/idle:processors", kGauge,
              "Processors in service that no worker holds (nothing to run)."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.idle_processors); }},
    {describe("/goro/sched/processors/spare:processors", kGauge,
              "Spare processors the system monitor put in service beside a worker stuck on one "
              "goroutine for 10 ms or more."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.spare_processors); }},
    {describe("/goro/sched/threads/idle:threads", kGauge,
              "Worker threads asleep with no processor, waiting for work."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.idle_threads); }},
    {describe("/goro/sched/threads/spinning:threads", kGauge,
              "Worker threads holding a processor and looking for work to steal."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.spinning_threads); }},
    {describe("/goro/stacks/growth:pages", kCounter,
              "Pages committed to goroutine stacks since the process started (first touches, "
              "again after a page was given back). Reading it walks every stack slot (mincore)."),
     Source::kStackWalk, [](const Snapshot& s) -> Value { return s.stacks.growth_pages; }},
    {describe("/goro/stacks/high-water:bytes", kHistogram,
              "Stack high-water marks of exited goroutines: bytes from the stack's top down to its "
              "deepest resident page, measured at exit on one exit in 1024 per processor. A stack "
              "reused from a cache counts the pages its earlier goroutines touched."),
     Source::kHistograms,
     [](const Snapshot& s) -> Value { return doubling<detail::StackPeakHistogram>(s.hist.stack_peak, 1.0); }},
    {describe("/goro/stacks/inuse:bytes", kGauge,
              "Resident bytes in the stacks of live goroutines (Go's StackInuse). Reading it walks "
              "every stack slot (mincore)."),
     Source::kStackWalk, [](const Snapshot& s) -> Value { return std::uint64_t{s.stacks.stack_inuse}; }},
    {describe("/goro/stacks/live:stacks", kGauge,
              "Stacks in use by live goroutines. Reading it walks every stack slot."),
     Source::kStackWalk, [](const Snapshot& s) -> Value { return std::uint64_t{s.stacks.live_stacks}; }},
    {describe("/goro/stacks/pooled:bytes", kGauge,
              "Resident bytes held by free stacks kept for reuse (pools and per-processor caches). "
              "Reading it walks every stack slot (mincore)."),
     Source::kStackWalk,
     [](const Snapshot& s) -> Value {
       return std::uint64_t{s.stacks.stack_sys - std::min(s.stacks.stack_sys, s.stacks.stack_inuse)};
     }},
    {describe("/goro/stacks/pooled:stacks", kGauge,
              "Free stacks kept resident for reuse. Reading it walks every stack slot."),
     Source::kStackWalk, [](const Snapshot& s) -> Value { return std::uint64_t{s.stacks.pooled_stacks}; }},
    {describe("/goro/stacks/released:bytes", kCounter,
              "Bytes of free stacks given back to the operating system by the background "
              "scavenger and free_os_memory since the process started (Go's scavenged bytes, for "
              "stacks)."),
     Source::kStackCounters, [](const Snapshot& s) -> Value { return s.stacks.scavenged_bytes; }},
    {describe("/goro/stacks/reserved:bytes", kGauge,
              "Virtual bytes reserved for goroutine stacks, guards included; not memory in use."),
     Source::kStackCounters,
     [](const Snapshot& s) -> Value { return std::uint64_t{s.stacks.stack_reserved}; }},
    {describe("/goro/stacks/retain-target:bytes", kGauge,
              "Bytes of free stacks the scavenger keeps resident (set_stack_retain_target)."),
     Source::kStackCounters,
     [](const Snapshot& s) -> Value { return std::uint64_t{s.stacks.retain_target}; }},
    {describe("/goro/stacks/scavenger-cpu:seconds", kCounter,
              "CPU time the stack scavenger spent giving free stacks back since the process "
              "started (Go's /cpu/classes/scavenge/total, for stacks)."),
     Source::kStackCounters,
     [](const Snapshot& s) -> Value {
       return std::chrono::duration<double>(s.stacks.scavenger_cpu).count();
     }},
    {describe("/goro/stacks/shrinks:shrinks", kCounter,
              "Times the unused pages of a parked goroutine's stack (or a big stack's, at exit) "
              "were given back, since the process started."),
     Source::kStackCounters, [](const Snapshot& s) -> Value { return s.stacks.shrinks; }},
    {describe("/goro/stacks/shrunk:bytes", kCounter, "Bytes given back by those shrinks."),
     Source::kStackCounters, [](const Snapshot& s) -> Value { return s.stacks.shrunk_bytes; }},
    {describe("/goro/timers/pending:timers", kGauge,
              "Timers waiting in the processors' heaps: sleeps, timers, tickers, deadlines."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.timers); }},
    {describe("/memory/classes/heap/stacks:bytes", kGauge,
              "Resident bytes of all goroutine stack memory, live and pooled (Go's StackSys). "
              "Reading it walks every stack slot (mincore)."),
     Source::kStackWalk, [](const Snapshot& s) -> Value { return std::uint64_t{s.stacks.stack_sys}; }},
    {describe("/sched/gomaxprocs:threads", kGauge,
              "The GOMAXPROCS setting: processors that run goroutines at once, spares excluded."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.gomaxprocs); }},
    {describe("/sched/goroutines:goroutines", kGauge, "Live goroutines."), Source::kSched,
     [](const Snapshot& s) -> Value { return count(s.sched.goroutines); }},
    {describe("/sched/goroutines/not-in-go:goroutines", kGauge,
              "Goroutines inside goro::blocking on a thread without a processor (Go's goroutines "
              "in system calls)."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.blocking); }},
    {describe("/sched/goroutines/runnable:goroutines", kGauge,
              "Goroutines ready to run, in the processors' run queues and the global one."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.runnable); }},
    {describe("/sched/goroutines/running:goroutines", kGauge,
              "Goroutines running: processors held by a worker that is not looking for work. At "
              "most /goro/sched/processors:processors."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.running); }},
    {describe("/sched/goroutines/waiting:goroutines", kGauge,
              "Goroutines parked (on a channel, a lock, a timer, the network, ...): the live ones "
              "that are neither running, runnable nor in goro::blocking."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.waiting); }},
    {describe("/sched/latencies:seconds", kHistogram,
              "Time goroutines spent runnable before they ran (scheduling latency), sampled as Go "
              "samples it, but on one runnable transition in 256 per goroutine (Go: 8) and one yield in 256 "
              "per processor."),
     Source::kHistograms,
     [](const Snapshot& s) -> Value { return doubling<detail::LatencyHistogram>(s.hist.latency, 1e-9); }},
    {describe("/sched/threads/total:threads", kGauge,
              "Worker threads the scheduler owns (Go's Ms): those with a processor, those in "
              "goro::blocking or locked to a goroutine, and idle ones."),
     Source::kSched, [](const Snapshot& s) -> Value { return count(s.sched.threads); }},
};

// The table's entries sorted by name, for all() and binary search.
const std::vector<const Entry*>& by_name() {
  static const std::vector<const Entry*> sorted = [] {
    std::vector<const Entry*> v;
    for (const Entry& e : kTable) v.push_back(&e);
    std::sort(v.begin(), v.end(), [](const Entry* a, const Entry* b) { return a->d.name < b->d.name; });
    return v;
  }();
  return sorted;
}

const Entry* find(std::string_view name) {
  const std::vector<const Entry*>& v = by_name();
  auto it = std::lower_bound(v.begin(), v.end(), name,
                             [](const Entry* e, std::string_view n) { return e->d.name < n; });
  return it != v.end() && (*it)->d.name == name ? *it : nullptr;
}

}  // namespace

const std::vector<description>& all() {
  static const std::vector<description> list = [] {
    std::vector<description> v;
    for (const Entry* e : by_name()) {
      v.push_back(e->d);
      v.back().walks_stacks = e->source == Source::kStackWalk;
    }
    return v;
  }();
  return list;
}

void read(std::span<sample> samples) {
  Snapshot snap;
  for (sample& s : samples) {
    if (const Entry* e = find(s.name)) snap.load(e->source);
  }
  for (sample& s : samples) {
    const Entry* e = find(s.name);
    s.value = e != nullptr ? e->get(snap) : Value{};
  }
}

std::vector<sample> read_all() {
  std::vector<sample> out;
  out.reserve(all().size());
  for (const description& d : all()) out.push_back(sample{d.name, {}});
  read(out);
  return out;
}

}  // namespace goro::metrics
