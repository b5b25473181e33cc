// debug/debug.hpp: what the runtime needs from the debug layer: fatal
// reports (stack overflow, unrecovered exceptions, runtime fatal errors) and
// goroutine dumps (Go's runtime.Stack(buf, true)).
//
// Design
//   * Every fatal report has Go's shape and goes to stderr with write(2):
//       runtime: goroutine 7 stack exceeds 245760-byte limit     (overflow)
//       panic: <what()>                                          (exception)
//       fatal error: <message>
//
//       goroutine 7 "worker-3" [running]:
//       <function>
//       \t<module>+0x<offset in module> +0x<offset in function>
//       ...
//       created by <function> in goroutine 1
//       \t<module>+0x<offset in module> +0x<offset in function>
//     and the process then exits with status 2, as a Go program does.
//   * Reports are printed on a dedicated report stack (1 MiB, reserved once
//     by install_fatal_handlers, committed on first touch): the faulting
//     goroutine's stack is exhausted by definition, the per-thread sigaltstack
//     is only a few tens of KiB, and demangling a long template name takes
//     stack in proportion to its length. One report at a time per process:
//     a second thread that fails while a report is printed waits for the
//     exit.
//   * Frames come from a frame-pointer walk bounded by the goroutine's stack
//     (the library and its users build with -fno-omit-frame-pointer); where
//     the code is not in a signal handler, the first frames come from the
//     DWARF unwinder instead (exact through libstdc++'s frames, which have
//     no frame pointer). Deep stacks print their first 50 and last 10 frames.
//   * Symbols come from each module's own ELF symbol table, indexed once
//     (static functions and lambdas included), else from dladdr (stripped
//     libraries; binaries link with -rdynamic), and are demangled with
//     abi::__cxa_demangle where that cannot deadlock (see fatal.cpp).
//
// Layering: debug sits above sched/ and stack/ and includes their headers;
// sched/ never includes this file (run() reaches it through the runtime's
// top-level source file).
#pragma once

#include <string>

namespace goro::detail {

// Installs, once per process, the SIGSEGV and SIGBUS handler (SA_ONSTACK,
// SA_SIGINFO; it runs on the per-thread sigaltstack that the scheduler
// installs for each worker with install_signal_stack()) and the
// std::terminate handler, and reserves the report stack.
//
// A fault that is a goroutine stack overflow (the fault address lies in a
// stack's guard, or the stack pointer has left the running goroutine's stack
// downwards) prints the overflow report and exits with status 2. Any other
// fault goes to the handler that was installed before (a sanitizer's, or the
// default action: the process dies by the signal). std::terminate with a
// current exception on a goroutine prints the panic report and exits with
// status 2; otherwise it calls the previous terminate handler.
//
// Thread-safe and idempotent: the first call installs, later calls do
// nothing. Call it before the first goroutine runs (goro::run does).
void install_fatal_handlers();

// Prints "fatal error: <msg>" and then the calling goroutine's traceback,
// or, when not called from a goroutine (the scheduler detecting a deadlock),
// every goroutine as dump_goroutines() shows it; exits with status 2.
// Callable from any thread. Never returns.
[[noreturn]] void fatal_error(const char* msg) noexcept;

// Text of every live goroutine: the caller's first when it is a goroutine,
// then the others in id order, in the format of goro::dump_goroutines()
// (include/goro/debug.hpp, which documents contract and cost).
std::string dump_goroutines();

}  // namespace goro::detail
