// sync/mutex.cpp: goro::mutex, Go's sync.Mutex on a per-mutex semaphore.
//
// State word (64 bits):
//   bit 0        locked     the mutex is held
//   bit 1        woken      a waiter is awake and about to compete, so
//                           unlock() need not wake another one
//   bit 2        starving   ownership passes by handoff (see mutex.hpp)
//   bits 8..31   unlockers  unlock() calls still running after releasing
//                           the lock (C++ only, see below)
//   bits 32..63  waiters    goroutines/threads asleep or about to sleep in
//                           the semaphore
//
// Invariants
//   * Every semaphore token is matched by a waiter that registered in the
//     waiters field: unlock() releases a token only after taking a waiter
//     out of that count (normal mode), or on its behalf (starvation mode).
//   * In starvation mode the locked bit is never set by an arriving
//     goroutine, only by the waiter the lock was handed to.
//   * At most one "woken" waiter exists at a time; it clears the bit when it
//     next changes the state.
//   * Every modification of the state is a read-modify-write, so the lock's
//     release sequence is never broken and each new owner synchronizes with
//     the previous owner's unlock().
//
// Why the unlockers field: Go's unlock keeps using the mutex after the lock
// is released (to wake a waiter), which is safe there because the garbage
// collector keeps the mutex alive. In C++ the goroutine that locks next may
// destroy the mutex at once (the last owner of a refcounted object deletes
// it). So an unlock that wakes a waiter releases the lock and registers
// itself in one RMW, and ~mutex() waits until no unlock is inside; the
// wakeup itself happens after the unlocker has left the mutex. An unlock
// that wakes nobody never touches the mutex after its RMW.
#include <goro/mutex.hpp>

#include "sync/semaphore.hpp"
#include "sync/wait_queue.hpp"

#include <goro/runtime.hpp>

#include <thread>

