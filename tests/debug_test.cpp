// Tests of the debug layer (src/debug): the Go-style fatal reports (stack
// overflow, unrecovered exception, fatal error) in death-test children, the
// hand-off of faults that are not goroutine overflows to the previous
// handler, and goroutine dumps.
//
// Death-test regexes are POSIX extended (gtest's regex on Linux): "." also
// matches newlines, and there is no \d.
//
// Functions whose names a report must show have external linkage, so they
// are in the dynamic symbol table (-rdynamic), and are kept out of line
// and out of tail position, so each call is a real frame.
#include "helpers/child_report.hpp"

#include "debug/debug.hpp"
#include "sched/park.hpp"
#include "stack/stack.hpp"

#include <goro/blocking.hpp>
#include <goro/debug.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/segment.hpp>
#include <goro/stack.hpp>
#include <goro/time.hpp>
#include <goro/wait_group.hpp>

#include <gtest/gtest.h>

#include <sys/mman.h>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define DEBUG_TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define DEBUG_TEST_TSAN 1
#endif

using namespace std::chrono_literals;
using goro_test::ends_with;
using goro_test::split_lines;
using goro_test::starts_with;

// ---- functions that must show up in reports (external linkage) ------------

// Never set: it only tells the compiler that the recursion could end.
volatile bool debug_test_stop_recursion = false;

[[gnu::noinline]] int debug_test_recurse(int depth) {
  if (debug_test_stop_recursion) return 0;
  volatile char pad[64];
  pad[0] = static_cast<char>(depth);
  return debug_test_recurse(depth + 1) + pad[0];
}

[[gnu::noinline]] int debug_test_big_frame() {
  // One 64 KiB frame: with -fstack-clash-protection (exported by goro::goro)
  // its pages are probed one by one, so it hits the guard instead of
  // jumping over it. The array escapes (the asm statements), so the
  // compiler must really reserve all of it.
  char buf[64 * 1024];
  asm volatile("" : : "r"(buf) : "memory");
  buf[0] = 1;
  asm volatile("" : : "r"(buf) : "memory");
  return buf[0];
}

[[gnu::noinline]] void debug_test_thrower() {
  throw std::runtime_error("boom from a goroutine");
}

volatile int debug_test_sleeps = 0;

[[gnu::noinline]] void debug_test_sleeper() {
  goro::sleep_for(1h);
  debug_test_sleeps = debug_test_sleeps + 1;  // keeps the call above out of tail position
}

namespace {

void use_threadsafe_death_tests() {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
}

// A fault that is no stack overflow: a store to a page without access (not
// through a null pointer, which UBSan would catch before the fault).
void store_to_a_protected_page() {
  void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  *static_cast<volatile int*>(page) = 1;
}

// Keeps the main goroutine alive while a child goroutine brings the process
// down. Long enough to never be the reason a test ends.
void wait_for_the_crash() {
  goro::sleep_for(60s);
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

}  // namespace

// ---- stack overflow -----------------------------------------------------------

TEST(DebugOverflow, RecursionPrintsTheGoReport) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::go([] { debug_test_recurse(0); });
                wait_for_the_crash();
              }),
              testing::ExitedWithCode(2),
              "runtime: goroutine [0-9]+ stack exceeds [0-9]+-byte limit\n"
              "runtime: sp=0x[0-9a-f]+ stack=\\[0x[0-9a-f]+, 0x[0-9a-f]+\\]\n"
              "fatal error: stack overflow\n\n"
              "goroutine [0-9]+ \\[running\\]:\n"
              ".*debug_test_recurse.*"
              "[0-9]+ additional frames elided.*debug_test_recurse.*"
              "created by .*in goroutine 1\n");
}

TEST(DebugOverflow, OneLargeFrameIsReportedNotSilent) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::go(goro::spawn_options{.max_stack = 32 * 1024}, [] { debug_test_big_frame(); });
                wait_for_the_crash();
              }),
              testing::ExitedWithCode(2),
              "stack exceeds 32768-byte limit.*fatal error: stack overflow.*"
              "goroutine [0-9]+ \\[running\\]:.*debug_test_big_frame.*created by");
}

TEST(DebugOverflow, ShowsTheGoroutineName) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::go(goro::spawn_options{.name = "deep-worker"}, [] { debug_test_recurse(0); });
                wait_for_the_crash();
              }),
              testing::ExitedWithCode(2),
              "fatal error: stack overflow\n\ngoroutine [0-9]+ \"deep-worker\" \\[running\\]:");
}

