// sync/semaphore.cpp: Go's runtime semaphore for one wait queue (see
// semaphore.hpp for the design and invariants).
#include "sync/semaphore.hpp"

namespace goro::detail {

namespace {

// Takes a token if there is one.
bool try_take(std::atomic<std::uint32_t>& count) noexcept {
  std::uint32_t v = count.load(std::memory_order_seq_cst);
  while (v != 0) {
    if (count.compare_exchange_weak(v, v - 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

}  // namespace

void sema_acquire(WaitQueue& q, Waiter* w, bool lifo, WaitReason why) noexcept {
  if (try_take(q.sema)) return;
  for (;;) {
    q.lock.lock();
    // Announce ourselves before the last look at the count (see the
    // invariant in semaphore.hpp).
    q.nwait.fetch_add(1, std::memory_order_seq_cst);
    if (try_take(q.sema)) {
      q.nwait.fetch_sub(1, std::memory_order_relaxed);
      q.lock.unlock();
      return;
    }
    w->ticket = 0;  // a handoff sets it to 1
    if (lifo) {
      q.waiters.push_front(w);
    } else {
      q.waiters.push_back(w);
    }
    block(w, q.lock, why);
    // Woken: either handed the token, or racing for it with newcomers.
    if (w->ticket != 0 || try_take(q.sema)) return;
  }
}

SemaWakeup sema_release(WaitQueue& q, bool handoff) noexcept {
  q.sema.fetch_add(1, std::memory_order_seq_cst);
  if (q.nwait.load(std::memory_order_seq_cst) == 0) return {};
  q.lock.lock();
  if (q.nwait.load(std::memory_order_relaxed) == 0) {
    // A waiter took the token while announcing itself.
    q.lock.unlock();
    return {};
  }
  Waiter* w = q.waiters.pop_front();
  q.nwait.fetch_sub(1, std::memory_order_relaxed);
  q.lock.unlock();
  // The waiter is parked and unlinked: it is ours until we wake it.
  SemaWakeup wakeup{w, false};
  if (handoff && try_take(q.sema)) {
    w->ticket = 1;
    wakeup.handoff = true;
  }
  return wakeup;
}

}  // namespace goro::detail
