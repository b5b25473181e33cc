// chan/chan_core.hpp: the shared, type-erased part of a channel (Go's hchan)
// and the wait-queue protocol that channel operations and select share.
//
// Layout: one allocation holds the ChanCore and, behind it, the ring buffer
// of `cap` elements; nothing else is ever allocated for the channel.
//
// Invariants (all under `lock`)
//   * count > 0 implies recvq holds no live waiter, and count < cap implies
//     sendq holds none: a value never waits in the buffer while a receiver
//     sleeps, nor a sender while there is room. Queues may still hold select
//     waiters whose select was already won by another channel ("stale"):
//     dequeue() drops them, and their owner unlinks them if still linked.
//   * A waiter linked in a queue belongs to a blocked goroutine (or plain
//     thread). Whoever unlinks it with dequeue() owns it until it wakes it:
//     it completes the operation (moves the value, sets `success`) and then
//     calls wake(), after which it must not touch the waiter.
//   * A select waiter is claimed by at most one channel: dequeue() CASes the
//     select's shared winner word from kNoWinner to the waiter's case index
//     and skips the waiter if that fails.
//   * Once `closed` is set it stays set; sends fail and no waiter is queued
//     on a closed channel.
//   * `count` and `closed` are written under the lock but read without it by
//     the non-blocking fast paths and len(), hence atomics (relaxed on x86,
//     where a plain load is what it costs).
//
// Wait records (Waiter) come from the runtime's per-processor pool, never a
// goroutine's stack; `elem` may point into the parked goroutine's stack (the
// value it sends, or the std::optional it receives into), which stays valid
// because stacks never move. Field use:
//   g          the goroutine to ready, or null for a plain thread
//   elem       send: the sender's T; receive: the receiver's std::optional<T>
//   channel    the ChanCore it is queued on (select bookkeeping)
//   ticket     case index (select)
//   success    set by the waker: true = value moved, false = channel closed
//   is_select  whether `select` points at a select's shared state record
//   select     select: the shared state record; plain-thread non-select
//              waiter: its futex Note
//   wait_link  a select's waiters in lock order
#pragma once

#include <goro/thread_annotations.hpp>
#include "arch/spinlock.hpp"
#include "sched/futex.hpp"
#include "sched/park.hpp"
#include "sched/wait_list.hpp"

#include <goro/chan.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace goro::detail {

// The select shared state is itself a pooled Waiter record: `ticket` holds
// the winning case index (accessed atomically), `elem` the futex Note of a
// plain-thread selector (null for a goroutine).
inline constexpr std::uint64_t kNoWinner = ~std::uint64_t{0};
inline std::atomic_ref<std::uint64_t> select_winner(Waiter* state) noexcept {
  return std::atomic_ref<std::uint64_t>(state->ticket);
}

// A select waiter may be woken by only one of its channels: the first
// operation to dequeue one of its records wins the CAS.
inline bool claim(Waiter* w) noexcept {
  if (!w->is_select) return true;
  std::uint64_t expected = kNoWinner;
  return select_winner(static_cast<Waiter*>(w->select))
      .compare_exchange_strong(expected, w->ticket, std::memory_order_acq_rel, std::memory_order_acquire);
}

// Unlinks and returns the first waiter of q that is not a select waiter
// already claimed by another channel; claims select waiters. Null if none.
// A select waiter that lost is unlinked here on its owner's behalf. With
// the channel's lock held.
inline Waiter* dequeue(WaitList& q) noexcept {
  for (;;) {
    Waiter* w = q.pop_front();
    if (w == nullptr || claim(w)) return w;
  }
}

struct ChanCore : ChanBase {
  SpinLock lock;
  std::atomic<bool> closed{false};
  // A timer's channel reports len and cap 0 (Go 1.23: timer channels are
  // synchronous from the program's point of view).
  bool timer_chan = false;
  std::atomic<std::size_t> count{0};
  std::size_t cap = 0;
  std::size_t sendx = 0;  // next slot to fill
  std::size_t recvx = 0;  // next slot to empty
  const ElemOps* ops = nullptr;
  std::byte* buf = nullptr;
  WaitList recvq GORO_GUARDED_BY(lock);
  WaitList sendq GORO_GUARDED_BY(lock);
  // Called when the last handle goes, before the buffer is destroyed (a
  // timer stops itself when its channel becomes unreachable).
  void (*on_free)(void* arg) noexcept = nullptr;
  void* on_free_arg = nullptr;

  std::byte* slot(std::size_t i) const noexcept { return buf + i * ops->size; }
  void advance(std::size_t& i) const noexcept { i = i + 1 == cap ? 0 : i + 1; }
  // Whether a send would have to wait (ignores closed). Without the lock: a
  // hint (maybe_empty is one atomic load) that the caller confirms under it.
  bool full() const noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
    return cap == 0 ? recvq.maybe_empty() : count.load(std::memory_order_acquire) == cap;
  }
  // Whether a receive would have to wait (ignores closed). A hint, as full().
  bool empty() const noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
    return cap == 0 ? sendq.maybe_empty() : count.load(std::memory_order_acquire) == 0;
  }
};

inline ChanCore* core_of(ChanBase* b) noexcept {
  return static_cast<ChanCore*>(b);
}

// What an operation that found a partner must finish once its locks are
// released: move the value (if `dst`), mark the partner successful, wake it.
// The partner cannot run until woken, so the move needs no lock.
struct Handoff {
  Waiter* partner = nullptr;
  void* dst = nullptr;
  void* src = nullptr;

  void finish(const ElemOps* ops) const noexcept {
    if (partner == nullptr) return;
    if (dst != nullptr) ops->to_receiver(dst, src);
    partner->success = true;
    wake(partner);
  }
};

enum class Step : std::uint8_t { kDone, kClosed, kNotReady };

// With c->lock held: one attempt at a send / receive that does not wait.
// kDone may leave a Handoff to finish after unlocking.
Step try_send_locked(ChanCore* c, void* src, Handoff& h) noexcept GORO_REQUIRES(c->lock);
Step try_recv_locked(ChanCore* c, void* dst, Handoff& h) noexcept GORO_REQUIRES(c->lock);

// Removes every buffered value (timers: Go 1.23's "no stale value after
// Stop/Reset"). Returns whether there was one.
bool chan_drain(ChanCore* c) noexcept;

// Parks (or sleeps) forever: operations on nil channels, select {}.
[[noreturn]] void block_forever(WaitReason why);

// Uniform random number in [0, n), per thread, cheap (select poll order).
std::uint32_t cheap_rand_n(std::uint32_t n) noexcept;

}  // namespace goro::detail
