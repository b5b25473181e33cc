// goro/timer.hpp: timers and tickers (Go's time.Timer, time.Ticker,
// time.After, time.AfterFunc, time.Tick), with Go 1.23's semantics.
//
//   goro::timer t(500ms);                  // t := time.NewTimer(500 * time.Millisecond)
//   goro::select(goro::on_recv(work, handle),
//                goro::on_recv(t.c(), [&] { timed_out = true; }));
//   t.stop();
//
//   goro::ticker tk(1s);                   // tk := time.NewTicker(time.Second)
//   for (int i = 0; i < 3; ++i) tk.c().recv();
//   tk.stop();
//
//   auto done = goro::after(2s);           // <-time.After(2 * time.Second)
//   goro::timer cleanup = goro::after_func(5s, [] { flush(); });
//
// Semantics (Go 1.23)
//   * A timer's channel is synchronous from the program's point of view: its
//     len() and cap() are 0, and after stop() or reset() returns, no value
//     from before that call can be received (a value that fired but was not
//     received yet is discarded). stop() and reset() return true if the
//     timer was pending, counting a fired-but-unreceived value as pending.
//   * A ticker drops ticks for a slow receiver (one value at most waits).
//   * A timer or ticker whose handles and channel copies are all destroyed
//     is stopped (Go 1.23 lets such timers be collected); an after_func
//     timer keeps running to its expiry even if its handle is dropped, as in
//     Go.
//   * The value received is the time the timer fired (goro::clock).
//
// Design
//   * Timers live in the scheduler's per-processor heaps (sched/timers.hpp):
//     no timer thread, and an idle runtime sleeps until the earliest one.
//     A heap insertion is O(log n) on the arming processor, so a million
//     pending timers do not slow unrelated scheduling.
//   * Each timer has a small spin lock. A fire that the heap has popped but
//     not yet run cannot be recalled: stop()/reset() count it as stale, and
//     the fire, taking the lock, discards itself. The fire sends into the
//     channel while holding the lock and stop()/reset() drain it under the
//     same lock, so no stale value survives them.
//
// Timers need a running runtime (goro::run): creating one outside throws
// std::logic_error.
#pragma once

#include <goro/config.hpp>

#include <goro/chan.hpp>
#include <goro/time.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {

struct TimerCore;

// An after_func callback, type-erased. May run several times (reset) and
// concurrently with itself (a reset while a previous run is still going).
struct TimerFunc {
  virtual void run() = 0;
  virtual ~TimerFunc() = default;
};
template <typename F>
struct TimerFuncOf final : TimerFunc {
  explicit TimerFuncOf(F f) : fn(std::move(f)) {}
  void run() override { fn(); }
  F fn;
};

// The chan_* calls take absolute CLOCK_MONOTONIC nanoseconds (the
// goro::clock epoch) and a period (0: one-shot).
TimerCore* timer_make_chan(std::int64_t when_ns, std::int64_t period_ns, ChanBase** chan_out);
TimerCore* timer_make_func(std::int64_t when_ns, std::unique_ptr<TimerFunc> f);
bool timer_stop(TimerCore* t) noexcept;
bool timer_reset(TimerCore* t, std::int64_t when_ns, std::int64_t period_ns) noexcept;
void timer_release(TimerCore* t) noexcept;

template <typename Rep, typename Period>
std::int64_t deadline_after(const std::chrono::duration<Rep, Period>& d) {
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count();
  if (d <= d.zero()) return now;
  auto ns = std::chrono::ceil<std::chrono::nanoseconds>(d).count();
  return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

template <typename Rep, typename Period>
std::int64_t ticker_period(const std::chrono::duration<Rep, Period>& d) {
  if (d <= d.zero()) throw std::invalid_argument("goro::ticker: non-positive interval");
  return std::chrono::ceil<std::chrono::nanoseconds>(d).count();
}

}  // namespace detail

// A single event after a duration (Go's *time.Timer). Move-only handle.
class timer {
 public:
  // An empty handle (no timer): stop() returns false, c() is a nil channel.
  timer() noexcept = default;

  // Starts a timer that sends the time on c() once `d` has passed (Go's
  // time.NewTimer(d)); d <= 0 fires at once.
  // Throws std::logic_error outside a runtime, std::bad_alloc.
  // Thread-safe. Cost: two allocations (timer, channel) and a heap insertion.
  template <typename Rep, typename Period>
  explicit timer(const std::chrono::duration<Rep, Period>& d) {
    detail::ChanBase* ch = nullptr;
    core_ = detail::timer_make_chan(detail::deadline_after(d), 0, &ch);
    c_ = detail::ChanAccess::adopt<clock::time_point>(ch);
  }

  // Moves the timer; the moved-from one is empty (operator bool is false).
  timer(timer&& o) noexcept : core_(std::exchange(o.core_, nullptr)), c_(std::move(o.c_)) {}
  timer& operator=(timer&& o) noexcept {
    if (this != &o) {
      detail::timer_release(std::exchange(core_, std::exchange(o.core_, nullptr)));
      c_ = std::move(o.c_);
    }
    return *this;
  }
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  // Drops the handle. A channel timer with no channel copies left is
  // stopped; an after_func timer keeps running (see the top of this file).
  ~timer() { detail::timer_release(core_); }

  // The channel the time is sent on (Go's t.C); nil for after_func timers.
  const chan<clock::time_point>& c() const noexcept { return c_; }

