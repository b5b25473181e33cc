// tools/tour/tour.hpp: the parent side of goro-tour.
//
// The tour runs six steps in order. Each step starts its measuring children
// (runner.hpp), prints a short section for people (unless --json), records
// its figures in the JSON document, and leaves what the final table needs
// in TableInputs. A step whose child fails says so and the tour goes on;
// the exit status is then 1.
#pragma once

#include "machine.hpp"
#include "runner.hpp"

#include <goro/json.hpp>

#include <cmath>
#include <cstdarg>
#include <string>

namespace tour {

struct Options {
  bool quick = false;   // small sizes, for tests
  bool json = false;    // only JSON on stdout
  long goroutines = 0;  // step 1's count, if given (--goroutines N)
};

// How big each step is.
struct Sizes {
  long goroutines = 0;         // step 1: parked goroutines
  long spawn_join = 0;         // step 1: spawn+join one at a time
  bool join_parked = false;    // step 1: wake and join them before exiting
  long deep_mb = 0;            // step 2
  long items = 0;              // step 4
  long threads = 0;            // step 5: parked threads
  long thread_spawn_join = 0;  // step 5: start+join one at a time
};

Sizes sizes_for(const Options& opt);

// What the final table (step 6) shows for the runtimes measured now.
struct TableInputs {
  double goro_bytes = NAN;     // per parked goroutine
  double goro_reserved = NAN;  // address space per goroutine
  double goro_start_ns = NAN;
  double goroutines = NAN;  // how many were parked
  double goro_growth_ms_per_mb = NAN;
  double goro_max_stack = NAN;  // default ceiling
  long deep_mb = 0;
  double thread_bytes = NAN;  // per blocked thread
  double thread_stack = NAN;  // default thread stack
  double thread_start_ns = NAN;
  double threads = NAN;  // how many were blocked
};

struct Tour {
  Options opt;
  Sizes size;
  Machine machine;
  Runner runner;
  goro::json::object doc;  // the --json document, step by step
  TableInputs table;
  bool failed = false;

  // printf to stdout, unless --json.
  [[gnu::format(printf, 2, 3)]] void say(const char* fmt, ...) const;
  // Runs a child step, then check()s it.
  StepOutput run(const std::string& label, const std::string& step, const std::vector<long>& args);
  // Relays what the child wrote on stderr (a sanitizer's report, say), and
  // reports a failure if it did not end well.
  void check(const StepOutput& out, const std::string& step);
};

void step_machine(Tour& t);
void step_park(Tour& t);
void step_deep(Tour& t);
void step_overflow(Tour& t);
void step_pool_vs_spawn(Tour& t);
void step_threads(Tour& t);
void step_table(Tour& t);

}  // namespace tour
