// goro/lock_guard.hpp: scoped holders of a lock that clang's thread-safety
// analysis follows (thread_annotations.hpp): goro::lock_guard for an
// exclusive lock, goro::shared_lock_guard for a reader's.
//
//   goro::rw_mutex mu;
//   std::map<std::string, int> counts GORO_GUARDED_BY(mu);
//
//   int get(const std::string& k) {
//     goro::shared_lock_guard lock(mu);  // readers share the lock
//     auto it = counts.find(k);
//     return it == counts.end() ? 0 : it->second;
//   }
//   void add(const std::string& k) {
//     goro::lock_guard lock(mu);  // a writer holds it alone
//     counts[k]++;
//   }
//
// They work with any lock that has lock()/unlock() (lock_shared() and
// unlock_shared() for the reader's guard): goro::mutex, goro::rw_mutex,
// std::mutex. They differ from std::lock_guard in two ways: libstdc++'s
// guards carry no annotations, so with them the analysis sees guarded
// fields touched without their lock; and goro::lock_guard can drop its lock
// early and take it again (unlock(), lock()), as std::unique_lock can,
// around a call that must not run with the lock held.
//
// Thread-safety: a guard belongs to the goroutine (or thread) that made it.
// Cost: the lock's own lock and unlock, and one flag.
#pragma once

#include <goro/thread_annotations.hpp>

namespace goro {

// Holds `Lock` exclusively from construction to destruction.
template <typename Lock>
class GORO_SCOPED_CAPABILITY lock_guard {
 public:
  // Takes the lock (Lock::lock(): may park the goroutine, may throw what
  // that throws, with nothing held).
  explicit lock_guard(Lock& lock) GORO_ACQUIRE(lock) : lock_(lock) { lock_.lock(); }
  // Releases the lock unless unlock() already did.
  ~lock_guard() GORO_RELEASE() {
    if (held_) lock_.unlock();
  }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

  // Releases the lock before the guard ends. Requires: held.
  void unlock() GORO_RELEASE() {
    lock_.unlock();
    held_ = false;
  }
  // Takes the lock again after unlock(). Requires: not held.
  void lock() GORO_ACQUIRE() {
    lock_.lock();
    held_ = true;
  }

 private:
  Lock& lock_;
  bool held_ = true;
};

// Holds `Lock` shared (a reader's lock) from construction to destruction.
template <typename Lock>
class GORO_SCOPED_CAPABILITY shared_lock_guard {
 public:
  // Takes the lock shared (Lock::lock_shared()).
  explicit shared_lock_guard(Lock& lock) GORO_ACQUIRE_SHARED(lock) : lock_(lock) { lock_.lock_shared(); }
  ~shared_lock_guard() GORO_RELEASE_GENERIC() { lock_.unlock_shared(); }
  shared_lock_guard(const shared_lock_guard&) = delete;
  shared_lock_guard& operator=(const shared_lock_guard&) = delete;

 private:
  Lock& lock_;
};

}  // namespace goro
