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
#include "sched/scheduler.hpp"

#include "sched/compactor.hpp"
#include "sched/sanitizers.hpp"

#include <cxxabi.h>

namespace goro::detail {

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
      note_requeued(w->p->schedtick.load(std::memory_order_relaxed), prev);
      prev->status.store(GStatus::kRunnable, std::memory_order_relaxed);
      runq_put(w->p, prev, false);
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
  // A worker with a locked goroutine runs nothing else: its scheduler loop
  // gives the processor away.
  if (p != nullptr && action != SwitchAction::kSystemCall && action != SwitchAction::kBlockingExit &&
      w->locked_g == nullptr && !g_sched.stopping.load(std::memory_order_relaxed)) {
    std::uint32_t tick = p->schedtick.load(std::memory_order_relaxed) + 1;
    if (tick % kFairnessTick != 0 && !timer_may_be_due(p, action == SwitchAction::kPark ? w : nullptr)) {
      next = p->runq.pop();
      if (next != nullptr && next->locked_to != nullptr) [[unlikely]] {
        runq_put(p, next, true);  // its own worker must run it: the loop hands it over
        next = nullptr;
      }
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
  note_runnable(g);
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

}  // namespace goro::detail
