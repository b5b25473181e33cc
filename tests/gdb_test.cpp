// gdb support: runs gdb in batch mode on a program that parked goroutines in
// known functions, live and on a core file, and checks that the extension
// (tools/gdb/goro-gdb.py, auto-loaded through .debug_gdb_scripts) lists them
// and shows their frames.
//
// The program is this test binary itself: GdbTarget.ParkThenTrap runs only
// when GORO_GDB_TARGET is set (else it skips), parks a sleeper and a channel
// receiver, then stops itself with SIGTRAP for gdb to look.
#include <goro/chan.hpp>
#include <goro/debug.hpp>
#include <goro/goroutine.hpp>
#include <goro/runtime.hpp>
#include <goro/time.hpp>

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "helpers/test_util.hpp"

namespace {

using namespace std::chrono_literals;

[[gnu::noinline]] void gdb_target_sleeper() {
  goro::sleep_for(1h);
  asm volatile("" ::: "memory");  // keep the call from being a tail call
}

[[gnu::noinline]] void gdb_target_receiver(const goro::chan<int>& ch) {
  auto v = ch.recv();
  asm volatile("" : : "r"(v.has_value()) : "memory");
}

bool both_parked() {
  std::string dump = goro::dump_goroutines();
  return dump.find("\"sleeper\" [sleep]") != std::string::npos &&
         dump.find("\"receiver\" [chan receive]") != std::string::npos;
}

TEST(GdbTarget, ParkThenTrap) {
  if (std::getenv("GORO_GDB_TARGET") == nullptr) GTEST_SKIP() << "runs only under the gdb tests";
  goro::run([] {
    goro::chan<int> ch;
    goro::go(goro::spawn_options{.name = "sleeper"}, [] { gdb_target_sleeper(); });
    goro::go(goro::spawn_options{.name = "receiver"}, [ch] { gdb_target_receiver(ch); });
    while (!both_parked()) goro::sleep_for(1ms);
    std::raise(SIGTRAP);  // gdb stops here; without gdb the test dies
    return 0;
  });
}

std::string find_gdb() {
  return goro_test::find_program({"gdb"});
}

std::string self_exe() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

// Runs a shell command and returns its stdout and stderr.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return "popen failed";
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  ::pclose(p);
  return out;
}

// gdb in batch mode, without the user's init files, trusting this binary's
// directory for auto-loading (its .debug_gdb_scripts entry).
std::string gdb_command(const std::string& gdb, const std::string& exe) {
  std::string dir = std::filesystem::path(exe).parent_path().string();
  return "timeout 300 " + gdb + " -nx -batch -iex 'add-auto-load-safe-path " + dir + "'";
}

std::string run_target_under_gdb(const std::string& env, const std::string& extra) {
  std::string exe = self_exe();
  return run(env + " GORO_GDB_TARGET=1 " + gdb_command(find_gdb(), exe) +
             " -ex run -ex 'info goroutines' -ex 'goroutine all bt' " + extra + " --args " + exe +
             " --gtest_filter=GdbTarget.ParkThenTrap");
}

// The lines of `out` from the one that starts with `header`, up to the next
// empty line.
std::string section(const std::string& out, const std::string& header) {
  auto at = out.find(header);
  if (at == std::string::npos) return {};
  auto end = out.find("\n\n", at);
  return out.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

void expect_goroutines_listed(const std::string& out) {
  // info goroutines: id, state, name, creator.
  EXPECT_NE(out.find("sleep                sleeper"), std::string::npos) << out;
  EXPECT_NE(out.find("chan receive         receiver"), std::string::npos) << out;
  EXPECT_NE(out.find("main"), std::string::npos) << out;
  EXPECT_NE(out.find("3 goroutines"), std::string::npos) << out;
  // goroutine all bt: each parked goroutine's frames reach its function.
  std::string sleeper = section(out, "\"sleeper\" [sleep]:");
  EXPECT_NE(sleeper.find("gdb_target_sleeper"), std::string::npos) << out;
  std::string receiver = section(out, "\"receiver\" [chan receive]:");
  EXPECT_NE(receiver.find("gdb_target_receiver"), std::string::npos) << out;
}

void skip_without_gdb() {
  if (find_gdb().empty()) GTEST_SKIP() << "gdb is not installed (scripts/setup-debian.sh installs it)";
}

TEST(Gdb, ListsAndBacktracesGoroutinesOfALiveProcess) {
  skip_without_gdb();
  std::string out = run_target_under_gdb("", "");
  ASSERT_NE(out.find("SIGTRAP"), std::string::npos) << out;
  expect_goroutines_listed(out);
}

TEST(Gdb, ListsAndBacktracesGoroutinesOfACoreFile) {
  skip_without_gdb();
  if (goro_test::kSanitizer) {
    GTEST_SKIP() << "gcore of a sanitizer build writes the sanitizer's shadow memory (an ASan build's core "
                    "passed 3 GB before it was stopped)";
  }
  std::string core = testing::TempDir() + "goro-gdb-test-" + std::to_string(::getpid()) + ".core";
  // gdb 13's gcore wrote the stack arena as zeros on Linux 6.18 when its
  // slots were guarded by MADV_GUARD_INSTALL markers, so the target uses
  // mprotect guards.
  std::string made = run_target_under_gdb("GORO_FORCE_MPROTECT_GUARD=1", "-ex 'gcore " + core + "'");
  ASSERT_TRUE(std::filesystem::exists(core)) << made;
  std::string exe = self_exe();
  std::string out =
      run(gdb_command(find_gdb(), exe) + " -ex 'info goroutines' -ex 'goroutine all bt' " + exe + " " + core);
  std::filesystem::remove(core);
  expect_goroutines_listed(out);
}

}  // namespace
