// sync/wait_queue.cpp: lazily installed wait queues, destructors that wait
// for callers to leave, and Go's fatal error for misused primitives (see
// wait_queue.hpp for the design).
//
// Invariants
//   * A queue, once installed in a primitive's slot, stays until the
//     primitive is destroyed; racing installers agree on the first one.
#include "sync/wait_queue.hpp"

#include <goro/runtime.hpp>

#include <unistd.h>
#include <cstring>
#include <memory>
#include <thread>

namespace goro::detail {

// ---- lazily installed queues ----

WaitQueue& wait_queue_of(std::atomic<WaitQueue*>& slot) {
  WaitQueue* q = slot.load(std::memory_order_acquire);
  if (q != nullptr) return *q;
  auto fresh = std::make_unique<WaitQueue>();
  // Several callers may race to install; the loser frees its copy.
  if (slot.compare_exchange_strong(q, fresh.get(), std::memory_order_acq_rel, std::memory_order_acquire)) {
    return *fresh.release();
  }
  return *q;
}

void destroy_wait_queue(WaitQueue* q) noexcept {
  delete q;
}

// ---- destructors waiting for callers to leave ----

namespace {

template <typename T>
void wait_until_clear_impl(const std::atomic<T>& word, T mask) noexcept {
  for (int spins = 0; (word.load(std::memory_order_acquire) & mask) != 0; ++spins) {
    if (spins < 64) {
      cpu_relax();
    } else if (current_goroutine() != nullptr) {
      // The caller we wait for may be a runnable goroutine queued behind us.
      goro::yield();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace

void wait_until_clear(const std::atomic<std::uint64_t>& word, std::uint64_t mask) noexcept {
  wait_until_clear_impl(word, mask);
}
void wait_until_clear(const std::atomic<std::uint32_t>& word, std::uint32_t mask) noexcept {
  wait_until_clear_impl(word, mask);
}

// ---- fatal errors ----

void sync_fatal(const char* msg) noexcept {
  // write(2) only: the process may be in any state, and Go's fatal errors
  // cannot be caught either.
  static constexpr char kPrefix[] = "fatal error: ";
  ssize_t ignored = ::write(STDERR_FILENO, kPrefix, sizeof kPrefix - 1);
  ignored = ::write(STDERR_FILENO, msg, std::strlen(msg));
  ignored = ::write(STDERR_FILENO, "\n", 1);
  (void)ignored;
  ::_exit(2);
}

}  // namespace goro::detail
