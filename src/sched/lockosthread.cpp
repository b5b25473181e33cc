// sched/lockosthread.cpp: goroutines locked to their thread (Go's
// LockOSThread, stoplockedm, startlockedm).
//
// A C library with thread-local state (OpenGL, some database drivers, a
// signal mask, a namespace set with setns) needs its calls to come from one
// thread. lock_os_thread() binds the calling goroutine to its worker: that
// worker then runs nothing else, and the goroutine runs nowhere else.
//
//   * While the locked goroutine runs, every switch away from it goes
//     through the worker's scheduler loop, which does not look for other
//     work: it gives the processor away (to a worker if work is queued, else
//     to the idle list) and sleeps (wait_for_locked_goroutine).
//   * Whoever readies the goroutine queues it as usual. The worker that
//     finds it in a queue (a direct switch never takes it: switch_away
//     leaves it for the scheduler loop) hands its own processor and the
//     goroutine to the locked worker and goes looking for other work
//     (hand_to_locked_worker). So a parked locked goroutine costs its thread
//     but no processor, as in Go.
//   * A goroutine that exits still locked takes its thread with it: the
//     thread's state may have been changed for good (Go's rule). The first
//     thread (m0) cannot end, since run() returns on it: it sleeps until the
//     runtime stops instead, never running another goroutine.
//
// A worker waiting for its goroutine counts as asleep for the deadlock
// check, so a locked goroutine parked forever with nothing left to wake it
// is reported as Go reports it.
#include "sched/scheduler.hpp"

#include <goro/runtime.hpp>

#include <limits>
#include <mutex>

namespace goro::detail {

Goroutine* wait_for_locked_goroutine(Worker* w) noexcept {
  Processor* own = w->p;
  bool has_work = own != nullptr && (!own->runq.empty() || !own->timers.empty() ||
                                     g_sched.runq_size.load(std::memory_order_acquire) > 0);
  // The note is cleared, and the goroutine looked for, under the lock that
  // hand_to_locked_worker sets next_g under: its wakeup is never lost, even
  // if it came before this worker got here.
  lock_guard lk(g_sched.lock);
  if (own != nullptr) {
    release_p(w);
    if (!has_work) idle_p_put(own);
  }
  if (w->next_g == nullptr) {
    w->note.clear();
    w->locked_waiting = true;
    g_sched.n_locked_waiting++;
    check_deadlock_locked();
  }
  lk.unlock();
  if (has_work) start_worker(own, false);
  lk.lock();
  while (w->next_g == nullptr && !g_sched.stopping.load(std::memory_order_acquire)) {
    lk.unlock();
    w->note.sleep(0);
    lk.lock();
    if (w->next_g == nullptr) w->note.clear();  // a wakeup meant for shutdown
  }
  if (w->locked_waiting) {
    w->locked_waiting = false;
    g_sched.n_locked_waiting--;
  }
  Goroutine* g = w->next_g;
  Processor* p = w->next_p;
  w->next_g = nullptr;
  w->next_p = nullptr;
  lk.unlock();
  if (p != nullptr) acquire_p(w, p);
  return g_sched.stopping.load(std::memory_order_acquire) ? nullptr : g;
}

void hand_to_locked_worker(Worker* w, Goroutine* g) noexcept {
  Worker* locked = g->locked_to;
  reset_spinning(w);
  {
    lock_guard lk(g_sched.lock);
    Processor* p = w->p;
    release_p(w);
    locked->next_p = p;
    locked->next_g = g;
    // No longer asleep: the deadlock check must not count it while it wakes.
    if (locked->locked_waiting) {
      locked->locked_waiting = false;
      g_sched.n_locked_waiting--;
    }
  }
  locked->note.wake();
}

void end_locked_thread(Worker* w) noexcept {
  Processor* p = w->p;
  if (p != nullptr) {
    bool has_work =
        !p->runq.empty() || !p->timers.empty() || g_sched.runq_size.load(std::memory_order_acquire) > 0;
    {
      lock_guard lk(g_sched.lock);
      release_p(w);
      if (!has_work) idle_p_put(p);
    }
    if (has_work) start_worker(p, false);
  }
  if (!w->is_m0) return;  // worker_main ends the thread
  w->exit_thread = false;
  // m0 waits for the end of the runtime, counted as a waiting worker.
  {
    lock_guard lk(g_sched.lock);
    w->locked_waiting = true;
    g_sched.n_locked_waiting++;
    check_deadlock_locked();
  }
  while (!g_sched.stopping.load(std::memory_order_acquire)) {
    w->note.clear();
    if (g_sched.stopping.load(std::memory_order_acquire)) break;
    w->note.sleep(0);
  }
  lock_guard lk(g_sched.lock);
  w->locked_waiting = false;
  g_sched.n_locked_waiting--;
}

}  // namespace goro::detail

namespace goro {

void lock_os_thread() {
  detail::Worker* w = detail::current_worker();
  detail::Goroutine* g = w != nullptr ? w->current : nullptr;
  if (g == nullptr) return;
  if (g->os_thread_locks == std::numeric_limits<decltype(g->os_thread_locks)>::max()) {
    detail::sched_fatal("lock_os_thread nesting overflow");
  }
  if (g->os_thread_locks++ == 0) {
    g->locked_to = w;
    w->locked_g = g;
  }
}

void unlock_os_thread() {
  detail::Worker* w = detail::current_worker();
  detail::Goroutine* g = w != nullptr ? w->current : nullptr;
  if (g == nullptr || g->os_thread_locks == 0) return;
  if (--g->os_thread_locks == 0) {
    g->locked_to = nullptr;
    w->locked_g = nullptr;
  }
}

bool locked_os_thread() noexcept {
  detail::Worker* w = detail::current_worker();
  detail::Goroutine* g = w != nullptr ? w->current : nullptr;
  return g != nullptr && g->locked_to != nullptr;
}

}  // namespace goro