TEST(DebugOverflow, InsideAStackSegmentNamesTheSegment) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::go([] {
                  // A red zone larger than the stack forces a 256 KiB segment.
                  goro::grow_if_needed(std::size_t{1} << 30, 256 * 1024, [] { debug_test_recurse(0); });
                });
                wait_for_the_crash();
              }),
              testing::ExitedWithCode(2),
              "stack exceeds 262144-byte limit\n.*\nruntime: in stack segment 1 of goroutine [0-9]+ "
              "\\(goro::grow_if_needed\\)\nfatal error: stack overflow");
}

TEST(DebugOverflow, SixtyFourMegabyteRecursionElidesTheMiddle) {
#if defined(DEBUG_TEST_TSAN)
  GTEST_SKIP() << "TSan's shadow call stack holds 64Ki frames per thread or fiber; a recursion of a "
                  "million frames overflows it inside TSan before it reaches the goroutine's guard";
#endif
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::go(goro::spawn_options{.max_stack = 64 << 20}, [] { debug_test_recurse(0); });
                wait_for_the_crash();
              }),
              testing::ExitedWithCode(2),
              "stack exceeds 67108864-byte limit.*fatal error: stack overflow.*"
              "[0-9][0-9][0-9][0-9][0-9]+ additional frames elided.*created by");
}

TEST(DebugOverflow, InTheMainGoroutine) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] { debug_test_recurse(0); }), testing::ExitedWithCode(2),
              "fatal error: stack overflow\n\ngoroutine 1 (\"main\" )?\\[running\\]:\n.*debug_test_recurse");
}

// ---- faults that are not ours ------------------------------------------------------

TEST(DebugChaining, FaultOutsideGoroutinesGoesToThePreviousHandler) {
  use_threadsafe_death_tests();
  auto fault_after_run = [] {
    goro::run([] {});  // installs the handlers
    store_to_a_protected_page();
  };
#if defined(DEBUG_TEST_ASAN)
  // ASan's SEGV handler was there first: it must be the one that reports.
  EXPECT_EXIT(fault_after_run(), testing::ExitedWithCode(1), "AddressSanitizer: SEGV");
#elif defined(DEBUG_TEST_TSAN)
  // TSan's deadly-signal handling takes over the default action.
  EXPECT_EXIT(fault_after_run(), testing::ExitedWithCode(66), "ThreadSanitizer: SEGV on unknown address");
#else
  EXPECT_EXIT(fault_after_run(), testing::KilledBySignal(SIGSEGV), "");
#endif
}

TEST(DebugChaining, OtherFaultInAGoroutineIsNotAnOverflow) {
  use_threadsafe_death_tests();
  auto fault_in_goroutine = [] { goro::run([] { store_to_a_protected_page(); }); };
#if defined(DEBUG_TEST_ASAN)
  EXPECT_EXIT(fault_in_goroutine(), testing::ExitedWithCode(1), "AddressSanitizer: SEGV");
#elif defined(DEBUG_TEST_TSAN)
  EXPECT_EXIT(fault_in_goroutine(), testing::ExitedWithCode(66), "ThreadSanitizer: SEGV on unknown address");
#else
  EXPECT_EXIT(fault_in_goroutine(), testing::KilledBySignal(SIGSEGV), "");
#endif
}

TEST(DebugChaining, ReadingAnotherStacksGuardIsNotAnOverflow) {
  use_threadsafe_death_tests();
  auto fault_in_foreign_guard = [] {
    goro::run([] {
      goro::detail::StackSpan other = goro::detail::stack_acquire(nullptr, goro::max_stack());
      (void)*reinterpret_cast<volatile const char*>(other.base - 1);
    });
  };
#if defined(DEBUG_TEST_ASAN)
  // The sanitizers call a fault near the stack pointer a stack overflow.
  EXPECT_EXIT(fault_in_foreign_guard(), testing::ExitedWithCode(1),
              "AddressSanitizer: (SEGV|stack-overflow) on");
#elif defined(DEBUG_TEST_TSAN)
  EXPECT_EXIT(fault_in_foreign_guard(), testing::ExitedWithCode(66),
              "ThreadSanitizer: (SEGV|stack-overflow) on");
#else
  EXPECT_EXIT(fault_in_foreign_guard(), testing::KilledBySignal(SIGSEGV), "");
#endif
}

// ---- unrecovered exceptions ---------------------------------------------------------

