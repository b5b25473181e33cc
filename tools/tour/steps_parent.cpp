// tools/tour/steps_parent.cpp: the six steps of the tour, as the parent
// runs and shows them (tour.hpp). The measuring happens in children
// (steps_goro.cpp, steps_thread.cpp); here each step picks its sizes, runs
// them, prints its section and records its figures for --json.
#include "format.hpp"
#include "tour.hpp"

#include <goro/compact.hpp>
#include <goro/stack.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <utility>
#include <vector>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define TOUR_TSAN 1
#define TOUR_SANITIZER "thread"
#elif defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define TOUR_SANITIZER "address"
#endif

namespace tour {
namespace json = goro::json;

namespace {

// A stack guard below each goroutine slot (src/stack): the slot is the
// ceiling plus this.
constexpr long kGuardBytes = 16 * 1024;
// What a parked goroutine costs, for planning only (step 1 measures it):
// one stack page and its share of page table, rounded up.
constexpr long kPlannedGoroutineBytes = 5000;
constexpr long kMiB = 1 << 20;
// Where the tour breaks long lines of text it did not lay out itself.
constexpr std::size_t kLineWidth = 104;

json::value number(double v) {
  return std::isfinite(v) ? json::value(v) : json::value(nullptr);
}

json::value reasons_json(const Plan& plan) {
  json::array a;
  for (const auto& r : plan.reasons) a.emplace_back(r);
  return a;
}

void say_plan(const Tour& t, const Plan& plan, const char* what) {
  if (plan.count == plan.requested) return;
  t.say("   scaled down from %s to %s %s:\n", commas(plan.requested).c_str(), commas(plan.count).c_str(),
        what);
  for (const auto& r : plan.reasons) t.say("     - %s\n", wrap(r, "       ", kLineWidth).c_str());
}

// The lines of `text`, without their newlines.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

void Tour::say(const char* fmt, ...) const {
  if (opt.json) return;
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::fflush(stdout);
}

StepOutput Tour::run(const std::string& label, const std::string& step, const std::vector<long>& args) {
  StepOutput out = runner.run(label, step, args);
  check(out, step);
  return out;
}

void Tour::check(const StepOutput& out, const std::string& step) {
  const bool expected_crash = step == "overflow";
  if (!expected_crash && !out.err.empty()) {
    std::fprintf(stderr, "goro-tour: the %s step wrote to stderr:\n%s", step.c_str(), out.err.c_str());
    if (out.err.back() != '\n') std::fputc('\n', stderr);
  }
  if (!expected_crash && !out.ok()) {
    failed = true;
    say("   FAILED: the %s child ended with %s\n", step.c_str(), out.how_it_ended().c_str());
  }
}

Sizes sizes_for(const Options& opt) {
  Sizes s;
  if (opt.quick) {
#if defined(GORO_SANITIZER)
    // Small enough for the sanitizer builds of the test: TSan keeps a few
    // hundred KiB of state per goroutine (a fiber, to TSan), and under ASan
    // a goroutine's spawn and join took about 100 us on the reference
    // machine (against 0.2-0.4 us without).
    s = {2000, 1000, true, 2, 20'000, 50, 50};
#else
    s = {10'000, 10'000, true, 4, 200'000, 100, 100};
#endif
  } else {
    s = {1'000'000, 200'000, false, 64, 10'000'000, 10'000, 2'000};
#if defined(TOUR_TSAN)
    // TSan's shadow call stack holds 64Ki frames per fiber; 64 MB of 1 KiB
    // frames would overflow it before the goroutine's own limit.
    s.deep_mb = 32;
#endif
  }
  if (opt.goroutines > 0) s.goroutines = opt.goroutines;
  return s;
}

// ---- the machine --------------------------------------------------------------

void step_machine(Tour& t) {
  const Machine& m = t.machine;
  t.say("goro tour: what the reference text claims about goroutine stacks, measured on this machine%s\n",
        t.opt.quick ? " (--quick: small sizes)" : "");
  t.say("machine: %d CPUs, Linux %s, %s of memory (%s available)\n", m.cpus, m.kernel.c_str(),
        bytes_text(static_cast<double>(m.mem_total)).c_str(),
        bytes_text(static_cast<double>(m.mem_available)).c_str());
  t.say("stack guards: %s; vm.max_map_count %s\n", guard_description(m).c_str(),
        commas(m.max_map_count).c_str());
#if defined(TOUR_SANITIZER)
  t.say("built with the %s sanitizer: every figure includes its overhead\n", TOUR_SANITIZER);
  const json::value sanitizer = TOUR_SANITIZER;
#else
  const json::value sanitizer = nullptr;
#endif
  t.say("\n");
  t.doc.emplace_back("machine", json::object{
                                    {"cpus", m.cpus},
                                    {"kernel", m.kernel},
                                    {"mem_total_bytes", m.mem_total},
                                    {"mem_available_bytes", m.mem_available},
                                    {"guard", m.guard_install ? "MADV_GUARD_INSTALL" : "mprotect"},
                                    {"max_map_count", m.max_map_count},
                                    {"threads_max", m.threads_max},
                                    {"sanitizer", sanitizer},
                                });
}

// ---- 1. parked goroutines ---------------------------------------------------------

namespace {

// Runs the park child. If the kernel killed it (out of memory: this machine
// had less room than the plan estimated, or something else took it
// meanwhile), halves the count and tries again, saying why.
StepOutput park_with_retries(Tour& t, Plan& plan, const char* step, const std::string& what) {
  constexpr long kSmallest = 1000;
  for (;;) {
    StepOutput out = t.runner.run("starting " + commas(plan.count) + " " + what, step,
                                  {plan.count, t.size.join_parked ? 1 : 0});
    if (out.signal != SIGKILL || plan.count / 2 < kSmallest) {
      t.check(out, step);
      return out;
    }
    const std::string why = "the kernel killed the child that started " + commas(plan.count) +
                            " goroutines (out of memory?), so the tour tried half as many";
    t.say("   %s\n", wrap(why, "   ", kLineWidth).c_str());
    plan.reasons.push_back(why);
    plan.count /= 2;
  }
}

}  // namespace

void step_park(Tour& t) {
  const long slot = static_cast<long>(goro::max_stack()) + kGuardBytes;
  Plan plan = plan_goroutines(t.machine, t.size.goroutines, kPlannedGoroutineBytes, slot);
  t.say("1. %s parked goroutines (the reference: a goroutine starts at 2 KB, so one per task is cheap)\n",
        plan.requested == 1'000'000 ? "A million" : commas(plan.requested).c_str());
  say_plan(t, plan, "goroutines");
  const StepOutput park = park_with_retries(t, plan, "park", "goroutines");
  Plan compact_plan = plan;
  StepOutput compact;
  if (goro::compaction_supported())
    compact = park_with_retries(t, compact_plan, "park-compact", "compacting goroutines");
  const StepOutput spawn = t.run("spawn and join", "spawn", {t.size.spawn_join});
  const double n = park.num("goroutines");
  if (park.has("stopped_by")) {
    t.say("   stopped at %s goroutines: %s\n", commas(n).c_str(),
          wrap(park.text("stopped_by"), "   ", kLineWidth).c_str());
  }
  if (park.has("bytes_per_goroutine")) {
    t.say("   started %s goroutines, each parked on a wait_group, in %s s (%s ns each, %s processors)\n",
          commas(n).c_str(), seconds_text(park.num("start_s")).c_str(),
          commas(park.num("start_ns_per_goroutine")).c_str(), commas(park.num("maxprocs")).c_str());
    t.say("   memory: %s bytes per parked goroutine (VmRSS + VmPTE), %s for all of them\n",
          commas(park.num("bytes_per_goroutine")).c_str(), bytes_text(park.num("resident_bytes")).c_str());
    t.say("   their stacks: %s resident (stack_inuse), %s of address space reserved\n",
          bytes_text(park.num("stack_inuse_bytes")).c_str(),
          bytes_text(park.num("stack_reserved_bytes")).c_str());
    t.say(
        "   (a goro stack commits whole 4 KiB pages and never moves; Go's 2 KB stacks are copied to grow,\n"
        "   which C++ code holding pointers into its stack would not survive)\n");
  }
  if (compact.has("bytes_per_goroutine")) {
    t.say(
        "   compact mode (spawn_options::compact_after = 1 ms; nothing may point into a parked stack):\n"
        "   %s bytes per parked goroutine once its used bytes were copied to the heap and its page given\n"
        "   back (%s of %s compacted %s s after the last one parked)\n",
        commas(compact.num("bytes_per_goroutine")).c_str(), commas(compact.num("compacted")).c_str(),
        commas(compact.num("goroutines")).c_str(), seconds_text(compact.num("compact_wait_s")).c_str());
  } else if (!goro::compaction_supported()) {
    t.say("   compact mode: not available here (it needs MADV_GUARD_INSTALL, Linux 6.13 or later)\n");
  }
  if (spawn.has("spawn_join_ns")) {
    t.say("   spawn a goroutine and wait for it, one at a time: %s ns (%s times)\n",
          commas(spawn.num("spawn_join_ns")).c_str(), commas(spawn.num("spawn_join_count")).c_str());
  }
  t.say("\n");
  t.table.goro_bytes = park.num("bytes_per_goroutine");
  t.table.goro_reserved = static_cast<double>(slot);
  t.table.goro_start_ns = park.num("start_ns_per_goroutine");
  t.table.goroutines = n;
  t.doc.emplace_back(
      "park", json::object{
                  {"ok", park.ok()},
                  {"requested", plan.requested},
                  {"planned", plan.count},
                  {"scaled_down_because", reasons_json(plan)},
                  {"stopped_by", park.has("stopped_by") ? json::value(park.text("stopped_by")) : nullptr},
                  {"goroutines", number(n)},
                  {"bytes_per_goroutine", number(park.num("bytes_per_goroutine"))},
                  {"start_seconds", number(park.num("start_s"))},
                  {"start_ns_per_goroutine", number(park.num("start_ns_per_goroutine"))},
                  {"stack_inuse_bytes", number(park.num("stack_inuse_bytes"))},
                  {"stack_reserved_bytes", number(park.num("stack_reserved_bytes"))},
                  {"maxprocs", number(park.num("maxprocs"))},
                  {"spawn_join_ns", number(spawn.num("spawn_join_ns"))},
                  {"spawn_join_count", number(spawn.num("spawn_join_count"))},
                  {"compact_goroutines", number(compact.num("goroutines"))},
                  {"compact_bytes_per_goroutine", number(compact.num("bytes_per_goroutine"))},
                  {"compacted", number(compact.num("compacted"))},
                  {"compact_wait_seconds", number(compact.num("compact_wait_s"))},
              });
}

// ---- 2. deep recursion ------------------------------------------------------------

void step_deep(Tour& t) {
  const long mb = t.size.deep_mb;
  t.say(
      "2. One goroutine recursing %ld MB deep and back (its stack grows in place, page by page; nothing is "
      "copied)\n",
      mb);
  const StepOutput deep = t.run("recursing " + std::to_string(mb) + " MB deep", "deep", {mb});
  if (deep.has("first_ms_per_mb")) {
    t.say(
        "   growing: %s ms per MB the first time down (%s ns per new 4 KiB page, the recursion\n"
        "   itself subtracted); %s ms per MB the second time, when the pages are already there\n",
        fixed(deep.num("first_ms_per_mb"), 2).c_str(), commas(deep.num("growth_ns_per_page")).c_str(),
        fixed(deep.num("second_ms_per_mb"), 3).c_str());
    t.say(
        "   resident goroutine stacks (stack_inuse): %s before, %s at %ld MB deep, %s after it parked for "
        "0.1 s\n",
        bytes_text(deep.num("resident_before_bytes")).c_str(),
        bytes_text(deep.num("resident_peak_bytes")).c_str(), mb,
        bytes_text(deep.num("resident_after_park_bytes")).c_str());
    const double given_back = deep.num("resident_peak_bytes") - deep.num("resident_after_park_bytes");
    if (deep.num("shrinks") > 0) {
      t.say("   (the shrink of the parked goroutine gave %s back to the system)\n",
            bytes_text(given_back).c_str());
    } else {
      t.say("   (the runtime did not shrink it: it looks only at goroutines that ran 8 ms or more)\n");
    }
  }
  t.say("\n");
  t.table.goro_growth_ms_per_mb = deep.num("first_ms_per_mb");
  t.table.goro_max_stack = deep.num("max_stack_bytes");
  t.table.deep_mb = mb;
  t.doc.emplace_back("deep", json::object{
                                 {"ok", deep.ok()},
                                 {"depth_mb", mb},
                                 {"first_ms_per_mb", number(deep.num("first_ms_per_mb"))},
                                 {"second_ms_per_mb", number(deep.num("second_ms_per_mb"))},
                                 {"growth_ms_per_mb", number(deep.num("growth_ms_per_mb"))},
                                 {"growth_ns_per_page", number(deep.num("growth_ns_per_page"))},
                                 {"resident_before_bytes", number(deep.num("resident_before_bytes"))},
                                 {"resident_peak_bytes", number(deep.num("resident_peak_bytes"))},
                                 {"resident_after_park_bytes", number(deep.num("resident_after_park_bytes"))},
                                 {"shrinks", number(deep.num("shrinks"))},
                                 {"default_max_stack_bytes", number(deep.num("max_stack_bytes"))},
                             });
}

// ---- 3. stack overflow --------------------------------------------------------------

void step_overflow(Tour& t) {
  constexpr std::size_t kShownLines = 8;
  t.say("3. A stack overflow, in a child process (a goroutine with a 256 KiB limit recursing without end)\n");
  const StepOutput child = t.run("overflowing", "overflow", {});
  const std::vector<std::string> lines = lines_of(child.err);
  const bool reported = child.err.find("fatal error: stack overflow") != std::string::npos;
  const bool as_expected = child.exit_code == 2 && reported;
  t.say("   the child printed on stderr:\n");
  for (std::size_t i = 0; i < std::min(lines.size(), kShownLines); ++i) {
    t.say("   |%s%s\n", lines[i].empty() ? "" : " ", lines[i].c_str());
  }
  if (lines.size() > kShownLines) t.say("   | ... (%zu more lines)\n", lines.size() - kShownLines);
  t.say("   it ended with %s%s; the tour kept running\n\n", child.how_it_ended().c_str(),
        as_expected ? " (Go's status for a fatal error)" : ", NOT the expected status 2 with a report");
  if (!as_expected) t.failed = true;
  json::array head;
  for (std::size_t i = 0; i < std::min(lines.size(), kShownLines); ++i) head.emplace_back(lines[i]);
  t.doc.emplace_back("overflow", json::object{
                                     {"ok", as_expected},
                                     {"exit_status", child.signal != 0 ? json::value(nullptr)
                                                                       : json::value(child.exit_code)},
                                     {"signal", child.signal},
                                     {"reported", reported},
                                     {"report_head", std::move(head)},
                                     {"report_lines", static_cast<long>(lines.size())},
                                     {"parent_continued", true},
                                 });
}

// ---- 4. worker pool against a goroutine per item --------------------------------------

void step_pool_vs_spawn(Tour& t) {
  const long n = t.size.items;
  t.say("4. %s items: a goroutine per item against a worker pool (the reference's trade-off)\n",
        n == 10'000'000 ? "Ten million" : commas(n).c_str());
  const StepOutput pool = t.run("worker pool", "pool", {n});
  const StepOutput spawn = t.run("goroutine per item", "per-task", {n});
  if (pool.has("seconds")) {
    t.say("   worker pool (%s workers):  %s s, %s ns per item, peak memory %s (the process's peak RSS)\n",
          commas(pool.num("workers")).c_str(), seconds_text(pool.num("seconds")).c_str(),
          commas(pool.num("ns_per_item")).c_str(),
          bytes_text(static_cast<double>(pool.peak_rss_bytes)).c_str());
  }
  if (spawn.has("seconds")) {
    t.say("   goroutine per item:       %s s, %s ns per item, peak memory %s; at most %s alive at once\n",
          seconds_text(spawn.num("seconds")).c_str(), commas(spawn.num("ns_per_item")).c_str(),
          bytes_text(static_cast<double>(spawn.peak_rss_bytes)).c_str(),
          commas(spawn.num("peak_alive")).c_str());
    t.say(
        "   (a plain loop of go(): goro does not preempt, but go() yields the loop whenever its\n"
        "   processor's queue fills, as Go's scheduler would preempt it)\n");
  }
  const double all_at_once = static_cast<double>(n) * t.table.goro_bytes;
  if (std::isfinite(all_at_once)) {
    t.say("   had all %s been alive at once: about %s (%s x %s B from step 1; computed, not run)\n",
          commas(n).c_str(), bytes_text(all_at_once).c_str(), commas(n).c_str(),
          commas(t.table.goro_bytes).c_str());
  }
  t.say("\n");
  auto figures = [](const StepOutput& s) {
    return json::object{
        {"ok", s.ok()},
        {"seconds", number(s.num("seconds"))},
        {"ns_per_item", number(s.num("ns_per_item"))},
        {"peak_rss_bytes", s.peak_rss_bytes},
    };
  };
  json::object spawn_json = figures(spawn);
  spawn_json.emplace_back("peak_alive", number(spawn.num("peak_alive")));
  json::object pool_json = figures(pool);
  pool_json.emplace_back("workers", number(pool.num("workers")));
  t.doc.emplace_back("pool_vs_spawn", json::object{
                                          {"items", n},
                                          {"pool", std::move(pool_json)},
                                          {"per_task", std::move(spawn_json)},
                                          {"all_alive_estimate_bytes", number(all_at_once)},
                                      });
}

// ---- 5. std::thread -------------------------------------------------------------------

void step_threads(Tour& t) {
  const long stack = 8 * kMiB;  // for planning; the child reports the real default
  const Plan plan = plan_threads(t.machine, t.size.threads, stack);
  t.say("5. The same for std::thread: %s threads\n", commas(plan.count).c_str());
  t.say(
      "   (a million would reserve %s of address space for their stacks and need a million kernel\n"
      "   tasks; kernel.threads-max is %s here)\n",
      bytes_text(1e6 * static_cast<double>(stack)).c_str(), commas(t.machine.threads_max).c_str());
  say_plan(t, plan, "threads");
  const StepOutput th =
      t.run("starting " + commas(plan.count) + " threads", "threads", {plan.count, t.size.thread_spawn_join});
  if (th.has("stopped_by")) {
    t.say("   stopped at %s threads: %s\n", commas(th.num("threads")).c_str(),
          wrap(th.text("stopped_by"), "   ", kLineWidth).c_str());
  }
  if (th.has("bytes_per_thread")) {
    t.say("   started %s threads, each blocked on a condition variable, in %s s (%s ns each)\n",
          commas(th.num("threads")).c_str(), seconds_text(th.num("start_s")).c_str(),
          commas(th.num("start_ns_per_thread")).c_str());
    t.say(
        "   memory: %s bytes per blocked thread (VmRSS + VmPTE; not counting the kernel's own memory\n"
        "   per thread), and a stack of %s reserved for each\n",
        commas(th.num("bytes_per_thread")).c_str(), bytes_text(th.num("stack_bytes")).c_str());
    t.say("   start a thread and join it, one at a time: %s ns (%s times)\n",
          commas(th.num("spawn_join_ns")).c_str(), commas(th.num("spawn_join_count")).c_str());
  }
  t.say("\n");
  t.table.thread_bytes = th.num("bytes_per_thread");
  t.table.thread_stack = th.num("stack_bytes");
  t.table.thread_start_ns = th.num("start_ns_per_thread");
  t.table.threads = th.num("threads");
  t.doc.emplace_back("threads", json::object{
                                    {"ok", th.ok()},
                                    {"requested", plan.requested},
                                    {"planned", plan.count},
                                    {"scaled_down_because", reasons_json(plan)},
                                    {"threads", number(th.num("threads"))},
                                    {"bytes_per_thread", number(th.num("bytes_per_thread"))},
                                    {"start_seconds", number(th.num("start_s"))},
                                    {"start_ns_per_thread", number(th.num("start_ns_per_thread"))},
                                    {"stack_bytes", number(th.num("stack_bytes"))},
                                    {"spawn_join_ns", number(th.num("spawn_join_ns"))},
                                    {"spawn_join_count", number(th.num("spawn_join_count"))},
                                });
}

}  // namespace tour
