// sched/timers.hpp: per-processor timer heaps (Go's p.timers).
//
// Every processor owns a binary min-heap of timers ordered by `when`. The
// worker holding the processor runs expired timers between goroutines; idle
// workers steal expired timers from other processors; and the one worker
// that sleeps with a deadline sleeps exactly until the earliest `when` of
// all heaps, so there is no timer thread and no polling.
//
// A timer's callback runs on a worker with a processor, outside the heap's
// lock; it must be short and must not park (it typically readies a
// goroutine or does a non-blocking channel send).
//
// Invariants: a timer is in at most one heap (`owner`), at `heap_index`;
// `timer0_when` of a processor is the heap's minimum `when`, or 0 if empty.
#pragma once

#include <goro/thread_annotations.hpp>
#include "arch/spinlock.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace goro::detail {

struct Processor;

// `when` and `heap_index` are written under the lock of the heap holding
// the timer (or by its owner while it is in none); the analysis cannot name
// that lock, which depends on `owner`, so they carry no annotation.
struct Timer {
  std::int64_t when = 0;  // CLOCK_MONOTONIC ns
  void (*fire)(Timer* t, void* arg, std::int64_t now) = nullptr;
  void* arg = nullptr;
  std::atomic<Processor*> owner{nullptr};  // heap holding it, null if none
  std::int32_t heap_index = -1;
};

class TimerHeap {
 public:
  // Earliest when, or 0 when empty. Lock-free read for idle workers.
  std::int64_t earliest() const noexcept { return timer0_when_.load(std::memory_order_acquire); }
  bool empty() const noexcept { return earliest() == 0; }

  // The lock every function below requires; hold it with lock_guard.
  SpinLock& lock() noexcept GORO_RETURN_CAPABILITY(lock_) { return lock_; }
  void push(Timer* t, Processor* self) GORO_REQUIRES(lock_);
  bool remove(Timer* t) noexcept GORO_REQUIRES(lock_);  // false if t is not in this heap
  // Moves t to `when` in place (Go's modtimer): one sift instead of a
  // removal and an insertion. False if t is not in this heap.
  bool update(Timer* t, std::int64_t when) noexcept GORO_REQUIRES(lock_);
  // Pops the first timer due at `now`, or nullptr.
  Timer* pop_due(std::int64_t now) noexcept GORO_REQUIRES(lock_);
  std::size_t size() const noexcept GORO_REQUIRES(lock_) { return heap_.size(); }

 private:
  void sift_up(std::size_t i) noexcept GORO_REQUIRES(lock_);
  void sift_down(std::size_t i) noexcept GORO_REQUIRES(lock_);
  void place(std::size_t i, Timer* t) noexcept GORO_REQUIRES(lock_) {
    heap_[i] = t;
    t->heap_index = static_cast<std::int32_t>(i);
  }
  void publish_earliest() noexcept GORO_REQUIRES(lock_) {
    timer0_when_.store(heap_.empty() ? 0 : heap_[0]->when, std::memory_order_release);
  }

  SpinLock lock_;
  std::vector<Timer*> heap_ GORO_GUARDED_BY(lock_);
  // Written under lock_, read without it (earliest()).
  std::atomic<std::int64_t> timer0_when_{0};
};

}  // namespace goro::detail