TEST(DebugPanic, ExceptionEscapingAGoroutinePrintsPanic) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::go([] { debug_test_thrower(); });
                wait_for_the_crash();
              }),
              testing::ExitedWithCode(2),
              "panic: std::runtime_error: boom from a goroutine\n\n"
              "goroutine [0-9]+ \\[running\\]:\n"
              "__cxa_throw\n.*debug_test_thrower.*created by .*in goroutine 1\n");
}

TEST(DebugPanic, NonStandardExceptionShowsItsType) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] { throw 42; }), testing::ExitedWithCode(2),
              "panic: int\n\ngoroutine 1 (\"main\" )?\\[running\\]:");
}

TEST(DebugPanic, TerminateOutsideGoroutinesIsUntouched) {
  use_threadsafe_death_tests();
  auto throw_after_run = [] {
    goro::run([] {});
    std::terminate();
  };
  EXPECT_EXIT(throw_after_run(), testing::KilledBySignal(SIGABRT), "");
}

// ---- fatal errors ---------------------------------------------------------------

TEST(DebugFatal, FromAGoroutinePrintsItsTraceback) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] { goro::detail::fatal_error("sync: negative WaitGroup counter"); }),
              testing::ExitedWithCode(2),
              "fatal error: sync: negative WaitGroup counter\n\n"
              "goroutine 1 (\"main\" )?\\[running\\]:\n"
              "goro::detail::fatal_error\\(char const\\*\\)\n");
}

TEST(DebugFatal, FromAPlainThreadPrintsEveryGoroutine) {
  use_threadsafe_death_tests();
  EXPECT_EXIT(goro::run([] {
                goro::go(goro::spawn_options{.name = "victim"}, [] { debug_test_sleeper(); });
                goro::sleep_for(50ms);  // let it park
                std::thread([] { goro::detail::fatal_error("test: from a plain thread"); }).join();
              }),
              testing::ExitedWithCode(2),
              "fatal error: test: from a plain thread\n.*"
              "goroutine [0-9]+ \"victim\" \\[sleep\\]:\n.*debug_test_sleeper.*created by");
}

// ---- dumps ------------------------------------------------------------------------
//
// Dumps are checked line by line with plain string operations (std::regex
// trips a false -Wmaybe-uninitialized in g++ 12 sanitizer builds).

namespace {

// The lines of the goroutine whose header line contains `header_part`,
// from its header to the blank line after it; empty if there is none.
std::vector<std::string> goroutine_block(const std::string& dump, const std::string& header_part) {
  std::vector<std::string> all = split_lines(dump), block;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!starts_with(all[i], "goroutine ") || all[i].find(header_part) == std::string::npos) continue;
    for (std::size_t j = i; j < all.size() && !all[j].empty(); ++j) block.push_back(all[j]);
    break;
  }
  return block;
}

// A frame's location line: "\t<module>+0x<hex> +0x<hex>".
bool is_location_line(const std::string& line) {
  return starts_with(line, "\t/") && line.find("+0x") != std::string::npos &&
         line.find(" +0x") != std::string::npos;
}

}  // namespace

TEST(DebugDump, ListsAParkedGoroutineWithItsWaitReason) {
  std::string reason = goro::detail::wait_reason_string(goro::detail::WaitReason::kSleep);
  std::string dump;
  goro::run([&] {
    goro::go(goro::spawn_options{.name = "sleeper"}, [] { debug_test_sleeper(); });
    dump = dump_once_it_shows("\"sleeper\" [" + reason + "]:");
  });
  // The caller first, running, its frames starting at the public function.
  std::vector<std::string> lines = split_lines(dump);
  ASSERT_GE(lines.size(), 3u) << dump;
  EXPECT_TRUE(starts_with(lines[0], "goroutine ") && ends_with(lines[0], "[running]:")) << dump;
  EXPECT_TRUE(starts_with(lines[1], "goro::dump_goroutines")) << dump;
  EXPECT_TRUE(is_location_line(lines[2])) << dump;

  std::vector<std::string> sleeper = goroutine_block(dump, "\"sleeper\" [" + reason + "]:");
  ASSERT_GE(sleeper.size(), 5u) << dump;
  bool found_function = false;
  for (std::size_t i = 1; i + 1 < sleeper.size(); ++i) {
    if (sleeper[i] == "debug_test_sleeper()") found_function = is_location_line(sleeper[i + 1]);
  }
  EXPECT_TRUE(found_function) << dump;
  // As Go's traceback of a parked goroutine starts at gopark, the frames
  // that switched it out are left out (GORO_TRACEBACK=system shows them).
  EXPECT_EQ(dump.find("goro::detail::switch_"), std::string::npos) << dump;
  const std::string& created_by = sleeper[sleeper.size() - 2];
  EXPECT_TRUE(starts_with(created_by, "created by ")) << dump;
  EXPECT_NE(created_by.find(" in goroutine "), std::string::npos) << dump;
  EXPECT_TRUE(is_location_line(sleeper.back())) << dump;
}

