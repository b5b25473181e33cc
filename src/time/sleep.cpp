// time/sleep.cpp: goro::sleep_until (Go's time.Sleep).
//
// The sleeping goroutine's timer is the one embedded in its record (Go's
// g.timer), so sleeping allocates nothing. The timer is added in the park
// commit, after the goroutine is off its stack: a timer that fired earlier
// would ready a goroutine that has not finished parking.
#include "sched/scheduler.hpp"

#include <goro/time.hpp>

#include <new>
#include <thread>

namespace goro::detail {

namespace {

void wake_sleeper(Timer*, void* arg, std::int64_t) {
  ready(static_cast<Goroutine*>(arg));
}

bool arm_sleep_timer(Goroutine* g, void*) {
  add_timer(g->sleep_timer());
  return true;
}

}  // namespace

void sleep_until_ns(clock::time_point t) {
  Goroutine* g = current_goroutine();
  if (g == nullptr) {
    std::this_thread::sleep_until(t);
    return;
  }
  std::int64_t when = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  if (when <= nanotime()) return;
  if (!g->sleep_timer_ready) {
    // Built at the first sleep, not at spawn: a goroutine that never
    // sleeps never touches this part of its record.
    ::new (g->sleep_timer_bytes) Timer;
    g->sleep_timer_ready = true;
  }
  Timer* timer = g->sleep_timer();
  timer->when = when;
  timer->fire = &wake_sleeper;
  timer->arg = g;
  park(&arm_sleep_timer, nullptr, WaitReason::kSleep);
}

}  // namespace goro::detail
