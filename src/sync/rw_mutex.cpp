// sync/rw_mutex.cpp: goro::rw_mutex, Go's sync.RWMutex on two of the
// semaphores goro::mutex sleeps on (sync/semaphore.hpp).
//
// State
//   readers_    readers holding or waiting; minus kMaxReaders while a writer
//               is pending or holds the lock (then it is negative)
//   departing_  high half: readers the pending writer still waits for (Go's
//               readerWait); low half: unlock calls still touching the object
//   reader_queue_, writer_queue_: the semaphores readers and the writer
//               sleep on, installed by the first writer (readers only sleep
//               when a writer is pending, so they always find them)
//
// Invariants
//   * Every token on the readers' semaphore matches a reader that counted
//     itself in readers_ while a writer was pending: unlock() releases
//     exactly that many. The writer's semaphore gets one token per wait,
//     from the reader that brings the departing count to zero.
//   * The departing count is decremented and the busy count raised in one
//     RMW, so the writer let in by it (and whoever destroys the object after
//     that writer) sees the busy count until the reader is done with the
//     object; unlock() raises it before it lets anyone in. The destructor
//     waits for it to drain. Wakeups run after the busy count is dropped:
//     they touch only the waiter's record.
//   * A reader takes its wait record before it counts itself, and a writer
//     before it announces itself, so nothing can fail once either is
//     committed to waiting.
#include <goro/rw_mutex.hpp>

#include "sync/semaphore.hpp"
#include "sync/wait_queue.hpp"

#include <new>
#include <optional>

namespace goro {

namespace {

constexpr std::uint64_t kBusyMask = 0xffffffffu;
constexpr std::uint64_t kBusyOne = 1;
constexpr int kDepartingShift = 32;

std::int32_t departing_of(std::uint64_t word) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(word >> kDepartingShift));
}

std::uint64_t departing_delta(std::int32_t n) noexcept {
  return static_cast<std::uint64_t>(static_cast<std::uint32_t>(n)) << kDepartingShift;
}

}  // namespace

rw_mutex::~rw_mutex() {
  detail::wait_until_clear(departing_, kBusyMask);
  detail::destroy_wait_queue(reader_queue_.load(std::memory_order_acquire));
  detail::destroy_wait_queue(writer_queue_.load(std::memory_order_acquire));
}

bool rw_mutex::install_queues() noexcept {
  try {
    detail::wait_queue_of(reader_queue_);
    detail::wait_queue_of(writer_queue_);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

// lock(), try_lock() and unlock() take writer_mu_ in one and release it in
// another, which the thread-safety analysis cannot follow.
void rw_mutex::lock() GORO_NO_THREAD_SAFETY_ANALYSIS {
  writer_mu_.lock();
  // The queues go in before any reader can see a pending writer.
  if (!install_queues()) {
    writer_mu_.unlock();
    throw std::bad_alloc();
  }
  std::int32_t none = 0;
  if (readers_.compare_exchange_strong(none, -kMaxReaders, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
    return;  // no reader inside: nothing to wait for
  }
  std::optional<detail::ScopedWaitRecord> record;
  try {
    record.emplace();  // before announcing ourselves: nothing may fail after
  } catch (...) {
    writer_mu_.unlock();
    throw;
  }
  // Announce the writer; r readers are inside.
  std::int32_t r = readers_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r == 0) return;
  std::uint64_t prev = departing_.fetch_add(departing_delta(r), std::memory_order_acq_rel);
  if (departing_of(prev) + r == 0) return;  // they all left already
  detail::sema_acquire(detail::installed_wait_queue(writer_queue_), record->get(), false,
                       detail::WaitReason::kMutex);
}

bool rw_mutex::try_lock() noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  if (!writer_mu_.try_lock()) return false;
  std::int32_t none = 0;
  if (!install_queues() || !readers_.compare_exchange_strong(none, -kMaxReaders, std::memory_order_acquire,
                                                             std::memory_order_relaxed)) {
    writer_mu_.unlock();
    return false;
  }
  return true;
}

void rw_mutex::unlock() noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  departing_.fetch_add(kBusyOne, std::memory_order_acq_rel);
  // Readers that arrived while we held the lock: each waits for a token.
  std::int32_t r = readers_.fetch_add(kMaxReaders, std::memory_order_acq_rel) + kMaxReaders;
  if (r >= kMaxReaders) detail::sync_fatal("sync: Unlock of unlocked RWMutex");
  if (r > 0) {
    detail::WaitQueue& q = detail::installed_wait_queue(reader_queue_);
    // Each wakeup touches only its waiter; the busy count keeps the object
    // alive for the next release.
    for (std::int32_t i = 0; i < r; ++i) detail::sema_release(q, false).run();
  }
  writer_mu_.unlock();
  departing_.fetch_sub(kBusyOne, std::memory_order_release);
}

void rw_mutex::lock_shared_slow() {
  const detail::ScopedWaitRecord record;
  if (readers_.fetch_add(1, std::memory_order_acquire) >= 0) return;
  // A writer is pending: wait for its unlock() to hand us a token.
  detail::sema_acquire(detail::installed_wait_queue(reader_queue_), record.get(), false,
                       detail::WaitReason::kMutex);
}

void rw_mutex::unlock_shared_slow(std::int32_t r) noexcept {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) detail::sync_fatal("sync: RUnlock of unlocked RWMutex");
  // A writer is pending: leave its departing count and register as busy in
  // one step.
  std::uint64_t prev = departing_.fetch_add(departing_delta(-1) + kBusyOne, std::memory_order_acq_rel);
  detail::SemaWakeup wakeup;
  if (departing_of(prev) - 1 == 0)
    wakeup = detail::sema_release(detail::installed_wait_queue(writer_queue_), false);
  departing_.fetch_sub(kBusyOne, std::memory_order_release);
  wakeup.run();
}

}  // namespace goro
