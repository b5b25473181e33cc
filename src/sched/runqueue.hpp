// sched/runqueue.hpp: a processor's local run queue (Go's runq, runnext),
// and the global run queue (Go's sched.runq).
//
// A bounded ring written only by its owner at the tail and consumed at the
// head by the owner or by thieves (compare-and-swap on head). `runnext`
// holds the goroutine readied most recently by the running one: it runs next,
// which keeps a sender and its receiver on one processor and one cache.
//
// Invariants: tail - head <= kSize; only the owning worker writes tail and
// the ring slots in [tail, head + kSize); a slot is read by a thief only
// between a load of tail and a successful CAS of head.
//
// Taking runnext. The owner takes it on nearly every switch, a thief only
// after the owner has not switched for microseconds (find_runnable.cpp,
// victim_stuck). So the owner takes it with plain loads and stores while
// no thief announces itself, and the cost of keeping the two apart falls on
// the thief (arch/asymmetric_fence.hpp, Dekker's pattern): the owner raises
// `taking_`, then reads `thieves_`; a thief counts itself in `thieves_`,
// runs heavy_fence(), then reads `taking_`. Either the owner's take came
// wholly before the fence (the thief sees runnext emptied), or it is under
// way (the thief sees `taking_` and leaves runnext alone), or it reads
// `thieves_` after the fence and uses a compare-and-swap like the thief.
// Without membarrier both sides always use the compare-and-swap.
#pragma once

#include "arch/asymmetric_fence.hpp"

#include <atomic>
#include <cstdint>
#include <new>

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
  // Whether runnext holds a goroutine (a hint, for metrics).
  bool has_next() const noexcept { return runnext_.load(std::memory_order_relaxed) != nullptr; }

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
    if (Goroutine* next = pop_next()) return next;
    return pop_ring();
  }

  // Owner only: takes runnext, or null; without a locked instruction while
  // no thief is at it (file comment).
  Goroutine* pop_next() noexcept {
    Goroutine* next = runnext_.load(std::memory_order_relaxed);
    if (next == nullptr) return nullptr;
    if (asymmetric_fence_available()) {
      taking_.store(true, std::memory_order_relaxed);
      light_fence();
      if (thieves_.load(std::memory_order_acquire) == 0) {
        next = runnext_.load(std::memory_order_relaxed);  // a thief may have emptied it before
        runnext_.store(nullptr, std::memory_order_relaxed);
        taking_.store(false, std::memory_order_release);
        return next;
      }
      taking_.store(false, std::memory_order_relaxed);
    }
    if (runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) return next;
    return nullptr;
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
        Goroutine* next = steal_next();
        if (next == nullptr) return 0;
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
  // Thief: takes runnext unless its owner is taking it at this moment
  // (then the owner runs it, and the thief looks elsewhere). Costs a
  // heavy_fence() when membarrier is there; if that fails, runnext is left
  // to its owner.
  Goroutine* steal_next() noexcept {
    Goroutine* got = nullptr;
    if (runnext_.load(std::memory_order_acquire) == nullptr) return nullptr;  // no fence for nothing
    if (asymmetric_fence_available()) {
      thieves_.fetch_add(1, std::memory_order_seq_cst);
      if (heavy_fence() && !taking_.load(std::memory_order_acquire)) got = swap_next_for_null();
      thieves_.fetch_sub(1, std::memory_order_release);
      return got;
    }
    return swap_next_for_null();
  }
  Goroutine* swap_next_for_null() noexcept {
    Goroutine* next = runnext_.load(std::memory_order_acquire);
    while (next != nullptr && !runnext_.compare_exchange_weak(next, nullptr, std::memory_order_acq_rel)) {
    }
    return next;
  }

  alignas(64) std::atomic<std::uint32_t> head_{0};
  alignas(64) std::atomic<std::uint32_t> tail_{0};
  std::atomic<Goroutine*> runnext_{nullptr};
  // The owner is between its look at thieves_ and the end of a plain take.
  std::atomic<bool> taking_{false};
  // Thieves taking runnext at this moment; the owner takes with a CAS then.
  std::atomic<std::uint32_t> thieves_{0};
  std::atomic<Goroutine*> ring_[kSize] = {};
};

// The global run queue (Go's sched.runq): a FIFO of goroutine pointers in
// 4 KiB chunks. Go links goroutines through their records; here each record
// sits in its own stack page, so walking such a list to move a batch to a
// local queue took a cache and TLB miss per goroutine (a fifth of skynet's
// time). Reading pointers out of a chunk takes none. One spare chunk is kept
// so a queue that fills and drains does not allocate each time.
// Guarded by g_sched.lock; not thread-safe on its own.
class GlobalRunQueue {
 public:
  GlobalRunQueue() = default;
  GlobalRunQueue(const GlobalRunQueue&) = delete;
  GlobalRunQueue& operator=(const GlobalRunQueue&) = delete;
  ~GlobalRunQueue() {
    clear();
    delete spare_;
  }

  bool empty() const noexcept { return first_ == nullptr; }

  // Appends g. Returns false only when a new chunk cannot be allocated.
  bool push(Goroutine* g) noexcept {
    if (last_ == nullptr || last_->tail == kChunkSlots) {
      Chunk* c = spare_ != nullptr ? spare_ : new (std::nothrow) Chunk;
      if (c == nullptr) return false;
      spare_ = nullptr;
      c->next = nullptr;
      c->head = c->tail = 0;
      (last_ != nullptr ? last_->next : first_) = c;
      last_ = c;
    }
    last_->slots[last_->tail++] = g;
    return true;
  }

  // Removes and returns the oldest goroutine; the queue must not be empty.
  Goroutine* pop() noexcept {
    Chunk* c = first_;
    Goroutine* g = c->slots[c->head++];
    if (c->head == c->tail) {
      first_ = c->next;
      if (first_ == nullptr) last_ = nullptr;
      if (spare_ == nullptr) {
        spare_ = c;
      } else {
        delete c;
      }
    }
    return g;
  }

  void clear() noexcept {
    while (first_ != nullptr) {
      Chunk* c = first_;
      first_ = c->next;
      delete c;
    }
    last_ = nullptr;
  }

 private:
  static constexpr std::uint32_t kChunkSlots = 510;
  struct Chunk {
    Chunk* next;
    std::uint32_t head;
    std::uint32_t tail;
    Goroutine* slots[kChunkSlots];
  };
  Chunk* first_ = nullptr;
  Chunk* last_ = nullptr;
  Chunk* spare_ = nullptr;
};

}  // namespace goro::detail
