// arch/lock_guard.hpp: LockGuard, the RAII holder of a SpinLock or Mutex
// that clang's thread-safety analysis follows (std::lock_guard and
// std::unique_lock carry no annotations in libstdc++, so fields guarded by
// a lock held through them would look unprotected).
//
// Invariant: held_ says whether this guard holds the lock; the destructor
// releases it only then. unlock() and lock() let a function drop the lock
// around a sleep or a call that takes other locks, as std::unique_lock does.
#pragma once

#include "arch/thread_safety.hpp"

namespace goro::detail {

template <typename Lock>
class GORO_SCOPED_CAPABILITY LockGuard {
 public:
  // Takes `lock` for the guard's lifetime.
  explicit LockGuard(Lock& lock) GORO_ACQUIRE(lock) : lock_(lock) { lock_.lock(); }
  ~LockGuard() GORO_RELEASE() {
    if (held_) lock_.unlock();
  }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

  // Releases the lock early; lock() takes it again.
  void unlock() GORO_RELEASE() {
    lock_.unlock();
    held_ = false;
  }
  void lock() GORO_ACQUIRE() {
    lock_.lock();
    held_ = true;
  }

 private:
  Lock& lock_;
  bool held_ = true;
};

}  // namespace goro::detail
