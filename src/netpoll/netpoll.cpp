// netpoll/netpoll.cpp: the epoll poller behind netpoll.hpp.
//
// Wait slots (rg for reading, wg for writing) hold one of:
//   kNil   nobody waits and no edge is pending
//   kReady an edge arrived while nobody waited; the next wait returns at once
//   kWait  a goroutine decided to park and is switching off its stack
//   a Goroutine* parked there
// The parking goroutine moves kWait -> g in its park commit, after it is off
// its stack; whoever moves the slot away from g (epoll loop, deadline timer,
// poll_unblock) readies it. This is Go's protocol: no lock on the I/O path.
//
// Invariants
//   * At most one goroutine waits per direction (as with Go's net.Conn, a
//     second concurrent reader is a caller error and is fatal).
//   * `waiters` counts goroutines parked in a slot; the scheduler reads it
//     to decide whether to poll and to rule out deadlock.
//   * A PollDesc's seq changes whenever it is closed, so an epoll event
//     from its previous life is recognised and dropped; a deadline timer
//     from then acts only on the current deadline, which is always safe.
//   * `hup` is set by the epoll loop before the event that reported the
//     peer's shutdown readies anyone, and cleared only by poll_open. One
//     set by an event racing a close and reopen costs its reader one
//     extra read, nothing more (readers use it only to read again).
//
// The blocking poll (an idle worker's) first spins for up to 50 us, checking
// for events and yielding the CPU in between, then sleeps in epoll_pwait2;
// goroutines come back in the order epoll reported their descriptors.
#include "netpoll/netpoll.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/mutex.hpp"
#include "arch/spinlock.hpp"
#include "sched/poller.hpp"
#include "sched/scheduler.hpp"

#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>

