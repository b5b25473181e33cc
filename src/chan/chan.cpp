// chan/chan.cpp: channel make, send, receive and close (Go's chan.go, in
// spirit; see chan_core.hpp for the layout and invariants).
//
// Every operation follows the same shape:
//   1. Non-blocking operations first look without the lock (Go's fast
//      path): a send on a full open channel, or a receive on an empty open
//      one, fails at the cost of two atomic loads.
//   2. Under the channel's spin lock: a waiting partner is taken from the
//      opposite queue (unbuffered rendezvous, or a receiver waiting on an
//      empty buffer), else the buffer is used, else the caller queues a
//      pooled wait record and parks. park()'s commit releases the lock once
//      the goroutine is off its stack, so a partner may ready it at once.
//   3. A partner found under the lock is finished after unlocking: the value
//      is moved straight from the sender's object into the receiver's
//      std::optional (both stacks are still), then the partner is readied.
//      ready() puts it in the processor's runnext, so a ping-pong pair runs
//      back to back on one worker without touching the scheduler's locks.
//
// Why the sender's T is only moved from, never destroyed, here: the caller
// keeps ownership, so a send that fails (closed) leaves the value intact.
#include "chan/chan_core.hpp"

#include "sched/scheduler.hpp"

#include <limits>
#include <new>
#include <stdexcept>

namespace goro::detail {

// ---------------------------------------------------------------------------
// Sleeping.

namespace {

bool stay_parked(Goroutine*, void*) {
  return true;
}

// Takes a wait record with the lock held; on failure (std::bad_alloc) the
// lock is released and nothing has changed.
Waiter* waiter_locked(ChanCore* c) {
  try {
    return acquire_wait_record();
  } catch (...) {
    c->lock.unlock();
    throw;
  }
}

}  // namespace

void block_forever(WaitReason why) {
  if (current_goroutine() != nullptr) {
    for (;;) park(&stay_parked, nullptr, why);
  }
  Note never;
  for (;;) never.sleep(0);
}

[[gnu::noinline]] std::uint32_t cheap_rand_n(std::uint32_t n) noexcept {
  // xorshift64*, one state per thread (not inlined: see this_thread_note);
  // seeded from the state's address and the clock so threads differ.
  thread_local std::uint64_t state = 0;
  std::uint64_t* s = &state;
  asm volatile("" : "+r"(s));
  if (*s == 0) *s = (reinterpret_cast<std::uintptr_t>(s) ^ static_cast<std::uint64_t>(nanotime())) | 1;
  std::uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  auto r = static_cast<std::uint32_t>((x * 0x2545F4914F6CDD1Dull) >> 32);
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(r) * n) >> 32);
}

// ---------------------------------------------------------------------------
// The locked steps, shared with select. Inlined into send and receive, which
// run them on every operation.

namespace {

[[gnu::always_inline]] inline Step send_step(ChanCore* c, void* src, Handoff& h) noexcept
    GORO_REQUIRES(c->lock) {
  if (c->closed.load(std::memory_order_relaxed)) return Step::kClosed;
  if (Waiter* r = dequeue(c->recvq)) {
    // A receiver waits, so the buffer is empty: hand the value over.
    h = Handoff{r, r->elem, src};
    return Step::kDone;
  }
  std::size_t n = c->count.load(std::memory_order_relaxed);
  if (n < c->cap) {
    c->ops->to_slot(c->slot(c->sendx), src);
    c->advance(c->sendx);
    c->count.store(n + 1, std::memory_order_release);
    return Step::kDone;
  }
  return Step::kNotReady;
}

[[gnu::always_inline]] inline Step recv_step(ChanCore* c, void* dst, Handoff& h) noexcept
    GORO_REQUIRES(c->lock) {
  const ElemOps* ops = c->ops;
  if (Waiter* s = dequeue(c->sendq)) {
    if (c->cap == 0) {
      h = Handoff{s, dst, s->elem};
      return Step::kDone;
    }
    // A sender waits, so the buffer is full: take its head and put the
    // sender's value at its tail, which is the same slot.
    std::byte* slot = c->slot(c->recvx);
    ops->to_receiver(dst, slot);
    if (ops->destroy != nullptr) ops->destroy(slot);
    ops->to_slot(slot, s->elem);
    c->advance(c->recvx);
    c->sendx = c->recvx;
    h = Handoff{s, nullptr, nullptr};
    return Step::kDone;
  }
  std::size_t n = c->count.load(std::memory_order_relaxed);
  if (n > 0) {
    std::byte* slot = c->slot(c->recvx);
    ops->to_receiver(dst, slot);
    if (ops->destroy != nullptr) ops->destroy(slot);
    c->advance(c->recvx);
    c->count.store(n - 1, std::memory_order_release);
    return Step::kDone;
  }
  if (c->closed.load(std::memory_order_relaxed)) return Step::kClosed;
  return Step::kNotReady;
}

}  // namespace

Step try_send_locked(ChanCore* c, void* src, Handoff& h) noexcept {
  return send_step(c, src, h);
}

Step try_recv_locked(ChanCore* c, void* dst, Handoff& h) noexcept {
  return recv_step(c, dst, h);
}

bool chan_drain(ChanCore* c) noexcept {
  bool any = false;
  while (c->count.load(std::memory_order_relaxed) > 0) {
    std::byte* slot = c->slot(c->recvx);
    if (c->ops->destroy != nullptr) c->ops->destroy(slot);
    c->advance(c->recvx);
    c->count.store(c->count.load(std::memory_order_relaxed) - 1, std::memory_order_release);
    any = true;
  }
  return any;
}

