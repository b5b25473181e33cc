// Tests of source lines in tracebacks (src/debug/lines.cpp) and of walks
// through frames of code built without frame pointers (src/debug/
// traceback.cpp). Fatal reports run in a child process (this binary again,
// with one scenario), where lines come from the forked helper; dumps look
// them up in process. Each test checks that a user's frame is followed by
// "\t<this file>:<a line inside that function> +0x<offset>", as Go prints.
//
// Functions whose names a report must show have external linkage and are
// kept out of line and out of tail position, so each call is a real frame.
// The markers around them (kXxxFirst, kXxxLast) are their first and last
// lines.
#include "helpers/child_report.hpp"
#include "helpers/test_util.hpp"

#include <goro/chan.hpp>
#include <goro/debug.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>

#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using goro_test::ChildResult;
using goro_test::run_child_scenario;
using goro_test::split_lines;
using goro_test::starts_with;

// In tests/helpers/nodebug_module.cpp: built without DWARF and frame pointers.
extern "C" int goro_test_nodebug_call(int (*f)(void*), void* arg);

volatile bool source_lines_test_stop = false;  // never set: the recursion could end
std::atomic<int> source_lines_test_counter{0};

constexpr int kFormatFirst = __LINE__ + 1;
[[gnu::noinline]] int source_lines_test_format_recurse(int depth) {
  if (source_lines_test_stop) return 0;
  // snprintf of a double takes far more stack than this frame: the
  // overflow faults inside libc, built without frame pointers.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%d %f", depth, depth * 0.5);
  return source_lines_test_format_recurse(depth + 1) + buf[0];
}
constexpr int kFormatLast = __LINE__ - 1;

constexpr int kThrowerFirst = __LINE__ + 1;
[[gnu::noinline]] void source_lines_test_thrower() {
  throw std::runtime_error("thrown on purpose");
}
constexpr int kThrowerLast = __LINE__ - 1;

constexpr int kWaitFirst = __LINE__ + 1;
[[gnu::noinline]] int source_lines_test_wait(goro::chan<int>& c) {
  std::optional<int> v = c.recv();
  return v ? *v : 0;
}
constexpr int kWaitLast = __LINE__ - 1;

constexpr int kSleeperFirst = __LINE__ + 1;
[[gnu::noinline]] void source_lines_test_sleeper() {
  goro::sleep_for(1h);
  source_lines_test_counter++;  // keeps the call above out of tail position
}
constexpr int kSleeperLast = __LINE__ - 1;

constexpr int kCallbackFirst = __LINE__ + 1;
[[gnu::noinline]] int source_lines_test_callback(void*) {
  goro::sleep_for(1h);
  return source_lines_test_counter++;
}
constexpr int kCallbackLast = __LINE__ - 1;

constexpr int kThroughFirst = __LINE__ + 1;
[[gnu::noinline]] void source_lines_test_through_nodebug() {
  goro_test_nodebug_call(&source_lines_test_callback, nullptr);
  source_lines_test_counter++;
}
constexpr int kThroughLast = __LINE__ - 1;

namespace {

// This binary's SourceLinesChild.Scenario run as `scenario` in a fresh process.
ChildResult run_scenario(const std::string& scenario) {
  return run_child_scenario("SourceLinesChild.Scenario", scenario);
}

// The line number of "\t<this file>:<line> +0x<hex>", or 0 if `location`
// is not such a line.
int line_in_this_file(const std::string& location) {
  const std::string prefix = std::string("\t") + __FILE__ + ":";
  if (!starts_with(location, prefix)) return 0;
  int line = 0;
  const char* begin = location.data() + prefix.size();
  const char* end = location.data() + location.size();
  auto [rest, ec] = std::from_chars(begin, end, line);
  if (ec != std::errc() || std::string(rest, end).rfind(" +0x", 0) != 0) return 0;
  return line;
}

// Index of the first line of `lines` that starts with `function`, from
// `from` on; lines.size() if none.
std::size_t find_frame(const std::vector<std::string>& lines, const std::string& function,
                       std::size_t from = 0) {
  for (std::size_t i = from; i < lines.size(); ++i)
    if (starts_with(lines[i], function)) return i;
  return lines.size();
}

// Whether the report has the frame `function` with a location line in this
// file between `first` and `last`.
::testing::AssertionResult has_frame_with_line(const std::string& report, const std::string& function,
                                               int first, int last) {
  std::vector<std::string> lines = split_lines(report);
  std::size_t at = find_frame(lines, function);
  if (at + 1 >= lines.size()) return ::testing::AssertionFailure() << "no frame " << function;
  int line = line_in_this_file(lines[at + 1]);
  if (line < first || line > last)
    return ::testing::AssertionFailure()
           << function << " is followed by \"" << lines[at + 1] << "\", not \"\t" << __FILE__ << ":" << first
           << ".." << last << " +0x...\"";
  return ::testing::AssertionSuccess();
}

// The lines of the goroutine block whose header contains `header_part`.
std::vector<std::string> goroutine_block(const std::string& dump, const std::string& header_part) {
  std::vector<std::string> all = split_lines(dump), block;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!starts_with(all[i], "goroutine ") || all[i].find(header_part) == std::string::npos) continue;
    for (std::size_t j = i; j < all.size() && !all[j].empty(); ++j) block.push_back(all[j]);
    break;
  }
  return block;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

