// debug/sample.cpp: sampling running goroutines by a per-thread signal (see
// sample.hpp).
#include "debug/sample.hpp"

#include "debug/goroutines.hpp"

#include <fcntl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>

namespace goro::detail {
namespace {

constexpr int kSlots = 256;
// Long enough for a thread of a loaded machine to be scheduled; only a
// thread that blocks SIGURG makes a dump wait this long.
constexpr std::int64_t kAnswerWaitNs = 500000000;  // 500 ms

struct Sample {
  std::atomic<const Goroutine*> g{nullptr};  // set once trace is complete
  Trace trace;
};

Sample g_samples[kSlots];
std::atomic<int> g_next_slot{0};
std::atomic<bool> g_sampling{false};
std::atomic<int> g_answers{0};
struct sigaction g_prev_urg {};

void chain(int sig, siginfo_t* info, void* ctx) noexcept {
  if ((g_prev_urg.sa_flags & SA_SIGINFO) != 0 && g_prev_urg.sa_sigaction != nullptr) {
    g_prev_urg.sa_sigaction(sig, info, ctx);
  } else if ((g_prev_urg.sa_flags & SA_SIGINFO) == 0 && g_prev_urg.sa_handler != SIG_DFL &&
             g_prev_urg.sa_handler != SIG_IGN) {
    g_prev_urg.sa_handler(sig);
  }
  // SIGURG's default action is to ignore it.
}

// Records this thread's goroutine, if it runs one on its own stack.
void record_running(const ucontext_t* uc) noexcept {
  const Goroutine* g = current_goroutine_checked();
  if (g == nullptr) return;
  auto pc = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  auto fp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
  auto lo = reinterpret_cast<std::uintptr_t>(g->stack.base);
  auto hi = reinterpret_cast<std::uintptr_t>(g->stack.top);
  if (sp < lo || sp >= hi) return;  // on the system stack or a signal stack
  int i = g_next_slot.fetch_add(1, std::memory_order_relaxed);
  if (i >= kSlots) return;
  Sample& s = g_samples[i];
  s.trace = Trace{};
  trace_from_registers(&s.trace, pc, sp, fp, lo, hi, true);
  s.g.store(g, std::memory_order_release);
}

void on_sample(int sig, siginfo_t* info, void* ctx) {
  if (!g_sampling.load(std::memory_order_acquire) || info->si_code != SI_TKILL ||
      info->si_pid != ::getpid()) {
    chain(sig, info, ctx);
    return;
  }
  int saved_errno = errno;
  record_running(static_cast<const ucontext_t*>(ctx));
  g_answers.fetch_add(1, std::memory_order_acq_rel);
  errno = saved_errno;
}

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Sends SIGURG to every thread but this one; returns how many got it.
int signal_other_threads() noexcept {
  int fd = ::open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  const pid_t pid = ::getpid();
  const auto self = static_cast<pid_t>(::syscall(SYS_gettid));
  int sent = 0;
  alignas(8) char buf[4096];
  for (;;) {
    long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
      std::uint16_t reclen = 0;
      std::memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char* name = buf + off + 19;
      off += reclen;
      pid_t tid = 0;
      for (const char* c = name; *c >= '0' && *c <= '9'; ++c) tid = tid * 10 + (*c - '0');
      if (tid <= 0 || tid == self) continue;
      if (::syscall(SYS_tgkill, pid, tid, SIGURG) == 0) sent++;
    }
  }
  ::close(fd);
  return sent;
}

}  // namespace

void install_sampler() noexcept {
  struct sigaction sa {};
  sa.sa_sigaction = &on_sample;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGURG, &sa, &g_prev_urg);
}

int sample_running_goroutines(const int* tids, int n) noexcept {
  for (Sample& s : g_samples) s.g.store(nullptr, std::memory_order_relaxed);
  g_next_slot.store(0, std::memory_order_relaxed);
  g_answers.store(0, std::memory_order_relaxed);
  g_sampling.store(true, std::memory_order_release);
  int sent = 0;
  if (tids == nullptr) {
    sent = signal_other_threads();
  } else {
    const pid_t pid = ::getpid();
    for (int i = 0; i < n; i++) {
      if (::syscall(SYS_tgkill, pid, tids[i], SIGURG) == 0) sent++;
    }
  }
  const std::int64_t give_up = monotonic_ns() + kAnswerWaitNs;
  while (g_answers.load(std::memory_order_acquire) < sent && monotonic_ns() < give_up) {
    timespec pause{0, 1000000};
    ::nanosleep(&pause, nullptr);
  }
  g_sampling.store(false, std::memory_order_release);
  return g_answers.load(std::memory_order_acquire);
}

const Trace* sampled_trace(const Goroutine* g) noexcept {
  int n = g_next_slot.load(std::memory_order_acquire);
  for (int i = 0; i < n && i < kSlots; i++) {
    if (g_samples[i].g.load(std::memory_order_acquire) == g) return &g_samples[i].trace;
  }
  return nullptr;
}

}  // namespace goro::detail
