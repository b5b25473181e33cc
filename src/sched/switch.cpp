// sched/switch.cpp: switching between goroutines and the worker's scheduler
// loop (Go's execute, schedule, gopark's mcall half, goready).
//
// Goroutine to goroutine is direct (one context switch); through the
// worker's scheduler context (g0, on the thread's own stack) only when the
// local queue is empty, every kFairnessTick-th switch, or when a timer may be
// due. Whatever the previous context asked for (park it, requeue it, free
// its stack) is finished by the context that resumes, once the previous one
// is off its stack: finish_switch(). Every switch carries the C++ exception
// state and is announced to the sanitizers.
//
// Direct handoff. A goroutine that readies a partner (a channel send to a
// parked receiver, an unlock, a done()) puts it in runnext, and when it
// parks right after, the switch takes runnext: the partner runs at once on
// this thread, with no lock held across the switch (the parking side's lock
// is released by its commit, the readying side's before ready()). Go wakes
// an idle worker on every such ready (wakep), which then finds nothing to
// do. Here ready() skips that wakeup once the worker's last kHandoffTrust
// parks each switched straight to the goroutine readied just before; the
// next switch settles the skipped wakeup (settle_handoff): made then if
// the partner did not run next after all. A goroutine that readies and
// keeps running without switching strands its partner in runnext until the
// system monitor's next tick (sysmon.cpp, wake_for_waiting_work); it skips
// at most one wakeup that way before a switch confirms it again, and once
// the next switch shows the skip was wrong, the worker needs four times
// the trust before it skips again.
// runnext stays stealable throughout, and runq_get bounds how many
// switches in a row it wins, so a ping-pong pair cannot starve its
// processor's queue.
#include "sched/scheduler.hpp"

#include "sched/compactor.hpp"
#include "sched/sanitizers.hpp"
#include "sched/wait_list.hpp"

#include <cxxabi.h>

