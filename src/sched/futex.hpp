// sched/futex.hpp: one-shot wakeup notes for sleeping worker threads (Go's
// note: notesleep / notewakeup), on the Linux futex.
//
// A note is armed (0), then either woken (1) by exactly one waker or timed
// out. Sleeping costs nothing while asleep: the thread is in the kernel.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <ctime>

namespace goro::detail {

class Note {
 public:
  void clear() noexcept { word_.store(0, std::memory_order_relaxed); }
  void wake() noexcept {
    if (word_.exchange(1, std::memory_order_release) == 0) {
      syscall(SYS_futex, &word_, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }
  // Sleeps until woken, or until the CLOCK_MONOTONIC time `deadline_ns`
  // (0: no deadline). Returns true if woken.
  bool sleep(std::int64_t deadline_ns) noexcept {
    while (word_.load(std::memory_order_acquire) == 0) {
      timespec ts{};
      timespec* tsp = nullptr;
      if (deadline_ns > 0) {
        ts.tv_sec = deadline_ns / 1000000000;
        ts.tv_nsec = deadline_ns % 1000000000;
        tsp = &ts;
      }
      // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline.
      long r = syscall(SYS_futex, &word_, FUTEX_WAIT_BITSET_PRIVATE, 0, tsp, nullptr, FUTEX_BITSET_MATCH_ANY);
      if (r == -1 && errno == ETIMEDOUT) return word_.load(std::memory_order_acquire) != 0;
    }
    return true;
  }
  bool woken() const noexcept { return word_.load(std::memory_order_acquire) != 0; }

 private:
  std::atomic<std::uint32_t> word_{0};
};

}  // namespace goro::detail
