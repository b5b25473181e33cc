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

#include "arch/spinlock.hpp"

#include <atomic>
#include <cstdint>
#include <vector>

namespace goro::detail {

struct Processor;

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

  SpinLock& lock() noexcept { return lock_; }
  // With lock held.
  void push(Timer* t, Processor* self);
  bool remove(Timer* t) noexcept;  // false if t is not in this heap
  // Moves t to `when` in place (Go's modtimer): one sift instead of a
  // removal and an insertion. False if t is not in this heap.
  bool update(Timer* t, std::int64_t when) noexcept;
  // With lock held: pops the first timer due at `now`, or nullptr.
  Timer* pop_due(std::int64_t now) noexcept;
  std::size_t size() const noexcept { return heap_.size(); }

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, Timer* t) noexcept {
    heap_[i] = t;
    t->heap_index = static_cast<std::int32_t>(i);
  }
  void publish_earliest() noexcept {
    timer0_when_.store(heap_.empty() ? 0 : heap_[0]->when, std::memory_order_release);
  }

  SpinLock lock_;
  std::vector<Timer*> heap_;
  std::atomic<std::int64_t> timer0_when_{0};
};

}  // namespace goro::detail
