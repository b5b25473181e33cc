// goro/time.hpp: sleeping (Go's time.Sleep).
//
// Sleeping parks the goroutine on a timer in its processor's timer heap; the
// worker thread runs other goroutines meanwhile, and an idle worker waits in
// the kernel until the earliest timer is due, so idle sleepers cost no CPU.
#pragma once

#include <goro/config.hpp>

#include <chrono>

namespace goro {

// The clock of all goro timers and deadlines.
using clock = std::chrono::steady_clock;

namespace detail {
void sleep_until_ns(clock::time_point t);

// now + d, saturated to clock::time_point::max() or min() where the sum
// would overflow (a duration such as std::chrono::hours::max() means "no
// limit", not undefined behaviour). Rounded up to the clock's tick.
template <typename Rep, typename Period>
clock::time_point time_after(const std::chrono::duration<Rep, Period>& d) {
  const clock::time_point now = clock::now();
  // long double holds every int64 tick count exactly.
  const long double ticks = std::chrono::duration<long double, clock::period>(d).count();
  const auto at = static_cast<long double>(now.time_since_epoch().count()) + ticks;
  if (at >= static_cast<long double>(clock::time_point::max().time_since_epoch().count())) {
    return clock::time_point::max();
  }
  if (at <= static_cast<long double>(clock::time_point::min().time_since_epoch().count())) {
    return clock::time_point::min();
  }
  return now + std::chrono::ceil<clock::duration>(d);
}
}  // namespace detail

// Parks the calling goroutine until `t` (Go's time.Sleep(time.Until(t))).
// Returns at once if `t` has passed, as Go's time.Sleep does for a duration
// <= 0. Outside a goroutine it sleeps the thread.
// Cost: a timer heap insertion, O(log timers on this processor).
template <typename Clock, typename Duration>
void sleep_until(const std::chrono::time_point<Clock, Duration>& t) {
  if constexpr (std::is_same_v<Clock, clock>) {
    detail::sleep_until_ns(std::chrono::time_point_cast<clock::duration>(t));
  } else {
    detail::sleep_until_ns(clock::now() + std::chrono::duration_cast<clock::duration>(t - Clock::now()));
  }
}

// Parks the calling goroutine for at least `d` (Go's time.Sleep).
template <typename Rep, typename Period>
void sleep_for(const std::chrono::duration<Rep, Period>& d) {
  if (d <= d.zero()) {
    detail::sleep_until_ns(clock::time_point::min());
    return;
  }
  detail::sleep_until_ns(detail::time_after(d));
}

}  // namespace goro
