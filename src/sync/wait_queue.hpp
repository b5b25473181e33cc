// sync/wait_queue.hpp: the wait queue under every goro sync primitive
// (mutex, rw_mutex, cond, wait_group), and what sync/ adds to the waiting
// protocol of sched/wait_list.hpp, which channels follow too.
//
// Design
//   * Each primitive owns one WaitQueue: a detail::SpinLock and the
//     WaitList it guards. It is allocated on the primitive's first
//     contention and installed with one CAS, so an uncontended primitive is
//     a few atomic words, needs no allocation, and has a constexpr
//     constructor (usable as a constinit global). The public headers see
//     only a pointer: SpinLock and Waiter are runtime-internal types.
//   * Blocking and waking are the protocol's block() and wake(): the caller
//     links its record while holding the queue's lock and calls block(),
//     which releases the lock only once the goroutine is off its stack. A
//     waker that finds the record in the queue can therefore ready it at
//     once. Plain threads (not goroutines) sleep on a futex note instead.
//
// Invariants
//   * A Waiter linked in a queue belongs to a blocked caller; whoever unlinks
//     it under the queue's lock is the only party allowed to wake() it, and
//     must not touch it after wake() (its owner may release it at once).
//   * A waker touches the primitive (and its queue) only before it wakes
//     anyone, so a woken caller may destroy the primitive immediately.
#pragma once

#include <goro/thread_annotations.hpp>
#include "arch/spinlock.hpp"
#include "sched/park.hpp"
#include "sched/wait_list.hpp"

#include <atomic>
#include <cstdint>

namespace goro::detail {

// A sync primitive's waiters: the one wait list (sched/wait_list.hpp) and
// the lock that guards it.
struct WaitQueue {
  SpinLock lock;
  // The semaphore's spare tokens (sync/semaphore.hpp), used by the mutexes
  // only. Raised under the lock, taken without it, hence an atomic.
  std::atomic<std::uint32_t> sema{0};
  WaitList waiters GORO_GUARDED_BY(lock);
};

// The queue of a primitive, installed on first use. Throws std::bad_alloc
// (leaving the primitive unchanged) if it cannot be allocated.
WaitQueue& wait_queue_of(std::atomic<WaitQueue*>& slot);
// The queue of a primitive that is known to have one (someone waits).
inline WaitQueue& installed_wait_queue(const std::atomic<WaitQueue*>& slot) noexcept {
  return *slot.load(std::memory_order_acquire);
}
void destroy_wait_queue(WaitQueue* q) noexcept;

// Waits until (word & mask) == 0, for destructors that must let callers
// still inside a primitive's code leave it. The callers it waits for are
// running, or runnable goroutines, so this lets others run while it waits.
void wait_until_clear(const std::atomic<std::uint64_t>& word, std::uint64_t mask) noexcept;
void wait_until_clear(const std::atomic<std::uint32_t>& word, std::uint32_t mask) noexcept;

// Go's fatal error for misuse (unlock of an unlocked mutex, negative
// WaitGroup counter): prints "fatal error: <msg>" and exits with status 2.
[[noreturn]] void sync_fatal(const char* msg) noexcept;

}  // namespace goro::detail