namespace goro::detail {

namespace {

constexpr std::uintptr_t kNil = 0;
constexpr std::uintptr_t kReady = 1;
constexpr std::uintptr_t kWait = 2;
constexpr std::uint64_t kBreakToken = UINT64_MAX;
constexpr int kMaxEvents = 128;
constexpr std::int64_t kSpinNs = 50000;  // spin_for_events
constexpr std::uint32_t kChunk = 1024;

}  // namespace

struct PollDesc {
  int fd = -1;
  std::uint32_t index = 0;
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uintptr_t> rg{kNil};
  std::atomic<std::uintptr_t> wg{kNil};
  std::atomic<bool> closing{false};
  // An event reported the peer's shutdown or an error (poll_read_hup).
  std::atomic<bool> hup{false};
  SpinLock lock;  // deadlines and their timers; the wait slots need none
  // Deadlines: 0 none, > 0 armed, -1 passed. Written under lock; read
  // without it by deadline_racy() (poll_check), which is fine: a stale
  // read only delays an error to the next check.
  std::atomic<std::int64_t> rd GORO_GUARDED_BY(lock){0};
  std::atomic<std::int64_t> wd GORO_GUARDED_BY(lock){0};
  Timer rt GORO_GUARDED_BY(lock);
  Timer wt GORO_GUARDED_BY(lock);
  PollDesc* next_free = nullptr;  // under PollState::table_lock, while free
};

namespace {

struct PollState {
  int epfd = -1;
  int eventfd = -1;
  std::atomic<bool> break_pending{false};
  std::atomic<std::int64_t> waiters{0};
  Mutex table_lock;  // open/close only
  // Written under table_lock; read without it by lookup() (the epoll
  // loop), hence atomic: a published chunk never moves.
  std::atomic<PollDesc*> by_index_chunks[1 << 16] = {};
  std::uint32_t next_index GORO_GUARDED_BY(table_lock) = 0;
  PollDesc* free_list GORO_GUARDED_BY(table_lock) = nullptr;
};

PollState& state() {
  static PollState* s = new PollState;  // never destroyed: events may race exit
  return *s;
}

std::atomic<std::uintptr_t>& slot(PollDesc* pd, PollMode mode) noexcept {
  return mode == PollMode::kRead ? pd->rg : pd->wg;
}

// A direction's deadline, with pd->lock held.
std::atomic<std::int64_t>& deadline_of(PollDesc* pd, bool read) noexcept GORO_REQUIRES(pd->lock) {
  return read ? pd->rd : pd->wd;
}

// A direction's deadline read without pd->lock, as poll_check and the
// thread wait do on every I/O call: the value is atomic, and a stale one
// only moves a timeout to the next check (an expired deadline is written
// before the waiter is readied, which orders it for the waiter itself).
std::int64_t deadline_racy(const PollDesc* pd, PollMode mode) noexcept GORO_NO_THREAD_SAFETY_ANALYSIS {
  return (mode == PollMode::kRead ? pd->rd : pd->wd).load(std::memory_order_acquire);
}

// Moves a slot away from a parked goroutine and returns it (to be readied),
// or nullptr. With ioready the slot becomes kReady so a later wait returns
// at once; without, kNil (deadline or close: the waiter re-checks errors).
Goroutine* unblock(std::atomic<std::uintptr_t>& gp, bool ioready) noexcept {
  for (;;) {
    std::uintptr_t old = gp.load(std::memory_order_acquire);
    if (old == kReady) return nullptr;
    if (old == kNil && !ioready) return nullptr;
    std::uintptr_t next = ioready ? kReady : kNil;
    if (!gp.compare_exchange_weak(old, next, std::memory_order_acq_rel)) continue;
    if (old > kWait) {
      state().waiters.fetch_sub(1, std::memory_order_acq_rel);
      return reinterpret_cast<Goroutine*>(old);
    }
    return nullptr;
  }
}

bool commit_io_wait(Goroutine* g, void* arg) {
  auto* gp = static_cast<std::atomic<std::uintptr_t>*>(arg);
  std::uintptr_t expected = kWait;
  state().waiters.fetch_add(1, std::memory_order_acq_rel);
  if (gp->compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(g), std::memory_order_acq_rel)) {
    io_waiter_parked();
    return true;
  }
  // An edge, a deadline or a close came in while we were switching.
  state().waiters.fetch_sub(1, std::memory_order_acq_rel);
  return false;
}

// Go's netpollblock: returns true if readiness (not an error) woke us.
bool block_on(PollDesc* pd, PollMode mode) noexcept {
  std::atomic<std::uintptr_t>& gp = slot(pd, mode);
  for (;;) {
    std::uintptr_t old = gp.load(std::memory_order_acquire);
    if (old == kReady) {
      if (gp.compare_exchange_weak(old, kNil, std::memory_order_acq_rel)) return true;
      continue;
    }
    if (old != kNil) sched_fatal("netpoll: two goroutines wait on one descriptor in the same direction");
    if (gp.compare_exchange_weak(old, kWait, std::memory_order_acq_rel)) break;
  }
  // Errors that arrived before kWait was visible did not see us: re-check.
  if (poll_check(pd, mode) == PollResult::kReady) park(&commit_io_wait, &gp, WaitReason::kIoWait);
  return gp.exchange(kNil, std::memory_order_acq_rel) == kReady;
}

// The goroutines an epoll round readies, in the order epoll reported them
// (its ready list is FIFO): the scheduler runs the head at once and queues
// the rest in order, so the connection that became ready first runs first.
struct ReadyList {
  Goroutine* head = nullptr;
  Goroutine* tail = nullptr;

