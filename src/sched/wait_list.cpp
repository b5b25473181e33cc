// sched/wait_list.cpp: the out-of-line half of the waiting protocol (see
// wait_list.hpp): wait records, blocking, waking a list.
//
// Invariants
//   * A plain thread's note is re-armed while the list's lock is still held,
//     so no waker can have fired it yet.
//   * A plain thread blocks on one thing at a time (select's records all
//     point at one shared note), so one note per thread suffices.
#include "sched/wait_list.hpp"

namespace goro::detail {

Waiter* acquire_wait_record() {
  Waiter* w = acquire_waiter();
  w->g = current_goroutine();
  return w;
}

void release_wait_record(Waiter* w) noexcept {
  release_waiter(w);
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
