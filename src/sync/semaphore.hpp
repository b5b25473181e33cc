// sync/semaphore.hpp: the semaphore a goro::mutex sleeps on (Go's runtime
// semacquire/semrelease in sema.go, one per mutex instead of Go's global
// address-hashed table).
//
// Design
//   * The count (WaitQueue::sema) is a number of wakeup tokens. acquire()
//     takes one, sleeping in the queue until one is there; release() adds one
//     and dequeues the waiter that should take it.
//   * A woken waiter still has to win its token against callers arriving on
//     the fast path; one that loses goes back to sleep.
//   * `lifo` puts a waiter at the front of the queue: the mutex uses it for a
//     waiter that has already waited once, so it keeps its place.
//   * `handoff` gives the token directly to the dequeued waiter (it cannot be
//     stolen) and, from a goroutine, the releaser's processor too: the
//     mutex's starvation mode.
//
// Invariants
//   * nwait == number of queued waiters whenever the lock is free; a waiter
//     raises it and re-checks the count under the lock, a releaser raises the
//     count and then reads nwait, both sequentially consistent, so one of them
//     always sees the other: no token is left while a waiter sleeps.
#pragma once

#include "sync/wait_queue.hpp"

namespace goro::detail {

// Blocks until a token is taken, sleeping on the caller's wait record `w`
// (from acquire_wait_record(), taken beforehand so that nothing here can
// fail).
void sema_acquire(WaitQueue& q, Waiter* w, bool lifo, WaitReason why) noexcept;

// What release() decided: whom to wake (null: nobody was waiting) and
// whether to hand over the processor. The caller wakes after it has stopped
// touching the object that owns q, so that object may be destroyed by the
// woken side.
struct SemaWakeup {
  Waiter* waiter = nullptr;
  bool handoff = false;

  void run() const noexcept {
    if (waiter == nullptr) return;
    if (handoff) {
      wake_handing_off(waiter);
    } else {
      wake(waiter);
    }
  }
};

// Adds a token and dequeues the waiter that gets the chance to take it.
SemaWakeup sema_release(WaitQueue& q, bool handoff) noexcept;

}  // namespace goro::detail