  void push(Goroutine* g) noexcept {
    if (g == nullptr) return;
    g->sched_link = nullptr;
    if (tail == nullptr) {
      head = g;
    } else {
      tail->sched_link = g;
    }
    tail = g;
  }
};

void drain_break() noexcept {
  std::uint64_t v;
  [[maybe_unused]] ssize_t n = read(state().eventfd, &v, sizeof v);
  state().break_pending.store(false, std::memory_order_release);
}

// Before a blocking wait: checks for events without sleeping, yielding the
// CPU between checks, for up to kSpinNs (or until the deadline). Returns
// the events found, or 0. Go's idle Ms spin before they park for the same
// reason: under a steady stream of I/O the next event is usually
// microseconds away, and catching it here saves the sleep and wakeup of a
// thread (a context switch each way) per event. Measured on the echo
// benchmark (bench/net, docs/NET.md): lower CPU per message, and with 1,000
// connections every connection served evenly instead of a few hot ones
// that a thread woken per event kept serving first.
int spin_for_events(epoll_event* events, std::int64_t deadline_ns) noexcept {
  PollState& s = state();
  std::int64_t until = nanotime() + kSpinNs;
  if (deadline_ns > 0) until = std::min(until, deadline_ns);
  for (;;) {
    int n = epoll_wait(s.epfd, events, kMaxEvents, 0);
    if (n != 0) return n;
    if (nanotime() >= until) return 0;
    sched_yield();
  }
}

int epoll_wait_until(epoll_event* events, std::int64_t deadline_ns) noexcept {
  PollState& s = state();
  if (deadline_ns == 0) return epoll_wait(s.epfd, events, kMaxEvents, 0);
  if (int n = spin_for_events(events, deadline_ns); n != 0) return n;
  if (deadline_ns < 0) return epoll_wait(s.epfd, events, kMaxEvents, -1);
  std::int64_t left = deadline_ns - nanotime();
  if (left < 0) left = 0;
  timespec ts{static_cast<time_t>(left / 1000000000), static_cast<long>(left % 1000000000)};
  return epoll_pwait2(s.epfd, events, kMaxEvents, &ts, nullptr);
}

PollDesc* lookup(std::uint64_t data) noexcept {
  auto index = static_cast<std::uint32_t>(data);
  auto seq = static_cast<std::uint32_t>(data >> 32);
  PollDesc* chunk = state().by_index_chunks[index / kChunk].load(std::memory_order_acquire);
  if (chunk == nullptr) return nullptr;
  PollDesc* pd = &chunk[index % kChunk];
  return pd->seq.load(std::memory_order_acquire) == seq ? pd : nullptr;
}

Goroutine* netpoll(std::int64_t deadline_ns) noexcept {
  epoll_event events[kMaxEvents];
  int n = epoll_wait_until(events, deadline_ns);
  ReadyList list;
  for (int i = 0; i < n; i++) {
    if (events[i].data.u64 == kBreakToken) {
      drain_break();
      continue;
    }
    PollDesc* pd = lookup(events[i].data.u64);
    if (pd == nullptr) continue;
    std::uint32_t ev = events[i].events;
    if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) pd->hup.store(true, std::memory_order_release);
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) list.push(unblock(pd->rg, true));
    if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) list.push(unblock(pd->wg, true));
  }
  return list.head;
}

bool netpoll_has_waiters() noexcept {
  return state().waiters.load(std::memory_order_acquire) > 0;
}

}  // namespace

std::int64_t netpoll_waiter_count() noexcept {
  return std::max<std::int64_t>(0, state().waiters.load(std::memory_order_relaxed));
}

namespace {

void netpoll_interrupt() noexcept {
  PollState& s = state();
  bool expected = false;
  if (!s.break_pending.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return;
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(s.eventfd, &one, sizeof one);
}

const Poller kEpollPoller{&netpoll_has_waiters, &netpoll, &netpoll_interrupt};

bool init_poller() noexcept {
  PollState& s = state();
  s.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (s.epfd < 0) return false;
  s.eventfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.eventfd < 0) return false;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = kBreakToken;
  if (epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.eventfd, &ev) != 0) return false;
  register_poller(&kEpollPoller);
  return true;
}

bool ensure_poller() noexcept {
  static const bool ok = init_poller();
  return ok;
}

