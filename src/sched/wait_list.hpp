// sched/wait_list.hpp: the one waiting protocol every blocking primitive
// follows, channels and select (chan/) as well as mutex, rw_mutex, cond and
// wait_group (sync/): a wait record (Waiter, Go's sudog, in park.hpp), taken
// and given back with one pair of calls; one intrusive FIFO of them
// (WaitList); one way to block on it and one to wake from it.
//
// The protocol
//   1. acquire_wait_record() before anything that cannot be undone: it is
//      the only step that can fail (std::bad_alloc).
//   2. With the lock that guards the list held, fill the record and link it.
//   3. block(w, lock, why): a goroutine parks, and the lock is released in
//      park()'s commit, once it is off its stack, so no lock is held across
//      the switch and no waker can find it before it can be readied. A plain
//      thread clears its futex note under the lock, then unlocks and sleeps.
//   4. A waker unlinks the record under the lock, completes the operation
//      (moves the value, sets `success` or `ticket`), releases the lock and
//      then wake()s it. From then on the record belongs to its owner again,
//      and the waker must not touch it, nor the primitive if the woken side
//      may destroy it.
//   5. The owner, woken, reads the outcome and release_wait_record()s.
//
// Invariants of WaitList
#pragma once

#include <goro/thread_annotations.hpp>
#include "arch/spinlock.hpp"
#include "sched/futex.hpp"
#include "sched/park.hpp"

#include <atomic>
#include <cstdint>

namespace goro::detail {

class WaitList {
 public:
  // Without the lock: whether the list looked empty. A hint.
  bool maybe_empty() const noexcept { return head_.load(std::memory_order_acquire) == nullptr; }

  bool empty() const noexcept { return head_.load(std::memory_order_relaxed) == nullptr; }
  Waiter* front() const noexcept { return head_.load(std::memory_order_relaxed); }
  std::uint64_t size() const noexcept { return size_; }

  void push_back(Waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_ != nullptr) {
      tail_->next = w;
    } else {
      head_.store(w, std::memory_order_relaxed);
    }
    tail_ = w;
    ++size_;
  }

  // LIFO: a semaphore waiter that waited before goes first.
  void push_front(Waiter* w) noexcept {
    Waiter* h = head_.load(std::memory_order_relaxed);
    w->prev = nullptr;
    w->next = h;
    if (h != nullptr) {
      h->prev = w;
    } else {
      tail_ = w;
    }
    head_.store(w, std::memory_order_relaxed);
    ++size_;
  }

  // Unlinks w if it is linked here; one that remove() or pop_front() took
  // off already is left as it is.
  void remove(Waiter* w) noexcept {
    if (w->prev == nullptr && head_.load(std::memory_order_relaxed) != w) return;
    if (w->prev != nullptr) {
      w->prev->next = w->next;
    } else {
      head_.store(w->next, std::memory_order_relaxed);
    }
    if (w->next != nullptr) {
      w->next->prev = w->prev;
    } else {
      tail_ = w->prev;
    }
    w->next = nullptr;
    w->prev = nullptr;
    --size_;
  }

  Waiter* pop_front() noexcept {
    Waiter* w = front();
    if (w == nullptr) return nullptr;
    Waiter* rest = w->next;
    head_.store(rest, std::memory_order_relaxed);
    if (rest != nullptr) {
      rest->prev = nullptr;
    } else {
      tail_ = nullptr;
    }
    w->next = nullptr;  // its prev is null already: it was the head
    --size_;
    return w;
  }

  // Unlinks up to n waiters from the front and returns them chained by
  // Waiter::next (null-terminated), oldest first. Taking all of them costs
  // the same whatever their number.
  Waiter* take_front(std::uint64_t n) noexcept {
    Waiter* first = front();
    if (n == 0 || first == nullptr) return nullptr;
    if (n >= size_) {
      // The list is already chained and null-terminated.
      head_.store(nullptr, std::memory_order_relaxed);
      tail_ = nullptr;
      size_ = 0;
      return first;
    }
    size_ -= n;
    Waiter* last = first;
    for (std::uint64_t i = 1; i < n; ++i) last = last->next;
    Waiter* rest = last->next;
    head_.store(rest, std::memory_order_relaxed);
    rest->prev = nullptr;
    last->next = nullptr;
    return first;
  }
  Waiter* take_all() noexcept { return take_front(UINT64_MAX); }

