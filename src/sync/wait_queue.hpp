// sync/wait_queue.hpp: the wait queue under every goro sync primitive, and
// the one way sync/ blocks and wakes its callers.
//
// Design
//   * Each primitive (mutex, wait_group, cond) owns one WaitQueue: a
//     detail::SpinLock and an intrusive FIFO of Waiter records (Go's sudog).
//     It is allocated on the primitive's first contention and installed with
//     one CAS, so an uncontended primitive is a few atomic words, needs no
//     allocation, and has a constexpr constructor (usable as a constinit
//     global). The public headers see only a pointer: SpinLock and Waiter are
//     runtime-internal types.
//   * Blocking follows park()'s contract: the caller links its Waiter while
//     holding the queue's lock and calls block(), which releases the lock
//     only once the goroutine is off its stack (in park's commit callback). A
//     waker that finds the Waiter in the queue can therefore ready it at once.
//   * Callers on plain threads (not goroutines) are supported: their Waiter
//     is a per-thread record with a futex note, and block() sleeps the thread
//     in the kernel. Goroutine Waiters come from the runtime's pool, never
//     from the goroutine's stack (DESIGN.md, "Rules").
//
// Invariants
//   * A Waiter linked in a queue belongs to a blocked caller; whoever unlinks
//     it under the queue's lock is the only party allowed to wake() it, and
//     must not touch it after wake() (its owner may release it at once).
//   * A waker touches the primitive (and its queue) only before it wakes
//     anyone, so a woken caller may destroy the primitive immediately.
#pragma once

#include "arch/spinlock.hpp"
#include "sched/park.hpp"

#include <atomic>
#include <cstdint>

namespace goro::detail {

struct WaitQueue {
  SpinLock lock;
  // Go's runtime semaphore count and waiter count, used by the mutex only
  // (sync/semaphore.hpp). nwait can be read without the lock.
  std::atomic<std::uint32_t> sema{0};
  std::atomic<std::uint32_t> nwait{0};
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
  std::uint64_t size = 0;  // waiters linked, so that taking them all walks none

  // All below: the caller holds `lock`.
  bool empty() const noexcept { return head == nullptr; }
  void push_back(Waiter* w) noexcept;
  void push_front(Waiter* w) noexcept;
  void remove(Waiter* w) noexcept;
  Waiter* pop_front() noexcept {
    Waiter* w = head;
    if (w != nullptr) remove(w);
    return w;
  }
  // Unlinks up to n waiters from the front and returns them as a list
  // chained by Waiter::next (null-terminated), for wake_all().
  Waiter* take_front(std::uint64_t n) noexcept;
  Waiter* take_all() noexcept { return take_front(UINT64_MAX); }
};

// The queue of a primitive, installed on first use. Throws std::bad_alloc
// (leaving the primitive unchanged) if it cannot be allocated.
WaitQueue& wait_queue_of(std::atomic<WaitQueue*>& slot);
// The queue of a primitive that is known to have one (someone waits).
inline WaitQueue& installed_wait_queue(const std::atomic<WaitQueue*>& slot) noexcept {
  return *slot.load(std::memory_order_acquire);
}
void destroy_wait_queue(WaitQueue* q) noexcept;

// A wait record for the caller: pooled for a goroutine (g set), this
// thread's own record for a plain thread (g null). Throws std::bad_alloc.
Waiter* acquire_wait_record();
void release_wait_record(Waiter* w) noexcept;

// A wait record held for one call (a lock's slow path). Taken before the
// caller first changes its lock's state, so that an allocation failure
// leaves the lock as it was.
class ScopedWaitRecord {
 public:
  ScopedWaitRecord() : w_(acquire_wait_record()) {}
  ScopedWaitRecord(const ScopedWaitRecord&) = delete;
  ScopedWaitRecord& operator=(const ScopedWaitRecord&) = delete;
  ~ScopedWaitRecord() { release_wait_record(w_); }
  Waiter* get() const noexcept { return w_; }

 private:
  Waiter* const w_;
};

// Blocks the caller until someone wake()s `w`. On entry `lock` is held and
// `w` (the caller's record) is linked in the queue `lock` guards; the lock
// is released once the caller can be woken. Returns without the lock.
void block(Waiter* w, SpinLock& lock, WaitReason why) noexcept;

// Wakes the owner of `w`, which the caller has unlinked. With `handoff` and
// a goroutine caller, the caller's processor goes to the woken goroutine at
// once (Go's semrelease handoff). Never touches `w` afterwards.
void wake(Waiter* w, bool handoff = false) noexcept;
// Wakes every waiter of a list from take_front(), in order.
void wake_all(Waiter* list) noexcept;

// Waits until (word & mask) == 0, for destructors that must let callers
// still inside a primitive's code leave it. The callers it waits for are
// running, or runnable goroutines, so this lets others run while it waits.
void wait_until_clear(const std::atomic<std::uint64_t>& word, std::uint64_t mask) noexcept;
void wait_until_clear(const std::atomic<std::uint32_t>& word, std::uint32_t mask) noexcept;

// Go's fatal error for misuse (unlock of an unlocked mutex, negative
// WaitGroup counter): prints "fatal error: <msg>" and exits with status 2.
[[noreturn]] void sync_fatal(const char* msg) noexcept;

}  // namespace goro::detail