TEST(DebugDump, NotStartedGoroutineShowsItsFunction) {
  // One processor: the new goroutine waits in runnext while main runs.
  int previous = goro::set_maxprocs(1);
  std::string dump;
  auto start_one_and_dump = [&] {
    goro::go([] {});
    dump = goro::dump_goroutines();
  };
  // The first run's dump looks the frames' source lines up, which can take
  // longer than the scheduler lets a processor sit on one goroutine (a
  // spare processor then starts the new goroutine). The second run's
  // frames are the same, and its dump finds their lines known.
  goro::run(start_one_and_dump);
  goro::run(start_one_and_dump);
  goro::set_maxprocs(previous);
  std::vector<std::string> block = goroutine_block(dump, "[runnable]:");
  ASSERT_EQ(block.size(), 5u) << dump;
  EXPECT_TRUE(starts_with(block[1], "goro::detail::InlineClosure<")) << dump;
  EXPECT_TRUE(ends_with(block[1], ">::invoke(void*)")) << dump;
  EXPECT_TRUE(starts_with(block[3], "created by ")) << dump;
  EXPECT_NE(block[3].find("NotStartedGoroutineShowsItsFunction"), std::string::npos) << dump;
}

TEST(DebugDump, PrintToFileAndStream) {
  std::string from_stream;
  std::string from_file;
  goro::run([&] {
    std::ostringstream os;
    goro::print_goroutines(os);
    from_stream = os.str();
    std::FILE* f = std::tmpfile();
    ASSERT_NE(f, nullptr);
    goro::print_goroutines(f);
    std::rewind(f);
    char buf[4096];
    std::size_t n = std::fread(buf, 1, sizeof buf, f);
    from_file.assign(buf, n);
    std::fclose(f);
  });
  for (const std::string& dump : {from_stream, from_file}) {
    std::vector<std::string> lines = split_lines(dump);
    ASSERT_GE(lines.size(), 2u) << dump;
    EXPECT_TRUE(ends_with(lines[0], "[running]:")) << dump;
    EXPECT_TRUE(starts_with(lines[1], "goro::print_goroutines(")) << dump;
  }
}

TEST(DebugDump, FromAPlainThreadListsGoroutinesWithoutACaller) {
  std::string dump;
  goro::run([&] {
    goro::go(goro::spawn_options{.name = "sleeper"}, [] { debug_test_sleeper(); });
    goro::sleep_for(20ms);
    std::thread([&] { dump = goro::dump_goroutines(); }).join();
  });
  EXPECT_EQ(dump.find("goro::dump_goroutines"), std::string::npos) << dump;
  EXPECT_NE(dump.find("\"sleeper\" ["), std::string::npos) << dump;
}

TEST(DebugDump, WhileGoroutinesKeepSwitching) {
  // Goroutines park, wake and move between workers while two dumpers read
  // their records and stacks: no crash, no sanitizer report, and every dump
  // lists the busy goroutines.
  constexpr int kBusy = 32;
  std::atomic<bool> stop{false};
  std::atomic<int> dumps{0};
  goro::run([&] {
    goro::wait_group wg;
    wg.add(kBusy);
    for (int i = 0; i < kBusy; ++i) {
      goro::go(goro::spawn_options{.name = "busy"}, [&] {
        while (!stop.load()) {
          goro::yield();
          goro::sleep_for(std::chrono::microseconds(50));
        }
        wg.done();
      });
    }
    std::thread outside([&] {
      while (!stop.load()) {
        if (goro::dump_goroutines().find("\"busy\"") != std::string::npos) dumps.fetch_add(1);
      }
    });
    // At least 300 ms of dumps, and on until a few dumps were made: a dump
    // waits for running goroutines to be sampled, which takes longer when
    // the machine is loaded.
    auto start = goro::clock::now();
    while (goro::clock::now() < start + 300ms || (dumps.load() <= 2 && goro::clock::now() < start + 20s)) {
      if (goro::dump_goroutines().find("\"busy\"") != std::string::npos) dumps.fetch_add(1);
      goro::yield();
    }
    stop.store(true);
    goro::blocking([&] { outside.join(); });
    wg.wait();
  });
  EXPECT_GT(dumps.load(), 2);
}
