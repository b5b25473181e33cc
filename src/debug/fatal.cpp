// debug/fatal.cpp: the fatal reports: goroutine stack overflow (SIGSEGV or
// SIGBUS in a stack guard), an exception escaping a goroutine (Go's
// unrecovered panic), and runtime fatal errors (deadlock, misuse of a
// wait group, ...). Each prints a Go-style report and exits with status 2.
//
// Design
//   * The fault handler runs on the per-thread sigaltstack (installed by the
//     scheduler for each worker) and decides only one thing there: is this
//     a goroutine stack overflow? If not, the fault belongs to whoever had
//     the signal before us (a sanitizer, or the default action), and we hand
//     it on unchanged. If it is, we take the report lock and switch to the
//     report stack (1 MiB, reserved once) to print: symbolizing and
//     demangling need more stack than a sigaltstack has.
//   * An overflow is any of: the fault address is in the running goroutine's
//     guard; the stack pointer has left that goroutine's stack downwards and
//     the fault is at the stack pointer (a frame that jumped the guard, in
//     code built without -fstack-clash-protection); the fault address is in
//     some stack slot's guard while the stack pointer is in that slot (a
//     fault before the scheduler has published the running goroutine).
//   * A fault inside the tombstone of a compacted stack (goro/compact.hpp)
//     is reported, never repaired: the stack's owner promised that nothing
//     points into it while it parks, so such an access is a bug, and
//     restoring the stack from a signal handler on another thread would let
//     the bug corrupt the goroutine silently. The report names the compacted
//     goroutine, who touched it (goroutine id, or thread id) and where.
//   * A goroutine has no catch handler at its base, so an escaping exception
//     makes the unwinder's search phase fail and __cxa_throw call
//     std::terminate without unwinding anything: the throw site is still on
//     the stack when our terminate handler runs, and the DWARF unwinder can
//     show it. The handler therefore must not throw or unwind itself.
//   * Signal-safety in the overflow path: no stdio, no locks that may be held
//     by the faulting frame, and malloc (demangling) only when the fault is
//     not inside the allocator's module (a thread that overflowed inside
//     malloc holds its arena lock). Under ThreadSanitizer names stay
//     mangled there: TSan reports any allocation in a signal handler.
//     Source lines come from a forked helper process that the report waits
//     for with a deadline (lines.hpp), which also demangles what the
//     report could not.
//   * One report at a time: the first failing thread owns the report; others
//     sleep until its _exit. A fault while printing a report ends the
//     process at once with a short note.
#include "debug/debug.hpp"
#include "debug/goroutines.hpp"
#include "debug/lines.hpp"
#include "debug/sample.hpp"
#include "debug/symbolize.hpp"
#include "debug/traceback.hpp"
#include "debug/traceback_level.hpp"
#include "debug/writer.hpp"

#include <goro/lock_guard.hpp>
#include <goro/thread_annotations.hpp>
#include "arch/context.hpp"
#include "arch/mutex.hpp"
#include "sched/compactor.hpp"
#include "sched/goroutine.hpp"
#include "sched/scheduler.hpp"
#include "stack/stack.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <typeinfo>

#if defined(__SANITIZE_ADDRESS__)
#define GORO_DEBUG_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_DEBUG_ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GORO_DEBUG_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_DEBUG_TSAN 1
#endif
#endif
#if defined(GORO_DEBUG_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif

