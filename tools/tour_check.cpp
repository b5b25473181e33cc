// tools/tour_check.cpp: the test of goro-tour (ctest tour.quick_json).
//
//   goro-tour-check PATH/TO/goro-tour
//
// Runs `goro-tour --quick --json`, parses its stdout as one JSON document
// (so a progress bar or a stray line on stdout fails the test), and checks
// that every step is there, succeeded, and measured something sane: counts
// that are positive, memory per goroutine between a page and a megabyte, a
// deep stack resident at its depth, an overflow child that printed Go's
// report and exited with status 2, and a table whose measured rows are
// marked as measured. Prints each failed check; exit status 1 if any failed.
#include <goro/json.hpp>

#include <cstdio>
#include <string>
#include <string_view>

namespace json = goro::json;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

// The member at `path` ("park.bytes_per_goroutine"), or nullptr.
const json::value* at(const json::value& doc, std::string_view path) {
  const json::value* v = &doc;
  while (v != nullptr && !path.empty()) {
    const std::size_t dot = path.find('.');
    v = v->find(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  }
  return v;
}

double number(const json::value& doc, std::string_view path) {
  const json::value* v = at(doc, path);
  if (v == nullptr || !v->is_number()) {
    check(false, std::string(path) + " is a number");
    return -1;
  }
  return v->as_double();
}

void expect_true(const json::value& doc, std::string_view path) {
  const json::value* v = at(doc, path);
  check(v != nullptr && v->is_bool() && v->as_bool(), std::string(path) + " is true");
}

void expect_between(const json::value& doc, std::string_view path, double low, double high) {
  const double v = number(doc, path);
  check(v >= low && v <= high, std::string(path) + " = " + std::to_string(v) + " is within [" +
                                   std::to_string(low) + ", " + std::to_string(high) + "]");
}

std::string run_tour(const char* tour) {
  const std::string command = std::string("'") + tour + "' --quick --json";
  std::FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  check(status == 0, "goro-tour --quick --json exits with status 0 (got " + std::to_string(status) + ")");
  return out;
}

void check_park(const json::value& doc) {
  expect_true(doc, "park.ok");
  const double planned = number(doc, "park.planned");
  const json::value* stopped = at(doc, "park.stopped_by");
  if (stopped != nullptr && stopped->is_null()) {
    check(number(doc, "park.goroutines") == planned, "park.goroutines equals park.planned");
  }
  expect_between(doc, "park.goroutines", 1, 1e7);
  // At least most of a page each (the top page of every stack is touched),
  // at most a megabyte even under the sanitizers.
  expect_between(doc, "park.bytes_per_goroutine", 1024, 1 << 20);
  expect_between(doc, "park.start_ns_per_goroutine", 1, 1e8);
  expect_between(doc, "park.spawn_join_ns", 1, 1e8);
}

void check_deep(const json::value& doc) {
  expect_true(doc, "deep.ok");
  const double depth = number(doc, "deep.depth_mb") * 1048576;
  expect_between(doc, "deep.first_ms_per_mb", 1e-6, 1e4);
  expect_between(doc, "deep.resident_peak_bytes", 0.9 * depth, 4 * depth + (64 << 20));
  check(number(doc, "deep.resident_before_bytes") < number(doc, "deep.resident_peak_bytes"),
        "deep: resident stacks grow from before to the peak");
  expect_between(doc, "deep.resident_after_park_bytes", 0, number(doc, "deep.resident_peak_bytes"));
}

void check_overflow(const json::value& doc) {
  expect_true(doc, "overflow.ok");
  expect_true(doc, "overflow.reported");
  check(number(doc, "overflow.exit_status") == 2, "overflow.exit_status is 2");
  const json::value* head = at(doc, "overflow.report_head");
  bool found = false;
  if (head != nullptr && head->is_array()) {
    for (const auto& line : head->as_array()) {
      found = found || (line.is_string() && line.as_string() == "fatal error: stack overflow");
    }
  }
  check(found, "overflow.report_head has the line 'fatal error: stack overflow'");
}

void check_pool_vs_spawn(const json::value& doc) {
  expect_between(doc, "pool_vs_spawn.items", 1, 1e8);
  for (const char* mode : {"pool_vs_spawn.pool", "pool_vs_spawn.per_task"}) {
    const std::string m = mode;
    expect_true(doc, m + ".ok");
    expect_between(doc, m + ".seconds", 1e-6, 600);
    expect_between(doc, m + ".peak_rss_bytes", 1 << 20, 1e11);
  }
}

void check_threads(const json::value& doc) {
  expect_true(doc, "threads.ok");
  expect_between(doc, "threads.threads", 1, 1e6);
  expect_between(doc, "threads.bytes_per_thread", 1, 1 << 24);
  expect_between(doc, "threads.stack_bytes", 4096, 1e12);
  expect_between(doc, "threads.spawn_join_ns", 1, 1e9);
}

void check_table(const json::value& doc) {
  const json::value* table = at(doc, "table");
  check(table != nullptr && table->is_array(), "table is an array");
  if (table == nullptr || !table->is_array()) return;
  int measured = 0, reference = 0;
  for (const auto& row : table->as_array()) {
    for (const char* key : {"runtime", "per_task_memory", "growth", "max_stack", "source"}) {
      const json::value* v = row.find(key);
      check(v != nullptr && v->is_string() && !v->as_string().empty(), std::string("table row has ") + key);
    }
    const json::value* source = row.find("source");
    if (source == nullptr || !source->is_string()) continue;
    measured += source->as_string() == "measured";
    reference += source->as_string().find("not measured here") != std::string::npos;
  }
  check(measured == 2, "table has two measured rows (goro, std::thread)");
  check(reference >= 1, "table marks the reference's rows as not measured here");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PATH/TO/goro-tour\n", argv[0]);
    return 2;
  }
  const std::string out = run_tour(argv[1]);
  json::options opts;
  opts.mode = json::parse_mode::iterative;
  const json::result<json::value> doc = json::parse(out, opts);
  if (!doc) {
    std::fprintf(stderr, "FAILED: stdout is one JSON document: %s\nstdout was:\n%s\n",
                 doc.error().what().c_str(), out.c_str());
    return 1;
  }
  const json::value& d = *doc;
  const json::value* name = at(d, "tour");
  check(name != nullptr && name->is_string() && name->as_string() == "goro-tour", "tour is \"goro-tour\"");
  expect_true(d, "quick");
  expect_true(d, "ok");
  expect_between(d, "elapsed_seconds", 1e-3, 600);
  expect_between(d, "machine.cpus", 1, 1 << 16);
  check_park(d);
  check_deep(d);
  check_overflow(d);
  check_pool_vs_spawn(d);
  check_threads(d);
  check_table(d);
  if (failures == 0) std::printf("goro-tour --quick --json: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
