// sched/queues.cpp: run queues, idle processors and idle workers (Go's
// runqput, globrunqput, pidleput/pidleget, mput/mget, startm, wakep).
//
// The global queue and both idle lists are guarded by g_sched.lock. A local
// queue is pushed to only by its processor's holder; when it is full, half
// of it moves to the global queue. runq_get (scheduler.hpp) takes runnext
// first, for at most kRunnextBudget switches in a row. ready() starts a
// spinning worker only when a processor is idle and no worker spins already
// (Go's wakep), and not for a partner handed over directly (switch.cpp).
#include "sched/scheduler.hpp"

namespace goro::detail {

// ---------------------------------------------------------------------------
// Run queues.

// With g_sched.lock held.
void global_put_locked(Goroutine* g) noexcept {
  if (!g_sched.runq.push(g)) sched_fatal("out of memory (global run queue)");
  g_sched.runq_size.fetch_add(1, std::memory_order_release);
}

// With g_sched.lock held: takes one goroutine to run and moves a fair share
// of the rest to p's local queue (at most max, 0 meaning no limit).
Goroutine* global_get_locked(Processor* p, int max) noexcept GORO_REQUIRES(g_sched.lock) {
  int size = g_sched.runq_size.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int n = size / std::max(1, g_sched.nprocs.load(std::memory_order_relaxed)) + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<int>(RunQueue::kSize / 2)) n = RunQueue::kSize / 2;
  g_sched.runq_size.fetch_sub(n, std::memory_order_relaxed);
  Goroutine* first = g_sched.runq.pop();
  for (int i = 1; i < n; i++) p->runq.push_back(g_sched.runq.pop());
  return first;
}

Goroutine* global_get(Processor* p, int max) noexcept {
  if (g_sched.runq_size.load(std::memory_order_acquire) == 0) return nullptr;
  lock_guard lk(g_sched.lock);
  return global_get_locked(p, max);
}

void global_runq_put_batch(Goroutine** gs, std::uint32_t n) noexcept {
  lock_guard lk(g_sched.lock);
  for (std::uint32_t i = 0; i < n; i++) global_put_locked(gs[i]);
}

bool runq_put(Processor* p, Goroutine* g, bool next) noexcept {
  if (next) {
    g = p->runq.put_next(g);
    if (g == nullptr) return false;
  }
  while (!p->runq.push_back(g)) {
    // Full: move half of it, and g, to the global queue.
    Goroutine* batch[RunQueue::kSize / 2 + 1];
    std::uint32_t n = p->runq.take_half_for_global(batch);
    if (n == 0) continue;
    batch[n++] = g;
    global_runq_put_batch(batch, n);
    return true;
  }
  return false;
}

void acquire_p(Worker* w, Processor* p) noexcept {
  w->p = p;
  p->worker = w;
  p->holder_tid.store(w->tid, std::memory_order_relaxed);
  // Published before sysmon_notice_busy reads whether the monitor sleeps.
  p->held.store(true, std::memory_order_seq_cst);
  sysmon_notice_busy();
}

void release_p(Worker* w) noexcept {
  if (w->p != nullptr) {
    w->p->worker = nullptr;
    w->p->held.store(false, std::memory_order_relaxed);
  }
  w->p = nullptr;
}

// ---------------------------------------------------------------------------
// Idle processors and workers. All with g_sched.lock held.

void idle_p_put(Processor* p) noexcept {
  // Asked to retire while held: an idle processor has an empty queue, so
  // retiring it needs nothing more.
  if (p->retire_wanted.exchange(false, std::memory_order_relaxed)) {
    p->retired = true;
    return;
  }
  p->idle_link = g_sched.idle_p;
  g_sched.idle_p = p;
  g_sched.n_idle_p.fetch_add(1, std::memory_order_release);
}

Processor* idle_p_get() noexcept {
  Processor* p = g_sched.idle_p;
  if (p != nullptr) {
    g_sched.idle_p = p->idle_link;
    p->idle_link = nullptr;
    g_sched.n_idle_p.fetch_sub(1, std::memory_order_release);
  }
  return p;
}

void idle_m_remove(Worker* w) noexcept {
  Worker** link = &g_sched.idle_m;
  while (*link != nullptr && *link != w) link = &(*link)->idle_link;
  if (*link == w) {
    *link = w->idle_link;
    w->idle_link = nullptr;
    w->idle = false;
    g_sched.n_idle_m--;
  }
  if (g_sched.timed_sleeper == w) {
    g_sched.timed_sleeper = nullptr;
    g_sched.sleep_deadline.store(INT64_MAX, std::memory_order_release);
  }
}

// Prefers a worker that is not the timed sleeper, so timers stay watched.
Worker* idle_m_get() noexcept {
  Worker* w = g_sched.idle_m;
  if (w != nullptr && w == g_sched.timed_sleeper && w->idle_link != nullptr) w = w->idle_link;
  if (w != nullptr) idle_m_remove(w);
  return w;
}

// Hands p (or an idle processor when p is null) to an idle or new worker
// (Go's startm). Drops a spinning reservation if no processor is free.
void start_worker(Processor* p, bool spinning) noexcept {
  Worker* w = nullptr;
  {
    lock_guard lk(g_sched.lock);
    if (p == nullptr) p = idle_p_get();
    if (p == nullptr) {
      if (spinning) g_sched.n_spinning.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
    w = idle_m_get();
    if (w != nullptr) {
      w->next_p = p;
      w->spinning = spinning;
    }
  }
  if (w == nullptr) {
    spawn_worker_thread(p, spinning);
    return;
  }
  w->note.wake();
}

// Go's wakep: when a processor is idle and no worker is already looking for
// work, start one spinning.
void wake_worker_if_needed() noexcept {
  // The work the caller just queued must be visible before it reads the
  // spinning count: a spinner that stops spinning decrements the count and
  // then looks at every queue (release_and_sleep). Without this StoreLoad
  // barrier both sides can miss each other (the queue store still in this
  // CPU's store buffer), the spinner sleeps, and a goroutine stays in the
  // runnext of a processor whose goroutine never parks.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_sched.n_idle_p.load(std::memory_order_acquire) == 0) return;
  if (g_sched.n_spinning.load(std::memory_order_acquire) != 0) return;
  int expected = 0;
  if (!g_sched.n_spinning.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  start_worker(nullptr, true);
}

}  // namespace goro::detail
