// bench/recursion.hpp: the deep recursion every deep-stack benchmark runs
// (bench/deep.cpp for goro, bench/peers/{thread,fiber}/deep.cpp), so that
// goro and its C++ peers execute the same frames: ~1 KiB each, both ends of
// the buffer written, until a target depth below a starting frame.
#pragma once

#include "bench_util.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace bench {

inline constexpr std::size_t kPage = 4096;
inline constexpr std::size_t kMiB = std::size_t{1} << 20;

// Called once at the deepest point of a recursion, when not null.
using PeakHook = void (*)(void* arg);

// Recurses until `target` bytes below `top` are in use. Touches both ends of
// its buffer, so every page of the range is written.
[[gnu::noinline]] inline std::uint64_t recurse(const char* top, std::size_t target, PeakHook hook,
                                               void* arg) {
  volatile char buf[1024];
  buf[0] = 1;
  buf[sizeof buf - 1] = 2;
  const char* sp = static_cast<const char*>(__builtin_frame_address(0));
  if (static_cast<std::size_t>(top - sp) >= target) {
    if (hook != nullptr) hook(arg);
    return buf[0];
  }
  return recurse(top, target, hook, arg) + buf[sizeof buf - 1];
}

struct Timing {
  double ms = 0;      // wall clock
  double cpu_ms = 0;  // process CPU time
};

// One recursion `bytes` deep below the caller's frame, timed.
[[gnu::noinline]] inline Timing timed_recursion(std::size_t bytes, PeakHook hook = nullptr,
                                                void* arg = nullptr) {
  const char* top = static_cast<const char*>(__builtin_frame_address(0));
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_seconds();
  volatile std::uint64_t sink = recurse(top, bytes, hook, arg);
  (void)sink;
  return {seconds_since(t0) * 1e3, (cpu_seconds() - c0) * 1e3};
}

// The first and second recursion of one stack, as metric lines: what every
// deep program prints (per MB, and the growth per page: first - second).
inline void print_first_second(long mb, Timing first, Timing second) {
  const double dmb = static_cast<double>(mb);
  const double pages = static_cast<double>(static_cast<std::size_t>(mb) * kMiB / kPage);
  metric("depth_mb", mb);
  metric("first_ms_per_mb", first.ms / dmb);
  metric("second_ms_per_mb", second.ms / dmb);
  metric("growth_ns_per_page", (first.ms - second.ms) * 1e6 / pages);
  metric("first_cpu_ms_per_mb", first.cpu_ms / dmb);
  metric("second_cpu_ms_per_mb", second.cpu_ms / dmb);
  metric("growth_cpu_ns_per_page", (first.cpu_ms - second.cpu_ms) * 1e6 / pages);
}

}  // namespace bench
