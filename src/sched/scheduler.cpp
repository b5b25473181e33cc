// sched/scheduler.cpp: the M:N scheduler (Go's proc.go, in spirit).
//
// Design (see scheduler.hpp for the roles):
//   * find_runnable() on the worker's system stack looks, in order, at due
//     timers, the global queue every 61st tick (fairness), the local queue,
//     the global queue, then steals half of another processor's queue. A
//     worker that finds nothing releases its processor and sleeps.
//   * Spinning workers are bounded by half the busy processors, and a worker
//     that stops spinning re-checks every queue once more after it has
//     given up its processor: together with ready() waking a worker only
//     when none spins, this is Go's protocol that never loses a wakeup.
//   * Deadlock: the last worker to go to sleep with no timer, no goroutine
//     in blocking() and no external waiter declares the deadlock, as Go's
//     checkdead() does.
//
// Invariants
//   * A processor is held by at most one worker; only the holder pushes to
//     its local queue and touches its caches.
//   * An idle processor (on the idle list) has an empty local queue.
//   * sched().lock guards the idle lists, the global queue, the timed
//     sleeper and the worker list; it is never held across a switch or a
//     futex sleep.
#include "sched/scheduler.hpp"

#include "sched/compactor.hpp"
#include "sched/cpu.hpp"
#include "sched/poller.hpp"
#include "sched/sanitizers.hpp"

#include <cxxabi.h>
#include <unistd.h>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace goro::detail {

namespace {

Scheduler g_sched;
// initial-exec: the library is position independent, and the default
// model for that would make every access a call to __tls_get_addr.
thread_local Worker* tls_worker __attribute__((tls_model("initial-exec"))) = nullptr;
std::atomic<FatalReporter> g_fatal_reporter{nullptr};
std::atomic<const Poller*> g_poller{nullptr};
std::atomic<bool> g_poll_blocked{false};  // a worker waits inside poll()
std::atomic<std::int64_t> g_last_poll_ns{0};
constexpr std::int64_t kForcedPollNs = 10000000;  // Go's sysmon: 10 ms

constexpr std::uint32_t kFairnessTick = 61;
constexpr int kStealRounds = 4;

}  // namespace

Scheduler& sched() noexcept {
  return g_sched;
}

// Not inlined and opaque to the optimizer, so that code running on a
// goroutine re-reads it after every switch (the goroutine may have moved to
// another thread; compilers cache TLS addresses across calls).
Worker* current_worker() noexcept {
  Worker* w = tls_worker;
  asm volatile("" : "+r"(w));
  return w;
}

void set_current_worker(Worker* w) noexcept {
  tls_worker = w;
}

Goroutine* current_goroutine() noexcept {
  Worker* w = current_worker();
  return w != nullptr ? w->current : nullptr;
}

std::int64_t coarse_nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
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
    std::lock_guard lk(g_sched.lock);
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

// ---------------------------------------------------------------------------
// Context switches, announced to the sanitizers, each carrying the C++
// exception state with it (goroutine.hpp, EhState).

EhState* thread_eh_state() noexcept {
  static_assert(sizeof(void*) == 8, "EhState mirrors the x86-64 __cxa_eh_globals layout");
  return reinterpret_cast<EhState*>(abi::__cxa_get_globals());
}

void switch_g_to_g(Worker* w, Goroutine* from, Goroutine* to, bool dying) noexcept {
  from->eh = *w->thread_eh;
  *w->thread_eh = to->eh;
#if GORO_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &from->asan_fake_stack, to->stack.base, to->stack.limit());
#else
  (void)dying;
#endif
#if GORO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  goro_switch_context(&from->saved_sp, to->saved_sp, nullptr);
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(from->asan_fake_stack, nullptr, nullptr);
#endif
}

