// arch/mutex.hpp: Mutex, a std::mutex that clang's thread-safety analysis
// knows as a lock (goro/thread_annotations.hpp), for runtime state that is held for
// longer than a SpinLock should be (the scheduler's lock).
//
// Invariant: it is exactly a std::mutex (same size, same cost); only the
// annotations are added. Lock it with goro::lock_guard (goro/lock_guard.hpp) so the
// analysis sees where it is held; wait on it with CondVar (cond_var.hpp),
// the one other type that reaches the std::mutex inside.
#pragma once

#include <goro/thread_annotations.hpp>

#include <mutex>

namespace goro::detail {

class CondVar;

class GORO_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Blocks the calling thread until it holds the lock. Not recursive.
  void lock() GORO_ACQUIRE() { mu_.lock(); }
  // Takes the lock if it is free; true when it did.
  bool try_lock() GORO_TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // Releases the lock, which the calling thread holds.
  void unlock() GORO_RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;  // hands mu_ to std::condition_variable::wait
  std::mutex mu_;
};

}  // namespace goro::detail
