// goro/metrics.hpp: the runtime's figures by name (Go's runtime/metrics).
//
// Every metric has a name in Go's form, "/path/of/metric:unit", a kind and
// a description; all() lists them. Where Go has the metric, goro uses its
// name and meaning ("/sched/goroutines:goroutines", "/sched/latencies:seconds");
// goro's own live under "/goro/". A program reads the ones it wants:
//
//   std::array<goro::metrics::sample, 2> s{{{"/sched/goroutines:goroutines"},
//                                          {"/sched/latencies:seconds"}}};
//   goro::metrics::read(s);
//   auto n = std::get<std::uint64_t>(s[0].value);
//   const auto& h = std::get<goro::metrics::histogram>(s[1].value);
//
// A read stops nothing: goroutines keep running while it counts, so figures
// read together are not all of one instant (Go's metrics.Read promises no
// more). Counts by state are derived from the run queues and the
// processors, not by visiting each goroutine, and add up to the total; the
// running count is approximate (a worker between two goroutines counts as
// running for that moment), and so the waiting one, the remainder, is too.
// The few metrics that walk every stack slot say so in their description
// (walks_stacks), and a read pays for that walk only if it asks for one of
// them.
//
// Names, kinds and units are stable: new metrics may be added, existing
// ones are not renamed.
#pragma once

#include <goro/config.hpp>

#include <cstdint>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

namespace goro::metrics {

// counter: cumulative, only grows (while a run lasts: counters kept by the
// scheduler start again at 0 when a new goro::run starts). gauge: a value at
// one instant. histogram: a distribution, its counts cumulative.
enum class kind { counter, gauge, histogram };

// A distribution (Go's metrics.Float64Histogram). buckets holds the
// boundaries, in the metric's unit: count i counts values in
// [buckets[i], buckets[i + 1]), so buckets.size() == counts.size() + 1. The
// last boundary may be +infinity.
struct histogram {
  // The bucket boundaries and the counts, as described above.
  std::vector<double> buckets;
  std::vector<std::uint64_t> counts;
};

// A metric's name, unit, kind and meaning (one entry of all()).
struct description {
  // "/sched/goroutines:goroutines": the path, then after the colon the unit.
  std::string_view name;
  // The unit (the part of the name after the colon): "bytes", "seconds",
  // "goroutines", ...
  std::string_view unit;
  kind k;
  // What it measures, what it costs to read when that is more than a few
  // loads, and how it is sampled when it is.
  std::string_view help;
  // True for counters and histograms: the value only grows, and the rate
  // of change is what a monitor plots.
  bool cumulative;
  // True if reading it walks every stack slot (the resident-page figures
  // of read_stack_stats): a mincore per 256 MiB of stacks reserved, which
  // measured 45 ms for 10,000 goroutines (2.2 GiB reserved) on a loaded
  // 2-CPU VM (bench/metrics.cpp). A read of several such metrics walks once.
  // A frequent scraper of a program with many goroutines may read these
  // less often than the others.
  bool walks_stacks = false;
};

// Every metric goro supports, sorted by name. The vector and its strings
// live as long as the program. Thread-safe. Cost: none (a static table).
const std::vector<description>& all();

// One metric to read with read(): its name in, its value out.
struct sample {
  // The metric to read, a name from all(). The string it views must stay
  // alive during read().
  std::string_view name;
  // Set by read(): std::monostate for a name goro does not know,
  // std::uint64_t for counts and bytes, double for seconds, histogram for
  // histograms (all() tells which by unit and kind).
  std::variant<std::monostate, std::uint64_t, double, histogram> value;
};

// Fills the value of each sample (Go's metrics.Read). Unknown names get
// std::monostate; a name may appear more than once. Callable from a
// goroutine or any thread, inside or outside goro::run (outside, the
// scheduler's figures are 0).
// Thread-safe. Cost: about a microsecond for the scheduler's figures (one
// pass over the processors, the scheduler lock once); the metrics marked
// walks_stacks add one walk over every stack slot (see walks_stacks).
// Allocates only the histograms' vectors. Does not park.
void read(std::span<sample> samples);

// Reads every metric of all(), in that order. Same contract; pays for the
// stack walk.
std::vector<sample> read_all();

}  // namespace goro::metrics
