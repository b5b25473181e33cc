// tests/helpers/child_report.hpp: running a scenario of this test binary in
// a fresh child process and reading the report it prints, for the tests of
// fatal reports and dumps (traceback_test.cpp, source_lines_test.cpp,
// debug_test.cpp). Reports are read line by line with plain string
// operations (std::regex trips a false -Wmaybe-uninitialized in g++ 12
// sanitizer builds).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace goro_test {

struct ChildResult {
  int status = 0;
  std::string err;
  bool exited_with(int code) const { return WIFEXITED(status) && WEXITSTATUS(status) == code; }
  bool killed_by(int sig) const { return WIFSIGNALED(status) && WTERMSIG(status) == sig; }
};

// Runs this test binary again with only the test `child_test` selected and
// GORO_TEST_SCENARIO=scenario (plus `env`, NAME=VALUE), and collects its
// stderr. A fresh process: no goro runtime has run in it before.
inline ChildResult run_child_scenario(const char* child_test, const std::string& scenario,
                                      const std::vector<std::string>& env = {}) {
  int pipefd[2];
  EXPECT_EQ(::pipe(pipefd), 0);
  const std::string filter = std::string("--gtest_filter=") + child_test;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], STDERR_FILENO);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    ::setenv("GORO_TEST_SCENARIO", scenario.c_str(), 1);
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    ::execl("/proc/self/exe", program_invocation_name, filter.c_str(), nullptr);
    ::_exit(127);
  }
  ::close(pipefd[1]);
  ChildResult r;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;)
    r.err.append(buf, static_cast<std::size_t>(n));
  ::close(pipefd[0]);
  ::waitpid(pid, &r.status, 0);
  return r;
}

inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace goro_test
