// debug/sample.hpp: the frames of goroutines running on other threads, for
// a dump taken while they run (a SIGQUIT report).
//
// sample_running_goroutines() sends SIGURG (as Go does for preemption: no
// program relies on it) to every other thread of the process and waits up
// to 500 ms for their answers. On each thread the handler, if that thread
// runs a goroutine on the goroutine's own stack, walks its frame pointers
// from the interrupted registers into a free slot; sampled_trace(g) then
// returns them. Threads are found by reading /proc/self/task with
// getdents64, which allocates nothing: the whole exchange is
// async-signal-safe, and the report lock (fatal.cpp) keeps one at a time.
// A SIGURG that is not ours goes to the handler that was there before.
#pragma once

#include "debug/traceback.hpp"

namespace goro::detail {

struct Goroutine;

// Installs the SIGURG handler (once, from install_fatal_handlers).
void install_sampler() noexcept;

// Samples every other thread (or, with `tids`, only those `n` threads);
// returns how many answered.
int sample_running_goroutines(const int* tids = nullptr, int n = 0) noexcept;

// The frames sampled for g by the last sampling, or null.
const Trace* sampled_trace(const Goroutine* g) noexcept;

}  // namespace goro::detail
