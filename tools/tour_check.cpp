// tools/tour_check.cpp: the tests of goro-tour (ctest tour.quick_json and
// tour.adapts_to_max_map_count).
//
//   goro-tour-check PATH/TO/goro-tour            runs `goro-tour --quick --json`
//   goro-tour-check --adapts PATH/TO/goro-tour   the same with mprotect guards
//                                                forced and 100,000 goroutines
//
// The first parses goro-tour's stdout as one JSON document (so a progress
// bar or a stray line on stdout fails the test), and checks that every step
// is there, succeeded, and measured something sane: counts that are
// positive, memory per goroutine between a page and a megabyte, a deep stack
// resident at its depth, an overflow child that printed Go's report and
// exited with status 2, and a table whose measured rows are marked as
// measured.
//
// The second checks that the tour adapts: with GORO_FORCE_MPROTECT_GUARD=1
// every goroutine stack costs two mappings, as on a kernel older than 6.13,
// so 100,000 goroutines cannot fit under vm.max_map_count (65,530 by
// default); the tour must say why, and park as many as do fit.
//
// Prints each failed check; exit status 1 if any failed.
#include <goro/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
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

std::string run_tour(const std::string& command) {
  std::FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = pclose(p);
  check(status == 0, command + " exits with status 0 (got " + std::to_string(status) + ")");
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

// The whole quick tour: every step, every key.
void check_quick(const json::value& d) {
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
}

// Step 1 under mprotect guards: scaled down below vm.max_map_count / 2,
// with the reason named, and that many goroutines parked.
void check_adapts(const json::value& d) {
  constexpr double kRequested = 100'000;
  expect_true(d, "ok");
  expect_true(d, "park.ok");
  check(number(d, "park.requested") == kRequested, "park.requested is 100,000");
  const double planned = number(d, "park.planned");
  expect_between(d, "park.planned", 1, number(d, "machine.max_map_count") / 2);
  check(planned < kRequested, "park.planned is below the 100,000 requested");
  const json::value* why = at(d, "park.scaled_down_because");
  bool named = false;
  if (why != nullptr && why->is_array()) {
    for (const auto& r : why->as_array()) {
      named = named || (r.is_string() && r.as_string().find("vm.max_map_count") != std::string::npos);
    }
  }
  check(named, "park.scaled_down_because names vm.max_map_count");
  expect_between(d, "park.goroutines", 1, planned);
  expect_between(d, "park.bytes_per_goroutine", 1024, 1 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  const bool adapts = argc == 3 && std::strcmp(argv[1], "--adapts") == 0;
  if (argc != 2 && !adapts) {
    std::fprintf(stderr, "usage: %s [--adapts] PATH/TO/goro-tour\n", argv[0]);
    return 2;
  }
  const std::string tour = std::string("'") + argv[argc - 1] + "'";
  if (adapts) setenv("GORO_FORCE_MPROTECT_GUARD", "1", 1);
  const std::string out =
      run_tour(tour + (adapts ? " --quick --json --goroutines 100000" : " --quick --json"));
  json::options opts;
  opts.mode = json::parse_mode::iterative;
  const json::result<json::value> doc = json::parse(out, opts);
  if (!doc) {
    std::fprintf(stderr, "FAILED: stdout is one JSON document: %s\nstdout was:\n%s\n",
                 doc.error().what().c_str(), out.c_str());
    return 1;
  }
  if (adapts) {
    check_adapts(*doc);
  } else {
    check_quick(*doc);
  }
  if (failures == 0) std::printf("goro-tour: all checks passed\n");
  return failures == 0 ? 0 : 1;
}