  // Stops the timer (Go 1.23's t.Stop): returns true if it was pending
  // (including fired but not received), false if it had already expired and
  // been received, or been stopped. Afterwards nothing from before the call
  // is received on c(), and an after_func callback that had not started
  // will not.
  // Thread-safe. Cost: a spin lock and a heap removal.
  bool stop() noexcept { return core_ != nullptr && detail::timer_stop(core_); }

  // Stops the timer and restarts it to fire after `d` (Go 1.23's t.Reset).
  // Returns what stop() would have. An after_func timer runs its callback
  // again. Requires a non-empty handle.
  // Thread-safe. Cost: as stop(), plus a heap insertion.
  template <typename Rep, typename Period>
  bool reset(const std::chrono::duration<Rep, Period>& d) {
    if (core_ == nullptr) throw std::logic_error("goro::timer::reset: empty timer");
    return detail::timer_reset(core_, detail::deadline_after(d), 0);
  }

  // Whether this holds a timer (false once moved from).
  explicit operator bool() const noexcept { return core_ != nullptr; }

 private:
  template <typename Rep, typename Period, typename F>
  friend timer after_func(const std::chrono::duration<Rep, Period>& d, F&& f);
  explicit timer(detail::TimerCore* core) noexcept : core_(core), c_(chan<clock::time_point>::nil()) {}

  detail::TimerCore* core_ = nullptr;
  chan<clock::time_point> c_ = chan<clock::time_point>::nil();
};

// Periodic ticks (Go's *time.Ticker). Move-only handle.
class ticker {
 public:
  ticker() noexcept = default;

  // Starts a ticker sending the time on c() every `d` (Go's
  // time.NewTicker(d)). Throws std::invalid_argument if d <= 0,
  // std::logic_error outside a runtime, std::bad_alloc.
  template <typename Rep, typename Period>
  explicit ticker(const std::chrono::duration<Rep, Period>& d) {
    const std::int64_t period = detail::ticker_period(d);
    detail::ChanBase* ch = nullptr;
    core_ = detail::timer_make_chan(detail::deadline_after(d), period, &ch);
    c_ = detail::ChanAccess::adopt<clock::time_point>(ch);
  }

  // Moves the ticker; the moved-from one is empty (operator bool is false).
  ticker(ticker&& o) noexcept : core_(std::exchange(o.core_, nullptr)), c_(std::move(o.c_)) {}
  ticker& operator=(ticker&& o) noexcept {
    if (this != &o) {
      detail::timer_release(std::exchange(core_, std::exchange(o.core_, nullptr)));
      c_ = std::move(o.c_);
    }
    return *this;
  }
  ticker(const ticker&) = delete;
  ticker& operator=(const ticker&) = delete;
  // Drops the handle; with no copy of c() left the ticker is stopped.
  ~ticker() { detail::timer_release(core_); }

  // The channel the ticks are delivered on (Go's Ticker.C).
  const chan<clock::time_point>& c() const noexcept { return c_; }

  // Stops the ticker (Go's Ticker.Stop); no tick from before the call is
  // received afterwards. Thread-safe.
  void stop() noexcept {
    if (core_ != nullptr) detail::timer_stop(core_);
  }

  // Stops it and restarts it with period `d`, the next tick `d` from now
  // (Go's Ticker.Reset). Throws std::invalid_argument if d <= 0.
  template <typename Rep, typename Period>
  void reset(const std::chrono::duration<Rep, Period>& d) {
    if (core_ == nullptr) throw std::logic_error("goro::ticker::reset: empty ticker");
    const std::int64_t period = detail::ticker_period(d);
    detail::timer_reset(core_, detail::deadline_after(d), period);
  }

  // Whether this holds a ticker (false once moved from).
  explicit operator bool() const noexcept { return core_ != nullptr; }

 private:
  detail::TimerCore* core_ = nullptr;
  chan<clock::time_point> c_ = chan<clock::time_point>::nil();
};

// A channel that receives the time once `d` has passed (Go's time.After).
// The timer stops itself if the channel is dropped before then.
// Thread-safe. Cost: as timer(d).
template <typename Rep, typename Period>
chan<clock::time_point> after(const std::chrono::duration<Rep, Period>& d) {
  detail::ChanBase* ch = nullptr;
  detail::timer_release(detail::timer_make_chan(detail::deadline_after(d), 0, &ch));
  return detail::ChanAccess::adopt<clock::time_point>(ch);
}

// A channel that receives the time every `d` (Go's time.Tick), for as long
// as some copy of it exists. Throws std::invalid_argument if d <= 0.
template <typename Rep, typename Period>
chan<clock::time_point> tick(const std::chrono::duration<Rep, Period>& d) {
  const std::int64_t period = detail::ticker_period(d);
  detail::ChanBase* ch = nullptr;
  detail::timer_release(detail::timer_make_chan(detail::deadline_after(d), period, &ch));
  return detail::ChanAccess::adopt<clock::time_point>(ch);
}

// Runs f() in a new goroutine once `d` has passed (Go's time.AfterFunc).
// The returned timer's stop() prevents a run that has not started; reset()
// schedules another. f is copied or moved into the timer; it may run more
// than once (after reset) and must then be safe to run concurrently with
// itself. Dropping the handle does not cancel it.
// Throws std::logic_error outside a runtime, std::bad_alloc.
template <typename Rep, typename Period, typename F>
timer after_func(const std::chrono::duration<Rep, Period>& d, F&& f) {
  auto fn = std::make_unique<detail::TimerFuncOf<std::decay_t<F>>>(std::forward<F>(f));
  return timer(detail::timer_make_func(detail::deadline_after(d), std::move(fn)));
}

}  // namespace goro
