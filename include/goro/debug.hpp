// goro/debug.hpp: goroutine dumps (Go's runtime.Stack(buf, true) and the
// goroutine section of a Go crash report).
//
// A dump lists every live goroutine in Go's format:
//
//   goroutine 1 [running]:
//   main_loop()
//   	/path/to/program+0x1a2b3 +0x4f
//   ...
//
//   goroutine 7 "worker-3" [sleep]:
//   goro::detail::park(...)
//   	/path/to/program+0x2c3d4 +0x91
//   worker(int)
//   	/path/to/program+0x1b2c3 +0x3a
//   created by main_loop() in goroutine 1
//   	/path/to/program+0x1a2f0 +0xbc
//
// Each frame is a function name (demangled; symbols come from the dynamic
// symbol table, so link with -rdynamic, and else from the binary's own
// symbol table), then the module with the offset to give `addr2line -e
// <module>`, and the offset within the function. The state in brackets is
// "running", "runnable", "syscall" (inside goro::blocking) or why a parked
// goroutine waits ("sleep", "chan receive", ...), then, as in Go, how long
// it has waited once that is a minute or more ("chan receive, 3 minutes")
// and "locked to thread" for a goroutine locked by lock_os_thread. The
// caller's own goroutine comes first; the others follow in id order. A
// goroutine running on another thread is shown with the frames it had when
// its thread was interrupted for an instant by SIGURG (Go uses the same
// signal to preempt); if that thread does not answer within 500 ms (a
// program that blocks SIGURG), it is listed without frames ("stack
// unavailable"). Stacks deeper than 60 frames show their first 50 and last
// 10.
//
// Frames are found by frame pointers: build code that runs on goroutines
// with -fno-omit-frame-pointer (the goro::goro CMake target exports it).
#pragma once

#include <goro/config.hpp>

#include <cstdio>
#include <iosfwd>
#include <string>
#include <string_view>

namespace goro {

// Returns the dump of every live goroutine of the running runtime (an empty
// string when no runtime runs).
//
// Contract: callable from a goroutine or any other thread. It does not stop
// the other goroutines (beyond the instant each thread takes to record its
// frames): one that parks, wakes or exits during the call may
// show its previous state or a partial stack (never a crash). It does not
// park the calling goroutine; called from a goroutine it formats on the
// worker's system stack, so it works on a nearly full goroutine stack.
// Throws std::bad_alloc if the text cannot be allocated.
// Thread-safe. Cost: a signal to and answer from every thread of the
// process (tens of microseconds), then O(live goroutines + frames), with a symbol lookup
// (dladdr, and demangling) per printed frame: about a microsecond per frame,
// hundreds of bytes per goroutine. Meant for debugging and diagnostics
// endpoints, not hot paths: with a million goroutines a dump is hundreds of
// megabytes and takes seconds.
std::string dump_goroutines();

// Writes dump_goroutines() to `out` (stderr by default) and flushes it.
// Same contract and cost.
void print_goroutines(std::FILE* out = stderr);
void print_goroutines(std::ostream& out);

// Fatal reports and SIGQUIT (Go's GOTRACEBACK).
//
// A fatal report (stack overflow, an exception escaping a goroutine, a
// runtime fatal error such as a deadlock) and a SIGQUIT (Ctrl-\) print to
// stderr in Go's format and end the process with exit status 2. What they
// show is set by the GORO_TRACEBACK environment variable, read when the
// first run() starts, or by set_traceback():
//   "none"    the headline only ("fatal error: ...", "SIGQUIT: quit"), no
//             goroutine stacks;
//   "single"  the failing goroutine (the default); a SIGQUIT or a fatal
//             error off any goroutine (a deadlock) shows every goroutine;
//   "all"     every goroutine;
//   "system"  every goroutine, with the runtime's entry frames;
//   "crash"   as "system", then abort() rather than exit(2), for a core file.
// Go's numeric forms (0, 1, 2) work too; anything else means "single".
// Goroutines running on other threads are shown with their frames: each
// such thread is interrupted by SIGURG for an instant to read them.
//
// SIGQUIT is taken only if its disposition was the default when the first
// run() started; goro::signal_notify(SIGQUIT) (or a handler of the
// program's own) replaces the dump, as os/signal.Notify does in Go.
// Thread-safe. Cost: an atomic store.
void set_traceback(std::string_view level);

// Per-goroutine stack figures in dumps and reports (beyond Go). When on,
// each goroutine's header shows its stack's resident bytes, ceiling and
// high-water mark (read_goroutine_stack's figures) after the state:
//
//   goroutine 7 [sleep] stack 12 KiB/208 KiB, peak 64 KiB:
//
// Off by default, so that tools written for Go's headers read goro's
// dumps; GORO_DEBUG=stackfigures=1 (read when the first run() starts)
// turns it on. Applies to dump_goroutines, print_goroutines, SIGQUIT and
// fatal reports. Returns the previous setting.
// Thread-safe. Cost: an atomic exchange; each dumped goroutine then costs
// a mincore system call more (one per 8 MiB of its stack's depth).
bool set_dump_stack_figures(bool on) noexcept;

}  // namespace goro
