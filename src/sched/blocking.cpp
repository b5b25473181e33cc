// sched/blocking.cpp: goro::blocking (Go's entersyscallblock/exitsyscall).
//
// Entering hands the processor off at once: to a worker if it has queued
// goroutines or timers (so they keep running), else to the idle list where
// ready() will find it. The goroutine then runs its call on this thread
// with no processor. Leaving takes any idle processor; if none is free the
// goroutine is queued globally and this thread goes idle, exactly like a
// goroutine readied from outside.
#include "sched/scheduler.hpp"

#include <goro/blocking.hpp>

#include <unistd.h>

namespace goro::detail {

bool enter_blocking() noexcept {
  Worker* w = current_worker();
  Goroutine* g = w != nullptr ? w->current : nullptr;
  if (g == nullptr || w->p == nullptr) return false;
  Processor* p = w->p;
  g->status.store(GStatus::kBlocking, std::memory_order_relaxed);
  g->wait_reason = WaitReason::kBlocking;
  w->in_blocking = true;
  bool has_work =
      !p->runq.empty() || !p->timers.empty() || g_sched.runq_size.load(std::memory_order_acquire) > 0;
  {
    lock_guard lk(g_sched.lock);
    release_p(w);
    g_sched.n_blocking++;
    if (!has_work) idle_p_put(p);
  }
  if (has_work) start_worker(p, false);
  return true;
}

void exit_blocking() noexcept {
  Worker* w = current_worker();
  Goroutine* g = w->current;
  Processor* p = nullptr;
  {
    lock_guard lk(g_sched.lock);
    g_sched.n_blocking--;
    // If the runtime ended while we were away, the goroutine is abandoned
    // and this thread goes back to its scheduler loop, which ends it: run()
    // waits for that.
    if (!g_sched.stopping.load(std::memory_order_acquire)) p = idle_p_get();
  }
  w->in_blocking = false;
  g->wait_reason = WaitReason::kNone;
  if (p != nullptr) {
    acquire_p(w, p);
    g->status.store(GStatus::kRunning, std::memory_order_relaxed);
    return;
  }
  switch_away(g, SwitchAction::kBlockingExit);
}

}  // namespace goro::detail
