// tools/tour/table.cpp: step 6, the reference's comparison table (runtime,
// per-task memory, growth, maximum stack) with the rows of the runtimes the
// tour measured on this machine, filled from steps 1, 2 and 5.
//
// The reference's own rows follow under a line that says they come from the
// reference text and were not measured here: the tour never shows a figure
// it did not measure as if it had.
#include "format.hpp"
#include "tour.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace tour {
namespace json = goro::json;

namespace {

struct Row {
  std::string runtime, memory, growth, max_stack;
};

// The reference text's comparison summary, as it stands there.
const std::vector<Row>& reference_rows() {
  static const std::vector<Row> rows = {
      {"Goroutine (Go 1.4+)", "2 KB", "Yes, copying", "1 GB (settable)"},
      {"pthread (Linux)", "8 MB default", "No", "Fixed at creation"},
      {"Java thread", "512 KB", "No", "Fixed"},
      {"Java virtual thread", "~few KB", "Yes, segmented + heap", "Heap-bounded"},
      {"Erlang process", "~few KB", "Yes, segmented", "Per-VM cap"},
      {"Rust async task", "~few hundred bytes", "N/A (state machine)", "Heap-bounded"},
      {"Python asyncio task", "~few hundred bytes", "N/A", "Heap-bounded"},
  };
  return rows;
}

std::vector<Row> measured_rows(const TableInputs& in) {
  return {
      {"goroutine (goro)", commas(in.goro_bytes) + " B (" + bytes_text(in.goro_reserved) + " reserved)",
       "Yes, in place: " + fixed(in.goro_growth_ms_per_mb, 2) + " ms per MB",
       bytes_text(in.goro_max_stack) + " default, settable"},
      {"std::thread (glibc)", commas(in.thread_bytes) + " B (" + bytes_text(in.thread_stack) + " reserved)",
       "No", bytes_text(in.thread_stack) + ", fixed at creation"},
  };
}

using Widths = std::array<std::size_t, 4>;

void widen(Widths& w, const Row& r) {
  w[0] = std::max(w[0], r.runtime.size());
  w[1] = std::max(w[1], r.memory.size());
  w[2] = std::max(w[2], r.growth.size());
  w[3] = std::max(w[3], r.max_stack.size());
}

void print_row(const Tour& t, const Widths& w, const Row& r) {
  t.say("   %-*s  %-*s  %-*s  %s\n", static_cast<int>(w[0]), r.runtime.c_str(), static_cast<int>(w[1]),
        r.memory.c_str(), static_cast<int>(w[2]), r.growth.c_str(), r.max_stack.c_str());
}

json::value row_json(const Row& r, const char* source) {
  return json::object{
      {"runtime", r.runtime}, {"per_task_memory", r.memory}, {"growth", r.growth}, {"max_stack", r.max_stack},
      {"source", source},
  };
}

// One line comparing the two measured runtimes, when both were measured.
// The counts differ (a million goroutines, thousands of threads), so they
// are named.
void say_ratio(const Tour& t, const TableInputs& in) {
  if (!std::isfinite(in.goro_bytes) || !std::isfinite(in.thread_bytes) || in.goro_bytes <= 0) return;
  t.say("   Measured here: a parked goroutine took %sx less memory than a blocked thread",
        fixed(in.thread_bytes / in.goro_bytes, 1).c_str());
  if (std::isfinite(in.goro_start_ns) && std::isfinite(in.thread_start_ns) && in.goro_start_ns > 0) {
    t.say(" and started %sx faster", fixed(in.thread_start_ns / in.goro_start_ns, 1).c_str());
  }
  t.say("\n   (%s goroutines against %s threads).\n", commas(in.goroutines).c_str(),
        commas(in.threads).c_str());
}

}  // namespace

void step_table(Tour& t) {
  const Row header{"runtime", "per-task memory", "growth?", "maximum stack"};
  const std::vector<Row> measured = measured_rows(t.table);
  Widths w{};
  widen(w, header);
  for (const auto& r : measured) widen(w, r);
  for (const auto& r : reference_rows()) widen(w, r);
  t.say("6. The reference's comparison, with this machine's rows measured now\n\n");
  print_row(t, w, header);
  print_row(t, w,
            {std::string(w[0], '-'), std::string(w[1], '-'), std::string(w[2], '-'), std::string(w[3], '-')});
  for (const auto& r : measured) print_row(t, w, r);
  t.say("   -- from the reference text, not measured here:\n");
  for (const auto& r : reference_rows()) print_row(t, w, r);
  t.say(
      "\n   goro's and std::thread's per-task memory: VmRSS + VmPTE per parked task, measured in steps 1\n"
      "   and 5; growth: the first %ld MB recursion of step 2.\n",
      t.table.deep_mb);
  say_ratio(t, t.table);

  json::array rows;
  for (const auto& r : measured) rows.push_back(row_json(r, "measured"));
  for (const auto& r : reference_rows()) rows.push_back(row_json(r, "reference text, not measured here"));
  t.doc.emplace_back("table", std::move(rows));
}

}  // namespace tour
