// arch/context.hpp: the machine-level context switch.
//
// A suspended context is nothing but a stack pointer: switching pushes the
// callee-saved integer registers and the return address on the old stack,
// stores the stack pointer, loads the new one and pops the same set. Floating
// point control state (MXCSR, x87 control word) is deliberately not switched:
// it is per-thread state in the ABI sense, and saving it would cost 2.5 ns per
// switch, and about 70 ns whenever the sticky flags differ.
//
// Resumption is by `ret`. The return-stack predictor then pops the entry the
// suspending context's call pushed: right whenever the resumed context was
// suspended from the same call site (goroutine to goroutine), and the
// entries below it are the suspending context's callers, right as far as the
// two call chains agree (two goroutines parked through the same functions).
// An indirect `jmp` would leave that entry unpopped and put every return of
// the resumed context one entry out of step: bench_switch measured 34 ns per
// yield with `jmp` and 25 ns with `ret`.
//
// This layer knows nothing about goroutines; it is used by sched/.
#pragma once

namespace goro::detail {

// Entry of a fresh context: called with the value passed by the switch that
// first resumed it. Must never return.
using ContextEntry = void (*)(void* transfer);

extern "C" {
// Saves the current context into *save_sp and resumes `resume_sp`. Returns
// (in the saved context, when something switches back to it) the `transfer`
// value of that later switch.
void* goro_switch_context(void** save_sp, void* resume_sp, void* transfer);
// Lays out a fresh context at the top of a stack so that the first switch to
// the returned stack pointer calls entry(transfer) with an ABI-aligned stack
// and a terminated call chain (unwinders and frame walkers stop there).
void* goro_make_context(void* stack_top, ContextEntry entry);
}

}  // namespace goro::detail
