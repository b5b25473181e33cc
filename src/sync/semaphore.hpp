// sync/semaphore.hpp: the semaphore a goro::mutex sleeps on (Go's runtime
// semacquire/semrelease in sema.go, one per mutex instead of Go's global
// address-hashed table).
//
// Design
//   * The count (WaitQueue::sema) holds the tokens no waiter was queued to
//     take. acquire() takes one if there is one, else queues and sleeps;
//     release() hands its token straight to the first queued waiter, or adds
//     it to the count when none is queued.
//   * A woken waiter therefore holds its token: it needs no further atomic
//     operation, and a caller arriving meanwhile cannot take it. (Go's
//     semrelease adds to the count and lets the woken waiter race arrivals
//     for it; for a mutex that race happens on the mutex's own state word,
//     so losing it at the semaphore too only costs a wakeup.)
//   * `lifo` puts a waiter at the front of the queue: the mutex uses it for a
//     waiter that has already waited once, so it keeps its place.
//   * `handoff` also gives the releaser's processor to the woken goroutine:
//     the mutex's starvation mode.
//
// Invariants
//   * The count is raised only under the queue's lock, and only while no
//     waiter is queued; a waiter looks at the count under that lock before it
//     queues. So no token sits in the count while a waiter sleeps.
//   * Every wakeup of a waiter on this queue comes from the release that
//     unlinked it and carries one token.
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
