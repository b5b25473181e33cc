// sync/wait_group.cpp: goro::wait_group (Go's sync.WaitGroup).
//
// State word: counter (int32) in the high half, waiters (uint32) in the low.
//
// Invariants
//   * waiters > 0 only while counter > 0: a waiter registers only if the
//     counter is positive, and the add() that brings the counter to zero
//     clears the waiter count in the same CAS. That add() then owns waking
//     exactly that many waiters.
//   * A waiter registers (CAS on the state) and links itself into the queue
//     within one hold of the queue's lock. Lock order and the state's
//     modification order therefore agree: when a releasing add() takes the
//     lock, every waiter it counted is queued, ahead of every waiter of a
//     later round. Releasers of overlapping rounds may wake each other's
//     waiters, but together they wake exactly the waiters of their rounds.
//   * The queue exists before a waiter registers (wait() installs it first),
//     so a releaser always finds it.
//   * A releaser touches the wait_group only before it wakes anyone: a woken
//     waiter may destroy it at once.
#include <goro/wait_group.hpp>

#include "sync/wait_queue.hpp"

#include <climits>

namespace goro {

namespace {

std::int64_t counter(std::uint64_t s) noexcept {
  return static_cast<std::int32_t>(s >> 32);
}
std::uint32_t waiters(std::uint64_t s) noexcept {
  return static_cast<std::uint32_t>(s);
}
std::uint64_t make_state(std::int64_t counter, std::uint32_t waiters) noexcept {
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(counter)) << 32 | waiters;
}

}  // namespace

wait_group::~wait_group() {
  detail::destroy_wait_queue(queue_.load(std::memory_order_acquire));
}

void wait_group::add(std::int64_t delta) noexcept {
  std::uint64_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    const std::int64_t v = counter(s) + delta;
    if (v < 0) detail::sync_fatal("sync: negative WaitGroup counter");
    if (v > INT32_MAX) detail::sync_fatal("sync: WaitGroup counter overflow");
    // Reaching zero releases the waiters: their count goes with it.
    const std::uint64_t next = v == 0 ? 0 : make_state(v, waiters(s));
    // acq_rel: the releasing add() must see every earlier done()'s writes to
    // pass them on to the waiters it wakes.
    if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      if (v == 0 && waiters(s) != 0) release_waiters(waiters(s));
      return;
    }
  }
}

void wait_group::release_waiters(std::uint32_t n) noexcept {
  detail::WaitQueue& q = detail::installed_wait_queue(queue_);
  q.lock.lock();
  detail::Waiter* list = q.waiters.take_front(n);
  q.lock.unlock();
  detail::wake_all(list);
}

void wait_group::wait() {
  std::uint64_t s = state_.load(std::memory_order_acquire);
  if (counter(s) == 0) return;
  detail::WaitQueue& q = detail::wait_queue_of(queue_);
  detail::Waiter* w = detail::acquire_wait_record();
  q.lock.lock();
  for (;;) {
    if (counter(s) == 0) {
      // Reached zero meanwhile; the acquire load/CAS saw the last done().
      q.lock.unlock();
      detail::release_wait_record(w);
      return;
    }
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) break;
  }
  q.waiters.push_back(w);
  detail::block(w, q.lock, detail::WaitReason::kWaitGroup);
  detail::release_wait_record(w);
}

}  // namespace goro
