// goro/mutex.hpp: a mutual exclusion lock that parks the goroutine, never the
// thread (Go's sync.Mutex).
//
// goro::mutex satisfies the C++ Lockable requirements, so std::lock_guard,
// std::unique_lock, std::scoped_lock and std::lock work with it. It is also
// a lock to clang's thread-safety analysis (goro/thread_annotations.hpp):
// held through goro::lock_guard, the fields it guards are checked.
//
//   goro::mutex mu;
//   int balance GORO_GUARDED_BY(mu) = 0;
//
//   void deposit(int n) {
//     goro::lock_guard lock(mu);
//     balance += n;
//   }
//
// Design (Go's sync.Mutex)
//   * One atomic state word: locked, woken and starving bits and a count of
//     waiters. Locking an unlocked mutex is one compare-and-swap; unlocking
//     one nobody waits for is another. No system call, no other lock.
//   * A contended lock() spins briefly (a few dozen pause instructions, at
//     most four times) only when that can pay off: several processors and
//     CPUs, so the holder may be running and about to unlock. Then it sleeps
//     in the mutex's wait queue: the goroutine is parked and its worker
//     thread runs other goroutines meanwhile.
//   * Normal mode: waiters queue FIFO, but a woken waiter competes with
//     goroutines arriving on the fast path, which usually win (they are
//     already running). A woken waiter that loses goes back to the front of
//     the queue. This keeps throughput high.
//   * Starvation mode: a woken waiter that has kept losing the lock for more
//     than 1 ms (counted from its first loss, so that a waiter that wins
//     reads no clock) switches the mutex to starvation mode. unlock() then
//     hands ownership directly to the waiter at the front of the queue,
//     together with the unlocking goroutine's processor; arriving goroutines
//     do not try to take the lock and queue at the back. The mutex returns
//     to normal mode when a waiter that got it had lost it for less than
//     1 ms, or was the last one.
//   * The wait queue (a small spin-locked list of pooled wait records) is
//     allocated on the mutex's first contention and freed by its destructor.
//
// A goro::mutex is not tied to a goroutine: one goroutine may lock it and
// another unlock it, as in Go. It is not recursive: locking a mutex the
// caller holds deadlocks.
//
// Plain threads: lock() and unlock() work from threads that are not
// goroutines too (they sleep on a futex), so a mutex may guard data shared
// with foreign threads. The runtime's deadlock detector only sees
// goroutines, though: if every goroutine waits for a mutex that only a plain
// thread will unlock, it may report a deadlock.
#pragma once

#include <goro/config.hpp>
#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>

#include <atomic>
#include <cstdint>

namespace goro {

namespace detail {
struct WaitQueue;
}  // namespace detail

// A mutual exclusion lock for goroutines (Go's sync.Mutex); see above.
class GORO_CAPABILITY("mutex") mutex {
 public:
  // An unlocked mutex. constexpr: a global mutex is constant-initialized
  // (constinit), so it is usable from any static initializer.
  constexpr mutex() noexcept = default;

  // Requires: the mutex is unlocked and nobody waits for it. Another
  // goroutine may still be returning from unlock() (the usual "last owner
  // deletes the object" pattern is safe): the destructor waits for that call
  // to leave the mutex alone, which takes at most a few instructions' time.
  ~mutex();

  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  // Locks the mutex, parking the calling goroutine (or sleeping the calling
  // thread, outside goroutines) until it is available.
  // Throws std::bad_alloc, with the mutex unchanged and not held, if the
  // mutex's wait queue cannot be allocated on its first contention.
  // Thread-safe. Cost: one CAS when unlocked; otherwise a brief spin, then a
  // park and a context switch.
  void lock() GORO_ACQUIRE() {
    std::uint64_t unlocked = 0;
    if (state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire,
                                       std::memory_order_relaxed)) [[likely]] {
      return;
    }
    lock_slow();
  }

  // Locks the mutex if it is unlocked and not promised to a starving waiter;
  // returns whether it did. Never blocks. Like Go's TryLock, a false result
  // says little: the mutex may be free again by the time the caller looks.
  // Thread-safe. Cost: a load and at most one CAS.
  [[nodiscard]] bool try_lock() noexcept GORO_TRY_ACQUIRE(true) {
    std::uint64_t old = state_.load(std::memory_order_relaxed);
    if ((old & (kLocked | kStarving)) != 0) return false;
    return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // Unlocks the mutex and wakes a waiter if there is one. Unlocking a mutex
  // that is not locked is a fatal error, as in Go: it prints "fatal error:
  // sync: unlock of unlocked mutex" and exits with status 2.
  // Thread-safe. Cost: a load and one CAS when nobody waits; otherwise a
  // few atomics and a ready() of the waiter (in starvation mode also a
  // switch to it). The load spares the slow path a CAS bound to fail.
  void unlock() noexcept GORO_RELEASE() {
    std::uint64_t locked = state_.load(std::memory_order_relaxed);
    if (locked == kLocked && state_.compare_exchange_strong(locked, 0, std::memory_order_release,
                                                            std::memory_order_relaxed)) [[likely]] {
      return;
    }
    unlock_slow();
  }

 private:
  // State word layout (see src/sync/mutex.cpp).
  static constexpr std::uint64_t kLocked = 1;
  static constexpr std::uint64_t kWoken = 2;
  static constexpr std::uint64_t kStarving = 4;

  void lock_slow();
  void unlock_slow() noexcept;

  std::atomic<std::uint64_t> state_{0};
  std::atomic<detail::WaitQueue*> queue_{nullptr};
};

}  // namespace goro
