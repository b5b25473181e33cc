// time/timer.cpp: goro::timer, ticker, after, tick and after_func (Go's
// time.Timer in its 1.23 form) on the scheduler's per-processor timer heaps.
//
// A TimerCore wraps one sched Timer (embedded, so arming allocates nothing)
// and, for channel timers, a one-slot channel that reports cap 0.
//
// Fires that cannot be recalled: the heap pops a due timer under the heap
// lock and runs its callback after releasing that lock, so del_timer() can
// fail while the callback is about to run. Every arm therefore produces at
// most one "fire token" that reaches timer_fire(). stop()/reset() decide
// under `mu`:
//   * armed and del_timer() removes it: no token; the arm is cancelled;
//   * armed and del_timer() fails: the token is in flight; count it in
//     `stale`, and the fire that consumes it (taking `mu`) does nothing.
// Tokens are interchangeable: a stale one and the token of a newer arm may
// take `mu` in either order; whichever comes first is discarded. That is
// still correct, because the one that acts does so after the newer arm was
// due (its own fire was popped at or after that time, or comes after it).
//
// Invariants (under mu)
//   * armed == the current arm's token has not been consumed or cancelled.
//   * stale == tokens in flight that must be discarded.
//   * Each outstanding token (armed, or counted in stale) holds one
//     reference; so does each handle, the owning channel (channel timers)
//     and each running after_func goroutine.
//   * The fire sends into the channel holding mu, and stop()/reset() drain
//     it holding mu, so no value from before a stop/reset survives it.
//   * Lock order: mu, then a heap lock (add_timer/del_timer) or the
//     channel's lock; never the reverse.
#include <goro/thread_annotations.hpp>
#include "chan/chan_core.hpp"
#include "sched/scheduler.hpp"

#include <goro/goroutine.hpp>
#include <goro/timer.hpp>

#include <stdexcept>

namespace goro::detail {

namespace {
void fire(Timer* t, void* arg, std::int64_t now);
}  // namespace

struct TimerCore {
  TimerCore(std::int64_t when, std::int64_t period_ns, std::unique_ptr<TimerFunc> f) noexcept
      : period(period_ns), fn(std::move(f)) {
    t.fire = &fire;
    t.arg = this;
    t.when = when;
  }

