// netpoll/netpoll.hpp: parking goroutines on file descriptors (Go's
// runtime/netpoll.go and internal/poll, on epoll).
//
// Every descriptor is registered once, edge-triggered, for both directions.
// A PollDesc holds one wait slot per direction (Go's rg/wg): empty, "ready"
// (an edge arrived while nobody waited), "wait" (a goroutine is about to
// park) or the parked goroutine itself. A goroutine that gets EAGAIN calls
// poll_wait(); the epoll loop (run by an idle worker through the scheduler's
// Poller hook) or a deadline timer or poll_close() readies it.
//
// Deadlines follow Go: an absolute time per direction; once passed, the
// blocked call and every later call fail with kTimeout until the deadline is
// moved; expiry does not close the descriptor. Closing wakes both
// directions with kClosing. Servers push a deadline forward on every read:
// a later deadline only stores the new time, and the armed timer, when it
// fires early, re-arms itself for it, so that costs no timer-heap work.
//
// PollDescs are pooled and never freed (a stale epoll event may still name
// one after close); each carries a sequence number that is bumped on close,
// so stale epoll events are ignored. A stale timer callback acts only on
// the descriptor's current deadline, which is always safe.
#pragma once

#include <cstdint>

namespace goro::detail {

struct PollDesc;

enum class PollMode : std::uint8_t { kRead, kWrite };

enum class PollResult : std::uint8_t {
  kReady,    // the descriptor may be ready: retry the operation
  kTimeout,  // the direction's deadline has passed
  kClosing,  // poll_close was called
};

// Registers a non-blocking descriptor (the caller sets O_NONBLOCK). Returns
// nullptr and sets errno if epoll refuses it (e.g. a regular file: EPERM).
// Thread-safe. Cost: one epoll_ctl.
PollDesc* poll_open(int fd) noexcept;

// Marks the descriptor closing and wakes its waiters with kClosing. The
// caller closes the fd afterwards (never before: the fd number could be
// reused by another thread). Thread-safe; idempotent.
void poll_unblock(PollDesc* pd) noexcept;

// Deregisters and returns the PollDesc to the pool. Call after
// poll_unblock and after every goroutine that used it has returned from
// poll_wait (the owner's reference count, e.g. a net connection's).
void poll_close(PollDesc* pd) noexcept;

// Parks the calling goroutine until the direction may be ready, its deadline
// passes or the descriptor is closing. Outside a goroutine it waits with
// poll(2). Call it only after the operation returned EAGAIN: readiness is
// edge-triggered.
PollResult poll_wait(PollDesc* pd, PollMode mode) noexcept;

// Checks the direction without parking: kTimeout/kClosing if it has failed,
// else kReady. Cheap (atomics only).

// True once an epoll event reported that the peer shut down its sending
// side or that the descriptor failed (EPOLLRDHUP, EPOLLHUP, EPOLLERR): reads
// then return at once (end of file or the error) even after a short read
// that left no data, and since that edge was consumed no later one will
// come for it. Set before the event readies any waiter. Cheap (an atomic
// load).
bool poll_read_hup(const PollDesc* pd) noexcept;
PollResult poll_check(PollDesc* pd, PollMode mode) noexcept;

// Sets the absolute CLOCK_MONOTONIC deadline of a direction (0: none). A
// deadline in the past fails waiters and later calls at once.
void poll_set_deadline(PollDesc* pd, PollMode mode, std::int64_t deadline_ns) noexcept;

// The descriptor of a PollDesc.
int poll_fd(const PollDesc* pd) noexcept;

// Goroutines parked on a descriptor now (for goro::metrics). Cost: a load.
std::int64_t netpoll_waiter_count() noexcept;

}  // namespace goro::detail