namespace goro::detail {
namespace {

constexpr std::size_t kReportStackSize = std::size_t{1} << 20;
// How far below its stack a goroutine's stack pointer may be for a fault
// there to count as its overflow: the largest frame that can jump the guard
// in code built without stack-clash protection that we still attribute.
constexpr std::uintptr_t kJumpWindow = std::uintptr_t{64} << 20;
// A fault this far below the stack pointer is not the frame's own access
// (the x86-64 red zone is 128 bytes; a push writes 8 below).
constexpr std::uintptr_t kBelowSpSlack = 4096;

// ---- process-wide state ------------------------------------------------------

// g_install_mu serialises install_fatal_handlers and the functions that
// require it; what they write below is published by g_installed's release
// and read by signal handlers without the lock, so it carries no
// GORO_GUARDED_BY.
Mutex g_install_mu;
std::atomic<bool> g_installed{false};
struct sigaction g_prev_segv {};
struct sigaction g_prev_bus {};
std::terminate_handler g_prev_terminate = nullptr;
std::byte* g_report_stack = nullptr;  // lowest usable byte; nullptr if none

// Thread id of the thread printing a report (0: none).
std::atomic<long> g_reporter{0};

enum class ReportKind { kOverflow, kPanic, kFatal, kCompactedAccess, kQuit };

// The report being printed. Written by the reporting thread only, after it
// took g_reporter.
struct Report {
  ReportKind kind = ReportKind::kFatal;
  const Goroutine* g = nullptr;
  StackSpan stack;        // overflow: the exhausted stack
  std::uintptr_t pc = 0;  // overflow: registers at the fault
  std::uintptr_t sp = 0;
  std::uintptr_t fp = 0;
  const Goroutine* compacted = nullptr;  // compacted access: whose stack
  std::uintptr_t addr = 0;               // compacted access: the address
  long thread = 0;                       // compacted access: the faulting thread
  int sigcode = 0;                       // quit: si_code
  int worker = -1;                       // quit: the receiving worker's id
  const char* message = nullptr;         // panic, fatal
  Trace trace;                           // panic, fatal: collected before switching stacks
  PrintPolicy policy;
};
Report g_report;
char g_panic_text[2048];

// ---- the report lock and the report stack -------------------------------------

long this_thread_id() noexcept {
  return static_cast<long>(::syscall(SYS_gettid));
}

void write_and_exit(const char* text) noexcept {
  Writer w(STDERR_FILENO);
  w.put(text);
  w.flush();
  ::_exit(2);
}

// Makes this thread the one that prints; returns once it is.
void begin_report() noexcept {
  long me = this_thread_id();
  long owner = 0;
  if (g_reporter.compare_exchange_strong(owner, me, std::memory_order_acq_rel)) return;
  if (owner == me) write_and_exit("\nfatal error: unexpected fault while printing a fatal report\n");
  for (;;) ::pause();  // the owner's _exit ends this thread too
}

void reserve_report_stack() noexcept GORO_REQUIRES(g_install_mu) {
  constexpr std::size_t kGuard = 4096;
  void* p = ::mmap(nullptr, kReportStackSize + kGuard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) return;  // reports then print on the stack they start on
  ::madvise(p, kReportStackSize + kGuard, MADV_NOHUGEPAGE);
  if (::mprotect(p, kGuard, PROT_NONE) != 0) {
    ::munmap(p, kReportStackSize + kGuard);
    return;
  }
  g_report_stack = static_cast<std::byte*>(p) + kGuard;
}

void print_report();

[[noreturn]] void report_stack_entry(void*) {
#if defined(GORO_DEBUG_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  print_report();
  exit_after_report();
}

// Prints g_report on the report stack and exits; never returns.
[[noreturn]] void print_report_and_exit() noexcept {
  if (g_report_stack == nullptr) {
    print_report();
    exit_after_report();
  }
  void* sp = goro_make_context(g_report_stack + kReportStackSize, &report_stack_entry);
#if defined(GORO_DEBUG_ASAN)
  // Null save slot: this context is never resumed.
  __sanitizer_start_switch_fiber(nullptr, g_report_stack, kReportStackSize);
#endif
  void* abandoned = nullptr;
  goro_switch_context(&abandoned, sp, nullptr);
  __builtin_unreachable();
}

// ---- printing --------------------------------------------------------------

// A fatal report's policy: source lines come from the helper process
// (lines.hpp), whatever state the failing frame left malloc and locks in.
// Under ThreadSanitizer a report from a signal handler goes without: the
// helper is a copy of the handling thread, and TSan reports (and stalls
// on) every allocation it makes.
PrintPolicy fatal_policy(bool in_signal, bool demangle) {
  PrintPolicy p;
  p.in_signal = in_signal;
  p.demangle = demangle;
  p.lines = LineSource::kHelper;
#if defined(GORO_DEBUG_TSAN)
  if (in_signal) p.lines = LineSource::kNone;
#endif
  return p;
}

void print_running_goroutine(Writer& w, const Goroutine* g, const Trace& t, PrintPolicy p) {
  if (traceback_level() == TracebackLevel::kNone) return;
  GoroutineView v;
  if (g != nullptr && read_goroutine(g, &v)) {
    print_goroutine(w, v, "running", &t, p);
    return;
  }
  // No intact record (an overflow found by guard address only).
  w.put("goroutine ? [running]:\n");
  print_frames(w, t, p);
}

// After the failing goroutine: every other one if GORO_TRACEBACK asks for
// them, those running on other threads with sampled frames.
void print_other_goroutines(Writer& w, const Goroutine* skip) {
  if (traceback_level() < TracebackLevel::kAll) return;
  sample_running_goroutines();
  print_all_goroutines_unsorted(w, skip, g_report.policy);
}

void print_overflow(Writer& w) {
  const Report& r = g_report;
  auto base = reinterpret_cast<std::uintptr_t>(r.stack.base);
  auto top = reinterpret_cast<std::uintptr_t>(r.stack.top);
  w.put("runtime: goroutine ");
  if (r.g != nullptr) w.dec(r.g->id).put(' ');
  w.put("stack exceeds ").dec(r.stack.limit()).put("-byte limit\n");
  w.put("runtime: sp=").hex(r.sp).put(" stack=[").hex(base).put(", ").hex(top).put("]\n");
  if (r.g != nullptr && r.g->segment_depth > 0) {
    // Overflowed a segment of goro::grow_if_needed, not the goroutine's own stack.
    w.put("runtime: in stack segment ").dec(r.g->segment_depth).put(" of goroutine ").dec(r.g->id);
    w.put(" (goro::grow_if_needed)\n");
  }
  w.put(traceback_level() == TracebackLevel::kNone ? "fatal error: stack overflow\n"
                                                   : "fatal error: stack overflow\n\n");
  w.flush();  // the headline first, whatever happens to the rest
  Trace t;
  trace_from_registers(&t, r.pc, r.sp, r.fp, base, top, true);
  print_running_goroutine(w, r.g, t, r.policy);
  print_other_goroutines(w, r.g);
}

bool name_is_any(const char* name, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (std::strcmp(name, n) == 0) return true;
  return false;
}

// Index of the first frame to show in a panic: the throw (Go shows its
// panic() frame first), else the frame after std::terminate (a noexcept
// function that let an exception out), else the top.
int first_panic_frame(const Trace& t) {
  constexpr int kSearch = 16;
  int after_terminate = 0;
  for (int i = 0; i < t.head_count() && i < kSearch; ++i) {
    const Frame& f = t.head(i);
    Symbol s;
    if (!symbolize(f.exact ? f.pc : f.pc - 1, &s, false) || s.name == nullptr) continue;
    if (name_is_any(s.name, {"__cxa_throw", "__cxa_rethrow",
                             "_ZSt17rethrow_exceptionNSt15__exception_ptr13exception_ptrE"}))
      return i;
    if (name_is_any(s.name,
                    {"_ZSt9terminatev", "_ZN10__cxxabiv111__terminateEPFvvE", "__cxa_call_terminate"}))
      after_terminate = i + 1;
  }
  return after_terminate;
}

void print_panic(Writer& w) {
  w.put("panic: ").put(g_report.message).put(traceback_level() == TracebackLevel::kNone ? "\n" : "\n\n");
  w.flush();
  g_report.trace.drop_front(first_panic_frame(g_report.trace));
  print_running_goroutine(w, g_report.g, g_report.trace, g_report.policy);
  print_other_goroutines(w, g_report.g);
}

void print_fatal(Writer& w) {
  w.put("fatal error: ").put(g_report.message != nullptr ? g_report.message : "(null)").put('\n');
  w.flush();
  if (traceback_level() == TracebackLevel::kNone) return;
  if (g_report.g != nullptr) {
    w.put('\n');
    print_running_goroutine(w, g_report.g, g_report.trace, g_report.policy);
    print_other_goroutines(w, g_report.g);
    return;
  }
  // Not on a goroutine (the scheduler found a deadlock): show them all, as
  // Go does for a fatal error off a user goroutine.
  sample_running_goroutines();
  print_all_goroutines_unsorted(w, nullptr, g_report.policy);
}

void print_compacted_access(Writer& w) {
  const Report& r = g_report;
  const Goroutine* c = r.compacted;
  w.put("runtime: ");
  if (r.g != nullptr) {
    w.put("goroutine ").dec(r.g->id);
  } else {
    w.put("thread ").dec(static_cast<std::uint64_t>(r.thread)).put(" (not a goroutine)");
  }
  w.put(" accessed ").hex(r.addr).put(" in the compacted stack of goroutine ").dec(c->id);
  if (c->named) w.put(" \"").put(c->name).put('"');
  w.put(" [").put(wait_reason_string(c->wait_reason)).put("]\n");
  Tombstone tomb = compact_tombstone_of(c);
  w.put("runtime: compacted range=[").hex(reinterpret_cast<std::uintptr_t>(tomb.page_lo())).put(", ");
  w.hex(reinterpret_cast<std::uintptr_t>(tomb.top)).put(") pc=").hex(r.pc).put('\n');
  w.put("fatal error: fault in a compacted goroutine stack (nothing may point into a parked ");
  w.put("goroutine's stack once it opted into compaction)\n\n");
  w.flush();
  Trace t;
  if (r.g != nullptr) {
    trace_from_registers(&t, r.pc, r.sp, r.fp, reinterpret_cast<std::uintptr_t>(r.g->stack.base),
                         reinterpret_cast<std::uintptr_t>(r.g->stack.top), true);
  } else {
    t.add(r.pc, true);  // a thread's stack bounds are not known here
  }
  print_running_goroutine(w, r.g, t, r.policy);
  print_other_goroutines(w, r.g);
}

// Go's SIGQUIT report: the signal, where it landed, then every goroutine,
// running ones included.
void print_quit(Writer& w) {
  const Report& r = g_report;
  w.put("SIGQUIT: quit\nPC=").hex(r.pc).put(" m=");
  if (r.worker >= 0) {
    w.dec(static_cast<std::uint64_t>(r.worker));
  } else {
    w.put('?');
  }
  w.put(" sigcode=").dec(static_cast<std::uint64_t>(r.sigcode < 0 ? 0 : r.sigcode)).put("\n");
  w.flush();
  if (traceback_level() == TracebackLevel::kNone) return;
  sample_running_goroutines();
  if (r.g != nullptr) {
    Trace t;
    trace_from_registers(&t, r.pc, r.sp, r.fp, reinterpret_cast<std::uintptr_t>(r.g->stack.base),
                         reinterpret_cast<std::uintptr_t>(r.g->stack.top), true);
    w.put('\n');
    print_running_goroutine(w, r.g, t, r.policy);
  }
  print_all_goroutines_unsorted(w, r.g, r.policy);
}

void print_report() {
  Writer w(STDERR_FILENO);
  g_report.policy.runtime_frames = traceback_level() >= TracebackLevel::kSystem;
  switch (g_report.kind) {
    case ReportKind::kCompactedAccess:
      print_compacted_access(w);
      break;
    case ReportKind::kOverflow:
      print_overflow(w);
      break;
    case ReportKind::kPanic:
      print_panic(w);
      break;
    case ReportKind::kFatal:
      print_fatal(w);
      break;
    case ReportKind::kQuit:
      print_quit(w);
      break;
  }
  w.flush();
  end_line_helper();
}

// ---- stack overflow ------------------------------------------------------------

struct Overflow {
  const Goroutine* g = nullptr;  // nullptr: the slot's record is not intact
  StackSpan stack;
};

// sp is below `s` (or in its guard) by at most kJumpWindow.
bool sp_just_below(const StackSpan& s, std::uintptr_t sp) {
  auto base = reinterpret_cast<std::uintptr_t>(s.base);
  return sp < base && base - sp <= kJumpWindow;
}

// A frame that jumped the guard: the stack pointer is below the stack and
// the faulting access is the frame's own, at or above the stack pointer.
bool jumped_guard(const StackSpan& s, std::uintptr_t addr, std::uintptr_t sp) {
  return sp_just_below(s, sp) && addr < reinterpret_cast<std::uintptr_t>(s.base) &&
         addr + kBelowSpSlack >= sp;
}

bool find_overflow(const void* addr, std::uintptr_t sp, Overflow* out) noexcept {
  auto a = reinterpret_cast<std::uintptr_t>(addr);
  const Goroutine* cur = current_goroutine_checked();
  if (cur != nullptr && (cur->stack.in_guard(addr) || jumped_guard(cur->stack, a, sp))) {
    *out = Overflow{cur, cur->stack};
    return true;
  }
  // The stack pointer decides whose guard was hit: a goroutine that reads
  // another stack's guard has a bad pointer, not an overflow.
  StackSpan s;
  auto* sp_ptr = reinterpret_cast<const void*>(sp);
  if (stack_find_by_guard(addr, &s) &&
      (s.contains(sp_ptr) || s.in_guard(sp_ptr) || (cur == nullptr && sp_just_below(s, sp)))) {
    const Goroutine* g = goroutine_of_stack(s);
    *out = Overflow{is_goroutine_record(g) ? g : nullptr, s};
    return true;
  }
  return false;
}

// Whether the overflow report may demangle (allocate): not when the fault
// is inside the allocator, which may hold a lock this thread would need.
bool may_allocate_after_fault(std::uintptr_t pc) noexcept {
#if defined(GORO_DEBUG_TSAN)
  (void)pc;
  return false;
#else
  Dl_info at{}, alloc{}, libc{};
  if (::dladdr(reinterpret_cast<void*>(pc), &at) == 0) return false;
  if (::dladdr(reinterpret_cast<void*>(&::malloc), &alloc) != 0 && at.dli_fbase == alloc.dli_fbase)
    return false;
  if (::dladdr(reinterpret_cast<void*>(&::write), &libc) != 0 && at.dli_fbase == libc.dli_fbase) return false;
  return true;
#endif
}

[[noreturn]] void report_overflow(const Overflow& o, std::uintptr_t pc, std::uintptr_t sp,
                                  std::uintptr_t fp) noexcept {
  begin_report();
  g_report.kind = ReportKind::kOverflow;
  g_report.g = o.g;
  g_report.stack = o.stack;
  g_report.pc = pc;
  g_report.sp = sp;
  g_report.fp = fp;
  g_report.policy = fatal_policy(true, may_allocate_after_fault(pc));
  print_report_and_exit();
}

[[noreturn]] void report_compacted_access(const Goroutine* compacted, std::uintptr_t addr, std::uintptr_t pc,
                                          std::uintptr_t sp, std::uintptr_t fp) noexcept {
  begin_report();
  g_report.kind = ReportKind::kCompactedAccess;
  g_report.g = current_goroutine_checked();
  g_report.compacted = compacted;
  g_report.addr = addr;
  g_report.thread = this_thread_id();
  g_report.pc = pc;
  g_report.sp = sp;
  g_report.fp = fp;
  g_report.policy = fatal_policy(true, may_allocate_after_fault(pc));
  print_report_and_exit();
}

// Hands a fault that is not ours to the previous disposition.
void chain_fault(int sig, siginfo_t* info, void* ctx) noexcept {
  const struct sigaction& prev = sig == SIGBUS ? g_prev_bus : g_prev_segv;
  if ((prev.sa_flags & SA_SIGINFO) != 0 && prev.sa_sigaction != nullptr) {
    prev.sa_sigaction(sig, info, ctx);
    return;
  }
  if ((prev.sa_flags & SA_SIGINFO) == 0 && prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN) {
    prev.sa_handler(sig);
    return;
  }
  // Default action (an ignored fault is not ignorable either): restore it
  // and let the faulting instruction run again, or re-send a signal that
  // came from kill(), which would not recur by itself.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
  if (info->si_code <= 0) ::raise(sig);
}

void on_fault(int sig, siginfo_t* info, void* ctx) {
  const auto* uc = static_cast<const ucontext_t*>(ctx);
  auto pc = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  auto sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  auto fp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
  Overflow o;
  // si_code > 0: raised by the kernel for this access, not sent by kill().
  if (info->si_code > 0 && find_overflow(info->si_addr, sp, &o)) report_overflow(o, pc, sp, fp);
  if (info->si_code > 0) {
    if (const Goroutine* c = compacted_goroutine_at(info->si_addr)) {
      report_compacted_access(c, reinterpret_cast<std::uintptr_t>(info->si_addr), pc, sp, fp);
    }
  }
  chain_fault(sig, info, ctx);
}

void install_fault_handler(int sig, struct sigaction* prev) noexcept GORO_REQUIRES(g_install_mu) {
  struct sigaction sa {};
  sa.sa_sigaction = &on_fault;
  // SA_NODEFER: a fault while printing re-enters the handler, which then
  // ends the process with a note instead of a bare kill by the kernel.
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  ::sigaction(sig, &sa, prev);
}

// ---- SIGQUIT ----------------------------------------------------------------------

// Whether a SIGQUIT report may demangle (allocate). Unlike a fault, a
// SIGQUIT lands anywhere, usually in a system call wrapper of libc: only an
// interrupted allocator function (which may hold its arena's lock) rules
// allocation out.
bool may_allocate_after_quit(std::uintptr_t pc) noexcept {
#if defined(GORO_DEBUG_TSAN)
  (void)pc;
  return false;
#else
  Dl_info at{};
  if (::dladdr(reinterpret_cast<void*>(pc), &at) == 0) return false;
  if (at.dli_sname == nullptr) return true;
  for (const char* word : {"alloc", "free", "tcache", "arena", "malloc"}) {
    if (std::strstr(at.dli_sname, word) != nullptr) return false;
  }
  return true;
#endif
}

void on_quit(int, siginfo_t* info, void* ctx) {
  const auto* uc = static_cast<const ucontext_t*>(ctx);
  begin_report();
  g_report.kind = ReportKind::kQuit;
  g_report.g = current_goroutine_checked();
  g_report.pc = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  g_report.sp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  g_report.fp = static_cast<std::uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
  g_report.sigcode = info->si_code;
  Worker* w = current_worker();
  g_report.worker = w != nullptr ? w->id : -1;
  g_report.policy = fatal_policy(true, may_allocate_after_quit(g_report.pc));
  print_report_and_exit();
}

// Takes SIGQUIT only if nobody else did (its default action is to dump
// core): a program's own handler, or goro::signal_notify later, wins.
void install_quit_handler() noexcept GORO_REQUIRES(g_install_mu) {
  struct sigaction current {};
  if (::sigaction(SIGQUIT, nullptr, &current) != 0) return;
  if ((current.sa_flags & SA_SIGINFO) != 0 || current.sa_handler != SIG_DFL) return;
  struct sigaction sa {};
  sa.sa_sigaction = &on_quit;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGQUIT, &sa, nullptr);
}

// ---- unrecovered exceptions -------------------------------------------------------

void copy_text(char* dst, std::size_t cap, const char* src) {
  std::size_t n = std::strlen(src);
  if (n >= cap) n = cap - 1;
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}

// The demangled name of the exception type being handled, into buf.
void copy_current_exception_type(char* buf, std::size_t cap) {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (type == nullptr) {
    copy_text(buf, cap, "unknown exception");
    return;
  }
  int status = 0;
  char* name = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
  copy_text(buf, cap, status == 0 && name != nullptr ? name : type->name());
  std::free(name);
}

// The type of the exception being handled, and for a std::exception its
// what(): "std::runtime_error: boom", as Go's panic report names the
// value's type for anything that is not a plain error string.
void describe_current_exception(char* buf, std::size_t cap) {
  copy_current_exception_type(buf, cap);
  try {
    throw;
  } catch (const std::exception& e) {
    std::size_t used = std::strlen(buf);
    if (used + 2 < cap) {
      copy_text(buf + used, cap - used, ": ");
      copy_text(buf + used + 2, cap - used - 2, e.what());
    }
  } catch (...) {
  }
}

[[noreturn]] void chain_terminate() {
  if (g_prev_terminate != nullptr) g_prev_terminate();
  std::abort();
}

void on_terminate() {
  const Goroutine* g = current_goroutine_checked();
  if (g == nullptr || !std::current_exception()) chain_terminate();
  begin_report();
  describe_current_exception(g_panic_text, sizeof g_panic_text);
  g_report.kind = ReportKind::kPanic;
  g_report.g = g;
  g_report.message = g_panic_text;
  g_report.policy = fatal_policy(false, true);
  trace_here(&g_report.trace, reinterpret_cast<std::uintptr_t>(g->stack.base),
             reinterpret_cast<std::uintptr_t>(g->stack.top));
  print_report_and_exit();
}

}  // namespace