  std::atomic<std::uint32_t> refs{1};
  SpinLock mu;
  // The heap's timer: its `when` is also written by the heap holding it,
  // under that heap's lock (sched/timers.hpp).
  Timer t GORO_GUARDED_BY(mu);
  std::int64_t period GORO_GUARDED_BY(mu) = 0;  // ticker period, 0 for one-shot timers
  bool armed GORO_GUARDED_BY(mu) = false;
  std::uint32_t stale GORO_GUARDED_BY(mu) = 0;
  ChanCore* ch GORO_GUARDED_BY(mu) = nullptr;  // channel timers: their channel (which owns us)
  // after_func: set at construction and never changed, so run_func reads it
  // without mu.
  const std::unique_ptr<TimerFunc> fn;
};

namespace {

void retain(TimerCore* tc) noexcept {
  tc->refs.fetch_add(1, std::memory_order_relaxed);
}

void require_runtime() {
  if (!sched().running.load(std::memory_order_acquire)) {
    throw std::logic_error("goro timers need a running runtime (call them inside goro::run)");
  }
}

// Starts the current arm.
void arm_locked(TimerCore* tc) noexcept GORO_REQUIRES(tc->mu) {
  tc->armed = true;
  retain(tc);  // the token's reference
  add_timer(&tc->t);
}

// Empties the channel of a value sent before now (Go 1.23: none survives a
// stop or reset). Returns whether it held a one-shot timer's value, which
// counts as pending.
bool drain_locked(TimerCore* tc) noexcept GORO_REQUIRES(tc->mu) {
  // Only a fire fills the channel, and fires send holding mu (which we
  // hold): an empty channel stays empty, so skip its lock then.
  if (tc->ch == nullptr || tc->ch->count.load(std::memory_order_acquire) == 0) return false;
  tc->ch->lock.lock();
  bool drained = chan_drain(tc->ch) && tc->period == 0;
  tc->ch->lock.unlock();
  return drained;
}

// Cancels the current arm and drains the channel. Returns whether the
// timer was pending, and in *drop how many references to drop once mu is
// released.
bool stop_locked(TimerCore* tc, int* drop) noexcept GORO_REQUIRES(tc->mu) {
  bool pending = false;
  if (tc->armed) {
    pending = true;
    tc->armed = false;
    if (del_timer(&tc->t)) {
      ++*drop;
    } else {
      ++tc->stale;  // its token is in flight; the fire will discard it
    }
  }
  return drain_locked(tc) || pending;
}

// The next tick strictly after `now`, skipping missed ones.
std::int64_t next_tick(std::int64_t when, std::int64_t period, std::int64_t now) noexcept {
  if (now < when) return when + period;
  return when + period * (1 + (now - when) / period);
}

void run_func(TimerCore* tc) {
  // Runs on its own goroutine, holding a reference.
  struct Release {
    TimerCore* tc;
    ~Release() { timer_release(tc); }
  } release{tc};
  tc->fn->run();
}

void start_func(TimerCore* tc) noexcept {
  retain(tc);
  try {
    goro::go([tc] { run_func(tc); });
  } catch (...) {
    // A timer callback cannot report an error to anyone.
    sched_fatal("goro::after_func: cannot start the callback's goroutine");
  }
}

// The heap's callback (sched/timers.hpp): short, never parks.
void fire(Timer* t, void* arg, std::int64_t now) {
  auto* tc = static_cast<TimerCore*>(arg);
  tc->mu.lock();
  if (tc->stale > 0) {
    --tc->stale;
    tc->mu.unlock();
    timer_release(tc);
    return;
  }
  // A token may act for a newer arm (see the top): it then fires at least
  // at that arm's time.
  const std::int64_t fired_at = now > t->when ? now : t->when;
  bool keep_token = false;
  if (tc->period > 0) {
    t->when = next_tick(t->when, tc->period, now);
    add_timer(t);  // the token's reference passes to the next arm
    keep_token = true;
  } else {
    tc->armed = false;
  }
  if (tc->ch != nullptr) {
    clock::time_point v{std::chrono::nanoseconds(fired_at)};
    // Drops the tick if the previous one was not received (tickers).
    chan_send(tc->ch, &v, false);
  }
  const bool run = tc->fn != nullptr;
  tc->mu.unlock();
  if (run) start_func(tc);
  if (!keep_token) timer_release(tc);
}

// A channel timer's channel is gone: nobody can observe the timer, so stop
// it and drop the channel's reference (Go 1.23 collects such timers).
void detach_from_channel(void* arg) noexcept {
  auto* tc = static_cast<TimerCore*>(arg);
  int drop = 1;  // the channel's own reference
  tc->mu.lock();
  (void)stop_locked(tc, &drop);
  tc->ch = nullptr;  // after this, no fire touches the channel
  tc->mu.unlock();
  while (drop-- > 0) timer_release(tc);
}

}  // namespace

TimerCore* timer_make_chan(std::int64_t when, std::int64_t period, ChanBase** chan_out) {
  require_runtime();
  ChanBase* ch = chan_make(&ElemOpsFor<clock::time_point>::ops, 1);
  TimerCore* tc = nullptr;
  try {
    tc = new TimerCore(when, period, nullptr);
  } catch (...) {
    chan_release(ch);
    throw;
  }
  ChanCore* c = core_of(ch);
  c->timer_chan = true;
  c->on_free = &detach_from_channel;
  c->on_free_arg = tc;
  retain(tc);  // the channel's reference
  tc->mu.lock();
  tc->ch = c;
  arm_locked(tc);
  tc->mu.unlock();
  *chan_out = ch;
  return tc;
}

TimerCore* timer_make_func(std::int64_t when, std::unique_ptr<TimerFunc> f) {
  require_runtime();
  auto* tc = new TimerCore(when, 0, std::move(f));
  tc->mu.lock();
  arm_locked(tc);
  tc->mu.unlock();
  return tc;
}

bool timer_stop(TimerCore* tc) noexcept {
  int drop = 0;
  tc->mu.lock();
  bool pending = stop_locked(tc, &drop);
  tc->mu.unlock();
  while (drop-- > 0) timer_release(tc);
  return pending;
}

bool timer_reset(TimerCore* tc, std::int64_t when, std::int64_t period) noexcept {
  int drop = 0;
  tc->mu.lock();
  if (period > 0) tc->period = period;
  // A pending arm moves in place, keeping its token (the common reset).
  if (tc->armed && modify_timer(&tc->t, when)) {
    drain_locked(tc);
    tc->mu.unlock();
    return true;
  }
  bool pending = stop_locked(tc, &drop);
  tc->t.when = when;  // not in any heap now
  arm_locked(tc);
  tc->mu.unlock();
  while (drop-- > 0) timer_release(tc);
  return pending;
}

void timer_release(TimerCore* tc) noexcept {
  if (tc != nullptr && tc->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete tc;
}

}  // namespace goro::detail
