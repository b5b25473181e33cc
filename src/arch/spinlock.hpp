// arch/spinlock.hpp: a tiny lock for runtime-internal critical sections of
// a few dozen instructions (wait queues, stack pools).
//
// It never waits for an event: holders only run bounded code and never park
// while holding it. If the holder's thread was descheduled by the kernel, a
// waiter yields its thread after a short spin instead of burning the core.
// It is a lock to clang's thread-safety analysis (goro/thread_annotations.hpp): hold
// it with goro::lock_guard (goro/lock_guard.hpp) where fields are GORO_GUARDED_BY it.
#pragma once

#include <goro/thread_annotations.hpp>

#include <sched.h>
#include <atomic>

namespace goro::detail {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class GORO_CAPABILITY("spinlock") SpinLock {
 public:
  void lock() noexcept GORO_ACQUIRE() {
    for (int spins = 0;; ++spins) {
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
          cpu_relax();
        } else {
          sched_yield();
        }
      }
    }
  }
  bool try_lock() noexcept GORO_TRY_ACQUIRE(true) {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept GORO_RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace goro::detail
