// sched/wait_list.cpp: the out-of-line half of the waiting protocol (see
// wait_list.hpp): wait records, blocking, waking a list.
//
// Invariants
//   * A plain thread's note is re-armed while the list's lock is still held,
//     so no waker can have fired it yet.
//   * A plain thread blocks on one thing at a time (select's records all
//     point at one shared note), so one note per thread suffices.
#include "sched/wait_list.hpp"

#include <goro/lock_guard.hpp>
#include "sched/scheduler.hpp"

#include <new>

namespace goro::detail {

// ---------------------------------------------------------------------------
// Wait records (Go's sudog cache): the goroutine's own record first, else
// the processor's cache, refilled from and drained to one global pool in
// batches of half the cache.

namespace {
constexpr int kWaiterCacheMax = 128;  // per processor
SpinLock g_waiter_lock;
Waiter* g_waiter_pool GORO_GUARDED_BY(g_waiter_lock) = nullptr;  // linked by next

// A record from p's cache, refilled from the pool when empty; from the
// pool alone without a processor; else a new one.
[[gnu::noinline]] Waiter* take_pooled_record(Processor* p) {
  if (p != nullptr && p->waiter_cache == nullptr) {
    // Refill half the cache from the global pool.
    lock_guard lk(g_waiter_lock);
    while (p->waiter_count < kWaiterCacheMax / 2 && g_waiter_pool != nullptr) {
      Waiter* x = g_waiter_pool;
      g_waiter_pool = x->next;
      x->next = p->waiter_cache;
      p->waiter_cache = x;
      p->waiter_count++;
    }
  }
  Waiter* x = nullptr;
  if (p != nullptr && p->waiter_cache != nullptr) {
    x = p->waiter_cache;
    p->waiter_cache = x->next;
    p->waiter_count--;
  } else if (p == nullptr) {
    lock_guard lk(g_waiter_lock);
    if ((x = g_waiter_pool) != nullptr) g_waiter_pool = x->next;
  }
  return x != nullptr ? x : new Waiter;
}

}  // namespace

Waiter* acquire_wait_record() {
  Worker* w = current_worker();
  Goroutine* g = w != nullptr ? w->current : nullptr;
  Waiter* x = nullptr;
  if (g != nullptr && !g->own_waiter_busy) {
    g->own_waiter_busy = true;
    x = ::new (g->own_waiter_bytes) Waiter{};
    x->embedded_in = g;
  } else {
    x = ::new (take_pooled_record(w != nullptr ? w->p : nullptr)) Waiter{};
  }
  x->g = g;
  return x;
}

void release_wait_record(Waiter* x) noexcept {
  if (Goroutine* owner = x->embedded_in) {
    owner->own_waiter_busy = false;
    return;
  }
  Worker* w = current_worker();
  Processor* p = w != nullptr ? w->p : nullptr;
  if (p == nullptr) {
    lock_guard lk(g_waiter_lock);
    x->next = g_waiter_pool;
    g_waiter_pool = x;
    return;
  }
  x->next = p->waiter_cache;
  p->waiter_cache = x;
  if (++p->waiter_count > kWaiterCacheMax) {
    // Move half to the global pool.
    lock_guard lk(g_waiter_lock);
    while (p->waiter_count > kWaiterCacheMax / 2) {
      Waiter* y = p->waiter_cache;
      p->waiter_cache = y->next;
      p->waiter_count--;
      y->next = g_waiter_pool;
      g_waiter_pool = y;
    }
  }
}

[[gnu::noinline]] Note* this_thread_note() noexcept {
  thread_local Note note;
  Note* n = &note;
  asm volatile("" : "+r"(n));
  return n;
}

// The lock is known here only as a void*: the analysis cannot name it.
bool unlock_in_commit(Goroutine*, void* lock) GORO_NO_THREAD_SAFETY_ANALYSIS {
  static_cast<SpinLock*>(lock)->unlock();
  return true;
}

void block_thread(Waiter* w, SpinLock& lock) noexcept {
  Note* note = this_thread_note();
  w->select = note;
  note->clear();  // before unlocking: no waker can have found w yet
  lock.unlock();
  note->sleep(0);
}

void wake_thread(Waiter* w) noexcept {
  waiter_note(w)->wake();
}

void wake_handing_off(Waiter* w) noexcept {
  if (Goroutine* g = w->g) {
    ready_and_yield(g);
  } else {
    wake_thread(w);
  }
}

void wake_all(Waiter* list) noexcept {
  while (list != nullptr) {
    Waiter* next = list->next;  // `list` may be reused once woken
    wake(list);
    list = next;
  }
}

}  // namespace goro::detail
