// tools/tour/runner.cpp: see runner.hpp.
//
// The parent polls both pipes with a short timeout, so it can redraw the bar
// while the child is quiet. A step that runs far longer than any should (a
// hang) is killed after kStepTimeout so the tour still ends with a report.
#include "runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace tour {
namespace {

constexpr double kBarAfterSeconds = 1.0;
constexpr double kStepTimeoutSeconds = 600.0;
constexpr std::size_t kMaxStderrBytes = 1 << 20;

// The progress display of one step.
class ProgressBar {
 public:
  ProgressBar(std::string label, bool enabled, bool tty)
      : label_(std::move(label)), enabled_(enabled), tty_(tty) {}

  void update(double fraction, double elapsed) {
    fraction_ = std::clamp(fraction, 0.0, 1.0);
    if (!enabled_ || elapsed < kBarAfterSeconds) return;
    if (tty_) {
      draw_line(elapsed);
    } else {
      print_quarter(elapsed);
    }
  }

  // Redraws with the last fraction, so the clock moves while the child is
  // quiet.
  void tick(double elapsed) { update(fraction_, elapsed); }

  // Removes the bar, so the step's results print on a clean line.
  void finish() {
    if (drawn_) {
      std::fputs("\r\033[K", stderr);
      std::fflush(stderr);
    }
  }

 private:
  void draw_line(double elapsed) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction_ * kWidth + 0.5);
    char line[256];
    std::snprintf(line, sizeof line, "   [%s%s] %3.0f%%  %5.1f s  %s", std::string(filled, '#').c_str(),
                  std::string(kWidth - filled, '.').c_str(), fraction_ * 100, elapsed, label_.c_str());
    if (last_line_ == line) return;  // nothing a reader could see has changed
    last_line_ = line;
    std::fprintf(stderr, "\r\033[K%s", line);
    std::fflush(stderr);
    drawn_ = true;
  }

  void print_quarter(double elapsed) {
    const int quarter = static_cast<int>(fraction_ * 4);
    if (quarter <= printed_quarter_ || quarter >= 4) return;
    printed_quarter_ = quarter;
    std::fprintf(stderr, "   ... %s: %d%% after %.1f s\n", label_.c_str(), quarter * 25, elapsed);
    std::fflush(stderr);
  }

  std::string label_;
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  int printed_quarter_ = 0;
  std::string last_line_;
  double fraction_ = 0;
};

// Splits complete lines off `buffer` into figures; progress lines go to
// the bar.
void take_lines(std::string& buffer, StepOutput& out, ProgressBar& bar, double elapsed) {
  std::size_t start = 0;
  for (std::size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = buffer.substr(start, nl - start);
    const std::size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const std::string value = line.substr(eq + 1);
    if (key == "progress") {
      bar.update(std::strtod(value.c_str(), nullptr), elapsed);
    } else {
      out.figures[key] = value;
    }
  }
  buffer.erase(0, start);
}

// Reads what is there; returns false at end of file.
bool read_some(int fd, std::string& into, std::size_t cap) {
  char buf[4096];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  if (into.size() < cap)
    into.append(buf, static_cast<std::size_t>(std::min<std::size_t>(n, cap - into.size())));
  return true;
}

struct Pipes {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  bool open() { return ::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0; }
  void close_write_ends() {
    ::close(out[1]);
    ::close(err[1]);
  }
};

pid_t spawn_child(const std::string& self, const std::vector<std::string>& args, Pipes& pipes) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(self.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipes.out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipes.err[1], STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

// Collects the child's output until both pipes close (or the step times
// out, when the child is killed).
void collect(pid_t pid, Pipes& pipes, StepOutput& out, ProgressBar& bar) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string out_buffer;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? pipes.out[0] : -1, POLLIN, 0}, {err_open ? pipes.err[0] : -1, POLLIN, 0}};
    ::poll(fds, 2, 100);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (fds[0].revents != 0) out_open = read_some(pipes.out[0], out_buffer, SIZE_MAX);
    if (fds[1].revents != 0) err_open = read_some(pipes.err[0], out.err, kMaxStderrBytes);
    take_lines(out_buffer, out, bar, elapsed);
    bar.tick(elapsed);
    if (elapsed > kStepTimeoutSeconds) ::kill(pid, SIGKILL);
  }
}

}  // namespace

double StepOutput::num(const std::string& key) const {
  auto it = figures.find(key);
  if (it == figures.end()) return std::nan("");
  return std::strtod(it->second.c_str(), nullptr);
}

std::string StepOutput::text(const std::string& key) const {
  auto it = figures.find(key);
  return it == figures.end() ? std::string() : it->second;
}

std::string StepOutput::how_it_ended() const {
  char buf[128];
  if (signal != 0) {
    std::snprintf(buf, sizeof buf, "killed by signal %d (%s)", signal, strsignal(signal));
  } else {
    std::snprintf(buf, sizeof buf, "exit status %d", exit_code);
  }
  return buf;
}

Runner::Runner(std::string self, bool bars)
    : self_(std::move(self)), bars_(bars), tty_(::isatty(STDERR_FILENO) != 0) {}

StepOutput Runner::run(const std::string& label, const std::string& step,
                       const std::vector<long>& args) const {
  StepOutput out;
  std::vector<std::string> argv = {"--child", step};
  for (long a : args) argv.push_back(std::to_string(a));
  Pipes pipes;
  if (!pipes.open()) {
    out.err = std::string("pipe: ") + std::strerror(errno);
    return out;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = spawn_child(self_, argv, pipes);
  pipes.close_write_ends();
  if (pid < 0) {
    out.err = "cannot start " + self_ + ": " + std::strerror(errno);
    ::close(pipes.out[0]);
    ::close(pipes.err[0]);
    return out;
  }
  ProgressBar bar(label, bars_, tty_);
  collect(pid, pipes, out, bar);
  bar.finish();
  ::close(pipes.out[0]);
  ::close(pipes.err[0]);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  out.peak_rss_bytes = usage.ru_maxrss * 1024;
  return out;
}

std::string self_path(const char* argv0) {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return argv0;
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace tour