PollDesc* alloc_desc(PollState& s) GORO_REQUIRES(s.table_lock) {
  if (PollDesc* pd = s.free_list) {
    s.free_list = pd->next_free;
    return pd;
  }
  if (s.next_index % kChunk == 0) {
    if (s.next_index / kChunk >= (1u << 16)) return nullptr;
    auto* chunk = new PollDesc[kChunk];
    s.by_index_chunks[s.next_index / kChunk].store(chunk, std::memory_order_release);
  }
  PollDesc* chunk = s.by_index_chunks[s.next_index / kChunk].load(std::memory_order_relaxed);
  PollDesc* pd = &chunk[s.next_index % kChunk];
  pd->index = s.next_index++;
  return pd;
}

void deadline_fired(Timer* t, void* arg, std::int64_t now);

// Puts a direction's timer (pd->rt or pd->wt) in a heap to fire at `when`.
// Call only when it is in none (owner null): the timer may still be about
// to fire from an earlier arming (popped, callback not yet run); that
// callback then finds it armed again and leaves it alone.
void arm_timer(PollDesc* pd, Timer& t, std::int64_t when) noexcept GORO_REQUIRES(pd->lock) {
  t.when = when;
  // fire and arg never change once set, and are written only that first
  // time: a callback still pending from an earlier arming reads them
  // without any lock.
  if (t.fire == nullptr) {
    t.fire = &deadline_fired;
    t.arg = pd;
  }
  add_timer(&t);
}

// The timer of a direction fired. Deadlines move lazily (see
// poll_set_deadline): if the deadline was moved later meanwhile, the timer
// is re-armed for it instead of failing anything.
void deadline_fired(Timer* t, void* arg, std::int64_t now) {
  auto* pd = static_cast<PollDesc*>(arg);
  Goroutine* g = nullptr;
  pd->lock.lock();
  const bool read = t == &pd->rt;
  std::atomic<std::int64_t>& d = deadline_of(pd, read);
  std::int64_t when = d.load(std::memory_order_relaxed);
  if (pd->closing.load(std::memory_order_acquire)) {
    // Closed (or closed and reopened: its new life arms its own timer).
  } else if (when > 0 && when <= now) {
    d.store(-1, std::memory_order_release);
    g = unblock(read ? pd->rg : pd->wg, false);
  } else if (when > now && t->owner.load(std::memory_order_acquire) == nullptr) {
    arm_timer(pd, *t, when);
  }
  pd->lock.unlock();
  if (g != nullptr) ready(g);
}

}  // namespace