namespace goro {

namespace {

using detail::nanotime;

constexpr std::uint64_t kLocked = 1;
constexpr std::uint64_t kWoken = 2;
constexpr std::uint64_t kStarving = 4;
constexpr std::uint64_t kUnlockerOne = std::uint64_t{1} << 8;
constexpr std::uint64_t kUnlockerMask = std::uint64_t{0xffffff} << 8;
constexpr int kWaiterShift = 32;
constexpr std::uint64_t kWaiterOne = std::uint64_t{1} << kWaiterShift;

// Go's starvationThresholdNs: a waiter that waited longer turns the mutex
// to starvation mode.
constexpr std::int64_t kStarvationNs = 1'000'000;
// Go's active_spin and active_spin_cnt.
constexpr int kMaxSpins = 4;
constexpr int kPausesPerSpin = 30;

std::uint64_t waiters(std::uint64_t s) noexcept {
  return s >> kWaiterShift;
}

// Spinning pays only if the holder can be running on another CPU right
// now: several CPUs and several processors (Go's sync_runtime_canSpin,
// without its look at the local run queue, which sync/ cannot see).
bool spinning_may_pay() noexcept {
  static const bool multicore = std::thread::hardware_concurrency() > 1;
  return multicore && detail::several_processors();
}

void spin_pause() noexcept {
  for (int i = 0; i < kPausesPerSpin; ++i) detail::cpu_relax();
}

// The state a locker tries to install, given the current one.
std::uint64_t next_lock_state(std::uint64_t old, bool starving, bool awoke) noexcept {
  std::uint64_t next = old;
  // A starving mutex belongs to the queue: arrivals do not take it.
  if ((old & kStarving) == 0) next |= kLocked;
  // We will sleep unless the lock is free to take.
  if ((old & (kLocked | kStarving)) != 0) next += kWaiterOne;
  // Switch to starvation mode, but only if the lock is held: unlock()
  // expects waiters to exist in starvation mode.
  if (starving && (old & kLocked) != 0) next |= kStarving;
  if (awoke) {
    // We were the woken waiter (or a spinner that set the bit): clear it,
    // whatever happens next.
    if ((next & kWoken) == 0) detail::sync_fatal("sync: inconsistent mutex state");
    next &= ~kWoken;
  }
  return next;
}

}  // namespace

mutex::~mutex() {
  // The header's fast paths use the same bits.
  static_assert(mutex::kLocked == goro::kLocked && mutex::kWoken == goro::kWoken &&
                mutex::kStarving == goro::kStarving);
  detail::wait_until_clear(state_, kUnlockerMask);
  detail::destroy_wait_queue(queue_.load(std::memory_order_acquire));
}

void mutex::lock_slow() {
  // Install the queue before we can be counted as a waiter, so unlock()
  // always finds it.
  detail::WaitQueue& q = detail::wait_queue_of(queue_);
  const detail::ScopedWaitRecord record;
  const bool may_spin = spinning_may_pay();
  std::int64_t wait_start = 0;  // when it first lost the lock after a wakeup
  bool slept = false;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the lock is held in normal mode and spinning may pay.
    if ((old & (kLocked | kStarving)) == kLocked && may_spin && iter < kMaxSpins) {
      // Set "woken" so unlock() does not wake a sleeper we would race with.
      if (!awoke && (old & kWoken) == 0 && waiters(old) != 0 &&
          state_.compare_exchange_weak(old, old | kWoken, std::memory_order_relaxed)) {
        awoke = true;
      }
      spin_pause();
      ++iter;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    const std::uint64_t next = next_lock_state(old, starving, awoke);
    if (!state_.compare_exchange_weak(old, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      continue;  // `old` was reloaded
    }
    if ((old & (kLocked | kStarving)) == 0) return;  // took it with the CAS
    // Registered as a waiter: sleep. One that was woken and lost the lock
    // keeps its place at the front of the queue, and its 1 ms towards
    // starvation count from that first loss: a waiter that wins when it is
    // woken (the common case) never reads the clock, which would cost more
    // than the rest of the handoff on a virtual machine.
    if (slept && wait_start == 0) wait_start = nanotime();
    detail::sema_acquire(q, record.get(), slept, detail::WaitReason::kMutex);
    slept = true;
    if (wait_start != 0) starving = starving || nanotime() - wait_start > kStarvationNs;
    old = state_.load(std::memory_order_acquire);
    if ((old & kStarving) != 0) {
      // Handed to us: unlock() left the lock bit clear and our waiter count
      // in place, and no one else can take it.
      if ((old & (kLocked | kWoken)) != 0 || waiters(old) == 0) {
        detail::sync_fatal("sync: inconsistent mutex state");
      }
      std::uint64_t delta = kLocked - kWaiterOne;
      // Leave starvation mode if we barely waited or nobody is left: else
      // two goroutines could keep handing the lock to each other forever.
      if (!starving || waiters(old) == 1) delta -= kStarving;
      state_.fetch_add(delta, std::memory_order_acq_rel);
      return;
    }
    awoke = true;
    iter = 0;
  }
}

void mutex::unlock_slow() noexcept {
  // One RMW releases the lock and, if a waiter must be woken, takes it out
  // of the count, sets "woken" and registers us as an unlocker (see the top
  // of this file): the wakeup still has to use the mutex's queue.
  std::uint64_t old = state_.load(std::memory_order_relaxed);
  std::uint64_t next = 0;
  bool wakes = false;
  do {
    if ((old & kLocked) == 0) detail::sync_fatal("sync: unlock of unlocked mutex");
    next = old - kLocked;
    // Starving: the lock and our processor go to the first waiter, which
    // sets the locked bit itself; meanwhile arrivals see "starving" and
    // queue. Normal: wake one waiter to compete, unless there is none or one
    // is awake already.
    wakes = (old & kStarving) != 0 || (waiters(old) != 0 && (old & kWoken) == 0);
    if (wakes) next += kUnlockerOne;
    if (wakes && (old & kStarving) == 0) next = (next - kWaiterOne) | kWoken;
  } while (!state_.compare_exchange_weak(old, next, std::memory_order_acq_rel, std::memory_order_relaxed));
  if (!wakes) return;
  const detail::SemaWakeup wakeup =
      detail::sema_release(detail::installed_wait_queue(queue_), (old & kStarving) != 0);
  state_.fetch_sub(kUnlockerOne, std::memory_order_release);
  // From here on the mutex may be destroyed; the wait record is the
  // waiter's own.
  wakeup.run();
}

}  // namespace goro
