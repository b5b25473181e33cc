// sched/scheduler.cpp: the scheduler's global state (Go's sched), the
// current worker, clocks and fatal errors.
//
// The scheduler is split by concept, as Go's proc.go is read:
//   * switch.cpp: context switches, the scheduler loop, ready();
//   * queues.cpp: run queues, idle processors and workers, starting workers;
//   * find_runnable.cpp: finding work, stealing, polling and idling;
//   * timer_glue.cpp: the processors' timer heaps as the scheduler uses them.
//
// Invariants
//   * A processor is held by at most one worker; only the holder pushes to
//     its local queue and touches its caches.
//   * An idle processor (on the idle list) has an empty local queue.
//   * g_sched.lock guards the idle lists, the global queue, the timed
//     sleeper and the worker list; it is never held across a switch or a
//     futex sleep.
#include "sched/scheduler.hpp"

#include "sched/poller.hpp"

#include <unistd.h>
#include <cstring>
#include <ctime>

namespace goro::detail {

Scheduler g_sched;

}  // namespace goro::detail

thread_local goro::detail::Worker* goro_tls_worker __attribute__((tls_model("initial-exec"))) = nullptr;

namespace goro::detail {

namespace {

std::atomic<FatalReporter> g_fatal_reporter{nullptr};

}  // namespace

std::atomic<const Poller*> g_poller{nullptr};
std::atomic<bool> g_poll_blocked{false};
std::atomic<std::int64_t> g_last_poll_ns{0};

Scheduler& sched() noexcept {
  return g_sched;
}

void set_current_worker(Worker* w) noexcept {
  goro_tls_worker = w;
}

Goroutine* current_goroutine() noexcept {
  Worker* w = current_worker();
  return w != nullptr ? w->current : nullptr;
}

bool several_processors() noexcept {
  return g_sched.nprocs.load(std::memory_order_relaxed) > 1;
}

std::int64_t nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void set_fatal_reporter(FatalReporter r) noexcept {
  g_fatal_reporter.store(r);
}

void register_poller(const Poller* poller) noexcept {
  g_poller.store(poller, std::memory_order_release);
}

void interrupt_poller() noexcept {
  if (g_poll_blocked.load(std::memory_order_acquire)) g_poller.load(std::memory_order_acquire)->interrupt();
}

void io_waiter_parked() noexcept {
  if (g_poll_blocked.load(std::memory_order_acquire)) return;
  // A worker that parked its goroutine with nothing else queued is about to
  // look for work itself: it polls without blocking, then (finding none)
  // blocks in poll(). Waking another worker for that costs the lock and a
  // futex round trip on nearly every read that has to wait.
  if (Worker* self = current_worker(); self != nullptr && self->current == nullptr && self->p != nullptr &&
                                       self->p->runq.empty() &&
                                       g_sched.runq_size.load(std::memory_order_acquire) == 0) {
    return;
  }
  Worker* w = nullptr;
  {
    lock_guard lk(g_sched.lock);
    w = g_sched.timed_sleeper != nullptr ? g_sched.timed_sleeper : g_sched.idle_m;
  }
  if (w != nullptr) w->note.wake();
}

void sched_fatal(const char* msg) noexcept {
  if (FatalReporter r = g_fatal_reporter.load()) r(msg);  // does not return
  const char prefix[] = "fatal error: ";
  [[maybe_unused]] ssize_t n = write(2, prefix, sizeof prefix - 1);
  n = write(2, msg, strlen(msg));
  n = write(2, "\n", 1);
  _exit(2);
}
std::uint64_t goroutine_id(const Goroutine* g) noexcept {
  return g->id;
}

void external_wait_begin() noexcept {
  g_sched.external_waiters.fetch_add(1, std::memory_order_acq_rel);
}
void external_wait_end() noexcept {
  g_sched.external_waiters.fetch_sub(1, std::memory_order_acq_rel);
}
}  // namespace goro::detail
