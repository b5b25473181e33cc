// tests/net_tools/spawn.hpp: child processes for the net and HTTP tests.
//
// A child is this test binary again (or another program) started with
// posix_spawn, which is safe from a multi-threaded process: nothing runs
// in the child between fork and exec. Two pipes connect it to the parent:
//   fd 3 in the child: its report channel (lines the parent reads; gtest's
//                      own output stays on stdout/stderr);
//   fd 4 in the child: a control channel (lines from the parent; end of
//                      file when the parent is done or died).
// Every wait is bounded: reads take a deadline, and the destructor kills a
// child that is still running.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace net_tools {

inline constexpr int kReportFd = 3;
inline constexpr int kControlFd = 4;

class child_process {
 public:
  child_process() = default;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  child_process(child_process&& o) noexcept { *this = std::move(o); }
  child_process& operator=(child_process&& o) noexcept {
    std::swap(pid_, o.pid_);
    std::swap(report_, o.report_);
    std::swap(control_, o.control_);
    std::swap(pending_, o.pending_);
    return *this;
  }
  ~child_process() {
    close_control();
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st;
      ::waitpid(pid_, &st, 0);
    }
    if (report_ >= 0) ::close(report_);
  }

  // Starts argv[0] with argv and extra "KEY=VALUE" environment entries.
  // The report pipe becomes the child's descriptor `report_to` (3, or 1 to
  // read a program's standard output). Returns false (errno set) if it
  // cannot be started.
  bool start(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
             int report_to = kReportFd) {
    int rep[2], ctl[2];
    if (::pipe2(rep, O_CLOEXEC) != 0) return false;
    if (::pipe2(ctl, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, rep[1], report_to);
    posix_spawn_file_actions_adddup2(&fa, ctl[0], kControlFd);
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; e++) envs.emplace_back(*e);
    for (const std::string& e : env) envs.push_back(e);
    std::vector<char*> cargv, cenv;
    for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    for (std::string& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    int err = ::posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(rep[1]);
    ::close(ctl[0]);
    if (err != 0) {
      ::close(rep[0]);
      ::close(ctl[1]);
      pid_ = -1;
      errno = err;
      return false;
    }
    report_ = rep[0];
    control_ = ctl[1];
    ::fcntl(report_, F_SETFL, O_NONBLOCK);
    return true;
  }

  // Runs one DISABLED_ test of this binary as the child.
  bool start_self(const std::string& test, const std::vector<std::string>& env = {}) {
    return start({self_path(), "--gtest_filter=" + test, "--gtest_also_run_disabled_tests"}, env);
  }

  // The next report line, or std::nullopt at the deadline or end of file.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::size_t nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return line;
      }
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{report_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(report_, buf, sizeof buf);
      if (n == 0) return std::nullopt;
      if (n > 0) pending_.append(buf, static_cast<std::size_t>(n));
    }
  }

  // Reads lines until one starts with `prefix`; returns it.
  std::optional<std::string> expect(const std::string& prefix, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto line = read_line(left);
      if (!line) return std::nullopt;
      if (line->rfind(prefix, 0) == 0) return line;
    }
  }

  void send(const std::string& line) {
    std::string s = line + "\n";
    [[maybe_unused]] ssize_t n = ::write(control_, s.data(), s.size());
  }

  void close_control() {
    if (control_ >= 0) ::close(control_);
    control_ = -1;
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Waits for the exit status (as waitpid's), or std::nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return st;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::nullopt;
  }

  pid_t pid() const { return pid_; }

  static std::string self_path() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  pid_t pid_ = -1;
  int report_ = -1;
  int control_ = -1;
  std::string pending_;
};

// In a child: writes one report line to the parent (fd 3).
inline void report(const std::string& line) {
  std::string s = line + "\n";
  [[maybe_unused]] ssize_t n = ::write(kReportFd, s.data(), s.size());
}

// In a child: reads one control line (blocking); std::nullopt at end of file.
inline std::optional<std::string> control_line() {
  std::string s;
  char c;
  for (;;) {
    ssize_t n = ::read(kControlFd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return s.empty() ? std::nullopt : std::optional<std::string>(s);
    if (c == '\n') return s;
    s.push_back(c);
  }
}

// An integer from the environment, or `fallback`.
inline long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
inline long raise_nofile_limit() {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  ::getrlimit(RLIMIT_NOFILE, &rl);
  return static_cast<long>(rl.rlim_cur);
}

// Whether a program is on PATH.
inline bool have_program(const std::string& name) {
  std::string cmd = "command -v " + name + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

}  // namespace net_tools
