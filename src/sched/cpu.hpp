// sched/cpu.hpp: a cheap cycle counter for scheduling heuristics.
//
// Used only to notice that a goroutine ran long enough between two switches
// to have faulted in many stack pages, so it need not be calibrated: a few
// instructions, no syscall, monotonic per core is all that is asked.
#pragma once

#include <cstdint>
#include <ctime>

namespace goro::detail {

inline std::uint64_t cycle_now() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
  std::uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v << 6;  // the generic timer ticks at tens of MHz
#else
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 3000000000ull + static_cast<std::uint64_t>(ts.tv_nsec) * 3;
#endif
}

}  // namespace goro::detail
