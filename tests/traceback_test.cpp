// Tests of SIGQUIT dumps and of GORO_TRACEBACK's levels: each runs a
// program in a child process (this binary again, with one scenario) and
// checks its stderr and exit status against Go's.
#include "helpers/child_report.hpp"
#include "helpers/test_util.hpp"

#include <goro/debug.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include "debug/debug.hpp"
#include "sched/goroutine.hpp"
#include "sched/park.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using goro_test::ChildResult;
using goro_test::run_child_scenario;

// Outside any namespace, with external linkage, so their names show in
// tracebacks as written here.
std::atomic<int> traceback_test_counter{0};

[[gnu::noinline]] void traceback_test_parked() {
  goro::sleep_for(1h);
  traceback_test_counter++;  // keeps the call above out of tail position
}

[[gnu::noinline]] void traceback_test_quit() {
  ::raise(SIGQUIT);
  traceback_test_counter++;  // not a tail call: this frame stays
}

[[gnu::noinline]] void traceback_test_spinning(std::atomic<bool>* started) {
  started->store(true);
  for (;;) {
    goro_test::spin_work(1000);
    traceback_test_counter.fetch_add(1, std::memory_order_relaxed);
  }
}

namespace {

// Two processors: one goroutine parked in traceback_test_parked, one
// spinning in traceback_test_spinning on the other worker, then `then`.
template <typename F>
void with_a_parked_and_a_running_goroutine(F then) {
  goro::set_maxprocs(2);
  goro::run([&] {
    goro::go(goro::spawn_options{.name = "parked"}, [] { traceback_test_parked(); });
    std::atomic<bool> started{false};
    goro::go(goro::spawn_options{.name = "spinner"}, [&] { traceback_test_spinning(&started); });
    while (!started) goro::sleep_for(1ms);
    goro::sleep_for(20ms);  // the parked one has parked
    then();
  });
}

[[noreturn]] void fail_fatally() {
  goro::detail::fatal_error("test: fatal on purpose");
}

// This binary's TracebackChild.Scenario run as `scenario` in a fresh process.
ChildResult run_scenario(const std::string& scenario, const std::vector<std::string>& env = {}) {
  return run_child_scenario("TracebackChild.Scenario", scenario, env);
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The lines of the goroutine block whose header contains `header`.
std::string block_of(const std::string& dump, const std::string& header) {
  std::size_t at = dump.find(header);
  if (at == std::string::npos) return {};
  std::size_t end = dump.find("\n\n", at);
  return dump.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

}  // namespace

// The programs the tests below run in a child process.
TEST(TracebackChild, Scenario) {
  const char* scenario = std::getenv("GORO_TEST_SCENARIO");
  if (scenario == nullptr) GTEST_SKIP() << "runs only as a child of the tests below";
  std::string s = scenario;
  if (s == "sigquit") with_a_parked_and_a_running_goroutine(traceback_test_quit);
  if (s == "own-sigquit-handler") {
    ::signal(SIGQUIT, [](int) { ::_exit(7); });
    goro::run([] { ::raise(SIGQUIT); });
  }
  if (s == "fatal") with_a_parked_and_a_running_goroutine(fail_fatally);
  if (s.rfind("fatal-", 0) == 0) {
    goro::set_traceback(s.substr(6));
    with_a_parked_and_a_running_goroutine(fail_fatally);
  }
  FAIL() << "scenario " << s << " returned";
}

TEST(TracebackSigquit, DumpsEveryGoroutineAndExitsWithStatus2) {
  ChildResult r = run_scenario("sigquit");
  EXPECT_TRUE(r.exited_with(2)) << r.status;
  EXPECT_EQ(r.err.rfind("SIGQUIT: quit\nPC=0x", 0), 0u) << r.err;
  EXPECT_TRUE(has(r.err, " sigcode=")) << r.err;
  EXPECT_TRUE(has(block_of(r.err, "goroutine 1 [running]:"), "traceback_test_quit")) << r.err;
  EXPECT_TRUE(has(block_of(r.err, "\"parked\" [sleep]:"), "traceback_test_parked")) << r.err;
}

TEST(TracebackSigquit, RunningGoroutinesOnOtherThreadsShowTheirFrames) {
  ChildResult r = run_scenario("sigquit");
  std::string spinner = block_of(r.err, "\"spinner\" [running]:");
  ASSERT_FALSE(spinner.empty()) << r.err;
  EXPECT_FALSE(has(spinner, "stack unavailable")) << r.err;
  EXPECT_TRUE(has(spinner, "traceback_test_spinning")) << r.err;
  EXPECT_TRUE(has(spinner, "created by ")) << r.err;
}

TEST(TracebackSigquit, AProgramsOwnHandlerWins) {
  ChildResult r = run_scenario("own-sigquit-handler");
  EXPECT_TRUE(r.exited_with(7)) << r.status << r.err;
}

TEST(TracebackLevel, NonePrintsOnlyTheHeadline) {
  ChildResult r = run_scenario("fatal-none");
  EXPECT_TRUE(r.exited_with(2)) << r.status;
  EXPECT_EQ(r.err, "fatal error: test: fatal on purpose\n");
}

TEST(TracebackLevel, SingleIsTheDefaultAndShowsOnlyTheFailingGoroutine) {
  ChildResult r = run_scenario("fatal");
  EXPECT_TRUE(r.exited_with(2)) << r.status;
  EXPECT_EQ(r.err.rfind("fatal error: test: fatal on purpose\n\ngoroutine 1 [running]:\n", 0), 0u) << r.err;
  EXPECT_FALSE(has(r.err, "\"parked\"")) << r.err;
  EXPECT_FALSE(has(r.err, "\"spinner\"")) << r.err;
}

TEST(TracebackLevel, AllShowsEveryGoroutine) {
  ChildResult r = run_scenario("fatal-all");
  EXPECT_TRUE(r.exited_with(2)) << r.status;
  EXPECT_TRUE(has(r.err, "goroutine 1 [running]:\n")) << r.err;
  EXPECT_TRUE(has(block_of(r.err, "\"parked\" [sleep]:"), "traceback_test_parked")) << r.err;
  EXPECT_TRUE(has(block_of(r.err, "\"spinner\" [running]:"), "traceback_test_spinning")) << r.err;
  EXPECT_FALSE(has(r.err, "goro_context_trampoline")) << "runtime frames are hidden below system\n" << r.err;
  EXPECT_FALSE(has(r.err, "goro::detail::switch_")) << "switch frames are hidden below system\n" << r.err;
}

TEST(TracebackLevel, EnvironmentVariableIsRead) {
  ChildResult r = run_scenario("fatal", {"GORO_TRACEBACK=all"});
  EXPECT_TRUE(r.exited_with(2)) << r.status;
  EXPECT_TRUE(has(r.err, "\"parked\" [sleep]:")) << r.err;
}

TEST(TracebackLevel, SystemShowsTheRuntimeEntryFrames) {
  ChildResult r = run_scenario("fatal-system");
  EXPECT_TRUE(r.exited_with(2)) << r.status;
  EXPECT_TRUE(has(block_of(r.err, "\"parked\" [sleep]:"), "goro_context_trampoline")) << r.err;
  EXPECT_TRUE(has(block_of(r.err, "\"parked\" [sleep]:"), "goro::detail::switch_")) << r.err;
}

TEST(TracebackLevel, CrashAbortsForACoreFile) {
  ChildResult r = run_scenario("fatal-crash");
  EXPECT_TRUE(r.killed_by(SIGABRT)) << r.status;
  EXPECT_TRUE(has(r.err, "fatal error: test: fatal on purpose\n")) << r.err;
  EXPECT_TRUE(has(r.err, "\"parked\" [sleep]:")) << r.err;
}

// Go's header shows how long a goroutine has waited, from a minute on, and
// whether it is locked to its thread.
TEST(TracebackDump, HeaderShowsLongWaitsAndLockedThreads) {
  std::string dump;
  goro::set_maxprocs(2);
  goro::run([&] {
    std::atomic<goro::detail::Goroutine*> waiter{nullptr};
    goro::go(goro::spawn_options{.name = "long-waiter"}, [&] {
      waiter = goro::detail::current_goroutine();
      traceback_test_parked();
    });
    goro::go(goro::spawn_options{.name = "locked"}, [] {
      goro::lock_os_thread();
      traceback_test_parked();
    });
    while (waiter.load() == nullptr) goro::sleep_for(1ms);
    goro::sleep_for(20ms);  // both have parked
    // As if it had parked three minutes ago.
    waiter.load()->run_start_coarse_ns -= std::int64_t{3} * 60 * 1000000000;
    dump = goro::dump_goroutines();
  });
  EXPECT_TRUE(has(dump, "\"long-waiter\" [sleep, 3 minutes]:\n")) << dump;
  EXPECT_TRUE(has(dump, "\"locked\" [sleep, locked to thread]:\n")) << dump;
}