// ---------------------------------------------------------------------------
// Make and free.

ChanBase* chan_make(const ElemOps* ops, std::size_t cap) {
  std::size_t align = ops->align > alignof(ChanCore) ? ops->align : alignof(ChanCore);
  std::size_t header = (sizeof(ChanCore) + align - 1) / align * align;
  if (ops->size != 0 && cap > (std::numeric_limits<std::size_t>::max() / 2 - header) / ops->size) {
    throw std::length_error("goro::chan: buffer size out of range");
  }
  std::size_t bytes = header + cap * ops->size;
  void* mem = ::operator new(bytes, std::align_val_t(align));
  auto* c = ::new (mem) ChanCore;
  c->cap = cap;
  c->ops = ops;
  c->buf = static_cast<std::byte*>(mem) + header;
  return c;
}

void chan_free(ChanBase* base) noexcept {
  ChanCore* c = core_of(base);
  if (c->on_free != nullptr) c->on_free(c->on_free_arg);
  chan_drain(c);
  std::size_t align = c->ops->align > alignof(ChanCore) ? c->ops->align : alignof(ChanCore);
  c->~ChanCore();
  ::operator delete(static_cast<void*>(c), std::align_val_t(align));
}

// ---------------------------------------------------------------------------
// Send, receive, close.

namespace {

// With c->lock held, after a step that will not wait: releases the lock,
// finishes the handoff and says how the operation ended. Nothing of the
// channel is touched after the unlock: the partner may then take the value
// and destroy the channel (a goroutine sends its result on a channel the
// receiver owns, and the receiver returns).
chan_status end_step(ChanCore* c, Step step, const Handoff& h) noexcept GORO_RELEASE(c->lock) {
  const ElemOps* ops = c->ops;
  c->lock.unlock();
  h.finish(ops);
  if (step == Step::kDone) return chan_status::ok;
  return step == Step::kClosed ? chan_status::closed : chan_status::would_block;
}

// With c->lock held: queues the caller on q with `elem` (its value to send,
// or its slot to receive into) and waits until a partner completes the
// operation (ok) or close() wakes it (closed). Returns without the lock.
chan_status queue_and_wait(ChanCore* c, WaitList& q, void* elem, WaitReason why) GORO_RELEASE(c->lock) {
  Waiter* w = waiter_locked(c);
  w->elem = elem;
  w->channel = c;
  q.push_back(w);
  block(w, c->lock, why);
  bool ok = w->success;
  release_wait_record(w);
  return ok ? chan_status::ok : chan_status::closed;
}

}  // namespace

chan_status chan_send(ChanBase* base, void* src, bool block) {
  ChanCore* c = core_of(base);
  if (c == nullptr) {
    if (!block) return chan_status::would_block;
    block_forever(WaitReason::kChanSend);
  }
  // A closed channel cannot become open, nor a full one (seen open) stop
  // being full without a receiver: both loads seeing "open, full" means
  // there was a moment when the send could not proceed.
  if (!block && !c->closed.load(std::memory_order_acquire) && c->full()) return chan_status::would_block;

  Handoff h;
  c->lock.lock();
  Step step = send_step(c, src, h);
  if (step != Step::kNotReady || !block) return end_step(c, step, h);
  // Woken by a receiver (it moved our value) or by close().
  return queue_and_wait(c, c->sendq, src, WaitReason::kChanSend);
}

chan_status chan_recv(ChanBase* base, void* dst, bool block) {
  ChanCore* c = core_of(base);
  if (c == nullptr) {
    if (!block) return chan_status::would_block;
    block_forever(WaitReason::kChanRecv);
  }
  if (!block && c->empty()) {
    // Empty then open: there was a moment when nothing could be received.
    if (!c->closed.load(std::memory_order_acquire)) return chan_status::would_block;
    // Closed: values sent before the close must still be received.
    if (c->empty()) return chan_status::closed;
  }

  Handoff h;
  c->lock.lock();
  Step step = recv_step(c, dst, h);
  if (step != Step::kNotReady || !block) return end_step(c, step, h);
  // A sender filled *dst, or close() left it empty.
  return queue_and_wait(c, c->recvq, dst, WaitReason::kChanRecv);
}

void chan_close(ChanBase* base) {
  ChanCore* c = core_of(base);
  if (c == nullptr) throw std::logic_error("close of nil channel");
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    throw channel_closed("close of closed channel");
  }
  c->closed.store(true, std::memory_order_release);
  // Take every waiter (receivers get nothing, senders fail), and wake them
  // once the lock is released. Dequeued waiters are ours, so their `next`
  // link is free to chain them.
  Waiter* first = nullptr;
  Waiter** tail = &first;
  for (WaitList* q : {&c->recvq, &c->sendq}) {
    while (Waiter* w = dequeue(*q)) {
      w->success = false;
      *tail = w;
      tail = &w->next;
    }
  }
  *tail = nullptr;
  c->lock.unlock();
  while (first != nullptr) {
    Waiter* next = first->next;  // `first` may be reused once woken
    wake(first);
    first = next;
  }
}

std::size_t chan_len(const ChanBase* base) noexcept {
  auto* c = static_cast<const ChanCore*>(base);
  if (c == nullptr || c->timer_chan) return 0;
  return c->count.load(std::memory_order_relaxed);
}

std::size_t chan_cap(const ChanBase* base) noexcept {
  auto* c = static_cast<const ChanCore*>(base);
  if (c == nullptr || c->timer_chan) return 0;
  return c->cap;
}

}  // namespace goro::detail
