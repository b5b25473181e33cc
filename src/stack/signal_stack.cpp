// stack/signal_stack.cpp: a per-thread alternate signal stack (sigaltstack)
// for the stack overflow handler (Go's gsignal stack).
//
// A goroutine that overflows faults in its guard with its stack pointer
// already in the guard: the SIGSEGV handler can only run on another stack.
// Each worker thread gets its own, max(sysconf(_SC_SIGSTKSZ), 64 KiB) bytes
// (SIGSTKSZ is about 48 KB with AVX-512 state on this kind of CPU, and the
// handler formats a report and walks frames), with a guard page below so
// that a handler overflowing its stack faults instead of writing over
// whatever lies below.
//
// Invariants
//   * A thread's stack is released only after the kernel stopped using it
//     (SS_DISABLE, or the previous stack restored), by remove_signal_stack
//     or the thread_local destructor at thread exit.
//   * The thread's previous alternate stack (a sanitizer runtime installs
//     one on every thread) is put back on removal: that runtime frees its
//     own at thread exit and must find it where it left it.
#include "stack/arena.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

namespace goro::detail {

using namespace stack_internal;

namespace {

constexpr std::size_t kMinSignalStack = 64 * kKiB;

std::size_t signal_stack_size() noexcept {
  long sys = ::sysconf(_SC_SIGSTKSZ);
  return round_up(std::max<std::size_t>(sys > 0 ? static_cast<std::size_t>(sys) : 0, kMinSignalStack),
                  kPageSize);
}

struct SignalStack {
  std::byte* mapping = nullptr;  // guard page, then the stack
  std::size_t bytes = 0;         // of the mapping
  stack_t previous{};
  SignalStack() = default;
  SignalStack(const SignalStack&) = delete;
  SignalStack& operator=(const SignalStack&) = delete;
  ~SignalStack() { remove(); }

  void install();
  void remove() noexcept;
};

thread_local SignalStack t_signal_stack;

// The lowest page faults on access. A guard marker needs no VMA of its own;
// mprotect costs one per thread, which is fine for a few hundred threads.
bool guard_lowest_page(std::byte* p) noexcept {
  return ::madvise(p, kPageSize, MADV_GUARD_INSTALL) == 0 || ::mprotect(p, kPageSize, PROT_NONE) == 0;
}

void SignalStack::install() {
  if (mapping != nullptr) return;
  const std::size_t size = signal_stack_size();
  void* p = ::mmap(nullptr, size + kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                   -1, 0);
  if (p == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "goro: cannot map a signal stack");
  auto* m = static_cast<std::byte*>(p);
  stack_t ss{};
  ss.ss_sp = m + kPageSize;
  ss.ss_size = size;
  if (!guard_lowest_page(m) || ::sigaltstack(&ss, &previous) != 0) {
    int err = errno;
    ::munmap(m, size + kPageSize);
    throw std::system_error(err, std::generic_category(), "goro: cannot install a signal stack");
  }
  mapping = m;
  bytes = size + kPageSize;
}

void SignalStack::remove() noexcept {
  if (mapping == nullptr) return;
  stack_t off{};
  off.ss_flags = SS_DISABLE;
  const bool had_previous = (previous.ss_flags & SS_DISABLE) == 0 && previous.ss_sp != nullptr;
  // Fails (EPERM) only while running on it: then keep it mapped.
  if (::sigaltstack(&off, nullptr) != 0) return;
  if (had_previous) {
    previous.ss_flags = 0;
    ::sigaltstack(&previous, nullptr);
  }
  ::munmap(mapping, bytes);
  mapping = nullptr;
  bytes = 0;
}

}  // namespace

void install_signal_stack() {
  t_signal_stack.install();
}

void remove_signal_stack() noexcept {
  t_signal_stack.remove();
}

}  // namespace goro::detail
