// goro/wait_group.hpp: waiting for a collection of goroutines to finish
// (Go's sync.WaitGroup).
//
//   goro::wait_group wg;
//   for (auto& job : jobs) {
//     wg.add(1);
//     goro::go([&wg, &job] {
//       process(job);
//       wg.done();
//     });
//   }
//   wg.wait();  // every process() has returned, and its effects are visible
//
// or, with wg.go(f) (Go 1.25's WaitGroup.Go), which does the add and done:
//
//   for (auto& job : jobs) wg.go([&job] { process(job); });
//   wg.wait();
//
// Design
//   * One atomic word holds the counter (high 32 bits, signed) and the
//     number of waiters (low 32 bits). add() changes it with a
//     compare-and-swap; the add() that brings the counter to zero also
//     clears the waiter count in the same CAS, and so owns waking exactly
//     those waiters.
//   * Waiters register (count themselves and queue) under the wait queue's
//     spin lock, so all waiters counted before that CAS are queued ahead of
//     any later ones, and are the ones woken.
//   * Waiters sleep in a small spin-locked queue of pooled wait records,
//     allocated at the first wait() that has to sleep.
//
// Reuse: a wait_group may be reused once its counter has reached zero. Go
// panics if add() starts a new round while waiters of the previous round are
// still returning from Wait; here that is allowed and well defined: each
// round's waiters are woken when that round's counter reaches zero.
//
// Plain threads may call every member too (wait() then sleeps the thread on
// a futex); see the deadlock-detector note in mutex.hpp.
#pragma once

#include <goro/config.hpp>

#include <goro/goroutine.hpp>

#include <atomic>
#include <cstdint>
#include <utility>

namespace goro {

namespace detail {
struct WaitQueue;
}  // namespace detail

// Waits for a collection of goroutines to finish (Go's sync.WaitGroup);
// see above.
//
// A wait_group fills a cache line of its own (64 bytes): every goroutine
// that calls done() writes it, often from another CPU, while the goroutine
// that will wait usually keeps it on its stack, next to the frame it is
// busy in (a loop starting the goroutines). Sharing that line made both
// sides miss on every done(). Go's escape analysis moves such a WaitGroup to
// the heap, with the same effect.
class alignas(64) wait_group {
 public:
  // A wait_group with counter zero. constexpr, so usable as a constinit
  // global.
  constexpr wait_group() noexcept = default;

  // Requires: nobody is inside wait() (waiters that were woken may still be
  // returning: a woken waiter may destroy the wait_group at once).
  ~wait_group();

  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  // Adds `delta`, which may be negative, to the counter. When the counter
  // reaches zero, every goroutine blocked in wait() is released. A counter
  // that would become negative is a fatal error, as in Go: "fatal error:
  // sync: negative WaitGroup counter", exit status 2. The counter is limited
  // to 2^31 - 1 (a fatal error beyond).
  //
  // Calls with a positive delta that start a round (counter zero) must
  // happen before the wait() they are meant to hold up; typically add()
  // before starting the goroutine, as in Go.
  // Thread-safe. Cost: one CAS; when it releases waiters, a spin lock and a
  // ready() per waiter.
  void add(std::int64_t delta) noexcept;

  // Decrements the counter by one: add(-1).
  void done() noexcept { add(-1); }

  // Blocks the caller (parks the goroutine, or sleeps a plain thread) until
  // the counter is zero. Returns at once if it is zero already.
  // Throws std::bad_alloc, having changed nothing, if the wait queue or wait
  // record cannot be allocated.
  // Thread-safe; any number of callers may wait. Cost: one load if the
  // counter is zero; else a spin lock, a CAS and a park.
  void wait();

  // Starts f as a new goroutine counted by this wait_group (Go 1.25's
  // WaitGroup.Go): add(1), then goro::go of a goroutine that runs f and then
  // done(). If the goroutine cannot be started, the count is undone and the
  // exception propagates. As for every goroutine, an exception escaping f is
  // fatal.
  // Thread-safe. Cost: that of goro::go.
  template <typename F>
  void go(F&& f) {
    add(1);
    try {
      goro::go([this, fn = std::forward<F>(f)]() mutable {
        fn();
        done();
      });
    } catch (...) {
      done();
      throw;
    }
  }

 private:
  void release_waiters(std::uint32_t n) noexcept;

  // counter (int32) << 32 | waiters (uint32)
  std::atomic<std::uint64_t> state_{0};
  std::atomic<detail::WaitQueue*> queue_{nullptr};
};

}  // namespace goro
