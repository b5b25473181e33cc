// sync/wait_queue.cpp: wait queues, wait records, block and wake for the
// sync primitives (see wait_queue.hpp for the design).
//
// Invariants
//   * Queue links (Waiter::next/prev) change only under the queue's lock.
//   * A goroutine's Waiter has g set and comes from the runtime's pool; a
//     plain thread's Waiter has g null, lives in that thread's thread_local
//     ThreadWaiter and points (elem) at the thread's futex note. A thread
//     blocks on one thing at a time, so one record per thread suffices.
//   * block() re-arms a thread's note while the queue lock is still held, so
//     no waker can have fired it yet.
#include "sync/wait_queue.hpp"

#include "sched/futex.hpp"

#include <goro/runtime.hpp>

#include <unistd.h>
#include <cstring>
#include <memory>
#include <thread>

namespace goro::detail {

// ---- queue links ----

void WaitQueue::push_back(Waiter* w) noexcept {
  w->next = nullptr;
  w->prev = tail;
  if (tail != nullptr) {
    tail->next = w;
  } else {
    head = w;
  }
  tail = w;
  ++size;
}

void WaitQueue::push_front(Waiter* w) noexcept {
  w->prev = nullptr;
  w->next = head;
  if (head != nullptr) {
    head->prev = w;
  } else {
    tail = w;
  }
  head = w;
  ++size;
}

void WaitQueue::remove(Waiter* w) noexcept {
  (w->prev != nullptr ? w->prev->next : head) = w->next;
  (w->next != nullptr ? w->next->prev : tail) = w->prev;
  w->next = nullptr;
  w->prev = nullptr;
  --size;
}

Waiter* WaitQueue::take_front(std::uint64_t n) noexcept {
  Waiter* first = head;
  if (n == 0) return nullptr;
  if (n >= size) {
    // All of them: the list is already chained and null-terminated. With a
    // waiter per goroutine record, one per stack page, walking it to find
    // the cut would cost a TLB miss per waiter.
    head = tail = nullptr;
    size = 0;
    return first;
  }
  // Fewer than there are: exactly n of them.
  size -= n;
  Waiter* last = head;
  for (std::uint64_t i = 1; i < n; ++i) last = last->next;
  // Cut after `last`; the taken part keeps its next links.
  head = last->next;
  (head != nullptr ? head->prev : tail) = nullptr;
  last->next = nullptr;
  return first;
}

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

// ---- wait records ----

namespace {

struct ThreadWaiter {
  Waiter record;
  Note note;
};

// Not inlined so that no caller can keep this thread's TLS address across a
// park; only plain threads (which never migrate) get here anyway.
[[gnu::noinline]] ThreadWaiter& this_thread_waiter() noexcept {
  thread_local ThreadWaiter tw;
  return tw;
}

bool unlock_in_commit(Goroutine*, void* lock) {
  static_cast<SpinLock*>(lock)->unlock();
  return true;
}

}  // namespace

Waiter* acquire_wait_record() {
  if (Goroutine* g = current_goroutine()) {
    Waiter* w = acquire_waiter();
    w->g = g;
    return w;
  }
  ThreadWaiter& tw = this_thread_waiter();
  tw.record.g = nullptr;
  tw.record.elem = &tw.note;
  return &tw.record;
}

void release_wait_record(Waiter* w) noexcept {
  if (w->g != nullptr) release_waiter(w);
}

// ---- block and wake ----

void block(Waiter* w, SpinLock& lock, WaitReason why) noexcept {
  if (w->g != nullptr) {
    park(&unlock_in_commit, &lock, why);
    return;
  }
  Note* note = static_cast<Note*>(w->elem);
  note->clear();
  lock.unlock();
  note->sleep(0);
}

void wake(Waiter* w, bool handoff) noexcept {
  if (Goroutine* g = w->g) {
    // Handing our processor over only makes sense from a goroutine.
    if (handoff && current_goroutine() != nullptr) {
      ready_and_yield(g);
    } else {
      ready(g);
    }
    return;
  }
  // Note::wake touches only the note's word (and then the kernel's futex
  // table): the thread owning it may return the moment the word flips.
  static_cast<Note*>(w->elem)->wake();
}

void wake_all(Waiter* list) noexcept {
  while (list != nullptr) {
    Waiter* next = list->next;  // `list` may be reused once woken
    wake(list);
    list = next;
  }
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