void switch_g_to_g0(Goroutine* from, Worker* w, bool dying) noexcept {
  from->eh = *w->thread_eh;
  *w->thread_eh = w->g0_eh;
#if GORO_ASAN
  __sanitizer_start_switch_fiber(dying ? nullptr : &from->asan_fake_stack, w->stack_bottom, w->stack_size);
#else
  (void)dying;
#endif
#if GORO_TSAN
  __tsan_switch_to_fiber(w->tsan_fiber, 0);
#endif
  goro_switch_context(&from->saved_sp, w->g0_sp, nullptr);
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(from->asan_fake_stack, nullptr, nullptr);
#endif
}

void switch_g0_to_g(Worker* w, Goroutine* to) noexcept {
  w->g0_eh = *w->thread_eh;
  *w->thread_eh = to->eh;
#if GORO_ASAN
  __sanitizer_start_switch_fiber(&w->asan_fake_stack, to->stack.base, to->stack.limit());
#endif
#if GORO_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  goro_switch_context(&w->g0_sp, to->saved_sp, nullptr);
#if GORO_ASAN
  __sanitizer_finish_switch_fiber(w->asan_fake_stack, nullptr, nullptr);
#endif
}

// ---------------------------------------------------------------------------
// Run queues.

namespace {

// With sched().lock held.
void global_put_locked(Goroutine* g) noexcept {
  Scheduler& s = g_sched;
  if (!s.runq.push(g)) sched_fatal("out of memory (global run queue)");
  s.runq_size.fetch_add(1, std::memory_order_release);
}

// With sched().lock held: takes one goroutine to run and moves a fair share
// of the rest to p's local queue (at most max, 0 meaning no limit).
Goroutine* global_get_locked(Processor* p, int max) noexcept {
  Scheduler& s = g_sched;
  int size = s.runq_size.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int n = size / s.nprocs + 1;
  if (n > size) n = size;
  if (max > 0 && n > max) n = max;
  if (n > static_cast<int>(RunQueue::kSize / 2)) n = RunQueue::kSize / 2;
  s.runq_size.fetch_sub(n, std::memory_order_relaxed);
  Goroutine* first = s.runq.pop();
  for (int i = 1; i < n; i++) p->runq.push_back(s.runq.pop());
  return first;
}

Goroutine* global_get(Processor* p, int max) noexcept {
  if (g_sched.runq_size.load(std::memory_order_acquire) == 0) return nullptr;
  std::lock_guard lk(g_sched.lock);
  return global_get_locked(p, max);
}

}  // namespace

void global_runq_put_batch(Goroutine** gs, std::uint32_t n) noexcept {
  std::lock_guard lk(g_sched.lock);
  for (std::uint32_t i = 0; i < n; i++) global_put_locked(gs[i]);
}

void runq_put(Processor* p, Goroutine* g, bool next) noexcept {
  if (next) {
    g = p->runq.put_next(g);
    if (g == nullptr) return;
  }
  while (!p->runq.push_back(g)) {
    // Full: move half of it, and g, to the global queue.
    Goroutine* batch[RunQueue::kSize / 2 + 1];
    std::uint32_t n = p->runq.take_half_for_global(batch);
    if (n == 0) continue;
    batch[n++] = g;
    global_runq_put_batch(batch, n);
    return;
  }
}

void acquire_p(Worker* w, Processor* p) noexcept {
  w->p = p;
  p->worker = w;
}

void release_p(Worker* w) noexcept {
  if (w->p != nullptr) w->p->worker = nullptr;
  w->p = nullptr;
}

// ---------------------------------------------------------------------------
// Idle processors and workers. All with sched().lock held.

