// net/signal.cpp: goro::signal_notify through a signalfd (Go's os/signal).
//
// Design
//   * One signalfd holds the set of notified signals; a dispatcher thread
//     (not a goroutine: it must outlive any one goro::run and never take a
//     processor) polls it and relays each signal number to the registered
//     channels with non-blocking sends, which channels accept from plain
//     threads.
//   * A signalfd only sees a signal that every thread blocks. Threads
//     started before signal_notify (goro's workers when it is called inside
//     run()) may not block it, so each notified signal also gets a tiny
//     handler that writes the number into a non-blocking pipe the
//     dispatcher polls too. Either way each arrival is relayed once.
//   * The handler only calls write(2) (async-signal-safe) on a descriptor
//     published before the handler is installed, and keeps errno.
//   * While any channel is registered, the scheduler counts an external
//     waiter, so waiting only for a signal is not reported as a deadlock.
//
// Invariants: everything in State is guarded by State::mu, except the
// descriptors the dispatcher polls (set once, under mu, before the
// dispatcher starts, and never changed) and the pipe's write end
// (g_pipe_write, read by the handler) which never changes once set.
#include <goro/signal.hpp>

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"
#include "sched/park.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace goro {

namespace {

struct State {
  State() noexcept { sigemptyset(&wanted); }

  detail::Mutex mu;
  std::vector<std::pair<int, chan<int>>> regs GORO_GUARDED_BY(mu);
  sigset_t wanted GORO_GUARDED_BY(mu);
  int sfd = -1;        // see the invariants
  int pipe_read = -1;  // see the invariants
  bool started GORO_GUARDED_BY(mu) = false;
  bool counted_as_waiter GORO_GUARDED_BY(mu) = false;
  struct sigaction previous[NSIG] GORO_GUARDED_BY(mu) = {};
  bool handled[NSIG] GORO_GUARDED_BY(mu) = {};
};

State& state() {
  static auto* s = new State;  // never destroyed: the dispatcher runs until exit
  return *s;
}

std::atomic<int> g_pipe_write{-1};

void relay_handler(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_pipe_write.load(std::memory_order_relaxed), &b, 1);
  errno = saved;
}

bool notifiable(int sig) {
  if (sig <= 0 || sig >= NSIG || sig > 255) return false;
  switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
      return false;
    default:
      // glibc keeps the first real-time signals for its threads.
      return sig < 32 || sig >= SIGRTMIN;
  }
}

sigset_t to_set(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) {
    if (!notifiable(s))
      throw std::invalid_argument("goro: signal " + std::to_string(s) + " cannot be notified");
    sigaddset(&set, s);
  }
  return set;
}

void deliver(State& st, int sig) {
  goro::lock_guard lk(st.mu);
  for (auto& [s, ch] : st.regs) {
    if (s != sig) continue;
    try {
      ch.try_send(sig);  // full buffer: dropped, as Go's Notify does
    } catch (const channel_closed&) {
      // The owner closed its channel without signal_stop: skip it.
    }
  }
}

void* dispatch_loop(void*) {
  State& st = state();
  pollfd fds[2] = {{st.sfd, POLLIN, 0}, {st.pipe_read, POLLIN, 0}};
  for (;;) {
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info[8];
      ssize_t n;
      {
        // Under the lock that signal_notify holds while it changes the
        // signalfd's mask (the kernel orders the two anyway; this also
        // tells ThreadSanitizer, which models descriptors as memory).
        goro::lock_guard lk(st.mu);
        n = ::read(st.sfd, info, sizeof info);
      }
      for (ssize_t i = 0; n > 0 && i < n / static_cast<ssize_t>(sizeof info[0]); i++) {
        deliver(st, static_cast<int>(info[i].ssi_signo));
      }
    }
    if (fds[1].revents & POLLIN) {
      unsigned char buf[64];
      ssize_t n = ::read(st.pipe_read, buf, sizeof buf);
      for (ssize_t i = 0; i < n; i++) deliver(st, buf[i]);
    }
  }
  return nullptr;
}

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

void start_locked(State& st) GORO_REQUIRES(st.mu) {
  if (st.started) return;
  int p[2];
  if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) throw_errno("goro::signal_notify: pipe2");
  sigset_t none;
  sigemptyset(&none);
  int sfd = ::signalfd(-1, &none, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) {
    int err = errno;
    ::close(p[0]);
    ::close(p[1]);
    throw std::system_error(err, std::system_category(), "goro::signal_notify: signalfd");
  }
  st.sfd = sfd;
  st.pipe_read = p[0];
  g_pipe_write.store(p[1], std::memory_order_relaxed);
  // The dispatcher blocks everything: it must never run the handler itself.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pthread_t t;
  int err = pthread_create(&t, nullptr, &dispatch_loop, nullptr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err != 0) throw std::system_error(err, std::system_category(), "goro::signal_notify: pthread_create");
  pthread_detach(t);
  st.started = true;
}

// Makes the signalfd and the handlers match st.regs.
void sync_signals_locked(State& st) GORO_REQUIRES(st.mu) {
  sigset_t wanted;
  sigemptyset(&wanted);
  for (auto& [s, ch] : st.regs) sigaddset(&wanted, s);
  for (int s = 1; s < NSIG && s <= 255; s++) {
    bool want = sigismember(&wanted, s) == 1;
    if (want && !st.handled[s]) {
      struct sigaction sa = {};
      sa.sa_handler = &relay_handler;
      sa.sa_flags = SA_RESTART;
      sigemptyset(&sa.sa_mask);
      if (::sigaction(s, &sa, &st.previous[s]) != 0) throw_errno("goro::signal_notify: sigaction");
      st.handled[s] = true;
    } else if (!want && st.handled[s]) {
      ::sigaction(s, &st.previous[s], nullptr);
      st.handled[s] = false;
    }
  }
  if (::signalfd(st.sfd, &wanted, SFD_NONBLOCK | SFD_CLOEXEC) < 0)
    throw_errno("goro::signal_notify: signalfd");
  st.wanted = wanted;
  bool waiting = !st.regs.empty();
  if (waiting && !st.counted_as_waiter) detail::external_wait_begin();
  if (!waiting && st.counted_as_waiter) detail::external_wait_end();
  st.counted_as_waiter = waiting;
}

}  // namespace

void block_signals(std::initializer_list<int> signals) {
  sigset_t set = to_set(signals);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void signal_notify(const chan<int>& ch, std::initializer_list<int> signals) {
  if (signals.size() == 0) throw std::invalid_argument("goro::signal_notify: no signals given");
  if (ch.is_nil()) throw std::invalid_argument("goro::signal_notify: nil channel");
  sigset_t set = to_set(signals);
  State& st = state();
  goro::lock_guard lk(st.mu);
  start_locked(st);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (int s : signals) {
    bool known = false;
    for (auto& [rs, rch] : st.regs) known = known || (rs == s && rch == ch);
    if (!known) st.regs.emplace_back(s, ch);
  }
  sync_signals_locked(st);
}

void signal_stop(const chan<int>& ch) {
  State& st = state();
  goro::lock_guard lk(st.mu);
  if (!st.started) return;
  std::erase_if(st.regs, [&](const std::pair<int, chan<int>>& r) { return r.second == ch; });
  sync_signals_locked(st);
}

}  // namespace goro
