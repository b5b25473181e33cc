// goro/once.hpp: one-time initialization (Go's sync.Once).
//
//   goro::once config_once;
//   Config* config;
//
//   const Config& get_config() {
//     config_once.call([] { config = load_config(); });
//     return *config;  // every caller sees the loaded config
//   }
//
// Design
//   * Go's sync.Once: an atomic "done" flag for the fast path, and a
//     goro::mutex for the slow path. Concurrent first callers park on the
//     mutex (their threads run other goroutines) until the one running f
//     finishes, then see the flag and return.
//   * Unlike Go (where Do counts a panicking f as done) and like
//     std::call_once, an f that throws leaves the once not done: the
//     exception propagates to its caller and the next caller runs its own f.
//   * Plain threads may call it too (they sleep on the mutex's futex).
//
// Header-only: call() is a template.
#pragma once

#include <goro/config.hpp>

#include <goro/mutex.hpp>

#include <atomic>
#include <functional>
#include <utility>

namespace goro {

// One-time initialization (Go's sync.Once); see above.
class once {
 public:
  // A once whose function has not run. constexpr, so usable as a constinit
  // global.
  constexpr once() noexcept = default;

  // Destroying a once requires that no call() is in progress (one that has
  // returned is fine).
  ~once() = default;

  once(const once&) = delete;
  once& operator=(const once&) = delete;

  // Runs f (with no arguments) if and only if no call() on this once has
  // completed successfully yet (Go's once.Do). When call() returns normally,
  // some call's f has returned, and everything it did is visible to the
  // caller. Callers that arrive while f runs block (park) until it ends.
  // If f throws, the once is not done, the exception propagates to the
  // caller whose f threw, and a blocked caller runs its own f next.
  //
  // f must not call call() on the same once: that deadlocks, as in Go.
  // Thread-safe. Cost: one acquire load once done; the first time, f plus a
  // mutex lock and unlock.
  template <typename F>
  void call(F&& f) {
    if (done_.load(std::memory_order_acquire)) [[likely]] {
      return;
    }
    call_slow(std::forward<F>(f));
  }

  // Whether some call() has completed successfully. When true, f's effects
  // are visible to the caller.
  // Thread-safe. Cost: one acquire load.
  [[nodiscard]] bool done() const noexcept { return done_.load(std::memory_order_acquire); }

 private:
  // Kept out of line of call() so its fast path stays small.
  template <typename F>
  [[gnu::noinline]] void call_slow(F&& f) {
    lock_guard lock(mutex_);
    if (done_.load(std::memory_order_relaxed)) return;  // the mutex ordered us after f
    std::invoke(std::forward<F>(f));
    // Set only once f returned: a throwing f leaves the once not done.
    done_.store(true, std::memory_order_release);
  }

  std::atomic<bool> done_{false};
  mutex mutex_;
};

}  // namespace goro