void install_fatal_handlers() {
  if (g_installed.load(std::memory_order_acquire)) return;
  lock_guard lock(g_install_mu);
  if (g_installed.load(std::memory_order_relaxed)) return;
  // Everything a report needs that is not safe to do in a signal handler
  // is done now: the executable's path and symbol table.
  remember_executable_path();
  preload_symbol_table(reinterpret_cast<std::uintptr_t>(&install_fatal_handlers));
  reserve_report_stack();
  load_traceback_level();
  install_fault_handler(SIGSEGV, &g_prev_segv);
  install_fault_handler(SIGBUS, &g_prev_bus);
  install_quit_handler();
  install_sampler();
  g_prev_terminate = std::set_terminate(&on_terminate);
  g_installed.store(true, std::memory_order_release);
}

[[gnu::noinline]] void fatal_error(const char* msg) noexcept {
  auto ra = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));
  begin_report();
  g_report.kind = ReportKind::kFatal;
  g_report.message = msg;
  g_report.g = current_goroutine_checked();
  g_report.policy = fatal_policy(false, true);
  if (g_report.g != nullptr) {
    trace_here(&g_report.trace, reinterpret_cast<std::uintptr_t>(g_report.g->stack.base),
               reinterpret_cast<std::uintptr_t>(g_report.g->stack.top));
    g_report.trace.start_at_callee_of(ra);
  }
  print_report_and_exit();
}

}  // namespace goro::detail
