// tools/tour/steps.hpp: the child side of each step (see child_io.hpp).
#pragma once

#include <string>

namespace tour {

// Runs a goroutine step (steps_goro.cpp): "spawn", "park", "park-compact",
// "deep", "overflow", "pool" or "per-task", with its size `n` and, for the
// park steps, whether to join (`flag`). Returns the exit status, or -1 for an unknown
// step.
int goroutine_step(const std::string& step, long n, long flag);

// The std::thread step (steps_thread.cpp): `parked` threads blocked on a
// condition variable, then `spawned` threads started and joined one at a
// time.
int thread_step(long parked, long spawned);

}  // namespace tour
