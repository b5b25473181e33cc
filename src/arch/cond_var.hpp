// arch/cond_var.hpp: CondVar, a std::condition_variable that waits on a
// Mutex (mutex.hpp) the caller holds, in a way clang's thread-safety
// analysis follows: wait() requires the Mutex, so the fields a wait loop
// tests stay GORO_GUARDED_BY it, and the loop holds it through a lock_guard.
//
// Invariant: it is exactly a std::condition_variable. A wait adopts the
// caller's hold of the Mutex's std::mutex into a std::unique_lock for the
// call and releases that std::unique_lock's ownership afterwards without
// unlocking, so the caller holds the Mutex again on return, as
// std::condition_variable::wait promises. No predicate overloads: a
// predicate is a lambda, which the analysis checks as a separate function
// holding no lock, so callers loop on their condition themselves.
#pragma once

#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace goro::detail {

class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases mu, sleeps until notified (or woken spuriously) and takes mu
  // again before returning. The caller holds mu.
  void wait(Mutex& mu) GORO_REQUIRES(mu) {
    std::unique_lock<std::mutex> held(mu.mu_, std::adopt_lock);
    cv_.wait(held);
    held.release();
  }

  // As wait(), but also returns at `deadline`: false if it returned because
  // the deadline passed, true if notified (or woken spuriously).
  template <typename Clock, typename Duration>
  bool wait_until(Mutex& mu, const std::chrono::time_point<Clock, Duration>& deadline) GORO_REQUIRES(mu) {
    std::unique_lock<std::mutex> held(mu.mu_, std::adopt_lock);
    const std::cv_status status = cv_.wait_until(held, deadline);
    held.release();
    return status == std::cv_status::no_timeout;
  }

  // Wakes one waiter / every waiter. Callable with or without the Mutex.
  void notify_one() noexcept { cv_.notify_one(); }
  void notify_all() noexcept { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace goro::detail