// Waits (in a goroutine) until the dump shows `needle`; returns the dump.
std::string dump_once_it_shows(const std::string& needle) {
  std::string dump;
  for (int i = 0; i < 5000; ++i) {
    dump = goro::dump_goroutines();
    if (dump.find(needle) != std::string::npos) break;
    goro::sleep_for(1ms);
  }
  return dump;
}

// Makes every fork-like clone (flags SIGCHLD alone: what fork and the
// report's helper use, unlike pthread_create's) fail with EAGAIN, as it
// does when the process may not have more children. Threads still start.
bool forbid_fork() {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SIGCHLD, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EAGAIN),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) == 0;
}

}  // namespace

// The programs the fatal-report tests below run in a child process.
TEST(SourceLinesChild, Scenario) {
  const char* scenario = std::getenv("GORO_TEST_SCENARIO");
  if (scenario == nullptr) GTEST_SKIP() << "runs only as a child of the tests below";
  std::string s = scenario;
  if (s == "libc-overflow") {
    goro::run([] {
      goro::go([] { source_lines_test_format_recurse(0); });
      goro::sleep_for(60s);
    });
  }
  if (s == "libc-overflow-main") goro::run([] { source_lines_test_format_recurse(0); });
  if (s == "panic") {
    goro::run([] {
      goro::go([] { source_lines_test_thrower(); });
      goro::sleep_for(60s);
    });
  }
  if (s == "panic-without-helper") {
    if (!forbid_fork()) {
      std::fprintf(stderr, "seccomp unavailable\n");
      std::_Exit(3);
    }
    goro::run([] {
      goro::go([] { source_lines_test_thrower(); });
      goro::sleep_for(60s);
    });
  }
  if (s == "deadlock") {
    goro::run([] {
      goro::chan<int> c;
      source_lines_test_wait(c);
    });
  }
  FAIL() << "scenario " << s << " returned";
}

// Under ThreadSanitizer a report from a signal handler neither demangles
// nor asks the helper for lines (TSan reports every allocation there): the
// frame shows its raw name and "module+offset".
const std::string kRecurseName =
    goro_test::kTsan ? "_Z32source_lines_test_format_recursei" : "source_lines_test_format_recurse(int)";

