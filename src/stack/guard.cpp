// stack/guard.cpp: the guard below each stack (see arena.hpp).
//
// A guard is the whole of a slot below its usable range. It is made with
// MADV_GUARD_INSTALL (Linux >= 6.13: page-table markers, no VMA split, kept
// by MADV_DONTNEED) when a one-time probe shows the kernel has it, else with
// mprotect(PROT_NONE), which splits the arena into 2 VMAs per slot. The
// mode is fixed per arena at its creation (new_arenas_use_mprotect), so
// forcing mprotect (for tests) never confuses slots already guarded the
// other way. Guard sizes change only when a slot is reused for a different
// limit of the same class; pages becoming guard are given back (and
// counted) first. Fresh slots are guarded 64 at a time by pre_guard_slots,
// with one process_madvise.
//
// Invariant: the slot word is updated only after the kernel call
// succeeded, so a slot is never handed out without its guard.
#include "stack/arena.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace goro::detail::stack_internal {
namespace {

// ---- guard mode -------------------------------------------------------------

std::atomic<bool> g_force_mprotect{false};

bool env_forces_mprotect() noexcept {
  static const bool forced = [] {
    const char* v = std::getenv("GORO_FORCE_MPROTECT_GUARD");
    return v != nullptr && v[0] == '1';
  }();
  return forced;
}

// Whether this kernel has MADV_GUARD_INSTALL, probed once on a scratch page
// (EINVAL on kernels before 6.13).
bool kernel_has_guard_install() noexcept {
  static const bool has = [] {
    void* p = ::mmap(nullptr, 2 * kPageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    bool ok = ::madvise(p, kPageSize, MADV_GUARD_INSTALL) == 0;
    ::munmap(p, 2 * kPageSize);
    return ok;
  }();
  return has;
}

// ---- guarding -----------------------------------------------------------------

// madvise for guard markers; interrupted calls are retried (the kernel may
// give up early when it races with a fault).
int guard_madvise(std::byte* lo, std::byte* hi, int advice) noexcept {
  for (int tries = 0; tries < 8; ++tries) {
    if (::madvise(lo, static_cast<std::size_t>(hi - lo), advice) == 0) return 0;
    if (errno != EINTR && errno != EAGAIN) return errno;
  }
  return errno;
}

void protect(const Arena& a, std::byte* lo, std::byte* hi) {
  if (!a.mprotect_guards) {
    if (int err = guard_madvise(lo, hi, MADV_GUARD_INSTALL)) throw_guard_failure(err, "MADV_GUARD_INSTALL");
  } else if (::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_NONE) != 0) {
    throw_guard_failure(errno, "mprotect(PROT_NONE)");
  }
}

void unprotect(const Arena& a, std::byte* lo, std::byte* hi) {
  if (!a.mprotect_guards) {
    if (int err = guard_madvise(lo, hi, MADV_GUARD_REMOVE)) throw_guard_failure(err, "MADV_GUARD_REMOVE");
  } else if (::mprotect(lo, static_cast<std::size_t>(hi - lo), PROT_READ | PROT_WRITE) != 0) {
    throw_guard_failure(errno, "mprotect(PROT_READ|PROT_WRITE)");
  }
}

}  // namespace

bool new_arenas_use_mprotect() noexcept {
  return g_force_mprotect.load(std::memory_order_relaxed) || env_forces_mprotect() ||
         !kernel_has_guard_install();
}

void fit_guard(StackSpan& s, std::size_t limit) {
  std::byte* new_base = s.top - limit;
  if (new_base == s.base && s.guard != 0) return;
  const Arena& a = arena_at(s.arena);
  if (new_base > s.base) {
    if (s.guard != 0) give_back(s.base, new_base);  // a slot never guarded was never touched
    protect(a, s.base, new_base);
  } else {
    unprotect(a, new_base, s.base);
  }
  SlotState st = word_state(slot_word_of(s).load(std::memory_order_relaxed));
  s.guard += static_cast<std::size_t>(new_base - s.base);
  s.base = new_base;
  set_slot_state(s, st);
}

std::uint32_t pre_guard_slots(std::uint32_t index, std::uint32_t first, std::uint32_t count,
                              std::size_t limit) noexcept {
  static std::atomic<bool> unsupported{false};
  const Arena& a = arena_at(index);
  if (a.mprotect_guards || unsupported.load(std::memory_order_relaxed) || a.slot_size <= limit) return 0;
  const std::size_t guard = a.slot_size - limit;
  iovec ranges[kCarveBatch];
  count = std::min<std::uint32_t>({count, static_cast<std::uint32_t>(std::size(ranges)), a.slots - first});
  for (std::uint32_t i = 0; i < count; ++i) {
    ranges[i].iov_base = a.base + std::size_t{first + i} * a.slot_size;
    ranges[i].iov_len = guard;
  }
  long done =
      ::syscall(SYS_process_madvise, kPidfdSelfProcess, ranges, std::size_t{count}, MADV_GUARD_INSTALL, 0u);
  if (done < 0) {
    if (errno != EINTR && errno != EAGAIN) unsupported.store(true, std::memory_order_relaxed);
    return 0;
  }
  // Ranges are advised in order; a short count covers whole slots first.
  return static_cast<std::uint32_t>(static_cast<std::size_t>(done) / guard);
}

}  // namespace goro::detail::stack_internal

namespace goro::detail {

void stack_force_mprotect_guards(bool on) noexcept {
  stack_internal::g_force_mprotect.store(on, std::memory_order_relaxed);
}

bool stack_guards_use_madvise() noexcept {
  return !stack_internal::new_arenas_use_mprotect();
}

}  // namespace goro::detail