namespace goro::detail {

namespace {

// Direct handoffs in a row after which ready() trusts the next one to be
// one too and skips waking an idle worker for it; after a skipped wakeup
// that proved wrong, four times as many.
constexpr std::int16_t kHandoffTrust = 16;
constexpr std::int16_t kHandoffMissed = -3 * kHandoffTrust;

}  // namespace

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
// Switching.

namespace {

// Inlined: it is on every switch-in, and the compiler stops inlining it on
// its own once it holds the metrics hook (a call more per switch).
[[gnu::always_inline]] inline void mark_running(Worker* w, Goroutine* g) noexcept {
  // A compactable goroutine's stack may be compacted: restore it here, on
  // the worker that runs it, never on the path that readied it.
  if (g->compactable) [[unlikely]]
    compact_claim_for_run(g);
  if (g->shrink_outstanding) [[unlikely]]
    disarm_deferred_shrink(g);
  note_switch_in(w, g);
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

// Runs park()'s commit; false means the wait was cancelled. Most parks come
// from block(), whose commit only releases the primitive's lock: that one is
// done here directly rather than through the pointer, on every park.
[[gnu::always_inline]] inline bool commit_park(Worker* w,
                                               Goroutine* prev) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  bool (*commit)(Goroutine*, void*) = w->park_commit;
  if (commit == &unlock_in_commit) {
    static_cast<SpinLock*>(w->park_arg)->unlock();
    return true;
  }
  return commit == nullptr || commit(prev, w->park_arg);
}

// A compactable goroutine becomes compactable only once its park commit has
// run (the commit may read its stack), and only if it was not switched in
// again meanwhile (compactor.hpp).
[[gnu::noinline]] void finish_compactable_park(Worker* w, Goroutine* prev) noexcept {
  ParkSnapshot snapshot = compact_park_snapshot(prev);
  std::int64_t parked_at = coarse_nanotime();  // compact_after counts from here
  prev->status.store(GStatus::kParked, std::memory_order_release);
  if (!commit_park(w, prev)) ready(prev);
  compact_release_parked(prev, snapshot, parked_at);
}

}  // namespace

Goroutine* finish_switch_returning(Worker* w) noexcept {
  Goroutine* prev = w->prev;  // meaningful only with an action
  SwitchAction action = w->action;
  if (action != SwitchAction::kNone) w->action = SwitchAction::kNone;
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
      if (!commit_park(w, prev)) ready(prev);
      break;
    case SwitchAction::kRequeue:
      note_requeued(w->p->schedtick.load(std::memory_order_relaxed), prev);
      prev->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      runq_put(w->p, prev, false);
      break;
    case SwitchAction::kRequeueGlobal:
      note_requeued(w->p->schedtick.load(std::memory_order_relaxed), prev);
      prev->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      global_runq_put_batch(&prev, 1);
      break;
    case SwitchAction::kExit:
      if (prev == w->locked_g) [[unlikely]] {
        w->locked_g = nullptr;
        w->exit_thread = true;
      }
      release_dead_goroutine(w->p, prev);
      break;
    case SwitchAction::kSystemCall:
      w->sys_fn(w->sys_arg);
      return prev;
    case SwitchAction::kBlockingExit:
      note_runnable(prev);
      prev->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      {
        lock_guard lk(g_sched.lock);
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
  while (!g_sched.stopping.load(std::memory_order_acquire)) {
    Goroutine* g = nullptr;
    if (w->locked_g != nullptr) [[unlikely]] {
      g = wait_for_locked_goroutine(w);
    } else {
      g = find_runnable(w);
      if (g != nullptr && g->locked_to != nullptr && g->locked_to != w) [[unlikely]] {
        hand_to_locked_worker(w, g);
        continue;
      }
    }
    if (g == nullptr) continue;
    execute(w, g, true);
    // Something switched back to this stack: finish what it asked for.
    while (Goroutine* again = finish_switch_returning(w)) {
      mark_running(w, again);
      switch_g0_to_g(w, again);
    }
    if (w->exit_thread) [[unlikely]] {
      end_locked_thread(w);
      if (!w->is_m0) return;
    }
  }
}

namespace {

// Whether p's earliest timer may be due: then the switch goes through the
// scheduler loop, which runs it. The coarse clock lags by at most one tick
// (4 ms), so a timer is looked at from one tick before it is due. The clock
// is read only if a timer exists.
bool timer_may_be_due(Processor* p) noexcept {
  constexpr std::int64_t kCoarseTickNs = 4000000;
  std::int64_t when = p->timers.earliest();
  if (when == 0) return false;
  return when - kCoarseTickNs <= coarse_nanotime();
}

// The partner did not run next: make the wakeup ready() skipped, if it did.
[[gnu::noinline]] void settle_missed_handoff(Worker* w) noexcept {
  w->handoffs = 0;
  if (w->wakep_owed) {
    w->wakep_owed = false;
    w->handoffs = kHandoffMissed;
    wake_worker_if_needed();
  }
}

// The switch is the moment a ready() made by the goroutine now leaving is
// judged. If that goroutine stops running (parks or exits) and what runs
// next on this worker is the goroutine it readied last (switched to at
// once, or still in runnext for the scheduler loop this switch goes
// through), the partner was handed over directly and no other worker
// needed waking for it. Else the wakeup ready() skipped is made now (a
// goroutine that only yields stays runnable: another worker may take it),
// and ready() stops skipping until kHandoffTrust direct handoffs in a row
// have been seen again (four times as many if it had skipped one).
void settle_handoff(Worker* w, bool direct) noexcept {
  w->readied = nullptr;
  if (direct) {
    w->wakep_owed = false;
    if (w->handoffs < kHandoffTrust) w->handoffs++;
    return;
  }
  settle_missed_handoff(w);
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
  // A worker with a locked goroutine runs nothing else: its scheduler loop
  // gives the processor away.
  bool keeps_p = p != nullptr && action != SwitchAction::kSystemCall &&
                 action != SwitchAction::kBlockingExit && w->locked_g == nullptr &&
                 !g_sched.stopping.load(std::memory_order_relaxed);
  if (keeps_p) {
    std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed) + 1;
    if (tick % kFairnessTick != 0 && !timer_may_be_due(p)) {
      next = runq_get(p);
      if (next != nullptr && next->locked_to != nullptr) [[unlikely]] {
        runq_put(p, next, true);  // its own worker must run it: the loop hands it over
        next = nullptr;
      }
      if (next != nullptr) p->schedtick.store(tick, std::memory_order_relaxed);
    }
  }
  if (Goroutine* readied = w->readied) {
    bool stops = action == SwitchAction::kPark || action == SwitchAction::kExit;
    bool runs_next = next != nullptr ? next == readied : keeps_p && p->runq.peek_next() == readied;
    settle_handoff(w, stops && runs_next);
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
  note_runnable(g);
  g->status.store(GStatus::kRunnable, std::memory_order_relaxed);
  Worker* w = current_worker();
  if (w == nullptr || w->p == nullptr) {
    {
      lock_guard lk(g_sched.lock);
      global_put_locked(g);
    }
    wake_worker_if_needed();
    return;
  }
  // runq_put(p, g, true), its common case inlined: runnext was empty.
  if (Goroutine* displaced = w->p->runq.put_next(g)) runq_put(w->p, displaced, false);
  if (w->current != nullptr) {
    // A goroutine readies a partner. If its last parks each switched
    // straight to the goroutine it had readied, this one will most likely
    // run here next too, with nothing for another worker to do: the wakeup
    // is owed, and the next switch settles it (settle_handoff). A second
    // ready() before that switch pays it: the first goroutine readied has
    // left runnext for the ring.
    bool owed = w->wakep_owed;
    w->readied = g;
    if (!owed && w->handoffs >= kHandoffTrust) {
      // Trust is spent until a switch confirms it: a goroutine that readies
      // without parking (a mutex holder in a loop) skips one wakeup at most.
      w->handoffs--;
      w->wakep_owed = true;
      return;
    }
    w->wakep_owed = false;
    if (owed) w->handoffs = 0;
  }
  wake_worker_if_needed();
}

void ready_and_yield(Goroutine* g) noexcept {
  ready(g);
  Worker* w = current_worker();
  Goroutine* self = w != nullptr ? w->current : nullptr;
  if (self != nullptr && w->p != nullptr) switch_away(self, SwitchAction::kRequeue);
}

}  // namespace goro::detail
