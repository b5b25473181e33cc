// sync/semaphore.cpp: Go's runtime semaphore for one wait queue (see
// semaphore.hpp for the design and invariants).
#include "sync/semaphore.hpp"

namespace goro::detail {

namespace {

// Takes a token if there is one.
bool try_take(std::atomic<std::uint32_t>& count) noexcept {
  std::uint32_t v = count.load(std::memory_order_acquire);
  while (v != 0) {
    if (count.compare_exchange_weak(v, v - 1, std::memory_order_acquire)) return true;
  }
  return false;
}

}  // namespace

void sema_acquire(WaitQueue& q, Waiter* w, bool lifo, WaitReason why) noexcept {
  if (try_take(q.sema)) return;
  q.lock.lock();
  // A release that ran before we took the lock left its token in the count.
  if (try_take(q.sema)) {
    q.lock.unlock();
    return;
  }
  if (lifo) {
    q.waiters.push_front(w);
  } else {
    q.waiters.push_back(w);
  }
  // Woken only by a release that unlinked us: it handed us its token.
  block(w, q.lock, why);
}

SemaWakeup sema_release(WaitQueue& q, bool handoff) noexcept {
  q.lock.lock();
  Waiter* w = q.waiters.pop_front();
  if (w == nullptr) {
    // Nobody is queued yet: leave the token for the next acquire.
    q.sema.fetch_add(1, std::memory_order_release);
    q.lock.unlock();
    return {};
  }
  q.lock.unlock();
  // The waiter is parked and unlinked: it is ours until we wake it, and the
  // token is its own (no count changes hands).
  return SemaWakeup{w, handoff};
}

}  // namespace goro::detail