::testing::AssertionResult has_recursion_frame(const std::string& report) {
  if (!goro_test::kTsan) return has_frame_with_line(report, kRecurseName, kFormatFirst, kFormatLast);
  std::vector<std::string> lines = split_lines(report);
  std::size_t at = find_frame(lines, kRecurseName);
  if (at + 1 < lines.size() && lines[at + 1].find("goro_source_lines_test+0x") != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no frame " << kRecurseName << " with module+offset";
}

TEST(SourceLines, OverflowInsideLibcShowsTheRecursiveFunctionWithItsLine) {
  ChildResult r = run_scenario("libc-overflow");
  EXPECT_TRUE(r.exited_with(2)) << r.err;
  EXPECT_NE(r.err.find("fatal error: stack overflow"), std::string::npos) << r.err;
  EXPECT_TRUE(has_recursion_frame(r.err)) << r.err;
  // Many frames of it, not just the one that called into libc.
  std::vector<std::string> lines = split_lines(r.err);
  std::size_t first = find_frame(lines, kRecurseName);
  std::size_t second = find_frame(lines, kRecurseName, first + 1);
  EXPECT_LT(second, lines.size()) << r.err;
}

TEST(SourceLines, OverflowInsideLibcOnTheMainGoroutine) {
  ChildResult r = run_scenario("libc-overflow-main");
  EXPECT_TRUE(r.exited_with(2)) << r.err;
  EXPECT_NE(r.err.find("goroutine 1 "), std::string::npos) << r.err;
  EXPECT_TRUE(has_recursion_frame(r.err)) << r.err;
}

TEST(SourceLines, PanicShowsTheThrowingFunctionWithItsLine) {
  ChildResult r = run_scenario("panic");
  EXPECT_TRUE(r.exited_with(2)) << r.err;
  EXPECT_NE(r.err.find("panic: std::runtime_error: thrown on purpose"), std::string::npos) << r.err;
  EXPECT_TRUE(has_frame_with_line(r.err, "source_lines_test_thrower()", kThrowerFirst, kThrowerLast))
      << r.err;
}

TEST(SourceLines, ReportWithoutItsHelperShowsModuleAndOffset) {
  // The report cannot start its helper process: it still prints every
  // frame, with "module+offset" locations.
  ChildResult r = run_scenario("panic-without-helper");
  if (r.exited_with(3)) GTEST_SKIP() << "seccomp filters are not available here: " << r.err;
  EXPECT_TRUE(r.exited_with(2)) << r.err;
  EXPECT_NE(r.err.find("panic: std::runtime_error: thrown on purpose"), std::string::npos) << r.err;
  std::vector<std::string> lines = split_lines(r.err);
  std::size_t at = find_frame(lines, "source_lines_test_thrower()");
  ASSERT_LT(at + 1, lines.size()) << r.err;
  EXPECT_TRUE(starts_with(lines[at + 1], "\t/")) << r.err;
  EXPECT_NE(lines[at + 1].find("goro_source_lines_test+0x"), std::string::npos) << r.err;
  EXPECT_NE(lines[at + 1].find(" +0x"), std::string::npos) << r.err;
}

TEST(SourceLines, DeadlockDumpStartsAtTheUsersFrame) {
  ChildResult r = run_scenario("deadlock");
  EXPECT_TRUE(r.exited_with(2)) << r.err;
  std::vector<std::string> block = goroutine_block(r.err, "[chan receive]:");
  ASSERT_GE(block.size(), 3u) << r.err;
  // As Go's starts at main.main rather than at gopark and chanrecv: no
  // runtime frame (goro::detail) on top; the channel's own receive, where
  // the compiler kept it as a function, then the user's function.
  EXPECT_FALSE(starts_with(block[1], "goro::detail::")) << r.err;
  std::size_t user = starts_with(block[1], "goro::chan<int>::recv") ? 3 : 1;
  ASSERT_GT(block.size(), user + 1) << r.err;
  EXPECT_TRUE(starts_with(block[user], "source_lines_test_wait(")) << r.err;
  int line = line_in_this_file(block[user + 1]);
  EXPECT_TRUE(line >= kWaitFirst && line <= kWaitLast) << r.err;
}

TEST(SourceLines, DumpShowsTheLinesOfAParkedGoroutine) {
  std::string dump;
  goro::run([&] {
    goro::go(goro::spawn_options{.name = "sleeper"}, [] { source_lines_test_sleeper(); });
    dump = dump_once_it_shows("source_lines_test_sleeper");
  });
  std::vector<std::string> block = goroutine_block(dump, "\"sleeper\"");
  EXPECT_TRUE(has_frame_with_line(join(block), "source_lines_test_sleeper()", kSleeperFirst, kSleeperLast))
      << dump;
  // "created by" names where the goroutine was started: this test.
  std::size_t created = find_frame(block, "created by ");
  ASSERT_LT(created + 1, block.size()) << dump;
  EXPECT_GT(line_in_this_file(block[created + 1]), kThroughLast) << dump;
}

TEST(SourceLines, ModuleWithoutDebugInfoShowsModuleAndOffset) {
  std::string dump;
  goro::run([&] {
    goro::go(goro::spawn_options{.name = "through"}, [] { source_lines_test_through_nodebug(); });
    dump = dump_once_it_shows("source_lines_test_callback");
  });
  std::vector<std::string> block = goroutine_block(dump, "\"through\"");
  std::string text = join(block);
  EXPECT_TRUE(has_frame_with_line(text, "source_lines_test_callback(void*)", kCallbackFirst, kCallbackLast))
      << dump;
  // The library's frame: its exported name and "module+offset +offset".
  std::size_t lib = find_frame(block, "goro_test_nodebug_call");
  ASSERT_LT(lib + 1, block.size()) << dump;
  EXPECT_TRUE(starts_with(block[lib + 1], "\t/")) << dump;
  EXPECT_NE(block[lib + 1].find("libgoro_test_nodebug.so+0x"), std::string::npos) << dump;
  EXPECT_NE(block[lib + 1].find(" +0x"), std::string::npos) << dump;
  // The walk goes on above it, to the function that called into it.
  std::size_t caller = find_frame(block, "source_lines_test_through_nodebug()", lib);
  ASSERT_LT(caller + 1, block.size()) << dump;
  int line = line_in_this_file(block[caller + 1]);
  EXPECT_TRUE(line >= kThroughFirst && line <= kThroughLast) << dump;
}
