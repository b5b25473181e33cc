// sched/runqueue.hpp: a processor's local run queue (Go's runq, runnext).
//
// A bounded ring written only by its owner at the tail and consumed at the
// head by the owner or by thieves (compare-and-swap on head). `runnext`
// holds the goroutine readied most recently by the running one: it runs next,
// which keeps a sender and its receiver on one processor and one cache.
//
// Invariants: tail - head <= kSize; only the owning worker writes tail and
// the ring slots in [tail, head + kSize); a slot is read by a thief only
// between a load of tail and a successful CAS of head.
#pragma once

#include <atomic>
#include <cstdint>

namespace goro::detail {

struct Goroutine;

class RunQueue {
 public:
  static constexpr std::uint32_t kSize = 256;

  bool empty() const noexcept {
    // Consistent enough for heuristics; callers re-check under protocol.
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire) &&
           runnext_.load(std::memory_order_acquire) == nullptr;
  }
  std::uint32_t size_without_next() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

  // Owner only. Returns false if the ring is full (caller moves half to the
  // global queue with take_half_for_global).
  bool push_back(Goroutine* g) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h >= kSize) return false;
    ring_[t % kSize].store(g, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return true;
  }

  // Owner only: makes g the next to run; returns the goroutine it displaced.
  // Thieves only ever swap a non-null runnext for null, so an empty one
  // cannot change under the owner: a plain store suffices. (ready() then
  // orders it before its look at the spinning workers with a fence:
  // wake_worker_if_needed.)
  Goroutine* put_next(Goroutine* g) noexcept {
    if (runnext_.load(std::memory_order_relaxed) == nullptr) {
      runnext_.store(g, std::memory_order_release);
      return nullptr;
    }
    return runnext_.exchange(g, std::memory_order_acq_rel);
  }

  // Owner only.
  Goroutine* pop() noexcept {
    Goroutine* next = runnext_.load(std::memory_order_relaxed);
    if (next != nullptr && runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
      return next;
    }
    return pop_ring();
  }

  Goroutine* pop_ring() noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      Goroutine* g = ring_[h % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release, std::memory_order_relaxed))
        return g;
    }
  }

  // Owner only, when full: removes half of the ring into out[] (at most
  // kSize/2) and returns how many; 0 if a thief raced us (retry push).
  std::uint32_t take_half_for_global(Goroutine** out) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    std::uint32_t t = tail_.load(std::memory_order_relaxed);
    std::uint32_t n = (t - h) / 2;
    if (n != kSize / 2) return 0;
    for (std::uint32_t i = 0; i < n; i++) out[i] = ring_[(h + i) % kSize].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release, std::memory_order_relaxed))
      return 0;
    return n;
  }

  // Thief: grabs half of the ring into out[] (at most kSize/2). With
  // `take_next`, takes runnext when the ring is empty.
  std::uint32_t grab_half(Goroutine** out, bool take_next) noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);
      std::uint32_t t = tail_.load(std::memory_order_acquire);
      std::uint32_t n = t - h;
      n = n - n / 2;
      if (n == 0) {
        if (!take_next) return 0;
        Goroutine* next = runnext_.load(std::memory_order_acquire);
        if (next == nullptr) return 0;
        if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) continue;
        out[0] = next;
        return 1;
      }
      if (n > kSize / 2) continue;  // h and t read at different times
      for (std::uint32_t i = 0; i < n; i++) out[i] = ring_[(h + i) % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel, std::memory_order_relaxed))
        return n;
    }
  }

  Goroutine* peek_next() const noexcept { return runnext_.load(std::memory_order_acquire); }

 private:
  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<Goroutine*> runnext_{nullptr};
  std::atomic<Goroutine*> ring_[kSize] = {};
};

}  // namespace goro::detail
