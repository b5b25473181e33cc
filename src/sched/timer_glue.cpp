// sched/timer_glue.cpp: the processors' timer heaps as the scheduler uses
// them (Go's addtimer, modtimer, deltimer, runtimer).
//
// A timer goes into the heap of the processor that arms it; it may be
// modified or deleted from anywhere through its `owner`, under that heap's
// lock. Due timers run on the worker that finds them, outside the lock. An
// earlier deadline than the timed sleeper's wakes it (notice_deadline).
#include "sched/scheduler.hpp"

namespace goro::detail {

std::int64_t earliest_timer() noexcept {
  std::int64_t min = 0;
  for (Processor* p : all_processors(g_sched)) {
    std::int64_t w = p->timers.earliest();
    if (w != 0 && (min == 0 || w < min)) min = w;
  }
  return min;
}

void run_timers(Processor* p, std::int64_t now) noexcept {
  for (;;) {
    Timer* t;
    {
      lock_guard lk(p->timers.lock());
      t = p->timers.pop_due(now);
    }
    if (t == nullptr) return;
    t->fire(t, t->arg, now);
  }
}

namespace {

// Someone asleep must learn of an earlier deadline; busy workers check
// their own heaps between goroutines anyway.
void notice_deadline(std::int64_t when) noexcept {
  if (when < g_sched.sleep_deadline.load(std::memory_order_acquire) &&
      (g_sched.n_idle_p.load(std::memory_order_acquire) > 0 || g_sched.sleep_deadline.load() != INT64_MAX)) {
    wake_timer_sleeper();
  }
}

}  // namespace

void add_timer(Timer* t) noexcept {
  Worker* w = current_worker();
  // Without a processor (a foreign thread, or inside blocking()) the first
  // one takes it; should it be retired, its timers are still watched.
  Processor* p = (w != nullptr && w->p != nullptr) ? w->p : g_sched.allp[0];
  // Once in the heap the timer may fire on another worker and be reused by
  // its owner at once: read nothing of it after the unlock.
  std::int64_t when = t->when;
  {
    lock_guard lk(p->timers.lock());
    p->timers.push(t, p);
  }
  notice_deadline(when);
}

bool modify_timer(Timer* t, std::int64_t when) noexcept {
  for (;;) {
    Processor* p = t->owner.load(std::memory_order_acquire);
    if (p == nullptr) return false;
    bool moved;
    {
      lock_guard lk(p->timers.lock());
      if (t->owner.load(std::memory_order_relaxed) != p) continue;  // moved to another heap meanwhile
      moved = p->timers.update(t, when);
    }
    if (moved) notice_deadline(when);
    return moved;
  }
}

bool del_timer(Timer* t) noexcept {
  for (;;) {
    Processor* p = t->owner.load(std::memory_order_acquire);
    if (p == nullptr) return false;
    lock_guard lk(p->timers.lock());
    if (t->owner.load(std::memory_order_relaxed) == p) return p->timers.remove(t);
  }
}

}  // namespace goro::detail
