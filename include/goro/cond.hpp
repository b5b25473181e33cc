// goro/cond.hpp: a condition variable for goroutines (Go's sync.Cond).
//
//   goro::mutex mu;
//   goro::cond ready_cv;
//   std::deque<Job> jobs;  // guarded by mu
//
//   void put(Job j) {
//     { std::lock_guard lock(mu); jobs.push_back(std::move(j)); }
//     ready_cv.signal();
//   }
//   Job take() {
//     std::unique_lock lock(mu);
//     ready_cv.wait(lock, [&] { return !jobs.empty(); });
//     Job j = std::move(jobs.front());
//     jobs.pop_front();
//     return j;
//   }
//
// Design (Go's runtime notifyList)
//   * wait() takes a ticket from an atomic counter before it releases the
//     mutex; signal() notifies the oldest ticket not yet notified and wakes
//     its holder; broadcast() notifies every ticket taken so far. A signal
//     therefore never wakes a caller that began waiting after it, no wakeup
//     is lost between the unlock and the sleep (the ticket is already
//     counted), and waiters are woken in the order they began to wait.
//   * Waiters sleep in a small spin-locked queue of pooled wait records,
//     allocated at the first wait().
//   * Spurious wakeups do not happen, but as in Go and C++ callers should
//     wait in a loop on their condition: another goroutine may have changed
//     it between the wakeup and the relock. wait(lock, pred) does that loop.
//   * Plain threads may wait and notify too (a waiting thread sleeps on a
//     futex); see the deadlock-detector note in mutex.hpp.
//
// Channels are often the simpler tool in Go style; cond is for code where
// several goroutines wait on a condition of shared state guarded by a mutex.
#pragma once

#include <goro/config.hpp>

#include <goro/mutex.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace goro {

namespace detail {
struct WaitQueue;
}  // namespace detail

// A condition variable for goroutines (Go's sync.Cond); see above.
class cond {
 public:
  // A condition variable nobody waits on. constexpr, so usable as a
  // constinit global.
  constexpr cond() noexcept = default;

  // Requires: no caller is blocked in wait(). As with
  // std::condition_variable, it is enough that all waiters have been
  // notified: they may still be returning (relocking their mutex), and the
  // destructor waits for any that still touch the cond.
  ~cond();

  cond(const cond&) = delete;
  cond& operator=(const cond&) = delete;

  // Atomically releases `lock` and blocks the caller (parks the goroutine,
  // or sleeps a plain thread) until signal() or broadcast() notifies it,
  // then relocks `lock` before returning (Go's Cond.Wait).
  // Requires lock.owns_lock(); otherwise throws std::system_error
  // (operation_not_permitted). Throws std::bad_alloc, with the lock still
  // held, if the wait queue or wait record cannot be allocated. If the
  // relock fails, std::terminate is called (as std::condition_variable
  // does).
  // Thread-safe. Cost: an atomic ticket, the mutex unlock, a spin lock and
  // a park; then the mutex lock.
  void wait(std::unique_lock<mutex>& lock);

  // Waits until pred() is true: while (!pred()) wait(lock);. pred is called
  // with the lock held.
  template <typename Predicate>
  void wait(std::unique_lock<mutex>& lock, Predicate pred) {
    while (!pred()) wait(lock);
  }

  // Wakes the caller that has waited longest, if any (Go's Cond.Signal).
  // Never wakes a caller that began waiting after signal() began. Holding
  // the mutex is allowed but not required.
  // Thread-safe. Cost: two loads when nobody waits; else a spin lock and a
  // ready().
  void signal() noexcept;

  // Wakes every caller waiting now (Go's Cond.Broadcast).
  // Thread-safe. Cost: two loads when nobody waits; else a spin lock and a
  // ready() per waiter.
  void broadcast() noexcept;

  // std::condition_variable spellings of signal() and broadcast().
  void notify_one() noexcept { signal(); }
  void notify_all() noexcept { broadcast(); }

 private:
  // Next ticket to hand out (notifyList.wait).
  std::atomic<std::uint32_t> wait_ticket_{0};
  // Tickets before this one are notified (notifyList.notify); written under
  // the queue's lock.
  std::atomic<std::uint32_t> notify_ticket_{0};
  // Waiters between taking a ticket and leaving the cond's memory alone
  // (see ~cond).
  std::atomic<std::uint32_t> entering_{0};
  std::atomic<detail::WaitQueue*> queue_{nullptr};
};

}  // namespace goro