void idle_p_put(Processor* p) noexcept {
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

namespace {

std::int64_t earliest_timer() noexcept {
  std::int64_t min = 0;
  for (Processor* p : g_sched.allp) {
    std::int64_t w = p->timers.earliest();
    if (w != 0 && (min == 0 || w < min)) min = w;
  }
  return min;
}

}  // namespace

// Hands p (or an idle processor when p is null) to an idle or new worker
// (Go's startm). Drops a spinning reservation if no processor is free.
void start_worker(Processor* p, bool spinning) noexcept {
  Worker* w = nullptr;
  {
    std::lock_guard lk(g_sched.lock);
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
  Scheduler& s = g_sched;
  // The work the caller just queued must be visible before it reads the
  // spinning count: a spinner that stops spinning decrements the count and
  // then looks at every queue (release_and_sleep). Without this StoreLoad
  // barrier both sides can miss each other (the queue store still in this
  // CPU's store buffer), the spinner sleeps, and a goroutine stays in the
  // runnext of a processor whose goroutine never parks.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (s.n_idle_p.load(std::memory_order_acquire) == 0) return;
  if (s.n_spinning.load(std::memory_order_acquire) != 0) return;
  int expected = 0;
  if (!s.n_spinning.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  start_worker(nullptr, true);
}

namespace {

// Nudges a sleeping worker to re-read the earliest timer (Go's
// wakeNetPoller): the timed sleeper if there is one, else any idle worker.
void wake_timer_sleeper() noexcept {
  if (g_poll_blocked.load(std::memory_order_acquire)) {
    g_poller.load(std::memory_order_acquire)->interrupt();
    return;
  }
  Worker* w = nullptr;
  {
    std::lock_guard lk(g_sched.lock);
    w = g_sched.timed_sleeper != nullptr ? g_sched.timed_sleeper : g_sched.idle_m;
  }
  if (w != nullptr) w->note.wake();
}

// With sched().lock held, by a worker about to sleep with no deadline.
void check_deadlock_locked() noexcept {
  Scheduler& s = g_sched;
  if (s.stopping.load(std::memory_order_acquire)) return;
  if (s.n_idle_m != static_cast<int>(s.allm.size())) return;
  if (s.n_blocking > 0 || s.external_waiters.load(std::memory_order_acquire) > 0) return;
  const Poller* poller = g_poller.load(std::memory_order_acquire);
  if (poller != nullptr && poller->has_waiters()) return;
  if (s.runq_size.load(std::memory_order_acquire) > 0 || earliest_timer() != 0) return;
  for (Processor* p : s.allp) {
    if (!p->runq.empty()) return;
  }
  sched_fatal("all goroutines are asleep - deadlock!");
}

// Go's stopm: sleeps until handed a processor, until `deadline` (the
// earliest timer, 0 if none) or until nudged. On return the worker may hold
// a processor (handed over) or not.
void stop_worker(Worker* w, std::int64_t deadline) noexcept {
  Scheduler& s = g_sched;
  bool timed = false;
  w->note.clear();
  {
    std::lock_guard lk(s.lock);
    if (s.stopping.load(std::memory_order_acquire)) return;
    w->idle = true;
    w->idle_link = s.idle_m;
    s.idle_m = w;
    s.n_idle_m++;
    if (deadline != 0 && (s.timed_sleeper == nullptr || deadline < s.sleep_deadline.load())) {
      s.timed_sleeper = w;
      s.sleep_deadline.store(deadline, std::memory_order_release);
      timed = true;
    }
    if (deadline == 0) check_deadlock_locked();
  }
  w->note.sleep(timed ? deadline : 0);
  Processor* p = nullptr;
  {
    std::lock_guard lk(s.lock);
    if (w->idle) idle_m_remove(w);
    if (s.timed_sleeper == w) idle_m_remove(w);
    p = w->next_p;
    w->next_p = nullptr;
  }
  if (p != nullptr) acquire_p(w, p);
}

// Runs p's due timers. Their callbacks ready goroutines onto the caller's
// processor.
void run_timers(Processor* p, std::int64_t now) noexcept {
  for (;;) {
    p->timers.lock().lock();
    Timer* t = p->timers.pop_due(now);
    p->timers.lock().unlock();
    if (t == nullptr) return;
    t->fire(t, t->arg, now);
  }
}

void reset_spinning(Worker* w) noexcept {
  if (!w->spinning) return;
  w->spinning = false;
  // The last spinner found work: more may be coming, so start another.
  if (g_sched.n_spinning.fetch_sub(1, std::memory_order_acq_rel) == 1) wake_worker_if_needed();
}

std::uint32_t fast_rand(Worker* w) noexcept {
  static thread_local std::uint32_t state = 0;
  if (state == 0) state = 0x9e3779b9u ^ static_cast<std::uint32_t>(w->id * 2654435761u + 1);
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

// A victim's runnext is stolen only if the victim has not switched for a
// moment: the goroutine that readied it is probably about to park and run
// it itself, which keeps a sender and its receiver on one core. The thief
// sleeps rather than spins through that moment (Go's usleep(3) in
// runqgrab): with the timer slack it lasts tens of microseconds, during
// which it still counts as spinning, so a ping-pong pair's ready() calls
// wake nobody and the pair's core is not shared with a busy-waiting thief.
bool victim_stuck(Processor* victim) noexcept {
  std::uint32_t tick = victim->schedtick.load(std::memory_order_acquire);
  timespec pause{0, 3000};
  nanosleep(&pause, nullptr);
  return victim->schedtick.load(std::memory_order_acquire) == tick;
}

Goroutine* steal_from(Processor* p, Processor* victim, bool take_next) noexcept {
  Goroutine* batch[RunQueue::kSize / 2];
  if (take_next && victim->runq.size_without_next() == 0) {
    if (victim->runq.peek_next() == nullptr || !victim_stuck(victim)) return nullptr;
  }
  std::uint32_t n = victim->runq.grab_half(batch, take_next);
  if (n == 0) return nullptr;
  for (std::uint32_t i = 0; i + 1 < n; i++) p->runq.push_back(batch[i]);
  return batch[n - 1];
}

Goroutine* steal_work(Worker* w, Processor* p) noexcept {
  Scheduler& s = g_sched;
  int n = s.nprocs;
  for (int round = 0; round < kStealRounds; round++) {
    bool last = round == kStealRounds - 1;
    std::uint32_t start = fast_rand(w);
    for (int i = 0; i < n; i++) {
      Processor* victim = s.allp[(start + i) % n];
      if (victim == p) continue;
      if (last) {
        std::int64_t when = victim->timers.earliest();
        if (when != 0) {
          std::int64_t now = nanotime();
          if (when <= now) run_timers(victim, now);
          if (Goroutine* g = p->runq.pop()) return g;
        }
      }
      if (Goroutine* g = steal_from(p, victim, last)) return g;
    }
  }
  return nullptr;
}

bool any_local_work() noexcept {
  for (Processor* p : g_sched.allp) {
    if (!p->runq.empty()) return true;
  }
  return false;
}

// Makes goroutines returned by the poller runnable: on p's queue if the
// caller holds one, else on the global queue; wakes helpers for the rest.
void inject_list(Goroutine* list, Processor* p, bool takes_one) noexcept {
  int n = 0;
  while (list != nullptr) {
    Goroutine* g = list;
    list = g->sched_link;
    g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
    if (p != nullptr) {
      runq_put(p, g, false);
    } else {
      std::lock_guard lk(g_sched.lock);
      global_put_locked(g);
    }
    n++;
  }
  // A caller that takes one of them from its queue needs no helper for it.
  for (int i = takes_one ? 1 : 0; i < n; i++) {
    if (g_sched.n_idle_p.load(std::memory_order_acquire) == 0) break;
    wake_worker_if_needed();
  }
}

// Polls without blocking if I/O waiters exist and nobody else is polling.
Goroutine* poll_ready(Processor* p) noexcept {
  const Poller* poller = g_poller.load(std::memory_order_acquire);
  if (poller == nullptr || !poller->has_waiters() || g_poll_blocked.load(std::memory_order_acquire)) {
    return nullptr;
  }
  g_last_poll_ns.store(nanotime(), std::memory_order_relaxed);
  Goroutine* list = poller->poll(0);
  if (list == nullptr) return nullptr;
  Goroutine* first = list;
  inject_list(first->sched_link, p, false);  // first is returned, not queued
  first->sched_link = nullptr;
  return first;
}

// A worker without a processor waits for work: inside the poller if
// goroutines wait for I/O and no other worker polls (it then also serves as
// the timer sleeper), else on its futex.
void idle_wait(Worker* w) noexcept {
  const Poller* poller = g_poller.load(std::memory_order_acquire);
  bool expected = false;
  if (poller != nullptr && poller->has_waiters() &&
      g_poll_blocked.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
    std::int64_t deadline = earliest_timer();
    Goroutine* list = poller->poll(deadline != 0 ? deadline : -1);
    g_last_poll_ns.store(nanotime(), std::memory_order_relaxed);
    g_poll_blocked.store(false, std::memory_order_release);
    Processor* p;
    {
      std::lock_guard lk(g_sched.lock);
      p = g_sched.stopping.load() ? nullptr : idle_p_get();
    }
    if (p != nullptr) acquire_p(w, p);
    inject_list(list, p, p != nullptr);
    return;
  }
  stop_worker(w, earliest_timer());
}

// Without a processor: take an idle one, or wait for work.
bool acquire_or_sleep(Worker* w) noexcept {
  Processor* p;
  {
    std::lock_guard lk(g_sched.lock);
    p = idle_p_get();
  }
  if (p != nullptr) {
    acquire_p(w, p);
    return true;
  }
  idle_wait(w);
  return w->p != nullptr;
}

// Gives p up and, if nothing turned up meanwhile, sleeps. Returns with or
// without a processor; the caller loops.
void release_and_sleep(Worker* w) noexcept {
  Scheduler& s = g_sched;
  Processor* p = w->p;
  {
    std::lock_guard lk(s.lock);
    if (s.stopping.load(std::memory_order_acquire)) return;
    if (s.runq_size.load(std::memory_order_relaxed) > 0) return;  // caller retries
    release_p(w);
    idle_p_put(p);
  }
  bool was_spinning = w->spinning;
  if (w->spinning) {
    w->spinning = false;
    s.n_spinning.fetch_sub(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wake_worker_if_needed
  }
  // A ready() that saw us spinning did not wake anyone: look once more.
  if (was_spinning && (any_local_work() || s.runq_size.load(std::memory_order_acquire) > 0)) {
    std::lock_guard lk(s.lock);
    if (Processor* q = idle_p_get()) {
      acquire_p(w, q);
      w->spinning = true;
      s.n_spinning.fetch_add(1, std::memory_order_acq_rel);
      return;
    }
  }
  std::int64_t deadline = earliest_timer();
  if (deadline != 0 && deadline <= nanotime()) {
    acquire_or_sleep(w);
    return;
  }
  idle_wait(w);
}

}  // namespace

// Go's findrunnable. Returns nullptr only when the runtime is stopping.
Goroutine* find_runnable(Worker* w) noexcept {
  Scheduler& s = g_sched;
  for (;;) {
    if (s.stopping.load(std::memory_order_acquire)) return nullptr;
    Processor* p = w->p;
    if (p == nullptr) {
      acquire_or_sleep(w);
      continue;
    }
    if (p->timers.earliest() != 0) {
      std::int64_t now = nanotime();
      if (p->timers.earliest() <= now) run_timers(p, now);
    }
    if (p->schedtick.load(std::memory_order_relaxed) % kFairnessTick == 0) {
      if (Goroutine* g = global_get(p, 1)) return g;
      // Busy workers must not starve I/O: poll if nobody did for 10 ms.
      if (nanotime() - g_last_poll_ns.load(std::memory_order_relaxed) > kForcedPollNs) {
        if (Goroutine* g = poll_ready(p)) return g;
      }
    }
    if (Goroutine* g = p->runq.pop()) return g;
    if (Goroutine* g = global_get(p, 0)) return g;
    if (Goroutine* g = poll_ready(p)) return g;
    int busy = s.nprocs - s.n_idle_p.load(std::memory_order_acquire);
    if (w->spinning || 2 * s.n_spinning.load(std::memory_order_acquire) < busy) {
      if (!w->spinning) {
        w->spinning = true;
        s.n_spinning.fetch_add(1, std::memory_order_acq_rel);
      }
      if (Goroutine* g = steal_work(w, p)) return g;
    }
    release_and_sleep(w);
  }
}

// ---------------------------------------------------------------------------
// Switching.

namespace {

void mark_running(Worker* w, Goroutine* g) noexcept {
  // A compactable goroutine's stack may be compacted: restore it here, on
  // the worker that runs it, never on the path that readied it.
  if (g->compactable) [[unlikely]]
    compact_claim_for_run(g);
  if (g->shrink_outstanding) [[unlikely]]
    disarm_deferred_shrink(g);
  w->current = g;
  g->status.store(GStatus::kRunning, std::memory_order_relaxed);
  g->wait_reason = WaitReason::kNone;  // park() leaves it set
  g->run_start_coarse_ns = w->coarse_now;
}

}  // namespace

// Runs g on w until some context switches back to w's system stack.
void execute(Worker* w, Goroutine* g, bool count_tick) noexcept {
  reset_spinning(w);
  w->coarse_now = coarse_nanotime();
  if (count_tick) w->p->schedtick.fetch_add(1, std::memory_order_relaxed);
  mark_running(w, g);
  switch_g0_to_g(w, g);
}

namespace {

// A compactable goroutine becomes compactable only once its park commit has
// run (the commit may read its stack), and only if it was not switched in
// again meanwhile (compactor.hpp).
[[gnu::noinline]] void finish_compactable_park(Worker* w, Goroutine* prev) noexcept {
  ParkSnapshot snapshot = compact_park_snapshot(prev);
  std::int64_t parked_at = w->coarse_now;
  prev->status.store(GStatus::kParked, std::memory_order_release);
  if (w->park_commit != nullptr && !w->park_commit(prev, w->park_arg)) ready(prev);
  compact_release_parked(prev, snapshot, parked_at);
}

}  // namespace

Goroutine* finish_switch_returning(Worker* w) noexcept {
  Goroutine* prev = w->prev;
  SwitchAction action = w->action;
  w->prev = nullptr;
  w->action = SwitchAction::kNone;
  switch (action) {
    case SwitchAction::kNone:
      break;
    case SwitchAction::kPark:
      if (prev->compactable) [[unlikely]] {
        finish_compactable_park(w, prev);
        break;
      }
      if (prev->shrink_wanted || prev->shrink_outstanding) [[unlikely]]
        arm_deferred_shrink(prev);
      prev->status.store(GStatus::kParked, std::memory_order_release);
      if (w->park_commit != nullptr && !w->park_commit(prev, w->park_arg)) ready(prev);
      break;
    case SwitchAction::kRequeue:
      prev->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      runq_put(w->p, prev, false);
      break;
    case SwitchAction::kExit:
      release_dead_goroutine(w->p, prev);
      break;
    case SwitchAction::kSystemCall:
      w->sys_fn(w->sys_arg);
      return prev;
    case SwitchAction::kBlockingExit:
      prev->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      {
        std::lock_guard lk(g_sched.lock);
        global_put_locked(prev);
      }
      wake_worker_if_needed();
      break;
  }
  return nullptr;
}

void finish_switch(Worker* w) noexcept {
  (void)finish_switch_returning(w);
}

// The worker's scheduler loop, on its own stack (Go's schedule on g0).
void schedule_loop(Worker* w) noexcept {
  Scheduler& s = g_sched;
  while (!s.stopping.load(std::memory_order_acquire)) {
    Goroutine* g = find_runnable(w);
    if (g == nullptr) continue;
    execute(w, g, true);
    // Something switched back to this stack: finish what it asked for.
    while (Goroutine* again = finish_switch_returning(w)) {
      mark_running(w, again);
      switch_g0_to_g(w, again);
    }
  }
}

namespace {

// Whether p's earliest timer may be due: then the switch goes through the
// scheduler loop, which runs it. The coarse clock lags by at most one tick
// (4 ms), so a timer is looked at from one tick before it is due. A parking
// goroutine has just read the clock into `parked_on`'s coarse_now (park's
// shrink check); other switches read it here, and only if a timer exists.
bool timer_may_be_due(Processor* p, Worker* parked_on) noexcept {
  constexpr std::int64_t kCoarseTickNs = 4000000;
  std::int64_t when = p->timers.earliest();
  if (when == 0) return false;
  std::int64_t now = parked_on != nullptr ? parked_on->coarse_now : coarse_nanotime();
  return when - kCoarseTickNs <= now;
}

}  // namespace

void switch_away(Goroutine* self, SwitchAction action) noexcept {
  switch_away(current_worker(), self, action);
}

void switch_away(Worker* w, Goroutine* self, SwitchAction action) noexcept {
  w->prev = self;
  w->action = action;
  bool dying = action == SwitchAction::kExit;
  Goroutine* next = nullptr;
  Processor* p = w->p;
  if (p != nullptr && action != SwitchAction::kSystemCall && action != SwitchAction::kBlockingExit &&
      !g_sched.stopping.load(std::memory_order_relaxed)) {
    std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed) + 1;
    if (tick % kFairnessTick != 0 && !timer_may_be_due(p, action == SwitchAction::kPark ? w : nullptr)) {
      next = p->runq.pop();
      if (next != nullptr) p->schedtick.store(tick, std::memory_order_relaxed);
    }
  }
  if (next != nullptr) {
    mark_running(w, next);
    switch_g_to_g(w, self, next, dying);
  } else {
    w->current = nullptr;
    switch_g_to_g0(self, w, dying);
  }
  // Resumed, perhaps on another worker.
  finish_switch(current_worker());
}

// ---------------------------------------------------------------------------
// Parking.

void ready(Goroutine* g) noexcept {
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  Worker* w = current_worker();
  if (w != nullptr && w->p != nullptr) {
    runq_put(w->p, g, true);
  } else {
    std::lock_guard lk(g_sched.lock);
    global_put_locked(g);
  }
  wake_worker_if_needed();
}

void ready_and_yield(Goroutine* g) noexcept {
  ready(g);
  Worker* w = current_worker();
  Goroutine* self = w != nullptr ? w->current : nullptr;
  if (self != nullptr && w->p != nullptr) switch_away(self, SwitchAction::kRequeue);
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

// ---------------------------------------------------------------------------
// Timers.

namespace {

// Someone asleep must learn of an earlier deadline; busy workers check
// their own heaps between goroutines anyway.
void notice_deadline(std::int64_t when) noexcept {
  Scheduler& s = g_sched;
  if (when < s.sleep_deadline.load(std::memory_order_acquire) &&
      (s.n_idle_p.load(std::memory_order_acquire) > 0 || s.sleep_deadline.load() != INT64_MAX)) {
    wake_timer_sleeper();
  }
}

}  // namespace

void add_timer(Timer* t) noexcept {
  Worker* w = current_worker();
  Processor* p = (w != nullptr && w->p != nullptr) ? w->p : g_sched.allp[0];
  // Once in the heap the timer may fire on another worker and be reused by
  // its owner at once: read nothing of it after the unlock.
  std::int64_t when = t->when;
  p->timers.lock().lock();
  p->timers.push(t, p);
  p->timers.lock().unlock();
  notice_deadline(when);
}

bool modify_timer(Timer* t, std::int64_t when) noexcept {
  for (;;) {
    Processor* p = t->owner.load(std::memory_order_acquire);
    if (p == nullptr) return false;
    p->timers.lock().lock();
    if (t->owner.load(std::memory_order_relaxed) == p) {
      bool moved = p->timers.update(t, when);
      p->timers.lock().unlock();
      if (moved) notice_deadline(when);
      return moved;
    }
    p->timers.lock().unlock();
  }
}

bool del_timer(Timer* t) noexcept {
  for (;;) {
    Processor* p = t->owner.load(std::memory_order_acquire);
    if (p == nullptr) return false;
    p->timers.lock().lock();
    if (t->owner.load(std::memory_order_relaxed) == p) {
      bool removed = p->timers.remove(t);
      p->timers.lock().unlock();
      return removed;
    }
    p->timers.lock().unlock();
  }
}

}  // namespace goro::detail