PollDesc* poll_open(int fd) noexcept {
  if (!ensure_poller()) return nullptr;
  PollState& s = state();
  PollDesc* pd;
  {
    lock_guard lk(s.table_lock);
    pd = alloc_desc(s);
  }
  if (pd == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  pd->fd = fd;
  {
    // A deadline timer of its previous life may still be about to run
    // (poll_unblock could not recall it): it must see this life's state
    // whole, so the reset is made under the lock it takes.
    lock_guard lk(pd->lock);
    pd->closing.store(false);
    pd->hup.store(false);
    pd->rg.store(kNil);
    pd->wg.store(kNil);
    pd->rd.store(0);
    pd->wd.store(0);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = (static_cast<std::uint64_t>(pd->seq.load()) << 32) | pd->index;
  if (epoll_ctl(s.epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int err = errno;
    lock_guard lk(s.table_lock);
    pd->next_free = s.free_list;
    s.free_list = pd;
    errno = err;
    return nullptr;
  }
  return pd;
}

void poll_unblock(PollDesc* pd) noexcept {
  pd->lock.lock();
  pd->closing.store(true, std::memory_order_release);
  del_timer(&pd->rt);
  del_timer(&pd->wt);
  Goroutine* r = unblock(pd->rg, false);
  Goroutine* w = unblock(pd->wg, false);
  pd->lock.unlock();
  if (r != nullptr) ready(r);
  if (w != nullptr) ready(w);
}

void poll_close(PollDesc* pd) noexcept {
  PollState& s = state();
  if (!pd->closing.load()) poll_unblock(pd);
  epoll_ctl(s.epfd, EPOLL_CTL_DEL, pd->fd, nullptr);
  pd->seq.fetch_add(1, std::memory_order_acq_rel);
  pd->fd = -1;
  lock_guard lk(s.table_lock);
  pd->next_free = s.free_list;
  s.free_list = pd;
}

PollResult poll_check(PollDesc* pd, PollMode mode) noexcept {
  if (pd->closing.load(std::memory_order_acquire)) return PollResult::kClosing;
  return deadline_racy(pd, mode) < 0 ? PollResult::kTimeout : PollResult::kReady;
}

namespace {

// The deadline `when` of a direction has passed: marks it so (-1) unless
// poll_set_deadline moved it meanwhile, which a waiting thread's late
// store must not undo.
void expire_deadline(PollDesc* pd, PollMode mode, std::int64_t when) noexcept {
  lock_guard lk(pd->lock);
  std::atomic<std::int64_t>& d = deadline_of(pd, mode == PollMode::kRead);
  if (d.load(std::memory_order_relaxed) == when) d.store(-1, std::memory_order_release);
}

// Outside goroutines: an ordinary poll(2) bounded by the deadline.
PollResult wait_thread(PollDesc* pd, PollMode mode) noexcept {
  for (;;) {
    PollResult r = poll_check(pd, mode);
    if (r != PollResult::kReady) return r;
    std::int64_t when = deadline_racy(pd, mode);
    int timeout = -1;
    if (when > 0) {
      std::int64_t left = when - nanotime();
      if (left <= 0) {
        expire_deadline(pd, mode, when);
        continue;  // kTimeout, unless the deadline moved
      }
      timeout = static_cast<int>(std::min<std::int64_t>(left / 1000000 + 1, INT_MAX));
    }
    pollfd p{pd->fd, static_cast<short>(mode == PollMode::kRead ? POLLIN : POLLOUT), 0};
    int n = ::poll(&p, 1, timeout);
    if (n > 0) return PollResult::kReady;
  }
}

}  // namespace

PollResult poll_wait(PollDesc* pd, PollMode mode) noexcept {
  PollResult r = poll_check(pd, mode);
  if (r != PollResult::kReady) return r;
  if (current_goroutine() == nullptr) return wait_thread(pd, mode);
  while (!block_on(pd, mode)) {
    r = poll_check(pd, mode);
    if (r != PollResult::kReady) return r;
  }
  return PollResult::kReady;
}

void poll_set_deadline(PollDesc* pd, PollMode mode, std::int64_t deadline_ns) noexcept {
  const bool read = mode == PollMode::kRead;
  Goroutine* g = nullptr;
  pd->lock.lock();
  // After poll_unblock nothing may arm a timer: poll_close would not remove
  // it, and it would fire into the PollDesc's next life.
  if (pd->closing.load(std::memory_order_acquire)) {
    pd->lock.unlock();
    return;
  }
  std::atomic<std::int64_t>& d = deadline_of(pd, read);
  Timer& t = read ? pd->rt : pd->wt;
  if (deadline_ns == 0) {
    d.store(0, std::memory_order_release);
    del_timer(&t);
  } else if (deadline_ns <= nanotime()) {
    d.store(-1, std::memory_order_release);
    del_timer(&t);
    g = unblock(read ? pd->rg : pd->wg, false);
  } else {
    d.store(deadline_ns, std::memory_order_release);
    if (sched().running.load(std::memory_order_acquire)) {
      if (t.owner.load(std::memory_order_acquire) == nullptr) {
        arm_timer(pd, t, deadline_ns);
      } else if (t.when > deadline_ns) {
        // Earlier than the armed timer: move it (del_timer may find it
        // already popped; either way it is in no heap afterwards).
        del_timer(&t);
        arm_timer(pd, t, deadline_ns);
      }
      // Else the armed timer fires first and re-arms for the new time:
      // a deadline pushed forward on every read costs no heap operation.
    }
  }
  pd->lock.unlock();
  if (g != nullptr) ready(g);
}

bool poll_read_hup(const PollDesc* pd) noexcept {
  return pd->hup.load(std::memory_order_acquire);
}

int poll_fd(const PollDesc* pd) noexcept {
  return pd->fd;
}

}  // namespace goro::detail