 private:
  std::atomic<Waiter*> head_{nullptr};
  Waiter* tail_ = nullptr;
  std::uint64_t size_ = 0;
};

// ---------------------------------------------------------------------------
// Records, blocking and waking.

// A wait record for the caller, zeroed, with `g` set to the calling
// goroutine (null on a plain thread): the goroutine's own, kept in its
// record (so a goroutine parked on one primitive costs no heap memory), else
// one from the current processor's cache, refilled in batches from a global
// pool. Throws std::bad_alloc. Cost: no lock in the common cases.
Waiter* acquire_wait_record();
void release_wait_record(Waiter* w) noexcept;

// A wait record held for one call (a lock's slow path). Taken before the
// caller first changes its lock's state, so that an allocation failure
// leaves the lock as it was.
class ScopedWaitRecord {
 public:
  ScopedWaitRecord() : w_(acquire_wait_record()) {}
  ScopedWaitRecord(const ScopedWaitRecord&) = delete;
  ScopedWaitRecord& operator=(const ScopedWaitRecord&) = delete;
  ~ScopedWaitRecord() { release_wait_record(w_); }
  Waiter* get() const noexcept { return w_; }

 private:
  Waiter* const w_;
};

// This plain thread's futex note. Not inlined, and opaque to the optimizer,
// like current_worker(): a caller must never keep a thread_local address
// across a park (DESIGN.md, "Rules"); only plain threads, which never
// migrate, sleep on it.
Note* this_thread_note() noexcept;

// The note a plain thread's record sleeps on: its `select` field, or for a
// select's records the shared state's `elem` (chan_core.hpp).
inline Note* waiter_note(Waiter* w) noexcept {
  void* p = w->is_select ? static_cast<Waiter*>(w->select)->elem : w->select;
  return static_cast<Note*>(p);
}

// wake() for a plain thread: fires its note. Note::wake touches only the
// note's word (and then the kernel's futex table): the thread owning it may
// return the moment the word flips.
void wake_thread(Waiter* w) noexcept;

// park()'s commit for block(): releases the SpinLock at `lock`.
bool unlock_in_commit(Goroutine* g, void* lock);
// block() for a plain thread: sleeps on this thread's note.
void block_thread(Waiter* w, SpinLock& lock) noexcept GORO_RELEASE(lock);

// Blocks the owner of `w` until someone wake()s it. On entry `lock` is held
// and `w` is linked in a list it guards; the lock is released once the
// caller can be woken. Returns without the lock. Not for select, which
// holds several locks (chan/select.cpp). Inline: on every operation that
// waits. The analysis cannot see the release: for a goroutine, the park
// commit does it on the scheduler's side of the switch.
inline void block(Waiter* w, SpinLock& lock, WaitReason why) noexcept
    GORO_RELEASE(lock) GORO_NO_THREAD_SAFETY_ANALYSIS {
  if (w->g != nullptr) {
    park(&unlock_in_commit, &lock, why);
  } else {
    block_thread(w, lock);
  }
}

// Wakes the owner of `w`, which the caller has unlinked and must not touch
// afterwards. Inline: it is on every channel operation that finds a
// partner.
inline void wake(Waiter* w) noexcept {
  if (Goroutine* g = w->g) {
    ready(g);
  } else {
    wake_thread(w);
  }
}

// wake(), and from a goroutine its processor goes to the woken goroutine at
// once (Go's semrelease handoff, a mutex in starvation mode).
void wake_handing_off(Waiter* w) noexcept;

// Wakes every waiter of a list from WaitList::take_front(), in order.
void wake_all(Waiter* list) noexcept;

}  // namespace goro::detail
