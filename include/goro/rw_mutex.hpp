// goro/rw_mutex.hpp: a reader/writer lock that parks the goroutine, never the
// thread (Go's sync.RWMutex).
//
// Any number of readers or one writer hold it at a time. goro::rw_mutex
// meets C++'s SharedMutex requirements, so std::shared_lock, std::unique_lock,
// std::lock_guard and std::scoped_lock work with it. To clang's
// thread-safety analysis it is a lock that readers hold shared
// (goro/thread_annotations.hpp); goro::shared_lock_guard and goro::lock_guard
// hold it in a way the analysis follows:
//
//   goro::rw_mutex mu;
//   std::map<std::string, int> table GORO_GUARDED_BY(mu);
//
//   int lookup(const std::string& k) {
//     goro::shared_lock_guard lock(mu);  // mu.RLock(); defer mu.RUnlock()
//     return table.at(k);
//   }
//   void store(const std::string& k, int v) {
//     goro::lock_guard lock(mu);         // mu.Lock(); defer mu.Unlock()
//     table[k] = v;
//   }
//
// Writer preference, as in Go: once a writer waits in lock(), new readers
// wait behind it, so a steady stream of readers cannot starve writers. It
// follows that a reader must not take the read lock recursively: if a
// writer arrives between the two rlock() calls, both wait for each other.
//
// Design (Go's sync.RWMutex)
//   * A goro::mutex serialises writers. An atomic reader count is all a
//     reader touches when no writer is pending: rlock() and runlock() are one
//     atomic each.
//   * A writer, holding that mutex, subtracts a large constant from the
//     reader count, which makes it negative: readers arriving later see that
//     and sleep on the readers' semaphore. The readers already inside are
//     recorded in a "departing" count; the last of them to runlock() wakes
//     the writer through the writer's semaphore. unlock() adds the constant
//     back and releases one reader token per reader that arrived meanwhile.
//   * The semaphores are the ones goro::mutex sleeps on (one wait queue each,
//     allocated by the first writer), so waiting parks goroutines and sleeps
//     plain threads on a futex.
//   * As with goro::mutex, the object may be destroyed as soon as it is
//     unlocked and unwaited, even while a runlock() or unlock() that let the
//     destroyer in is still returning: those calls register in a busy count
//     (in the same atomic step that lets the next owner in) and the
//     destructor waits for it to drain.
//
// A goro::rw_mutex is not tied to a goroutine: one may lock it and another
// unlock it, as in Go. Unlocking one that is not locked (in that mode) is a
// fatal error, as in Go. Plain threads may call every member; see the
// deadlock-detector note in mutex.hpp.
#pragma once

#include <goro/config.hpp>

#include <goro/lock_guard.hpp>
#include <goro/mutex.hpp>
#include <goro/thread_annotations.hpp>

#include <atomic>
#include <cstdint>

namespace goro {

namespace detail {
struct WaitQueue;
}  // namespace detail

// A reader/writer lock for goroutines (Go's sync.RWMutex); see above.
class GORO_CAPABILITY("mutex") rw_mutex {
 public:
  // An unlocked rw_mutex; constexpr, so a global one is constant-initialized.
  constexpr rw_mutex() noexcept = default;
  // Requires: not held and nobody waits for it. A runlock()/unlock() still
  // returning is waited for (a few instructions' time).
  ~rw_mutex();
  rw_mutex(const rw_mutex&) = delete;
  rw_mutex& operator=(const rw_mutex&) = delete;

  // Locks for writing (Go's Lock): waits until no writer holds it and every
  // reader has left; readers arriving meanwhile wait behind this writer.
  // Throws std::bad_alloc, with nothing held or changed, if the wait queues
  // cannot be allocated (first writer only).
  // Thread-safe. Cost: a goro::mutex lock and a compare-and-swap when no
  // reader is inside; otherwise a park until the last reader leaves.
  void lock() GORO_ACQUIRE();
  // Locks for writing if that needs no waiting (Go's TryLock). False also
  // if the first writer's wait queues cannot be allocated.
  // Thread-safe. Cost: a few atomics.
  [[nodiscard]] bool try_lock() noexcept GORO_TRY_ACQUIRE(true);
  // Unlocks a write lock (Go's Unlock) and wakes the readers that waited
  // for it. Fatal if not write-locked.
  // Thread-safe. Cost: one atomic and a goro::mutex unlock; plus a wakeup
  // per waiting reader.
  void unlock() noexcept GORO_RELEASE();

  // Locks for reading (Go's RLock): waits while a writer holds the lock or
  // waits for it. Throws std::bad_alloc, with nothing held, if a wait record
  // cannot be had.
  // Thread-safe. Cost: one compare-and-swap when no writer is around.
  void lock_shared() GORO_ACQUIRE_SHARED() {
    std::int32_t c = readers_.load(std::memory_order_relaxed);
    if (c >= 0 && readers_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                                 std::memory_order_relaxed)) [[likely]] {
      return;
    }
    lock_shared_slow();
  }
  // Locks for reading if no writer holds or waits for the lock (Go's
  // TryRLock). Thread-safe. Cost: a load and a CAS or few.
  [[nodiscard]] bool try_lock_shared() noexcept GORO_TRY_ACQUIRE_SHARED(true) {
    std::int32_t c = readers_.load(std::memory_order_relaxed);
    while (c >= 0) {
      if (readers_.compare_exchange_weak(c, c + 1, std::memory_order_acquire, std::memory_order_relaxed))
        return true;
    }
    return false;
  }
  // Unlocks one read lock (Go's RUnlock); the last reader a writer waits for
  // wakes it. Fatal if not read-locked.
  // Thread-safe. Cost: one atomic; a few more and a wakeup for the reader
  // that lets a writer in.
  void unlock_shared() noexcept GORO_RELEASE_SHARED() {
    std::int32_t r = readers_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) [[unlikely]]
      unlock_shared_slow(r);
  }

  // Go's names for the read side.
  void rlock() GORO_ACQUIRE_SHARED() { lock_shared(); }
  [[nodiscard]] bool try_rlock() noexcept GORO_TRY_ACQUIRE_SHARED(true) { return try_lock_shared(); }
  void runlock() noexcept GORO_RELEASE_SHARED() { unlock_shared(); }

 private:
  // Go's rwmutexMaxReaders: readers_ is biased by -kMaxReaders while a
  // writer is pending or holds the lock.
  static constexpr std::int32_t kMaxReaders = std::int32_t{1} << 30;

  // Installs both wait queues if needed; false if out of memory.
  bool install_queues() noexcept;
  void lock_shared_slow();
  void unlock_shared_slow(std::int32_t r) noexcept;

  mutex writer_mu_;  // held by the writer that holds or waits for the lock
  // Readers holding or waiting for the lock, minus kMaxReaders while a
  // writer is pending.
  std::atomic<std::int32_t> readers_{0};
  // High 32 bits: readers the pending writer still waits for (signed; may
  // go briefly negative). Low 32 bits: unlock calls still using this object.
  std::atomic<std::uint64_t> departing_{0};
  std::atomic<detail::WaitQueue*> reader_queue_{nullptr};
  std::atomic<detail::WaitQueue*> writer_queue_{nullptr};
};

}  // namespace goro
