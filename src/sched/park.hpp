// sched/park.hpp: parking and readying goroutines (Go's gopark/goready), and
// the pooled wait records every blocking primitive uses (Go's sudog).
//
// This is the interface sync/, chan/, time/ and netpoll/ build on.
//
// Invariants
//   * A goroutine is parked by itself only. After it has switched off its
//     stack, `commit` runs on the worker's system stack; only then may another
//     thread ready it. This closes the lost-wakeup window without holding a
//     lock across the switch: the caller keeps its wait-queue lock held when
//     it calls park() and releases it inside `commit`.
//   * Wait records never live on a goroutine's stack: they come from a
//     per-processor cache backed by a global pool, so a parked goroutine's
//     stack can be trimmed and a compact stack mode stays possible.
#pragma once

#include <cstdint>

namespace goro::detail {

struct Goroutine;

// Why a goroutine is parked; shown in goroutine dumps as Go does
// ("[chan receive]", "[sync.Mutex.Lock]", ...).
enum class WaitReason : std::uint8_t {
  kNone,
  kSleep,
  kMutex,
  kCond,
  kWaitGroup,
  kOnce,
  kChanSend,
  kChanRecv,
  kSelect,
  kSelectNoCases,
  kIoWait,
  kBlocking,  // in goro::blocking, waiting for a processor
  kSemaphore,
};
const char* wait_reason_string(WaitReason r) noexcept;

// The goroutine running on this thread, or nullptr outside goroutines.
// Not inlined, and re-read after every park: a goroutine may resume on
// another thread (DESIGN.md, "Rules").
[[gnu::noinline]] Goroutine* current_goroutine() noexcept;

// Stops the current goroutine. Once it is off its stack, commit(g, arg) runs
// on the system stack; if commit returns false the goroutine is made
// runnable again at once (the wait was cancelled). Returns when some thread
// calls ready(g). Must be called from a goroutine.
void park(bool (*commit)(Goroutine* g, void* arg), void* arg, WaitReason why) noexcept;

// Makes a parked goroutine runnable (Go's goready). Callable from any
// thread, also from inside a commit callback. The goroutine runs next on the
// calling worker's processor (Go's runnext) when called from a worker.
void ready(Goroutine* g) noexcept;

// Go's semaphore-style handoff: ready `g` and immediately yield the caller's
// processor to it (used by a mutex in starvation mode). Outside a goroutine,
// or inside goro::blocking, it is ready(g).
void ready_and_yield(Goroutine* g) noexcept;

// The id of a goroutine (for dumps and tests).
std::uint64_t goroutine_id(const Goroutine* g) noexcept;

// A wait record (Go's sudog), owned by one blocked goroutine (or plain
// thread) from acquire_wait_record() to release_wait_record() (the
// protocol of sched/wait_list.hpp, over the pool below), and queued on one
// primitive's WaitList at a time. It is handed out zeroed. Who may touch what, as Go's runtime2.go says of
// its sudog:
//   next, prev   guarded by the lock of the list it is linked in (the
//                channel's, or the sync WaitQueue's); free once unlinked.
//   g, elem, channel, is_select, select, wait_link
//                written by the owner before it links the record, under
//                that lock; read by whoever unlinks it, under it.
//   success, ticket
//                the owner may set them before linking; the waker that
//                unlinked the record may set them before it wakes the
//                owner, who reads them once woken (the wakeup orders the
//                accesses). A select's shared record (chan_core.hpp) is the
//                exception: its ticket is the select's winner word, changed
//                only by compare-and-swap.
//   embedded_in  set by acquire_wait_record() on a goroutine's own record.
struct Waiter {
  Goroutine* g = nullptr;  // the goroutine to ready; null for a plain thread
  Waiter* next = nullptr;
  Waiter* prev = nullptr;
  void* elem = nullptr;      // value being sent or receive slot
  void* channel = nullptr;   // owning object, for select bookkeeping
  std::uint64_t ticket = 0;  // e.g. FIFO order, select case index
  bool success = false;      // e.g. woken by a value, not a close
  bool is_select = false;
  Waiter* wait_link = nullptr;       // a goroutine's list of waiters (select)
  void* select = nullptr;            // shared state of the select it belongs to
  Goroutine* embedded_in = nullptr;  // set on a goroutine's own record
};

// Brackets a time during which something outside the scheduler (a plain
// thread, a C library callback) will ready a parked goroutine, so the
// deadlock detector does not declare "all goroutines are asleep".
// Thread-safe; calls must balance. Cost: an atomic add.
void external_wait_begin() noexcept;
void external_wait_end() noexcept;

// Whether more than one processor is in service (spares included), so that
// a lock's holder may be running elsewhere and spinning for it may pay.
// Thread-safe. Cost: one relaxed load, no lock (unlike goro::maxprocs()).
bool several_processors() noexcept;

// Monotonic nanoseconds (CLOCK_MONOTONIC, the same clock as goro::clock).
std::int64_t nanotime() noexcept;

}  // namespace goro::detail
