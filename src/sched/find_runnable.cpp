// sched/find_runnable.cpp: how a worker finds its next goroutine, and how it
// idles when there is none (Go's findrunnable, stealWork, stopm, checkdead).
//
// find_runnable() on the worker's system stack looks, in order, at due
// timers, the global queue every kFairnessTick-th tick (fairness), the local
// queue, the global queue, the poller, then steals half of another
// processor's queue. A worker that finds nothing releases its processor and
// sleeps: inside the poller if goroutines wait for I/O and nobody polls,
// else on its futex, the one timed sleeper until the earliest timer.
//
// Spinning workers are bounded by half the busy processors, and a worker
// that stops spinning re-checks every queue once more after it has given up
// its processor: together with ready() waking a worker only when none
// spins, this is Go's protocol that never loses a wakeup. The last worker
// to go to sleep with no timer, no goroutine in blocking() and no external
// waiter declares the deadlock, as Go's checkdead() does.
#include "sched/scheduler.hpp"

#include "sched/poller.hpp"

#include <ctime>

namespace goro::detail {

namespace {

constexpr std::int64_t kForcedPollNs = 10000000;  // Go's sysmon: 10 ms
constexpr int kStealRounds = 4;

}  // namespace

void reset_spinning(Worker* w) noexcept {
  if (!w->spinning) return;
  w->spinning = false;
  // The last spinner found work: more may be coming, so start another.
  if (g_sched.n_spinning.fetch_sub(1, std::memory_order_acq_rel) == 1) wake_worker_if_needed();
}

// Makes goroutines returned by the poller runnable: on p's queue if the
// caller holds one, else on the global queue; wakes helpers for the rest.
void inject_list(Goroutine* list, Processor* p, bool takes_one) noexcept {
  int n = 0;
  while (list != nullptr) {
    Goroutine* g = list;
    list = g->sched_link;
    note_runnable(g);
    g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
    if (p != nullptr) {
      runq_put(p, g, false);
    } else {
      lock_guard lk(g_sched.lock);
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

// Nudges a sleeping worker to re-read the earliest timer (Go's
// wakeNetPoller): the timed sleeper if there is one, else any idle worker.
void wake_timer_sleeper() noexcept {
  if (g_poll_blocked.load(std::memory_order_acquire)) {
    g_poller.load(std::memory_order_acquire)->interrupt();
    return;
  }
  Worker* w = nullptr;
  {
    lock_guard lk(g_sched.lock);
    w = g_sched.timed_sleeper != nullptr ? g_sched.timed_sleeper : g_sched.idle_m;
  }
  if (w != nullptr) w->note.wake();
}

// With g_sched.lock held, by a worker about to sleep with no deadline.
// Workers waiting for their locked goroutine count as asleep.
void check_deadlock_locked() noexcept {
  if (g_sched.stopping.load(std::memory_order_acquire)) return;
  if (g_sched.n_idle_m + g_sched.n_locked_waiting != static_cast<int>(g_sched.allm.size())) return;
  if (g_sched.n_blocking > 0 || g_sched.external_waiters.load(std::memory_order_acquire) > 0) return;
  const Poller* poller = g_poller.load(std::memory_order_acquire);
  if (poller != nullptr && poller->has_waiters()) return;
  if (g_sched.runq_size.load(std::memory_order_acquire) > 0 || earliest_timer() != 0) return;
  for (Processor* p : all_processors(g_sched)) {
    if (!p->runq.empty()) return;
  }
  sched_fatal("all goroutines are asleep - deadlock!");
}

namespace {

// Go's stopm: sleeps until handed a processor, until `deadline` (the
// earliest timer, 0 if none) or until nudged. On return the worker may hold
// a processor (handed over) or not.
void stop_worker(Worker* w, std::int64_t deadline) noexcept {
  bool timed = false;
  w->note.clear();
  {
    lock_guard lk(g_sched.lock);
    if (g_sched.stopping.load(std::memory_order_acquire)) return;
    w->idle = true;
    w->idle_link = g_sched.idle_m;
    g_sched.idle_m = w;
    g_sched.n_idle_m++;
    if (deadline != 0 && (g_sched.timed_sleeper == nullptr || deadline < g_sched.sleep_deadline.load())) {
      g_sched.timed_sleeper = w;
      g_sched.sleep_deadline.store(deadline, std::memory_order_release);
      timed = true;
    }
    if (deadline == 0) check_deadlock_locked();
  }
  w->note.sleep(timed ? deadline : 0);
  Processor* p = nullptr;
  {
    lock_guard lk(g_sched.lock);
    if (w->idle) idle_m_remove(w);
    if (g_sched.timed_sleeper == w) idle_m_remove(w);
    p = w->next_p;
    w->next_p = nullptr;
  }
  if (p != nullptr) acquire_p(w, p);
}

// Runs p's due timers. Their callbacks ready goroutines onto the caller's
// processor.

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
// A victim found again in the run it was stuck in last time (a goroutine
// spawning in a loop, each child landing in runnext) is in no handoff: the
// thief then waits longer, so that it takes the children in larger batches
// and sleeps and wakes half as often (bench_park: half the nanosleeps and
// context switches, 15% less CPU per goroutine started).
bool victim_stuck(Worker* w, Processor* victim) noexcept {
  constexpr long kHandoffGraceNs = 3000;
  constexpr long kLongRunGraceNs = 100000;
  std::uint32_t tick = victim->schedtick.load(std::memory_order_acquire);
  bool same_run = w->stuck_victim == victim && w->stuck_victim_tick == tick;
  timespec pause{0, same_run ? kLongRunGraceNs : kHandoffGraceNs};
  nanosleep(&pause, nullptr);
  bool stuck = victim->schedtick.load(std::memory_order_acquire) == tick;
  w->stuck_victim = stuck ? victim : nullptr;
  w->stuck_victim_tick = tick;
  return stuck;
}

Goroutine* steal_from(Worker* w, Processor* p, Processor* victim, bool take_next) noexcept {
  Goroutine* batch[RunQueue::kSize / 2];
  if (take_next && victim->runq.size_without_next() == 0) {
    if (victim->runq.peek_next() == nullptr || !victim_stuck(w, victim)) return nullptr;
  }
  std::uint32_t n = victim->runq.grab_half(batch, take_next);
  if (n == 0) return nullptr;
  for (std::uint32_t i = 0; i + 1 < n; i++) p->runq.push_back(batch[i]);
  return batch[n - 1];
}

Goroutine* steal_work(Worker* w, Processor* p) noexcept {
  std::span<Processor* const> all = all_processors(g_sched);
  auto n = static_cast<std::uint32_t>(all.size());
  for (int round = 0; round < kStealRounds; round++) {
    bool last = round == kStealRounds - 1;
    std::uint32_t start = fast_rand(w);
    for (std::uint32_t i = 0; i < n; i++) {
      Processor* victim = all[(start + i) % n];
      if (victim == p) continue;
      if (last) {
        std::int64_t when = victim->timers.earliest();
        if (when != 0) {
          std::int64_t now = nanotime();
          if (when <= now) run_timers(victim, now);
          if (Goroutine* g = p->runq.pop()) return g;
        }
      }
      if (Goroutine* g = steal_from(w, p, victim, last)) return g;
    }
  }
  return nullptr;
}

bool any_local_work() noexcept {
  for (Processor* p : all_processors(g_sched)) {
    if (!p->runq.empty()) return true;
  }
  return false;
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
      lock_guard lk(g_sched.lock);
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
    lock_guard lk(g_sched.lock);
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
  Processor* p = w->p;
  {
    lock_guard lk(g_sched.lock);
    if (g_sched.stopping.load(std::memory_order_acquire)) return;
    if (g_sched.runq_size.load(std::memory_order_relaxed) > 0) return;  // caller retries
    release_p(w);
    idle_p_put(p);
  }
  bool was_spinning = w->spinning;
  if (w->spinning) {
    w->spinning = false;
    g_sched.n_spinning.fetch_sub(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wake_worker_if_needed
  }
  // A ready() that saw us spinning did not wake anyone: look once more.
  if (was_spinning && (any_local_work() || g_sched.runq_size.load(std::memory_order_acquire) > 0)) {
    lock_guard lk(g_sched.lock);
    if (Processor* q = idle_p_get()) {
      acquire_p(w, q);
      w->spinning = true;
      g_sched.n_spinning.fetch_add(1, std::memory_order_acq_rel);
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
  for (;;) {
    if (g_sched.stopping.load(std::memory_order_acquire)) return nullptr;
    Processor* p = w->p;
    if (p == nullptr) {
      acquire_or_sleep(w);
      continue;
    }
    if (p->retire_wanted.load(std::memory_order_relaxed)) [[unlikely]] {
      retire_held_processor(w);
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
    if (Goroutine* g = runq_get(p)) return g;
    if (Goroutine* g = global_get(p, 0)) return g;
    if (Goroutine* g = poll_ready(p)) return g;
    int busy =
        g_sched.nprocs.load(std::memory_order_relaxed) - g_sched.n_idle_p.load(std::memory_order_acquire);
    if (w->spinning || 2 * g_sched.n_spinning.load(std::memory_order_acquire) < busy) {
      if (!w->spinning) {
        w->spinning = true;
        g_sched.n_spinning.fetch_add(1, std::memory_order_acq_rel);
      }
      if (Goroutine* g = steal_work(w, p)) return g;
    }
    release_and_sleep(w);
  }
}

}  // namespace goro::detail
