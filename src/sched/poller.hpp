// sched/poller.hpp: how the scheduler waits for I/O without knowing epoll.
//
// netpoll/ (a higher layer) registers a Poller. Idle workers then wait for
// I/O and timers in one place: the one worker that would sleep with the
// earliest timer deadline waits inside poll() instead (Go's netpoll in
// findrunnable), and goroutines whose I/O became ready go straight onto run
// queues. A worker that runs out of local work polls without blocking first,
// and busy workers poll every 10 ms at a fairness tick, so I/O is never
// starved by CPU-bound goroutines.
#pragma once

#include <cstdint>

namespace goro::detail {

struct Goroutine;

struct Poller {
  // True while some goroutine is parked waiting for I/O. Cheap (an atomic).
  bool (*has_waiters)() noexcept;
  // Waits for readiness until the CLOCK_MONOTONIC time `deadline_ns`
  // (0: do not block; -1: no deadline) or until interrupt(). Returns the
  // goroutines to make runnable, linked through sched_link (nullptr if none).
  Goroutine* (*poll)(std::int64_t deadline_ns) noexcept;
  // Makes a blocked poll() return promptly. Async-safe.
  void (*interrupt)() noexcept;
};

// Called by netpoll/ after a goroutine parked waiting for I/O: if no worker
// is waiting inside poll(), nudges an idle one to become the poller, so the
// I/O is noticed at once rather than at the next 10 ms forced poll.
void io_waiter_parked() noexcept;

// Makes a worker blocked in poll() return (shutdown, earlier timers).
void interrupt_poller() noexcept;

// Installs the poller; called once by netpoll/ when the first descriptor is
// registered. Thread-safe.
void register_poller(const Poller* poller) noexcept;

}  // namespace goro::detail
